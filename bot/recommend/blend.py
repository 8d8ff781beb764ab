"""A Blend's tracks: a playlist for two to six members, from the group ranking. Pure numpy, no I/O.

:func:`blend_tracks` reuses :mod:`bot.recommend.group` whole (each member's own ``/recommend``
score, satisfaction on one scale, no track anyone disliked, least misery, fairness) and adds:

1. **The song that brings you together** on top: of every track nobody disliked, the one with
   the best *worst*-member satisfaction, when every member has a taste and that worst satisfaction
   is at least :data:`~bot.recommend.group.SERVED_MIN` (the track is "for" each of them);
   otherwise there is none, and nothing says there is.
2. **Every member served in turn.** The group picks are dealt round-robin: the members, in the
   order they joined, take turns, each turn the best remaining pick that is for that member (if
   none is left for them, the best remaining pick). Picks for nobody are left out while anyone
   has a taste: a Blend is tracks each will like.
3. **The taste match** of the members (:func:`~bot.recommend.group.group_match`, the number
   ``/taste`` and sessions show), but only when every member has rated at least
   :data:`MATCH_MIN_RATINGS` tracks: a percentage from one or two ratings would say more than
   Crate knows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.catalog import DISLIKE, Catalog
from bot.reasons import Reason, ReasonKind
from bot.recommend.group import (
    SATISFACTION_SCALE_MIN,
    SERVED_MIN,
    GroupPick,
    GroupRecommender,
    group_match,
    pick_for_group,
)

#: How many tracks a Blend holds.
BLEND_TRACKS = 20
#: A member's ratings needed before the Blend shows a taste match.
MATCH_MIN_RATINGS = 3


@dataclass(frozen=True)
class BlendPicks:
    tracks: tuple[GroupPick, ...]  # in playlist order: the together track first, when there is one
    together: GroupPick | None
    match: float | None  # None: a member has fewer than MATCH_MIN_RATINGS ratings
    #: Members short of MATCH_MIN_RATINGS ratings, and how many they have.
    short_of_ratings: tuple[tuple[int, int], ...] = ()


def blend_tracks(
    catalog: Catalog, ratings, member_ids: Sequence[int], *, count: int = BLEND_TRACKS, now: float | None = None
) -> BlendPicks:
    """The Blend of ``member_ids`` (in the order they joined), at most ``count`` tracks."""
    members = list(dict.fromkeys(int(u) for u in member_ids))
    recommender = GroupRecommender(catalog, ratings, now=now)
    profiles = {u: recommender.profile(u) for u in members}
    rated = {u: len(profiles[u].liked_rows) + len(profiles[u].disliked_rows) for u in members}
    short = tuple((u, rated[u]) for u in members if rated[u] < MATCH_MIN_RATINGS)
    match = None if short else group_match([profiles[u] for u in members], catalog).group
    if len(catalog) == 0 or count <= 0:
        return BlendPicks((), None, match, short)

    together = _together(recommender, members)
    rest = pick_for_group(
        catalog,
        ratings,
        members,
        exclude_track_ids=() if together is None else (together.track_id,),
        count=max(0, count - (together is not None)) * 2,
        now=now,
    )
    if any(not profiles[u].is_empty for u in members):
        rest = [p for p in rest if p.for_user_ids]
    dealt = _round_robin(rest, members, max(0, count - (together is not None)))
    tracks = ((together,) if together is not None else ()) + tuple(dealt)
    return BlendPicks(tracks, together, match, short)


def _together(recommender: GroupRecommender, members: list[int]) -> GroupPick | None:
    """Rule 1: the track with the best worst-member satisfaction, if it serves everyone."""
    catalog = recommender.catalog
    if any(recommender.profile(u).is_empty for u in members) or len(members) < 2:
        return None
    keep = np.ones(len(catalog), bool)
    keep[recommender.rows_rated(members, DISLIKE)] = False
    candidates = np.flatnonzero(keep)
    if len(candidates) == 0:
        return None
    raw = np.stack([recommender.member_scores(u, candidates) for u in members])
    satisfaction = raw / np.maximum(raw.max(axis=1, keepdims=True), SATISFACTION_SCALE_MIN)
    worst = satisfaction.min(axis=0)
    i = int(np.argmax(worst))
    if worst[i] < SERVED_MIN:
        return None
    row = int(candidates[i])
    likers = recommender.likers(row, members)
    kind = ReasonKind.EVERYONE_LIKED if likers == set(members) else ReasonKind.FOR
    return GroupPick(
        track_id=int(catalog.ids[row]),
        title=catalog.titles[row],
        score=round(float(worst[i]), 4),
        reason=Reason(kind, member_ids=tuple(members), everyone=True),
        for_user_ids=tuple(members),
        top_genre=catalog.top_genres[row] or "",
        satisfaction={u: round(float(satisfaction[k, i]), 4) for k, u in enumerate(members)},
    )


def _round_robin(picks: list[GroupPick], members: list[int], count: int) -> list[GroupPick]:
    """Rule 2: members take turns; each turn the best remaining pick for that member."""
    left = list(picks)
    out: list[GroupPick] = []
    turn = 0
    while left and len(out) < count:
        user = members[turn % len(members)]
        turn += 1
        chosen = next((p for p in left if user in p.for_user_ids), None)
        if chosen is None:
            if any(any(u in p.for_user_ids for p in left) for u in members):
                continue  # nothing left for this member: the next member's turn
            chosen = left[0]
        left.remove(chosen)
        out.append(chosen)
    return out


__all__ = ["BLEND_TRACKS", "MATCH_MIN_RATINGS", "BlendPicks", "blend_tracks"]
