"""A member's taste in one server, from their likes and dislikes there.

* **Recency.** Every rating weighs ``0.5 ** (age / HALF_LIFE_DAYS)``, its age counted from
  ``now``; weights are then scaled so the member's newest rating weighs 1, so a member who comes
  back after a long pause still has a profile (old ratings only lose weight *relative to* newer
  ones).
* **Liked tracks stay separate.** The profile keeps each liked track's unit embedding and weight
  (the :data:`MAX_LIKED` most recent), and the ranker scores a candidate by its *nearest* liked
  track. Someone who likes jazz and metal is close to jazz tracks and to metal tracks, never to a
  jazz-metal average no one asked for. :meth:`TasteProfile.centroids` also summarizes the likes as
  a few weighted taste centroids (spherical k-means) for display and diagnostics.
* **Dislikes** are kept the same way and count as negative evidence.
* **Genre affinity** per genre ``g``: ``(liked_weight(g) - disliked_weight(g)) /
  (liked_weight(g) + disliked_weight(g) + GENRE_PRIOR)``, in (-1, 1), where a rated track adds its
  recency weight times its *probability* of being ``g`` (its genre distribution), never all of it
  to a doubtful top-1: one like of a track surely of a genre gives ``1 / (1 + GENRE_PRIOR)``, many
  consistent likes approach 1. A genre is *sure* in the profile when at least half of its liked
  evidence comes from tracks whose genre Crate was confident of (else profiles say "(unsure)").
* **Clearly liked genres** (:attr:`TasteProfile.clear_genres`), the only genres a reason or a
  piece of taste evidence may say a member likes: the member liked more tracks whose top genre it
  is than they disliked (at least one), the genre is sure, its affinity is at least :data:`CLEAR_GENRE_MIN` and at least
  :data:`CLEAR_GENRE_SHARE` of their strongest genre's. What a few likes leak into neighbouring
  genres through their distributions (bob's classical +0.017 beside jazz +0.714) is no taste.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bot.catalog import DISLIKE, LIKE, Rating

#: Half-life of a rating's weight, in days: a like from three months ago counts half as much as
#: one from today. Tastes drift over months, not days.
HALF_LIFE_DAYS = 90.0
#: Pseudo-count added to every genre's evidence: one like of a genre gives an affinity of 1/2.5.
GENRE_PRIOR = 1.5
#: A genre is clearly liked from this affinity up (one like of a track surely of it gives 0.4; a
#: like of a track 30 % likely to be of it, 0.17)...
CLEAR_GENRE_MIN = 0.2
#: ... and from this share of the member's strongest genre's affinity up.
CLEAR_GENRE_SHARE = 0.5
#: The profile keeps this many most recent likes (and dislikes) as individual tracks: bounds the
#: ranking cost on 100k-track catalogs while keeping every like of an ordinary member.
MAX_LIKED = 64
MAX_DISLIKED = 32
#: At most this many taste centroids summarize the likes.
MAX_CENTROIDS = 4
#: A like starts a new taste centroid only if its cosine to every existing one is below this
#: (tracks of one genre are typically 0.5-0.7 apart after centring; different genres about 0).
CENTROID_SPLIT_COSINE = 0.3

_SECONDS_PER_DAY = 86_400.0


def recency_weight(rated_at: np.ndarray | float, now: float) -> np.ndarray:
    """``0.5 ** (age_days / HALF_LIFE_DAYS)``; ratings from the future count as new."""
    age_days = np.maximum(0.0, (now - np.asarray(rated_at, dtype=np.float64)) / _SECONDS_PER_DAY)
    return np.power(0.5, age_days / HALF_LIFE_DAYS)


@dataclass(frozen=True)
class TasteProfile:
    """What Crate knows of one member's taste in one server (rows index the catalog)."""

    user_id: int
    liked_rows: np.ndarray  # int[k] catalog rows of liked tracks, most recent first
    liked_weights: np.ndarray  # float[k] recency weights, newest = 1
    disliked_rows: np.ndarray
    disliked_weights: np.ndarray
    genre_affinity: dict[str, float] = field(default_factory=dict)
    #: Every track the member rated (catalog rows), including those beyond MAX_LIKED.
    rated_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: Genres whose liked evidence comes mostly from tracks Crate was unsure about.
    unsure_genres: frozenset[str] = frozenset()
    #: The genres the member clearly likes (module docstring): the only ones words may name.
    clear_genres: frozenset[str] = frozenset()

    @property
    def is_empty(self) -> bool:
        return len(self.liked_rows) == 0 and len(self.disliked_rows) == 0

    @property
    def has_likes(self) -> bool:
        return len(self.liked_rows) > 0

    def centroids(self, unit: np.ndarray, k: int | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """A few taste centroids of the liked tracks (spherical k-means on ``unit`` rows).

        Returns (unit centroids [c, d], weights [c]). Shows that a jazz + metal lover has two
        centres rather than one in between.
        """
        if not self.has_likes:
            return np.zeros((0, unit.shape[1]), np.float32), np.zeros(0)
        X = unit[self.liked_rows]
        w = self.liked_weights
        k = min(k or MAX_CENTROIDS, len(X))
        # Farthest-point initialisation (deterministic), then a few Lloyd steps on the sphere.
        centres = [int(np.argmax(w))]
        for _ in range(1, k):
            closest = np.max(X @ X[centres].T, axis=1)
            candidate = int(np.argmin(closest))
            if closest[candidate] >= CENTROID_SPLIT_COSINE:  # the rest are near an existing centre
                break
            centres.append(candidate)
        C = X[centres].copy()
        for _ in range(10):
            assign = np.argmax(X @ C.T, axis=1)
            for j in range(len(C)):
                members = assign == j
                if members.any():
                    v = (X[members] * w[members, None]).sum(axis=0)
                    C[j] = v / max(float(np.linalg.norm(v)), 1e-9)
        assign = np.argmax(X @ C.T, axis=1)
        weights = np.bincount(assign, weights=w, minlength=len(C))
        return C, weights


def build_profile(
    user_id: int,
    ratings: Sequence[Rating],
    *,
    row_of: dict[int, int] | None = None,
    index_of=None,
    top_genres: Sequence[str | None],
    now: float | None = None,
) -> TasteProfile:
    """The member's profile from their ratings (others' ratings are ignored).

    ``index_of(track_id) -> row | None`` (or a ``row_of`` dict) maps tracks to catalog rows;
    ratings of tracks not in the catalog are skipped.
    """
    if index_of is None:
        lookup = row_of or {}
        index_of = lookup.get
    rows, values, times = [], [], []
    for rating in ratings:
        if rating.user_id != user_id:
            continue
        row = index_of(rating.track_id)
        if row is None:
            continue
        rows.append(row)
        values.append(rating.value)
        times.append(rating.rated_at)
    return build_profile_arrays(
        user_id,
        np.asarray(rows, dtype=np.int64),
        np.asarray(values, dtype=np.int8),
        np.asarray(times, dtype=np.float64),
        top_genres=top_genres,
        now=now,
    )


def build_profile_arrays(
    user_id: int,
    rows: np.ndarray,
    values: np.ndarray,
    times: np.ndarray,
    *,
    top_genres: Sequence[str | None],
    now: float | None = None,
    genres: tuple[Sequence[str], np.ndarray, np.ndarray] | None = None,
) -> TasteProfile:
    """:func:`build_profile` from parallel arrays (catalog row, +1/-1, rated_at) of one member.

    ``genres`` = (names, probabilities ``[n, names]``, confident ``bool[n]``) over the catalog rows;
    without it each track counts as fully its top genre (``top_genres``), and as sure.
    """
    now = time.time() if now is None else float(now)
    if len(rows) == 0:
        empty = np.zeros(0, np.int64)
        return TasteProfile(user_id, empty, np.zeros(0), empty, np.zeros(0), {}, empty)
    rows_ = np.asarray(rows, dtype=np.int64)
    values_ = np.asarray(values)
    times_ = np.asarray(times, dtype=np.float64)
    weights = recency_weight(times_, now)
    weights = weights / weights.max()
    order = np.argsort(-times_, kind="stable")  # most recent first

    liked = order[values_[order] == LIKE][:MAX_LIKED]
    disliked = order[values_[order] == DISLIKE][:MAX_DISLIKED]

    affinity, unsure = genre_affinity(rows_, values_, weights, top_genres, genres)
    liked_tops = Counter(top_genres[int(r)] for r in rows_[values_ == LIKE])
    disliked_tops = Counter(top_genres[int(r)] for r in rows_[values_ != LIKE])
    return TasteProfile(
        user_id=user_id,
        liked_rows=rows_[liked],
        liked_weights=weights[liked],
        disliked_rows=rows_[disliked],
        disliked_weights=weights[disliked],
        genre_affinity=affinity,
        rated_rows=rows_,
        unsure_genres=unsure,
        clear_genres=clearly_liked(affinity, unsure, liked_tops, disliked_tops),
    )


def clearly_liked(
    affinity: dict[str, float],
    unsure: frozenset[str],
    liked_top_genres: Counter[str | None],
    disliked_top_genres: Counter[str | None],
) -> frozenset[str]:
    """The genres a member clearly likes (module docstring), from their affinities, the genres
    whose evidence is unsure, and how many tracks of each top genre they liked and disliked."""
    strongest = max(affinity.values(), default=0.0)
    return frozenset(
        g
        for g, a in affinity.items()
        if liked_top_genres[g] > disliked_top_genres[g]
        and g not in unsure
        and a >= CLEAR_GENRE_MIN
        and a >= CLEAR_GENRE_SHARE * strongest
    )


def genre_affinity(
    rows: np.ndarray,
    values: np.ndarray,
    weights: np.ndarray,
    top_genres: Sequence[str | None],
    genres: tuple[Sequence[str], np.ndarray, np.ndarray] | None,
) -> tuple[dict[str, float], frozenset[str]]:
    """(affinity per genre, the genres whose liked evidence is mostly from unsure tracks)."""
    if genres is None:  # each track fully its top genre, and sure of it
        names = sorted({g for g in (top_genres[r] for r in rows) if g})
        code = {g: j for j, g in enumerate(names)}
        probs = np.zeros((len(rows), len(names)))
        for i, r in enumerate(rows):
            if top_genres[r]:
                probs[i, code[top_genres[r]]] = 1.0  # type: ignore[index]
        sure = np.ones(len(rows), bool)
    else:
        names = list(genres[0])
        probs = np.asarray(genres[1], dtype=np.float64)[rows]
        sure = np.asarray(genres[2], bool)[rows]
    liked = (values == LIKE).astype(np.float64) * weights
    disliked = (values != LIKE).astype(np.float64) * weights
    pos, neg = liked @ probs, disliked @ probs
    sure_pos = (liked * sure) @ probs
    affinity = {g: float((pos[j] - neg[j]) / (pos[j] + neg[j] + GENRE_PRIOR)) for j, g in enumerate(names)}
    affinity = {g: a for j, (g, a) in enumerate(affinity.items()) if pos[j] + neg[j] > 0}
    unsure = frozenset(g for j, g in enumerate(names) if pos[j] > 0 and sure_pos[j] < 0.5 * pos[j])
    return affinity, unsure
