"""One song, whatever its cut: when two tracks of a catalog are the same song. Pure numpy, no I/O.

The store already makes the same *audio* one track when it is shared again (durations within
:data:`~bot.store.tracks.NEAR_DUPLICATE_MAX_SECONDS`, embedding cosine from
:data:`~bot.store.tracks.NEAR_DUPLICATE_MIN_COSINE`). Another cut of a song (a radio edit, the
song without its intro, a re-encode whose embedding moved a little) stays a track of its own, and
this module says when such tracks are one song, for the radio (never twice in one radio),
recommendations (never two cuts on one page, nor a cut of a song the member rated), autocomplete
(one choice per song and title) and the charts (the likes of its cuts count for the song).

**Two tracks are the same song** when the cosine of their (raw, uncentred) musicnn embeddings is at
least :data:`SAME_SONG_MIN_COSINE` and the shorter lasts at least :data:`SAME_SONG_MIN_LENGTH_SHARE`
of the longer; the store's same-audio pairs always are. Measured on real tracks (singularity and
nexuiz music): cuts of a song (60-75 % of it, or without its first quarter) and re-encodes score
0.95-0.998 against the song, distinct songs of one album at most 0.93; an excerpt of 45 s scores
0.74-0.85 (its three listening windows hear other parts of the song) and is never called the song.
Raw embeddings, not the recommender's centred ones: the centring moves with the catalog, and "the
same song" must not.
"""

from __future__ import annotations

import numpy as np

from bot.catalog import Catalog
from bot.store.tracks import NEAR_DUPLICATE_MAX_SECONDS, NEAR_DUPLICATE_MIN_COSINE

#: Raw-embedding cosine from which two tracks of comparable length are one song.
SAME_SONG_MIN_COSINE = 0.95
#: The shorter of two tracks that are one song lasts at least this share of the longer.
SAME_SONG_MIN_LENGTH_SHARE = 0.5
#: Rows compared at a time (bounds the memory of a pairwise block to BLOCK x rows floats).
BLOCK = 1024

assert SAME_SONG_MIN_COSINE <= NEAR_DUPLICATE_MIN_COSINE  # what the store merges is one song


def _unit(catalog: Catalog, rows: np.ndarray) -> np.ndarray:
    raw = np.asarray(catalog.embeddings[rows], dtype=np.float32)
    return raw / np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-9)


def same_song(catalog: Catalog, rows, others) -> np.ndarray:
    """``bool[len(rows), len(others)]``: is catalog row ``rows[i]`` the same song as ``others[j]``
    (a row is always the same song as itself)."""
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    others = np.asarray(others, dtype=np.int64).reshape(-1)
    if len(rows) == 0 or len(others) == 0:
        return np.zeros((len(rows), len(others)), bool)
    cosine = _unit(catalog, rows) @ _unit(catalog, others).T
    a = np.asarray(catalog.durations, dtype=np.float64)[rows][:, None]
    b = np.asarray(catalog.durations, dtype=np.float64)[others][None, :]
    length_share = np.minimum(a, b) / np.maximum(np.maximum(a, b), 1e-9)
    close_lengths = (length_share >= SAME_SONG_MIN_LENGTH_SHARE) | (np.abs(a - b) <= NEAR_DUPLICATE_MAX_SECONDS)
    return ((cosine >= SAME_SONG_MIN_COSINE) & close_lengths) | (rows[:, None] == others[None, :])


def same_song_as_any(catalog: Catalog, rows, others) -> np.ndarray:
    """``bool[len(rows)]``: is ``rows[i]`` the same song as any of ``others``."""
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    out = np.zeros(len(rows), bool)
    for start in range(0, len(rows), BLOCK):
        out[start : start + BLOCK] = same_song(catalog, rows[start : start + BLOCK], others).any(axis=1)
    return out


def best_new_song(catalog: Catalog, candidates: np.ndarray, score: np.ndarray, taken: np.ndarray, gone) -> int | None:
    """The index (into ``candidates``) of the best-scored one that is no cut of a song among the
    ``gone`` rows, or None; checked lazily, best first (those passed over are marked ``taken``)."""
    score = score.copy()
    while True:
        i = int(np.argmax(score))
        if not np.isfinite(score[i]):
            return None
        if not same_song_as_any(catalog, candidates[i : i + 1], gone)[0]:
            return i
        taken[i] = True
        score[i] = -np.inf


def song_groups(catalog: Catalog, rows) -> np.ndarray:
    """``int[len(rows)]``: for each of ``rows``, the position (in ``rows``) of the first row of its
    song; rows of one song are grouped transitively (a ~ b and b ~ c: one song)."""
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    parent = np.arange(len(rows))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    for start in range(0, len(rows), BLOCK):
        block = same_song(catalog, rows[start : start + BLOCK], rows)
        for i, j in zip(*np.nonzero(block), strict=True):
            a, b = root(start + int(i)), root(int(j))
            if a != b:
                parent[max(a, b)] = min(a, b)
    return np.array([root(i) for i in range(len(rows))], dtype=np.int64)


__all__ = [
    "SAME_SONG_MIN_COSINE",
    "SAME_SONG_MIN_LENGTH_SHARE",
    "best_new_song",
    "same_song",
    "same_song_as_any",
    "song_groups",
]
