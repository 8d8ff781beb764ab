"""Radio: picks that sound like the last track played, for the members present. Pure numpy, no I/O.

A radio session (the "Start radio" button, ``/session start seed:``) starts from a seed track;
:func:`pick_radio` chooses what comes after a track:

1. **Sound first.** A candidate's closeness is its cosine to an *anchor*:
   ``W_PREVIOUS`` x the track it follows (the last one played) + ``W_SEED`` x the seed. Each pick
   is seeded by the one before it, so the radio drifts; the seed's share keeps it drifting
   slowly, never wandering off to something unrelated to where it began.
2. **Fit for the members present.** Each present member who has rated anything scores the
   candidates as ``/recommend`` does (:meth:`~bot.recommend.group.GroupRecommender.member_scores`),
   on one scale (divided by their best, as the group pick does); the group's fit is the mean of
   those satisfactions, minus the same soft least-misery penalty, weighted by ``W_FIT``.
3. **Never a veto, never a repeat.** A track any present member disliked is never picked, and
   neither is any track already in the session (``exclude_track_ids``), nor another cut of one
   of those songs, of the seed or of a pick before it (:mod:`bot.recommend.songs`): the radio
   never plays a song twice, it ends when the catalog has nothing left that it has not played.

Every pick's reason names the track it follows ("after “Nebula”"), and whom it suits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from bot.catalog import DISLIKE, Catalog, UnknownTrack
from bot.reasons import Reason, ReasonKind
from bot.recommend.group import (
    MISERY_FLOOR,
    SATISFACTION_SCALE_MIN,
    SERVED_MIN,
    W_MISERY,
    GroupPick,
    GroupRecommender,
)
from bot.recommend.songs import best_new_song

#: Rule 1: the anchor's share of the track it follows and of the seed.
W_PREVIOUS = 0.75
W_SEED = 0.25
#: Rule 2: how much the group's fit counts next to the sound (cosines are in [-1, 1]).
W_FIT = 0.5


def pick_radio(
    catalog: Catalog,
    ratings,
    present_user_ids: Sequence[int],
    *,
    seed_track_id: int,
    previous_track_id: int | None = None,
    exclude_track_ids: Iterable[int] = (),
    count: int = 1,
    now: float | None = None,
) -> list[GroupPick]:
    """Up to ``count`` tracks, each following the one before it (the first follows
    ``previous_track_id``, default the seed). Raises :class:`UnknownTrack` for an unknown seed."""
    recommender = GroupRecommender(catalog, ratings, now=now)
    seed = catalog.index_of(int(seed_track_id))
    if seed is None:
        raise UnknownTrack(detail=f"guild {catalog.guild_id} has no radio seed {seed_track_id}")
    previous = catalog.index_of(int(previous_track_id)) if previous_track_id is not None else None
    previous = seed if previous is None else previous
    present = list(dict.fromkeys(int(u) for u in present_user_ids))
    keep = np.ones(len(catalog), bool)
    for track_id in exclude_track_ids:
        row = catalog.index_of(int(track_id))
        if row is not None:
            keep[row] = False
    keep[[seed, previous]] = False
    keep[recommender.rows_rated(present, DISLIKE)] = False  # rule 3
    gone = np.flatnonzero(~keep)  # in the session, the seed, vetoed: their other cuts go too (rule 3)
    candidates = np.flatnonzero(keep)
    if count <= 0 or len(candidates) == 0:
        return []

    unit = recommender.features.unit
    tasteful = [u for u in present if not recommender.profile(u).is_empty]
    if tasteful:
        raw = np.stack([recommender.member_scores(u, candidates) for u in tasteful])
        satisfaction = raw / np.maximum(raw.max(axis=1, keepdims=True), SATISFACTION_SCALE_MIN)
        fit = satisfaction.mean(axis=0) - W_MISERY * np.maximum(0.0, MISERY_FLOOR - satisfaction.min(axis=0))
    else:
        satisfaction = np.zeros((0, len(candidates)))
        fit = np.zeros(len(candidates))
    taken = np.zeros(len(candidates), bool)
    picks: list[GroupPick] = []
    for _ in range(min(count, len(candidates))):
        anchor = W_PREVIOUS * unit[previous] + W_SEED * unit[seed]
        anchor = anchor / max(float(np.linalg.norm(anchor)), 1e-9)
        sound = unit[candidates] @ anchor
        score = np.where(taken, -np.inf, sound + W_FIT * fit)
        found = best_new_song(catalog, candidates, score, taken, gone)  # never a song twice
        if found is None:
            break
        i = found
        taken[i] = True
        row = int(candidates[i])
        gone = np.append(gone, row)
        served = tuple(u for k, u in enumerate(tasteful) if satisfaction[k, i] >= SERVED_MIN)
        reason = Reason(
            ReasonKind.AFTER,
            track_id=int(catalog.ids[previous]),
            track_title=catalog.titles[previous],
            member_ids=served,
            everyone=bool(served) and len(tasteful) >= 2 and set(served) == set(tasteful),
        )
        picks.append(
            GroupPick(
                track_id=int(catalog.ids[row]),
                title=catalog.titles[row],
                score=round(float(score[i]), 4),
                reason=reason,
                for_user_ids=served,
                top_genre=catalog.top_genres[row] or "",
                satisfaction={u: round(float(satisfaction[k, i]), 4) for k, u in enumerate(tasteful)},
            )
        )
        previous = row
    return picks


__all__ = ["W_FIT", "W_PREVIOUS", "W_SEED", "pick_radio"]
