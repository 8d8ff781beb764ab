"""One entry point for listening: an audio file in, an :class:`Analysis` out.

The answer is the 14-family distribution of :mod:`bot.listen.families` (both taggers' tags in, a
confidence decision out). A model trained with ``crate train`` (``--model DIR`` or
``CRATE_GENRE_MODEL``, format ``crate-genre-model/1``) answers with its own genres instead.

Every excerpt of a track is described by the same feature vector (musicnn embedding, musicnn tag
probabilities, handcrafted statistics); training uses exactly the code path that analysis uses,
so the genre model always sees the features it was trained on.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.analysis import Analysis, ranked
from bot.audio.decode import DecodedAudio, decode_excerpts
from bot.audio.errors import TooShort
from bot.config import AudioLimits
from bot.listen import musicnn
from bot.listen.families import FamilyInputs, FamilyModel, default_model, is_family_model
from bot.listen.features import FEATURE_NAMES, excerpt_tempo, handcrafted_features
from bot.listen.head import GenreHead, load_head

#: Changes whenever the feature vector changes shape or meaning; genre models record it.
FEATURE_VERSION = (
    "crate-features/4: musicnn-msd penultimate(200) + tags(50) of both 3-s patches of each excerpt"
    " + handcrafted(99, chroma at A440, whole excerpt) @16kHz, 6 s excerpts"
)

#: A custom (``crate train``) model's top genre is stated as sure from this probability up.
CUSTOM_CONFIDENT = 0.5

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

    vectors: np.ndarray | None  # float32[n_excerpts, sum(BLOCKS.values())]; None when not asked for
    tag_probs: np.ndarray  # float32[n_excerpts, 50]
    embeddings: np.ndarray  # float32[n_excerpts, 200]
    tempo: float
    # When the MTT tagger ran: one row per excerpt, as for MSD.
    mtt_tag_probs: np.ndarray | None = None  # float32[n_mtt_excerpts, 50]
    mtt_embeddings: np.ndarray | None = None  # float32[n_mtt_excerpts, 200]


class Listener:
    """Holds the models (loaded once) and turns audio into features and analyses."""

    def __init__(
        self,
        tagger: musicnn.Musicnn,
        genre_model: GenreHead | None,
        mtt_tagger: musicnn.Musicnn | None = None,
        family_model: FamilyModel | None = None,
    ):
        self.tagger = tagger
        self.mtt_tagger = mtt_tagger
        self.genre_model = genre_model  # a custom model (crate train); answers instead of the families
        self.family_model = family_model
        self._taggers: musicnn.Taggers | None = None

    @classmethod
    def load(
        cls, genre_model_path: str | os.PathLike | None = None, *, with_genres: bool = True, with_mtt: bool = True
    ) -> Listener:
        """The MSD tagger, the MTT tagger (unless ``with_mtt=False``: training a custom model needs
        only MSD's features; the families are then inferred from MSD's tags alone) and the genre
        answer (unless ``with_genres=False``): the packaged family model, or the model in
        ``genre_model_path`` (a family model, or a custom model trained by ``crate train``)."""
        tagger = musicnn.Musicnn.load(model="msd")
        mtt = musicnn.Musicnn.load(model="mtt") if with_mtt else None
        custom, family = None, None
        if with_genres and genre_model_path is None:
            family = default_model()
        elif with_genres and genre_model_path is not None:
            if is_family_model(genre_model_path):
                family = FamilyModel.load(genre_model_path)
            else:
                custom = _custom_head(Path(genre_model_path))
        return cls(tagger, custom, mtt, family)

    def describe(self, decoded: DecodedAudio, *, with_vectors: bool = True) -> ExcerptFeatures:
        """Feature vectors for every excerpt of a decoded track.

        ``with_vectors=False`` leaves ``vectors`` out (None): only a custom genre model reads
        them, and their handcrafted block costs about as much again as the tempo alone.
        """
        # One log-mel front end for both taggers, which hear the whole of each 6-s excerpt (its two
        # 3-s patches, musicnn.excerpt_patches) in one fused call (musicnn.Taggers shares each
        # convolution's input copy between them): hearing less made the styles shown drift from
        # what the taggers say over the track (docs/listening.md, "What Crate hears").
        patches = [musicnn.excerpt_patches(excerpt.samples) for excerpt in decoded.excerpts]
        heard = [i for i, p in enumerate(patches) if len(p)]
        if not heard:
            raise TooShort()
        sizes = [len(patches[i]) for i in heard]
        outputs = self._tagger_set().predict(np.concatenate([patches[i] for i in heard]))
        msd = _excerpt_means(outputs[0], sizes)
        embeddings_ = np.stack([m[1] for m in msd])
        tag_probs_ = np.stack([m[0] for m in msd])
        vectors = None
        if with_vectors:
            handcrafted = np.stack(
                [handcrafted_features(decoded.excerpts[i].samples, decoded.sample_rate) for i in heard]
            )
            vectors = np.concatenate([embeddings_, tag_probs_, handcrafted], axis=1)
            tempos = handcrafted[:, -1]
        else:  # the same value as the handcrafted block's last column, to the bit
            tempos = np.array(
                [excerpt_tempo(decoded.excerpts[i].samples, decoded.sample_rate) for i in heard], np.float32
            )
        mtt_: tuple[np.ndarray | None, np.ndarray | None] = (None, None)
        if len(outputs) > 1:
            means = _excerpt_means(outputs[1], sizes)
            mtt_ = (np.stack([m[0] for m in means]), np.stack([m[1] for m in means]))
        return ExcerptFeatures(vectors, tag_probs_, embeddings_, float(np.median(tempos)), *mtt_)

    def _tagger_set(self) -> musicnn.Taggers:
        taggers = tuple(t for t in (self.tagger, self.mtt_tagger) if t is not None)
        if self._taggers is None or self._taggers.taggers != taggers:
            self._taggers = musicnn.Taggers(taggers)
        return self._taggers

    def analyze(self, path: str | os.PathLike, limits: AudioLimits = AudioLimits()) -> Analysis:
        decoded = decode_excerpts(Path(path), limits)
        return self.analyze_decoded(decoded)

    def analyze_decoded(self, decoded: DecodedAudio) -> Analysis:
        features = self.describe(decoded, with_vectors=self.genre_model is not None)
        tag_probs = features.tag_probs.mean(axis=0)
        genres: tuple[tuple[str, float], ...] = ()
        confident = False
        if self.genre_model is not None:
            assert features.vectors is not None
            probabilities = self.genre_model.predict_proba(features.vectors).mean(axis=0)
            genres = ranked(self.genre_model.genres, probabilities)
            confident = genres[0][1] >= CUSTOM_CONFIDENT
        elif self.family_model is not None:
            answer = self.family_model.predict(self.family_inputs(features))[0]
            genres, confident = answer.families, answer.confident
        mtt = {}
        if features.mtt_tag_probs is not None and features.mtt_embeddings is not None:
            mtt_probs = features.mtt_tag_probs.mean(axis=0)
            mtt = dict(
                mtt_tags=ranked(musicnn.MTT_TAGS, mtt_probs),
                mtt_tag_probs=mtt_probs,
                mtt_embedding=features.mtt_embeddings.mean(axis=0),
            )
        return Analysis(
            duration=decoded.duration,
            genres=genres,
            tags=ranked(musicnn.TAGS, tag_probs),
            embedding=features.embeddings.mean(axis=0),
            tag_probs=tag_probs,
            tempo=features.tempo,
            excerpt_starts=tuple(excerpt.start for excerpt in decoded.excerpts),
            confident=bool(confident),
            genre_model=self.family_model.version if self.genre_model is None and self.family_model else "",
            **mtt,
        )

    def family_inputs(self, features: ExcerptFeatures) -> FamilyInputs:
        """What the family model hears of a track: both taggers' outputs, averaged over excerpts
        (MSD's alone, MTT's set to typical values, when the MTT tagger is not loaded)."""
        assert self.family_model is not None
        if features.mtt_tag_probs is None or features.mtt_embeddings is None:
            return self.family_model.msd_only(features.tag_probs.mean(axis=0), features.embeddings.mean(axis=0))
        return FamilyInputs(
            features.tag_probs.mean(axis=0),
            features.embeddings.mean(axis=0),
            features.mtt_tag_probs.mean(axis=0),
            features.mtt_embeddings.mean(axis=0),
        )


def _excerpt_means(output: musicnn.TaggerOutput, sizes: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(tag_probs, penultimate)`` of each excerpt, averaged over its ``sizes[k]`` patches (in order)."""
    bounds = np.cumsum([0, *sizes])
    return [
        (output.tag_probs[a:b].mean(axis=0).astype(np.float32), output.penultimate[a:b].mean(axis=0).astype(np.float32))
        for a, b in itertools.pairwise(bounds)
    ]


def _custom_head(directory: Path) -> GenreHead:
    """A model trained by ``crate train``: from its arrays with numpy alone, else through skops."""
    head = load_head(directory, feature_version=FEATURE_VERSION)
    if head is None:
        from bot.listen.genre import load_skops_head  # scikit-learn and skops: only for such models

        head = load_skops_head(directory, feature_version=FEATURE_VERSION)
    return head
