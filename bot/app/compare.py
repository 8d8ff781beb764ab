"""``/taste member:`` and the "Compare taste" menu: how two members' tastes match, with evidence.

The percentage is :func:`bot.recommend.group.taste_match`, the very number sessions show between
members (one core function: whatever changes how it weighs sound and genre families reaches
here too). The evidence beside it, from the same profiles:

* the tracks both members liked (the server's most-liked first);
* the families both clearly like (:attr:`~bot.recommend.profile.TasteProfile.clear_genres`),
  strongest shared first, and where they differ (families one clearly likes and the other has no
  liking for at all, largest gap first); an affinity is shown from 0 up, never below (a dislike
  reads as "—", not as a negative percentage);
* three catalog tracks that suit both, picked as a session of the two of them would
  (:func:`bot.recommend.group.pick_for_group`), leaving out what either has rated already.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from bot.catalog import LIKE, Track
from bot.recommend.group import GroupPick, GroupRecommender, pick_for_group, taste_match
from bot.recommend.profile import TasteProfile
from bot.recommend.service import CatalogCache
from bot.store import get_track, ratings_of, track_scores

BOTH_LIKED_SHOWN = 5
FAMILIES_SHOWN = 4
PICKS = 3


@dataclass(frozen=True)
class FamilyAffinity:
    """One family and both members' liking of it: their affinity (bot.recommend.profile) from 0 up,
    0 for none or a dislike."""

    family: str
    mine: float
    theirs: float


@dataclass(frozen=True)
class TasteComparison:
    user_id: int
    other_id: int
    match: float | None  # 0..1; None: one of them has no ratings here yet
    both_liked: tuple[Track, ...]
    shared: tuple[FamilyAffinity, ...]  # families both like
    different: tuple[FamilyAffinity, ...]  # families one likes and the other doesn't
    picks: tuple[GroupPick, ...]  # catalog tracks that suit both, best first
    #: Which of the two has not rated anything here yet (the match needs ratings from both).
    without_ratings: tuple[int, ...] = ()


def family_evidence(
    mine: TasteProfile, theirs: TasteProfile, shown: int = FAMILIES_SHOWN
) -> tuple[tuple[FamilyAffinity, ...], tuple[FamilyAffinity, ...]]:
    """(families both like, strongest common liking first; families where they differ, largest gap first)."""
    families = sorted(mine.clear_genres | theirs.clear_genres)

    def liking(profile: TasteProfile, family: str) -> float:
        return max(0.0, profile.genre_affinity.get(family, 0.0))

    rows = [FamilyAffinity(f, liking(mine, f), liking(theirs, f)) for f in families]
    both = mine.clear_genres & theirs.clear_genres
    shared = sorted((r for r in rows if r.family in both), key=lambda r: (-min(r.mine, r.theirs), r.family))
    different = sorted(
        (r for r in rows if r.family not in both and min(r.mine, r.theirs) == 0),
        key=lambda r: (-abs(r.mine - r.theirs), r.family),
    )
    return tuple(shared[:shown]), tuple(different[:shown])


async def compare_taste(
    catalogs: CatalogCache,
    guild_id: int,
    user_id: int,
    other_id: int,
    *,
    now: float | None = None,
) -> TasteComparison:
    """How ``user_id``'s taste matches ``other_id``'s in this server (module docstring)."""
    now = time.time() if now is None else now
    db = catalogs.db
    catalog, ratings = await catalogs.catalog_and_ratings(guild_id)
    mine_rated = await ratings_of(db, guild_id, user_id)
    theirs_rated = await ratings_of(db, guild_id, other_id)

    def work() -> tuple[float | None, tuple, tuple, list[GroupPick]]:
        recommender = GroupRecommender(catalog, ratings, now=now)
        mine, theirs = recommender.profile(user_id), recommender.profile(other_id)
        shared, different = family_evidence(mine, theirs)
        rated = {r.track_id for r in (*mine_rated, *theirs_rated)}
        picks = pick_for_group(catalog, ratings, [user_id, other_id], exclude_track_ids=rated, count=PICKS, now=now)
        return taste_match(mine, theirs, catalog), shared, different, picks

    match, shared, different, picks = await asyncio.to_thread(work)
    liked_by_other = {r.track_id for r in theirs_rated if r.value == LIKE}
    both = [r.track_id for r in mine_rated if r.value == LIKE and r.track_id in liked_by_other]
    popularity = {s.track_id: s.likes for s in await track_scores(db, guild_id, limit=10_000)}
    both.sort(key=lambda t: -popularity.get(t, 0))
    both_liked = [await get_track(db, guild_id, t) for t in both[:BOTH_LIKED_SHOWN]]
    return TasteComparison(
        user_id=user_id,
        other_id=other_id,
        match=match,
        both_liked=tuple(t for t in both_liked if t is not None),
        shared=shared,
        different=different,
        picks=tuple(picks),
        without_ratings=tuple(u for u, rated in ((user_id, mine_rated), (other_id, theirs_rated)) if not rated),
    )
