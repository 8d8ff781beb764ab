"""One entry point for listening: an audio file in, an :class:`Analysis` out.

Every excerpt of a track is described by the same feature vector (musicnn embedding, musicnn tag
probabilities, handcrafted statistics); training uses exactly the code path that analysis uses,
so the genre model always sees the features it was trained on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.audio.decode import DecodedAudio, decode_excerpts
from bot.audio.errors import TooShort
from bot.config import AudioLimits
from bot.listen import musicnn
from bot.listen.features import FEATURE_NAMES, handcrafted_features
from bot.listen.genre import GenreModel, default_model_path

#: Changes whenever the feature vector changes shape or meaning; genre models record it.
FEATURE_VERSION = "crate-features/2: musicnn-msd penultimate(200) + tags(50) + handcrafted(99, chroma at A440) @16kHz, 6 s excerpts"

#: Column blocks of the feature vector, in order, by name.
BLOCKS: dict[str, int] = {
    "embedding": 200,
    "tags": len(musicnn.TAGS),
    "handcrafted": len(FEATURE_NAMES),
}


def block_columns(blocks: tuple[str, ...]) -> np.ndarray:
    """Indices of the feature-vector columns belonging to the named blocks."""
    starts, position = {}, 0
    for name, width in BLOCKS.items():
        starts[name] = (position, position + width)
        position += width
    unknown = set(blocks) - set(BLOCKS)
    if unknown:
        raise ValueError(f"unknown feature blocks: {sorted(unknown)}; known: {list(BLOCKS)}")
    return np.concatenate([np.arange(*starts[name]) for name in blocks])


@dataclass(frozen=True)
class ExcerptFeatures:
    """What Crate hears in each excerpt of one track."""

    vectors: np.ndarray  # float32[n_excerpts, sum(BLOCKS.values())]
    tag_probs: np.ndarray  # float32[n_excerpts, 50]
    embeddings: np.ndarray  # float32[n_excerpts, 200]
    tempo: float


@dataclass(frozen=True)
class Analysis:
    """Everything Crate says about one track."""

    duration: float
    genres: tuple[tuple[str, float], ...]  # all genres, most probable first
    tags: tuple[tuple[str, float], ...]  # all 50 musicnn tags, most probable first
    embedding: np.ndarray  # float32[200]: mean musicnn penultimate layer
    tag_probs: np.ndarray  # float32[50] in musicnn.TAGS order
    tempo: float  # beats per minute, estimated
    excerpt_starts: tuple[float, ...]  # where the analysed excerpts begin, in seconds

    @property
    def top_genre(self) -> str:
        return self.genres[0][0]


class Listener:
    """Holds the models (loaded once) and turns audio into features and analyses."""

    def __init__(self, tagger: musicnn.Musicnn, genre_model: GenreModel | None):
        self.tagger = tagger
        self.genre_model = genre_model

    @classmethod
    def load(cls, genre_model_path: str | os.PathLike | None = None, *, with_genres: bool = True) -> Listener:
        tagger = musicnn.Musicnn.load()
        model = None
        if with_genres:
            model = GenreModel.load(genre_model_path or default_model_path(), feature_version=FEATURE_VERSION)
        return cls(tagger, model)

    def describe(self, decoded: DecodedAudio) -> ExcerptFeatures:
        """Feature vectors for every excerpt of a decoded track."""
        embeddings, tag_probs, handcrafted, tempi = [], [], [], []
        for excerpt in decoded.excerpts:
            patches = musicnn.to_patches(musicnn.log_mel(excerpt.samples))
            if len(patches) == 0:
                continue
            output = self.tagger.predict(patches)
            embeddings.append(output.penultimate.mean(axis=0))
            tag_probs.append(output.tag_probs.mean(axis=0))
            features = handcrafted_features(excerpt.samples, decoded.sample_rate)
            handcrafted.append(features)
            tempi.append(features[-1])
        if not embeddings:
            raise TooShort()
        embeddings_ = np.stack(embeddings).astype(np.float32)
        tag_probs_ = np.stack(tag_probs).astype(np.float32)
        vectors = np.concatenate([embeddings_, tag_probs_, np.stack(handcrafted)], axis=1)
        return ExcerptFeatures(vectors, tag_probs_, embeddings_, float(np.median(tempi)))

    def analyze(self, path: str | os.PathLike, limits: AudioLimits = AudioLimits()) -> Analysis:
        decoded = decode_excerpts(Path(path), limits)
        return self.analyze_decoded(decoded)

    def analyze_decoded(self, decoded: DecodedAudio) -> Analysis:
        features = self.describe(decoded)
        tag_probs = features.tag_probs.mean(axis=0)
        genres: tuple[tuple[str, float], ...] = ()
        if self.genre_model is not None:
            probabilities = self.genre_model.predict_proba(features.vectors).mean(axis=0)
            genres = _ranked(self.genre_model.genres, probabilities)
        return Analysis(
            duration=decoded.duration,
            genres=genres,
            tags=_ranked(musicnn.TAGS, tag_probs),
            embedding=features.embeddings.mean(axis=0),
            tag_probs=tag_probs,
            tempo=features.tempo,
            excerpt_starts=tuple(excerpt.start for excerpt in decoded.excerpts),
        )


def _ranked(names, probabilities) -> tuple[tuple[str, float], ...]:
    order = np.argsort(-np.asarray(probabilities), kind="stable")
    return tuple((names[i], float(probabilities[i])) for i in order)
