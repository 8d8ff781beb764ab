"""A song path (``/path``): from one track to another in small steps of sound. Pure numpy, no I/O.

The walk runs in the recommender's space (:func:`bot.recommend.rank.features_of`: centred, unit
embeddings, where a cosine is "sounds alike"). For step ``k`` of a path of ``length`` tracks the
target is the point ``k / (length - 1)`` of the way along the straight line from A to B; the step
is the nearest track to that point among the eligible ones:

* **always closer to B**: strictly closer to B than the step before it, in that space and by the
  stored embeddings' cosine and Euclidean distance alike (so whichever way one measures, the path
  never steps back). A greedy walk towards moving targets could otherwise step back; with this
  rule every step is closer to B than the last (the tests check it), and when no track is, the
  path ends early at B;
* **no song and no artist twice**: not A, B, nor another cut of any track already on the path
  (:mod:`bot.recommend.songs`), and not an artist already on it (the "Artist - Song" of its title,
  :func:`bot.audio.services.song_key`; A and B may share one);
* not among ``exclude_track_ids`` (what the session already played or queued).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from bot.audio.services import song_key
from bot.catalog import Catalog, UnknownTrack
from bot.errors import CrateError
from bot.i18n import N_
from bot.reasons import Reason, ReasonKind
from bot.recommend.rank import features_of
from bot.recommend.songs import same_song, same_song_as_any

#: Tracks on a path (A and B included), by default and at most.
DEFAULT_LENGTH = 8
MIN_LENGTH = 3
MAX_LENGTH = 25


class SamePathEnds(CrateError):
    """``/path`` from a track to itself (or to another cut of it)."""

    user_message = N_("A path needs two different songs: pick another track for `to`.")


class PathLength(CrateError):
    """A path asked for with a length out of [:data:`MIN_LENGTH`, :data:`MAX_LENGTH`] (the
    console and the command line; Discord's option allows no other)."""

    user_message = N_("A path is {low} to {high} tracks long, both ends included: pick a length between them.")
    template_values: ClassVar[Mapping[str, object]] = {"low": MIN_LENGTH, "high": MAX_LENGTH}


@dataclass(frozen=True)
class PathStep:
    track_id: int
    title: str
    top_genre: str | None
    reason: Reason
    #: The step's cosine to B in the walk's space (1 for B itself).
    closeness_to_end: float


def artist_of(title: str) -> str | None:
    """The artist a title names ("Artist - Song"), in normal form; None when it names none."""
    key = song_key(title)
    return key.split("|", 1)[0] if key else None


def walk(
    catalog: Catalog,
    from_track_id: int,
    to_track_id: int,
    *,
    length: int = DEFAULT_LENGTH,
    exclude_track_ids: Iterable[int] = (),
) -> list[PathStep]:
    """The path from A to B, both included, at most ``length`` tracks (clamped to
    [:data:`MIN_LENGTH`, :data:`MAX_LENGTH`]). Raises :class:`UnknownTrack` and :class:`SamePathEnds`."""
    length = max(MIN_LENGTH, min(MAX_LENGTH, int(length)))
    a, b = catalog.index_of(int(from_track_id)), catalog.index_of(int(to_track_id))
    if a is None or b is None:
        raise UnknownTrack(detail=f"guild {catalog.guild_id}: path {from_track_id} -> {to_track_id}")
    if a == b or same_song(catalog, [a], [b])[0, 0]:
        raise SamePathEnds(detail=f"{from_track_id} -> {to_track_id}")
    unit = features_of(catalog).unit
    stored = np.asarray(catalog.embeddings, dtype=np.float32)
    raw = stored / np.maximum(np.linalg.norm(stored, axis=1, keepdims=True), 1e-9)
    to_end = unit @ unit[b]  # cosine to B in the walk's space
    raw_to_end = raw @ raw[b]  # by the stored embeddings' cosine
    away = np.linalg.norm(stored - stored[b], axis=1)  # and their Euclidean distance

    keep = np.ones(len(catalog), bool)
    keep[[a, b]] = False
    for track_id in exclude_track_ids:
        row = catalog.index_of(int(track_id))
        if row is not None:
            keep[row] = False
    candidates = np.flatnonzero(keep)
    candidates = candidates[~same_song_as_any(catalog, candidates, [a, b])]
    artists = [artist_of(catalog.titles[int(row)]) for row in candidates]
    used_artists = {x for x in (artist_of(catalog.titles[a]), artist_of(catalog.titles[b])) if x}
    taken = np.zeros(len(candidates), bool)
    gone = [a, b]

    rows = [a]
    previous = a
    for k in range(1, length - 1):
        share = k / (length - 1)
        target = (1.0 - share) * unit[a] + share * unit[b]
        closer = (
            (to_end[candidates] > to_end[previous])
            & (raw_to_end[candidates] > raw_to_end[previous])
            & (away[candidates] < away[previous])
        )
        distance = np.linalg.norm(unit[candidates] - target, axis=1)
        score = np.where(closer & ~taken, -distance, -np.inf)
        chosen = None
        while True:
            i = int(np.argmax(score)) if len(score) else 0
            if not len(score) or not np.isfinite(score[i]):
                break
            row = int(candidates[i])
            if (artists[i] is None or artists[i] not in used_artists) and not same_song_as_any(catalog, [row], gone)[0]:
                chosen = i
                break
            taken[i] = True
            score[i] = -np.inf
        if chosen is None:
            break  # nothing is closer to B: on to B
        taken[chosen] = True
        row = int(candidates[chosen])
        rows.append(row)
        gone.append(row)
        artist = artists[chosen]
        if artist:
            used_artists.add(artist)
        previous = row
    rows.append(b)

    steps = len(rows)
    return [
        PathStep(
            track_id=int(catalog.ids[row]),
            title=catalog.titles[row],
            top_genre=catalog.top_genres[row],
            reason=Reason(
                ReasonKind.PATH,
                track_id=int(catalog.ids[a]),
                track_title=catalog.titles[a],
                to_track_id=int(catalog.ids[b]),
                to_title=catalog.titles[b],
                step=number,
                steps=steps,
            ),
            closeness_to_end=round(float(to_end[row]), 4),
        )
        for number, row in enumerate(rows, 1)
    ]


__all__ = ["DEFAULT_LENGTH", "MAX_LENGTH", "MIN_LENGTH", "PathLength", "PathStep", "SamePathEnds", "artist_of", "walk"]
