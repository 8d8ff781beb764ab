"""What listening produces, on the ground floor: tag names and the :class:`Analysis` of a track.

numpy and the standard library only, so the bot process, presentation and the store can use an
analysis (it crosses the pool boundary pickled) without importing the listening stack (librosa,
scipy, scikit-learn). The tag names come from small JSON files beside each tagger's weights.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources

import numpy as np


def _tag_names(model: str) -> tuple[str, ...]:
    names = json.loads(resources.files("bot.assets").joinpath(model, "tags.json").read_text("utf-8"))
    return tuple(str(name) for name in names)


#: MSD_musicnn's 50 last.fm tags (genres, moods, eras), in the order of its outputs.
TAGS: tuple[str, ...] = _tag_names("musicnn-msd")
#: MTT_musicnn's 50 MagnaTagATune tags (instruments, classical, techno, ambient...), in output order.
MTT_TAGS: tuple[str, ...] = _tag_names("musicnn-mtt")
#: Width of either tagger's penultimate layer (the track embedding).
EMBEDDING_WIDTH = 200

_EMPTY = np.zeros(0, np.float32)


@dataclass(frozen=True)
class Analysis:
    """Everything Crate says about one track."""

    duration: float
    #: The 14 families (ids of :data:`bot.genres.FAMILIES`) with their probabilities, most probable
    #: first; with a custom model (``crate train``), that model's genres.
    genres: tuple[tuple[str, float], ...]
    tags: tuple[tuple[str, float], ...]  # all 50 MSD tags, most probable first
    embedding: np.ndarray  # float32[200]: mean MSD_musicnn penultimate layer
    tag_probs: np.ndarray  # float32[50] in TAGS order
    tempo: float  # beats per minute, estimated
    excerpt_starts: tuple[float, ...]  # where the analysed excerpts begin, in seconds
    mtt_tags: tuple[tuple[str, float], ...] = ()  # all 50 MTT tags, most probable first
    mtt_embedding: np.ndarray = field(default_factory=lambda: _EMPTY)  # float32[200], MTT_musicnn
    mtt_tag_probs: np.ndarray = field(default_factory=lambda: _EMPTY)  # float32[50] in MTT_TAGS order
    #: Whether the top genre is sure enough to be stated (the family model's threshold, chosen from
    #: its cross-validated reliability); when False Crate says "not sure — A or B?".
    confident: bool = False
    #: The family model that answered ``genres`` (:attr:`bot.listen.families.FamilyModel.version`);
    #: '' for a custom model's answer. Stored with the track: a start with another family model
    #: relabels it from what is stored (:mod:`bot.listen.relabel`).
    genre_model: str = ""

    @property
    def top_genre(self) -> str:
        return self.genres[0][0]

    @property
    def runner_up(self) -> str | None:
        return self.genres[1][0] if len(self.genres) > 1 else None


def ranked(names, probabilities) -> tuple[tuple[str, float], ...]:
    """``(name, probability)`` pairs, most probable first (ties keep ``names`` order)."""
    order = np.argsort(-np.asarray(probabilities), kind="stable")
    return tuple((names[i], float(probabilities[i])) for i in order)
