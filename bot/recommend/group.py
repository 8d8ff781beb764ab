"""Picks for a group listening together, and how well members' tastes match. Pure numpy, no I/O.

Picking for the members present (:func:`pick_for_group`):

1. **Each member's own score.** Every present member who has rated anything here scores every
   candidate exactly as ``/recommend`` would rank it for them (:class:`~bot.recommend.rank.Recommender`:
   closeness to their nearest liked track, minus closeness to their dislikes, genre affinity, what
   people with their taste liked). Members without any rating have no say yet (but nothing to
   veto either).
2. **Satisfaction on one scale.** A member's scores are divided by their best score over the
   candidates (at least :data:`SATISFACTION_SCALE_MIN`), so 1 means "the best this catalog has for
   them" whoever is easy or hard to please, and loud profiles don't drown quiet ones.
3. **Least misery, hard.** A track that any present member disliked is never picked. Once that
   member leaves, their dislike no longer vetoes. Tracks already in the session are skipped, and
   so are other cuts of those songs (:mod:`bot.recommend.songs`).
4. **Least misery, soft.** A track's group score is lowered by
   ``W_MISERY * max(0, MISERY_FLOOR - min satisfaction)``: a track far from any one member's taste
   is down-ranked even if the others love it, so a track everyone finds decent beats one that
   thrills one member and bores the rest.
5. **Average satisfaction, weighted for fairness.** The group score is the weighted mean of the
   members' satisfactions. A member's weight is ``1 + W_FAIRNESS * min(waiting, H) / H``: ``waiting``
   counts the queue entries since one was last *for* them (never: ``H``), ``H`` is the number of
   members with a taste. Whoever was served least recently counts up to three times as much, so picks
   rotate between members whose tastes differ.
5b. **Everyone is served, guaranteed.** The weights alone can lose to least misery (a member whose
   taste bores everyone else might never win). So, with ``H`` members with a taste present, each
   one *servable* (some remaining candidate has satisfaction >= :data:`SERVED_MIN` for them; vetoed
   tracks are already gone) must be served within every ``H`` consecutive picks. Each member has a
   deadline ``H - waiting`` (never served: 1, 2, ... in order); when the deadlines are tight
   (the k-th soonest is due within k picks) the pick is restricted to tracks serving the member
   due first, and otherwise it is free (earliest-deadline-first scheduling, which always meets
   the deadlines it can).
6. **Variety.** As in ``/recommend``, each further pick of one fill pays ``W_REDUNDANCY`` x its
   closeness to tracks already picked; fairness is updated after every pick.
7. **Who a pick is for, and why.** A pick is *for* the members whose satisfaction with it is at
   least :data:`SERVED_MIN`; that drives rule 5 next time, and the reason names them: "everyone's
   into ambient", "for alice and bob: close to “Nebula” they liked", "for bob, who liked it".
8. **Nobody has a taste yet.** When no present member has rated anything, picks fall back to
   ``/recommend``'s cold start (the server's best-liked tracks, then typical tracks of each genre).

Taste match (:func:`taste_match`, like a blend), for two members with ratings:

* **Sound (70 %).** Each member's taste vector is the recency-weighted mean of the (centred, unit)
  embeddings of their liked tracks minus :data:`W_DISLIKE_TASTE` x that of their disliked tracks.
  ``sound = (1 + cos(a, b)) / 2``: identical tastes 1, unrelated 0.5, opposite 0.
* **Genres (30 %).** Weighted Jaccard overlap of the genres they like:
  ``sum_g min(a_g, b_g) / sum_g max(a_g, b_g)`` over positive genre affinities (0 when they like no
  genre in common). Affinities come from the liked tracks' genre *distributions*
  (:mod:`bot.recommend.profile`), so two members whose tracks merely share a doubtful top-1 overlap
  only by the probability mass they really share. If neither likes any genre yet, the match is the
  sound part alone.
* The group's match (:func:`group_match`) is the mean of all pairwise matches. A member without
  ratings has no match (``None``: "not enough ratings").
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from bot.catalog import DISLIKE, LIKE, Catalog
from bot.i18n import _
from bot.reasons import Reason, ReasonKind
from bot.recommend.profile import TasteProfile
from bot.recommend.rank import (
    REASON_MIN_COSINE,
    W_DISLIKE,
    W_GENRE,
    W_REDUNDANCY,
    Recommender,
    features_of,
    genre_term,
)
from bot.recommend.songs import best_new_song

#: Rule 2: a member's scores are divided by max(their best score, this).
SATISFACTION_SCALE_MIN = 0.5
#: Rule 4: satisfaction under this (for any present member) costs W_MISERY per unit short.
MISERY_FLOOR = 0.35
W_MISERY = 2.0
#: Rule 5: a member who waited a full round (or was never served) weighs 1 + W_FAIRNESS.
W_FAIRNESS = 2.0
#: Rule 7: a pick is "for" a member whose satisfaction is at least this.
SERVED_MIN = 0.5
#: Taste match: the share of the sound part (the rest is genre overlap).
W_MATCH_SOUND = 0.7
#: Taste match: dislikes pull a taste vector away this much relative to likes.
W_DISLIKE_TASTE = W_DISLIKE


@dataclass(frozen=True)
class GroupPick:
    track_id: int
    title: str
    score: float
    reason: Reason
    #: The present members this pick suits (satisfaction >= SERVED_MIN); may be empty.
    for_user_ids: tuple[int, ...]
    top_genre: str = ""
    #: Each tasteful present member's satisfaction (rule 2 scale), for display and tests.
    satisfaction: Mapping[int, float] = field(default_factory=dict, compare=False)


class GroupRecommender(Recommender):
    """A :class:`Recommender` that also scores given catalog rows for one member (no re-rank)."""

    def member_scores(self, user_id: int, rows: np.ndarray) -> np.ndarray:
        """The member's ranking score of each of ``rows``: what ``/recommend`` ranks by before its
        diversity re-rank. Members without likes get the dislike and genre terms only."""
        rows = np.asarray(rows, dtype=np.int64)
        profile = self.profile(user_id)
        if len(rows) == 0:
            return np.zeros(0)
        if profile.has_likes:
            return np.asarray(self._score(user_id, profile, rows)["score"], dtype=np.float64)
        f = self.features
        score = W_GENRE * genre_term(f, profile, rows)
        if len(profile.disliked_rows):
            nearest = self._nearest(f.unit[rows], profile.disliked_rows, profile.disliked_weights)[0]
            score = score - W_DISLIKE * nearest.clip(0)
        return np.asarray(score, dtype=np.float64)

    def rows_rated(self, user_ids: Iterable[int], value: int) -> np.ndarray:
        """Catalog rows that any of ``user_ids`` rated ``value`` (all of them, not just the recent)."""
        users = np.fromiter(user_ids, np.int64)
        mask = np.isin(self._users, users) & (self._values == value)
        return np.unique(self._rows[mask])

    def likers(self, row: int, user_ids: Iterable[int]) -> set[int]:
        mask = (self._rows == row) & (self._values == LIKE)
        return {int(u) for u in self._users[mask]} & set(user_ids)


def pick_for_group(
    catalog: Catalog,
    ratings,
    present_user_ids: Sequence[int],
    *,
    exclude_track_ids: Iterable[int] = (),
    since_served: Mapping[int, int] | None = None,
    count: int = 3,
    now: float | None = None,
) -> list[GroupPick]:
    """Up to ``count`` tracks for the members present, best first (strategy: module docstring).

    ``ratings`` are the guild's ratings (as for :class:`Recommender`); ``since_served`` maps a
    member to how many queue entries came after the latest one that was for them (absent: never
    served).
    """
    present = list(dict.fromkeys(int(u) for u in present_user_ids))
    recommender = GroupRecommender(catalog, ratings, now=now)
    n = len(catalog)
    if count <= 0 or n == 0:
        return []
    keep = np.ones(n, bool)
    for track_id in exclude_track_ids:
        row = catalog.index_of(int(track_id))
        if row is not None:
            keep[row] = False
    keep[recommender.rows_rated(present, DISLIKE)] = False  # rule 3
    candidates = np.flatnonzero(keep)
    if len(candidates) == 0:
        return []
    gone = np.flatnonzero(~keep)  # in the session or vetoed: their other cuts are not picked either

    profiles = {u: recommender.profile(u) for u in present}
    tasteful = [u for u in present if not profiles[u].is_empty]
    if not tasteful:
        return _cold_picks(recommender, present, candidates, count)

    raw = np.stack([recommender.member_scores(u, candidates) for u in tasteful])  # [m, c]
    best = raw.max(axis=1, keepdims=True)
    satisfaction = raw / np.maximum(best, SATISFACTION_SCALE_MIN)  # rule 2
    misery = W_MISERY * np.maximum(0.0, MISERY_FLOOR - satisfaction.min(axis=0))  # rule 4

    horizon = max(1, len(tasteful))
    known = since_served or {}
    never = [u for u in tasteful if u not in known]
    # uncapped picks since each member was last served (never served: staggered, rule 5b)
    waiting = {u: int(known[u]) if u in known else horizon - 1 - never.index(u) for u in tasteful}
    unit = recommender.features.unit[candidates]
    closest = np.full(len(candidates), -np.inf)
    taken = np.zeros(len(candidates), bool)
    picks: list[GroupPick] = []
    for _pick in range(min(count, len(candidates))):
        weights = np.array([1.0 + W_FAIRNESS * min(waiting[u], horizon) / horizon for u in tasteful])  # rule 5
        average = weights @ satisfaction / weights.sum()
        score = average - misery - W_REDUNDANCY * np.maximum(closest, 0.0)  # rule 6
        score = np.where(taken, -np.inf, score)
        due = _due_member(satisfaction, taken, tasteful, waiting, horizon)  # rule 5b
        if due is not None:
            score = np.where(satisfaction[due] >= SERVED_MIN, score, -np.inf)
        found = best_new_song(catalog, candidates, score, taken, gone)  # never a song twice
        if found is None:
            break
        i = found
        gone = np.append(gone, candidates[i])
        taken[i] = True
        closest = np.maximum(closest, unit @ unit[i])
        served = tuple(u for k, u in enumerate(tasteful) if satisfaction[k, i] >= SERVED_MIN)  # rule 7
        for u in tasteful:
            waiting[u] = 0 if u in served else waiting[u] + 1
        row = int(candidates[i])
        picks.append(
            GroupPick(
                track_id=int(catalog.ids[row]),
                title=catalog.titles[row],
                score=round(float(score[i]), 4),
                reason=_reason(recommender, row, served, tasteful, profiles),
                for_user_ids=served,
                top_genre=catalog.top_genres[row] or "",
                satisfaction={u: round(float(satisfaction[k, i]), 4) for k, u in enumerate(tasteful)},
            )
        )
    return picks


def _due_member(
    satisfaction: np.ndarray, taken: np.ndarray, tasteful: list[int], waiting: Mapping[int, int], horizon: int
) -> int | None:
    """Rule 5b: the row (in ``tasteful``) of the member this pick must serve, or None if it is free."""
    open_ = ~taken
    servable = [k for k, _ in enumerate(tasteful) if np.any(satisfaction[k, open_] >= SERVED_MIN)]
    if len(servable) < 2:
        return None
    order = sorted(servable, key=lambda k: (horizon - waiting[tasteful[k]], k))  # earliest deadline first
    deadlines = [horizon - waiting[tasteful[k]] for k in order]
    tight = any(deadline <= i for i, deadline in enumerate(deadlines, 1))
    return order[0] if tight else None


def _cold_picks(
    recommender: GroupRecommender, present: list[int], candidates: np.ndarray, count: int
) -> list[GroupPick]:
    """Rule 8: nobody present has rated anything; reuse /recommend's cold start."""
    allowed = {int(recommender.catalog.ids[row]) for row in candidates}
    user = present[0] if present else 0
    ask = count + (len(recommender.catalog) - len(allowed))
    out = []
    for rec in recommender.cold_start(user, count=ask):
        if rec.track_id in allowed:
            out.append(GroupPick(rec.track_id, rec.title, rec.score, rec.reason, (), rec.top_genre))
        if len(out) == count:
            break
    return out


def _reason(
    recommender: GroupRecommender,
    row: int,
    served: tuple[int, ...],
    tasteful: list[int],
    profiles: Mapping[int, TasteProfile],
) -> Reason:
    top = recommender.catalog.top_genres[row] or ""
    genre = recommender.sure_genre(row)  # named only when Crate is confident of the track's genre
    everyone = len(tasteful) >= 2 and set(served) == set(tasteful)
    if not served:
        return Reason(ReasonKind.GROUP_NEW, genre=genre)
    likers = recommender.likers(row, served)
    into_genre = bool(genre) and all(top in profiles[u].clear_genres for u in served)
    if everyone:
        if likers == set(served):
            return Reason(ReasonKind.EVERYONE_LIKED)
        if into_genre:
            return Reason(ReasonKind.EVERYONE_INTO, genre=genre)
    if likers == set(served):
        return Reason(ReasonKind.FOR_LIKED, member_ids=served, everyone=everyone)
    nearest = _nearest_like(recommender, row, served, profiles)
    if nearest is not None:
        liked_row, liked_by = nearest
        return Reason(
            ReasonKind.FOR_CLOSE_TO_LIKED,
            track_id=int(recommender.catalog.ids[liked_row]),
            track_title=recommender.catalog.titles[liked_row],
            member_ids=served,
            liked_by=tuple(sorted(liked_by)),
            everyone=everyone,
        )
    if into_genre:
        return Reason(ReasonKind.FOR_INTO, genre=genre, member_ids=served, everyone=everyone)
    return Reason(ReasonKind.FOR, member_ids=served, everyone=everyone)


def _nearest_like(
    recommender: GroupRecommender, row: int, served: Sequence[int], profiles: Mapping[int, TasteProfile]
) -> tuple[int, set[int]] | None:
    """The liked track (of the served members, other than ``row``) closest to ``row``, and who liked it."""
    liked = np.unique(np.concatenate([profiles[u].liked_rows for u in served]))
    liked = liked[liked != row]
    if len(liked) == 0:
        return None
    unit = recommender.features.unit
    sims = unit[liked] @ unit[row]
    k = int(np.argmax(sims))
    if sims[k] < REASON_MIN_COSINE:
        return None
    liked_row = int(liked[k])
    return liked_row, {u for u in served if liked_row in set(profiles[u].liked_rows.tolist())}


# -- taste match --------------------------------------------------------------------------------


def taste_vector(profile: TasteProfile, catalog: Catalog) -> np.ndarray | None:
    """Unit taste vector: weighted mean liked embedding minus W_DISLIKE_TASTE x disliked; None if no ratings."""
    unit = features_of(catalog).unit
    vector = np.zeros(unit.shape[1], np.float64)
    if len(profile.liked_rows):
        vector += np.average(unit[profile.liked_rows], axis=0, weights=profile.liked_weights)
    if len(profile.disliked_rows):
        vector -= W_DISLIKE_TASTE * np.average(unit[profile.disliked_rows], axis=0, weights=profile.disliked_weights)
    norm = float(np.linalg.norm(vector))
    return None if norm < 1e-9 else vector / norm


def genre_overlap(a: TasteProfile, b: TasteProfile) -> float | None:
    """Weighted Jaccard of the genres both like (positive affinities); None if neither likes any."""
    genres = set(a.genre_affinity) | set(b.genre_affinity)
    pa = {g: max(0.0, a.genre_affinity.get(g, 0.0)) for g in genres}
    pb = {g: max(0.0, b.genre_affinity.get(g, 0.0)) for g in genres}
    union = sum(max(pa[g], pb[g]) for g in genres)
    if union <= 0:
        return None
    return sum(min(pa[g], pb[g]) for g in genres) / union


def taste_match(a: TasteProfile, b: TasteProfile, catalog: Catalog) -> float | None:
    """How well two members' tastes match, in [0, 1] (formula: module docstring); None when
    either has no ratings in this catalog."""
    va, vb = taste_vector(a, catalog), taste_vector(b, catalog)
    if va is None or vb is None:
        return None
    sound = (1.0 + float(np.clip(va @ vb, -1.0, 1.0))) / 2.0
    genres = genre_overlap(a, b)
    if genres is None:
        return sound
    return W_MATCH_SOUND * sound + (1.0 - W_MATCH_SOUND) * genres


@dataclass(frozen=True)
class GroupMatch:
    """Taste match of a group: every pair, and their mean."""

    pairs: tuple[tuple[int, int, float | None], ...]  # (user a, user b, match or None)
    group: float | None  # mean of the pairs that have a match; None if none has

    def of(self, a: int, b: int) -> float | None:
        for x, y, value in self.pairs:
            if {x, y} == {a, b}:
                return value
        return None


def group_match(profiles: Sequence[TasteProfile], catalog: Catalog) -> GroupMatch:
    """Pairwise matches of ``profiles`` and their mean (the group's match)."""
    pairs = tuple((a.user_id, b.user_id, taste_match(a, b, catalog)) for a, b in itertools.combinations(profiles, 2))
    known = [value for _, _, value in pairs if value is not None]
    return GroupMatch(pairs, float(np.mean(known)) if known else None)


def match_text(value: float | None) -> str:
    """``"87%"``, or ``"not enough ratings"``."""
    return _("not enough ratings") if value is None else f"{round(100 * value)}%"


__all__ = [
    "GroupMatch",
    "GroupPick",
    "GroupRecommender",
    "group_match",
    "match_text",
    "pick_for_group",
    "taste_match",
    "taste_vector",
]
