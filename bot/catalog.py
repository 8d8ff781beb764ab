"""The ground floor: the domain values every layer of Crate may import.

A :class:`Track` and a guild's :class:`Catalog`, a member's :class:`Rating` (:data:`LIKE` or
:data:`DISLIKE`) and :class:`Correction` of a track's genre, the sizes of the vectors an analysis
produces, and the content hash that
makes "the same audio file" one track. Nothing here imports from the rest of ``bot`` except
:mod:`bot.errors`, so the store, the listener, the recommender and the cogs all stand on it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from bot.errors import CrateError
from bot.i18n import N_

#: Length of a track embedding (musicnn penultimate layer).
EMBEDDING_DIM = 200
#: Number of musicnn tag probabilities per track.
TAG_COUNT = 50

#: How a track reached Crate.
SourceKind = Literal["attachment", "link", "file"]
SOURCE_KINDS: frozenset[str] = frozenset({"attachment", "link", "file"})

LIKE = 1
DISLIKE = -1


class UnknownTrack(CrateError):
    """The track does not exist in this server (it may have been removed)."""

    user_message = N_("I don't know that track in this server; it may have been removed.")


class NoTrackChosen(CrateError):
    """A command about "your last track" from a member who has none yet."""

    user_message = N_(
        "Which track? Share one with /genre first, or pick one from this server's catalog with the `track` option."
    )


def content_hash(path: str | Path) -> str:
    """The catalog's key for "the same audio file": the sha256 hex digest of its bytes (streamed)."""
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


@dataclass(frozen=True)
class Track:
    """One analyzed track of one guild. Vectors are read-only float32 arrays."""

    id: int
    guild_id: int
    title: str
    source_url: str | None
    source_kind: SourceKind
    content_hash: str
    duration: float
    #: The answer shown: (genre, probability) pairs, most probable first. A name is a family id
    #: (:data:`bot.genres.FAMILIES`) or a genre this server taught (shown as written).
    genres: tuple[tuple[str, float], ...]
    top_genre: str | None
    tag_probs: np.ndarray = field(compare=False, repr=False)  # float32[TAG_COUNT]
    embedding: np.ndarray = field(compare=False, repr=False)  # float32[EMBEDDING_DIM]
    tempo: float | None
    added_at: float
    added_by: int | None
    #: Whether ``top_genre`` is sure enough to be stated as a fact ("not sure — A or B?" if not).
    confident: bool = False
    #: The family model's own distribution over the 14 families (``genres`` may differ: a server's
    #: corrections blend into it). Empty only for a track nobody has relabelled yet.
    base_genres: tuple[tuple[str, float], ...] = ()
    #: MTT_musicnn's 50 tag probabilities and embedding; None for tracks analyzed before Crate
    #: stored them (schema 5), whose families were inferred from MSD's tags alone.
    mtt_tag_probs: np.ndarray | None = field(default=None, compare=False, repr=False)
    mtt_embedding: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def runner_up(self) -> str | None:
        return self.genres[1][0] if len(self.genres) > 1 else None


@dataclass(frozen=True, eq=False)
class Catalog:
    """All tracks of a guild as arrays, row ``i`` describing track ``ids[i]`` (ids ascending)."""

    guild_id: int
    ids: np.ndarray  # int64[n]
    titles: list[str]
    top_genres: list[str | None]
    durations: np.ndarray  # float64[n]
    tag_probs: np.ndarray  # float32[n, TAG_COUNT]
    embeddings: np.ndarray  # float32[n, EMBEDDING_DIM]
    #: Every track's genre distribution: column ``j`` is ``genre_names[j]`` (families and custom
    #: genres). None: only ``top_genres`` is known (each track counts as fully its top genre).
    genre_names: tuple[str, ...] = ()
    genre_probs: np.ndarray | None = None  # float32[n, len(genre_names)]
    confident: np.ndarray | None = None  # bool[n]: is the track's top genre sure? (None: all are)

    def __len__(self) -> int:
        return len(self.ids)

    def index_of(self, track_id: int) -> int | None:
        """Row of ``track_id`` in the arrays, or None if the catalog doesn't have it."""
        i = int(np.searchsorted(self.ids, track_id))
        return i if i < len(self.ids) and self.ids[i] == track_id else None


@dataclass(frozen=True)
class Rating:
    guild_id: int
    user_id: int
    track_id: int
    value: int  # LIKE (+1) or DISLIKE (-1)
    rated_at: float


@dataclass(frozen=True)
class Correction:
    """A member saying which genre a track really is: a family id or one of the server's own genres."""

    guild_id: int
    track_id: int
    user_id: int
    genre: str
    corrected_at: float


@dataclass(frozen=True)
class TrackScore:
    track_id: int
    likes: int
    dislikes: int

    @property
    def score(self) -> int:
        return self.likes - self.dislikes


@dataclass(frozen=True)
class Taught:
    """What one correction did."""

    track: Track  # the track, with its genres after relabelling
    genre: str  # what this member said (family id or the server's own genre)
    previous: str | None  # this member's earlier answer for the track, if any
    decided: str | None  # what the track is now taught (majority of its correctors; None: a tie)
    votes: tuple[tuple[str, int], ...]  # every answer for this track, most votes first
    relabelled: int  # tracks of the server whose top genre changed
