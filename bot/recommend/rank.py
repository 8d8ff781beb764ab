"""Rank a server's catalog for one member: content, dislikes, genres, the server's taste, diversity.

Pure numpy, no I/O: :class:`Recommender` is built per request from store data (a decoded
:class:`~bot.store.tracks.Catalog` and the guild's ratings).

Score of a candidate track ``c`` for member ``u`` (every term documented at its weight below)::

    score(c) = W_CONTENT * max_l  max(0, cos(c, l))**CONTENT_POWER * (RECENCY_FLOOR + (1 - RECENCY_FLOOR) * w_l)
             - W_DISLIKE * max(0, max_d cos(c, d) * w_d)                                     (disliked d)
             + W_GENRE   * sum_g P(g | c) * affinity_u(g)
             + W_COLLAB  * collab_u(c)

``P(g | c)`` is the track's genre distribution (families, and a server's own genres), so a track
Crate is unsure about pulls on each genre it might be by how likely that is, never by a doubtful
top-1; a reason names a genre only when Crate is confident of the track's genre.
``cos`` is the cosine of catalog-centred musicnn embeddings (centring removes the direction every
track shares, so unrelated tracks score about 0, not 0.6); catalogs of :data:`PCA_MIN_TRACKS` or
more tracks are first projected on their :data:`PCA_DIMS` principal components to keep a
100k-track ranking within ~50 ms. ``w`` are recency weights (:mod:`bot.recommend.profile`).

``collab_u(c)`` is item-item co-occurrence of likes: summed over u's liked tracks ``i`` (recency
weighted), how many other members liked both ``i`` and ``c``, each member normalised by
``sqrt(|likes_v| * |likes_u|)`` (cosine), minus half as much for those who disliked ``c``, divided
by the total neighbour weight plus :data:`COLLAB_SHRINK`: roughly "the share of people with your
taste who liked it", shrunk when few people overlap with you.

The best :data:`SHORTLIST_FACTOR` x count tracks are then re-ranked by maximal marginal relevance
(MMR): each pick maximises ``score - W_REDUNDANCY * max cos(c, already picked)``. A page never
holds two cuts of one song, nor a cut of a song the member rated or shared
(:mod:`bot.recommend.songs`): such a track is passed over.
"""

from __future__ import annotations

import difflib
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bot.analysis import TAGS
from bot.catalog import LIKE, Catalog, Rating, UnknownTrack
from bot.errors import CrateError
from bot.genres import family_of, key, label
from bot.i18n import N_, _
from bot.reasons import Reason, ReasonKind
from bot.recommend.profile import TasteProfile, build_profile_arrays, recency_weight
from bot.recommend.songs import same_song_as_any

# -- weights (tuned on gtzan-mini with `crate evaluate-recs`, see bot/recommend/evaluate.py) --

#: Similarity to the nearest liked track: the main signal, "sounds like what you liked".
W_CONTENT = 1.0
#: Similarity to the nearest disliked track, subtracted: weaker than likes, since one dislike
#: of a track says less about its whole neighbourhood than a like does.
W_DISLIKE = 0.6
#: Genre affinity in (-1, 1): a tie-breaker between equally close tracks and the way a member's
#: favourite genres reach tracks that sound unlike any single like. (1.0 was tried for members
#: whose likes are spread evenly over their genres, `evaluate-recs --taste-bias 0`: fewer picks of
#: other genres ahead of favourite-genre tracks, but NDCG@10 moved only within its standard error
#: and "you like <genre>" then outweighed more telling reasons such as who else liked a track.)
W_GENRE = 0.6
#: Collaborative signal in about [-0.5, 1]: what the server's members with overlapping likes
#: liked. Strong when many overlap, shrunk to nothing when nobody does.
W_COLLAB = 1.0
#: MMR redundancy penalty per unit of cosine to the closest track already on the page.
W_REDUNDANCY = 0.45
#: Content similarity is raised to this power (of max(cos, 0)): being very close to a like matters
#: much more than being vaguely close, which leaves the tail of a page to the diversity re-rank.
CONTENT_POWER = 3.0
#: An old like keeps at least this share of its pull (its recency weight scales the rest).
RECENCY_FLOOR = 0.5
#: Neighbour-weight pseudo-count of the collaborative signal (about one fully overlapping member).
COLLAB_SHRINK = 1.0
#: Dislikes by neighbours count this much relative to their likes in the collaborative signal.
COLLAB_DISLIKE = 0.5
#: MMR re-ranks the best ``SHORTLIST_FACTOR * count`` (at least SHORTLIST_MIN) tracks.
SHORTLIST_FACTOR = 10
SHORTLIST_MIN = 50
#: "close to “X” (you liked)" is only said from this cosine (of centred embeddings) up: tracks of
#: one genre are typically 0.5-0.7 apart, so this is "really close", never "vaguely alike".
REASON_MIN_COSINE = 0.6
#: "More like this" offers what is at least this close (or of the seed's genre); below
#: REASON_MIN_COSINE its reason does not call it close.
MORE_LIKE_MIN_COSINE = 0.3
#: A tag filter keeps tracks whose tag probability is in the catalog's top TAG_TOP_SHARE for that
#: tag and at least TAG_MIN (musicnn hears some of it), or at least TAG_STRONG (musicnn is sure).
TAG_TOP_SHARE = 0.2
TAG_MIN = 0.1
TAG_STRONG = 0.5
#: Catalogs this large are ranked in a PCA_DIMS-dimensional principal subspace (speed).
PCA_MIN_TRACKS = 5_000
PCA_DIMS = 64
#: How many rows the PCA is fitted on (a random sample; enough for a 200x200 covariance).
PCA_SAMPLE = 20_000
#: Cold start: weight of server popularity against how typical a track is of its genre.
W_POPULAR = 1.0
#: A ``genre:`` filter keeps a track whose top genre it is, or that is at least this likely to be
#: of it (a track Crate hesitates about between two genres appears under both).
GENRE_FILTER_MIN = 0.3


class RecommendError(CrateError):
    user_message = N_("Crate could not make recommendations.")


class UnknownFilter(RecommendError):
    user_message = N_("Crate doesn't know that genre or tag.")


class NothingMatches(RecommendError):
    user_message = N_("Nothing in this server's catalog matches that yet.")


@dataclass(frozen=True)
class Recommendation:
    track_id: int
    title: str
    score: float
    reason: Reason
    top_genre: str


_key = key  # case, spaces, hyphens don't matter ("Hip Hop" = "hip-hop"): bot.genres.key


_TAG_BY_KEY = {_key(tag): i for i, tag in enumerate(TAGS)}


class CatalogFeatures:
    """Per-catalog arrays the ranker needs, computed once per decoded catalog (see :func:`features_of`)."""

    def __init__(self, catalog: Catalog, seed: int = 0):
        n = len(catalog)
        self.n = n
        E = np.asarray(catalog.embeddings, dtype=np.float32)
        if n:
            mean = E.mean(axis=0, dtype=np.float64).astype(np.float32)
            X = E - mean
            if n >= PCA_MIN_TRACKS:
                rng = np.random.default_rng(seed)
                sample = X[rng.choice(n, size=min(n, PCA_SAMPLE), replace=False)]
                cov = sample.T.astype(np.float64) @ sample
                values, vectors = np.linalg.eigh(cov)
                basis = vectors[:, ::-1][:, :PCA_DIMS].astype(np.float32)
                self.explained_variance = float(values[::-1][:PCA_DIMS].sum() / max(values.sum(), 1e-12))
                X = X @ basis
            else:
                self.explained_variance = 1.0
            norms = np.linalg.norm(X, axis=1, keepdims=True)
            self.unit = np.ascontiguousarray(X / np.maximum(norms, 1e-9), dtype=np.float32)
        else:
            self.unit = np.zeros((0, E.shape[1] if E.ndim == 2 else 0), np.float32)
            self.explained_variance = 1.0
        # Genre columns: every name of the catalog's distributions (or of its top genres alone, for a
        # catalog without distributions: each track then counts as fully its top genre).
        names = list(catalog.genre_names) if catalog.genre_probs is not None else []
        names += sorted({g for g in catalog.top_genres if g} - set(names))
        self.genre_names: list[str] = names
        code = {g: i for i, g in enumerate(names)}
        self.genre_codes = np.fromiter((code.get(g, -1) if g else -1 for g in catalog.top_genres), np.int64, count=n)
        self.genre_by_key = {_key(g): i for i, g in enumerate(names)}
        self.genre_counts = np.bincount(self.genre_codes[self.genre_codes >= 0], minlength=len(names))
        probs = np.zeros((n, len(names)), np.float32)
        if catalog.genre_probs is not None and catalog.genre_probs.size:
            probs[:, : catalog.genre_probs.shape[1]] = catalog.genre_probs
        has_top = self.genre_codes >= 0
        missing = has_top & (probs.sum(axis=1) == 0)  # no distribution stored: its top genre, fully
        probs[np.flatnonzero(missing), self.genre_codes[missing]] = 1.0
        self.genre_probs = probs  # [n, len(genre_names)]
        self.confident = (
            np.ones(n, bool) if catalog.confident is None else np.asarray(catalog.confident, bool).copy()
        ) & has_top
        tags = np.asarray(catalog.tag_probs, dtype=np.float32)
        if n:
            top = np.quantile(tags, 1.0 - TAG_TOP_SHARE, axis=0)
            self.tag_threshold = np.clip(top, TAG_MIN, TAG_STRONG).astype(np.float32)
        else:
            self.tag_threshold = np.full(len(TAGS), TAG_STRONG, np.float32)
        # How typical each track is of its genre (cosine to the genre's mean direction).
        self.typicality = np.zeros(n, np.float32)
        for i in range(len(names)):
            members = self.genre_codes == i
            if not members.any():
                continue
            centre = self.unit[members].mean(axis=0)
            centre /= max(float(np.linalg.norm(centre)), 1e-9)
            self.typicality[members] = self.unit[members] @ centre


_FEATURES: weakref.WeakKeyDictionary[Catalog, CatalogFeatures] = weakref.WeakKeyDictionary()


def features_of(catalog: Catalog) -> CatalogFeatures:
    """The catalog's :class:`CatalogFeatures`, cached for as long as the catalog object lives."""
    features = _FEATURES.get(catalog)
    if features is None:
        features = _FEATURES[catalog] = CatalogFeatures(catalog)
    return features


@dataclass(frozen=True)
class _Filter:
    label: str  # what the user asked for, as Crate spells it
    mask: np.ndarray  # bool[n]
    kind: str  # "genre" or "tag"


class RatingArrays:
    """A guild's ratings as parallel arrays over the rows of one catalog: what the ranker needs of them.

    Turning 50,000 :class:`~bot.store.ratings.Rating` objects into arrays takes 15-25 ms, so
    :mod:`bot.recommend.service` builds this once per change of the guild's ratings (see
    :func:`~bot.recommend.service.cached_ratings`) and every request reuses it. Ratings of
    tracks not in ``catalog`` (deleted since) or of another guild are dropped.
    """

    def __init__(
        self,
        catalog: Catalog,
        user_ids: np.ndarray,
        track_ids: np.ndarray,
        values: np.ndarray,
        rated_at: np.ndarray,
        guild_ids: np.ndarray | None = None,
    ):
        self.catalog = catalog
        n = len(catalog)
        track_ids = np.asarray(track_ids, dtype=np.int64)
        rows = np.searchsorted(catalog.ids, track_ids) if n else np.zeros(len(track_ids), np.int64)
        known = (rows < n) & (catalog.ids[np.minimum(rows, max(n - 1, 0))] == track_ids) if n else rows < 0
        if guild_ids is not None:
            known &= np.asarray(guild_ids, dtype=np.int64) == catalog.guild_id  # another guild's never count
        self.rows = rows[known]
        self.users = np.asarray(user_ids, dtype=np.int64)[known]
        self.values = np.asarray(values, dtype=np.int8)[known]
        self.times = np.asarray(rated_at, dtype=np.float64)[known]
        self.user_ids, self.user_codes = np.unique(self.users, return_inverse=True)
        likes = self.values == LIKE
        self.likes_per_user = np.bincount(self.user_codes[likes], minlength=len(self.user_ids))
        self.likes = np.bincount(self.rows[likes], minlength=n)
        self.dislikes = np.bincount(self.rows[~likes], minlength=n)

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def from_ratings(cls, catalog: Catalog, ratings: Sequence[Rating]) -> RatingArrays:
        count = len(ratings)
        return cls(
            catalog,
            np.fromiter((r.user_id for r in ratings), np.int64, count=count),
            np.fromiter((r.track_id for r in ratings), np.int64, count=count),
            np.fromiter((r.value for r in ratings), np.int8, count=count),
            np.fromiter((r.rated_at for r in ratings), np.float64, count=count),
            guild_ids=np.fromiter((r.guild_id for r in ratings), np.int64, count=count),
        )

    @property
    def nbytes(self) -> int:
        arrays = (
            self.rows,
            self.users,
            self.values,
            self.times,
            self.user_ids,
            self.user_codes,
            self.likes_per_user,
            self.likes,
            self.dislikes,
        )
        return sum(a.nbytes for a in arrays)


class Recommender:
    """Recommendations for the members of one server, from its catalog and ratings.

    ``ratings`` are the guild's :class:`~bot.store.ratings.Rating` objects, or (faster, for
    repeated requests) a :class:`RatingArrays` built for this very ``catalog``.
    """

    def __init__(
        self,
        catalog: Catalog,
        ratings: Sequence[Rating] | RatingArrays,
        shares: Mapping[int, set[int]] | None = None,
        now: float | None = None,
    ):
        self.catalog = catalog
        self.features = features_of(catalog)
        self.shares = shares or {}
        self.now = time.time() if now is None else float(now)
        if isinstance(ratings, RatingArrays):
            if ratings.catalog is not catalog:
                raise ValueError("RatingArrays were built for another catalog")
            arrays = ratings
        else:
            arrays = RatingArrays.from_ratings(catalog, ratings)
        self.ratings = arrays
        self._rows = arrays.rows
        self._users = arrays.users
        self._values = arrays.values
        self._times = arrays.times
        self._user_ids, self._user_codes = arrays.user_ids, arrays.user_codes
        self._likes_per_user = arrays.likes_per_user
        self._likes = arrays.likes
        self._dislikes = arrays.dislikes

    # -- public API ----------------------------------------------------------------------

    def genres_available(self) -> list[str]:
        """Genres present in the catalog, most tracks first (for a select menu)."""
        f = self.features
        order = sorted(range(len(f.genre_names)), key=lambda i: (-f.genre_counts[i], f.genre_names[i]))
        return [f.genre_names[i] for i in order]

    def profile(self, user_id: int) -> TasteProfile:
        mine = self._users == user_id
        f = self.features
        return build_profile_arrays(
            user_id,
            self._rows[mine],
            self._values[mine],
            self._times[mine],
            top_genres=self.catalog.top_genres,
            now=self.now,
            genres=(f.genre_names, f.genre_probs, f.confident),
        )

    def is_cold(self, user_id: int) -> bool:
        """True when the member has liked nothing here yet (recommendations come from cold_start)."""
        return not bool(np.any((self._users == user_id) & (self._values == LIKE)))

    def for_user(self, user_id: int, *, count: int = 5, genre: str | None = None) -> list[Recommendation]:
        """The best ``count`` tracks for this member, optionally within a genre or musicnn tag."""
        chosen = self._filter(genre) if genre else None
        profile = self.profile(user_id)
        if not profile.has_likes:
            return self.cold_start(user_id, genres=[genre] if genre else (), count=count, _profile=profile)
        candidates = self._candidates(user_id, profile, chosen.mask if chosen else None)
        if chosen is not None and len(candidates) == 0 and count > 0:
            raise self._nothing_matches(genre or chosen.label, chosen)
        if count <= 0 or len(candidates) == 0:
            return []
        parts = self._score(user_id, profile, candidates)
        picks = self._mmr(candidates, parts["score"], count, known=self._known(user_id, profile))
        return [self._explain(candidates[i], parts, i, profile, chosen) for i in picks]

    def more_like(self, track_id: int, user_id: int, *, count: int = 5) -> list[Recommendation]:
        """Tracks that sound like ``track_id`` (the "more like this" button), minus what the member rated or shared."""
        seed = self.catalog.index_of(track_id)
        if seed is None:
            raise UnknownTrack(detail=f"guild {self.catalog.guild_id} has no track {track_id}")
        profile = self.profile(user_id)
        candidates = self._candidates(user_id, profile, None)
        candidates = candidates[candidates != seed]
        if count <= 0 or len(candidates) == 0:
            return []
        f = self.features
        unit = f.unit[candidates]
        similarity = unit @ f.unit[seed]
        same_genre = (f.genre_codes[candidates] == f.genre_codes[seed]) & (f.genre_codes[seed] >= 0)
        score = W_CONTENT * similarity + W_GENRE * 0.5 * same_genre
        if len(profile.disliked_rows):
            score -= W_DISLIKE * self._nearest(unit, profile.disliked_rows, profile.disliked_weights)[0].clip(0)
        # Only what is close (in sound, or the same genre): no padding with unrelated tracks.
        close = (similarity >= MORE_LIKE_MIN_COSINE) | same_genre
        candidates, unit, similarity, same_genre, score = (
            candidates[close],
            unit[close],
            similarity[close],
            same_genre[close],
            score[close],
        )
        if len(candidates) == 0:
            return []
        picks = self._mmr(candidates, score, count, known=np.append(self._known(user_id, profile), seed))
        seed_title = self.catalog.titles[seed]
        out = []
        for i in picks:
            row = candidates[i]
            genre = self.sure_genre(row)
            if similarity[i] >= REASON_MIN_COSINE:
                reason = Reason(ReasonKind.CLOSE_TO, track_id=track_id, track_title=seed_title)
            elif genre and same_genre[i]:
                reason = Reason(ReasonKind.MORE_OF_GENRE, genre=genre, track_id=track_id, track_title=seed_title)
            else:
                reason = Reason(ReasonKind.NEW_TO_YOU)
            out.append(self._recommendation(row, float(score[i]), reason))
        return out

    def cold_start(
        self,
        user_id: int,
        *,
        genres: Sequence[str] = (),
        count: int = 5,
        _profile: TasteProfile | None = None,
    ) -> list[Recommendation]:
        """Picks for a member without likes: from chosen genres/tags, else the server's
        best-liked tracks, else a diverse sample of the catalog."""
        profile = _profile or self.profile(user_id)
        filters = [self._filter(g) for g in genres if g]
        mask = None
        if filters:
            mask = np.zeros(self.features.n, bool)
            for chosen in filters:
                mask |= chosen.mask
        candidates = self._candidates(user_id, profile, mask)
        if count <= 0 or len(candidates) == 0:
            return []
        f = self.features
        likes = self._likes[candidates].astype(np.float64)
        dislikes = self._dislikes[candidates].astype(np.float64)
        popularity = (likes - dislikes) / np.sqrt(likes + dislikes + 1.0)
        score = W_POPULAR * popularity + 0.5 * f.typicality[candidates]
        if len(profile.disliked_rows):
            nearest = self._nearest(f.unit[candidates], profile.disliked_rows, profile.disliked_weights)[0]
            score -= W_DISLIKE * nearest.clip(0)
        picks = self._mmr(candidates, score, count, known=self._known(user_id, profile))
        out = []
        for i in picks:
            row = candidates[i]
            net = int(self._likes[row] - self._dislikes[row])
            if net > 0 and self._likes[row] >= 1:
                reason = Reason(ReasonKind.POPULAR, count=int(self._likes[row]))
            elif filters:
                label = next((c.label for c in filters if c.mask[row]), filters[0].label)
                reason = Reason(ReasonKind.STARTER, genre=label)
            else:
                reason = Reason(ReasonKind.EXPLORE, genre=self.sure_genre(row))
            out.append(self._recommendation(row, float(score[i]), reason))
        return out

    # -- internals -----------------------------------------------------------------------

    def _filter(self, text: str) -> _Filter:
        """A ``genre:`` filter: a family (id, display name or alias: "hip hop", "r&b", "punk",
        "world"), a genre this server taught, or one of the tagger's style tags."""
        f = self.features
        family = family_of(text)
        if family is not None:
            return _Filter(label(family), self._genre_mask(f.genre_by_key.get(family)), "genre")
        if _key(text) in f.genre_by_key:
            code = f.genre_by_key[_key(text)]
            return _Filter(label(f.genre_names[code]), self._genre_mask(code), "genre")
        key = _key(text)
        if key in _TAG_BY_KEY:
            t = _TAG_BY_KEY[key]
            probs = self.catalog.tag_probs[:, t]
            return _Filter(TAGS[t], probs >= f.tag_threshold[t], "tag")
        choices = {**{_key(g): label(g) for g in f.genre_names}, **{k: TAGS[i] for k, i in _TAG_BY_KEY.items()}}
        close = [choices[k] for k in difflib.get_close_matches(key, list(choices), n=3, cutoff=0.6)]
        genres = ", ".join(f"“{label(g)}”" for g in self.genres_available()[:6]) or _("none yet")
        values = {"text": text, "genres": genres, "close": ", ".join(f"“{c}”" for c in close)}
        raise UnknownFilter(
            N_(
                "“{text}” is not a genre or tag Crate knows. Did you mean {close}? Genres here: {genres}; "
                "or a tag such as chillout, 80s, female vocalists, acoustic, party."
            )
            if close
            else N_(
                "“{text}” is not a genre or tag Crate knows. Genres here: {genres}; "
                "or a tag such as chillout, 80s, female vocalists, acoustic, party."
            ),
            values=values,
            detail=f"unknown filter {text!r}",
        )

    def _genre_mask(self, code: int | None) -> np.ndarray:
        """Tracks of genre column ``code``: their top genre, or at least :data:`GENRE_FILTER_MIN` likely."""
        f = self.features
        if code is None:
            return np.zeros(f.n, bool)
        return (f.genre_codes == code) | (f.genre_probs[:, code] >= GENRE_FILTER_MIN)

    def _nothing_matches(self, text: str, chosen: _Filter) -> NothingMatches:
        """No new track for this filter: suggest the genre family ("heavy metal" -> metal)."""
        key = _key(text)
        family = [g for g in self.features.genre_names if _key(g) != key and _key(g) in key]
        available = [g for g in family if np.any(self.features.genre_codes == self.features.genre_by_key[_key(g)])]
        return NothingMatches(
            N_("I have nothing new for you in “{genre}” in this server's catalog. Try the family: {families}.")
            if available
            else N_("I have nothing new for you in “{genre}” in this server's catalog."),
            values={"genre": chosen.label, "families": ", ".join(f"“{label(g)}”" for g in available)},
            detail=f"filter {text!r} matched no candidate",
        )

    def _candidates(self, user_id: int, profile: TasteProfile, mask: np.ndarray | None) -> np.ndarray:
        keep = np.ones(self.features.n, bool) if mask is None else mask.copy()
        keep[self._known(user_id, profile)] = False
        return np.flatnonzero(keep)

    def _known(self, user_id: int, profile: TasteProfile) -> np.ndarray:
        """Rows the member rated or shared: never recommended, nor any other cut of their songs."""
        n = self.features.n
        known = [np.asarray(profile.rated_rows, np.int64)]
        shared = self.shares.get(user_id)
        if shared:
            ids = np.fromiter(shared, np.int64, count=len(shared))
            rows = np.searchsorted(self.catalog.ids, ids)
            ok = rows < n
            rows, ids = rows[ok], ids[ok]
            known.append(rows[self.catalog.ids[rows] == ids])
        return np.unique(np.concatenate(known))

    def _nearest(self, unit: np.ndarray, rows: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(weighted similarity to the nearest of ``rows``, which one) for each row of ``unit``."""
        sims = unit @ self.features.unit[rows].T
        sims *= weights.astype(np.float32)
        best = np.argmax(sims, axis=1)
        return sims[np.arange(len(sims)), best], best

    def _collab(self, user_id: int, profile: TasteProfile) -> tuple[np.ndarray, np.ndarray]:
        """(collaborative score per catalog row, neighbour similarity per user code)."""
        n = self.features.n
        my_likes = np.zeros(n, np.float64)
        my_likes[profile.liked_rows] = profile.liked_weights
        others = self._users != user_id
        liked = others & (self._values == LIKE)
        overlap = np.bincount(
            self._user_codes[liked], weights=my_likes[self._rows[liked]], minlength=len(self._user_ids)
        )
        norm = np.sqrt(np.maximum(self._likes_per_user, 1) * max(len(profile.liked_rows), 1))
        similarity = overlap / norm
        total = similarity.sum()
        if total <= 0:
            return np.zeros(n), similarity
        votes = np.where(self._values[others] == LIKE, 1.0, -COLLAB_DISLIKE)
        scores = np.bincount(self._rows[others], weights=votes * similarity[self._user_codes[others]], minlength=n)
        return scores / (total + COLLAB_SHRINK), similarity

    def _score(self, user_id: int, profile: TasteProfile, candidates: np.ndarray) -> dict[str, np.ndarray]:
        f = self.features
        pull = RECENCY_FLOOR + (1.0 - RECENCY_FLOOR) * profile.liked_weights
        k = len(profile.liked_rows)
        # Weights are folded into the reference vectors, so one matrix product over the whole
        # catalog (no copy of the candidates' rows) gives weighted similarities directly:
        # (cos * pull**(1/p))**p = cos**p * pull for the content term.
        root = (pull ** (1.0 / CONTENT_POWER)).astype(np.float32)
        references = np.concatenate(
            [
                f.unit[profile.liked_rows] * root[:, None],
                f.unit[profile.disliked_rows] * profile.disliked_weights.astype(np.float32)[:, None],
            ]
        )
        sims = references @ f.unit.T  # [k + d, n]: reductions over contiguous rows are fast
        best = sims[:k].max(axis=0)[candidates]
        content = np.maximum(best, 0.0) ** CONTENT_POWER
        if len(profile.disliked_rows):
            against = sims[k:].max(axis=0)[candidates].clip(0)
        else:
            against = np.zeros(len(candidates), np.float32)
        genre = genre_term(f, profile, candidates)
        collab_all, neighbours = self._collab(user_id, profile)
        collab = collab_all[candidates]
        score = W_CONTENT * content - W_DISLIKE * against + W_GENRE * genre + W_COLLAB * collab
        return {
            "score": score,
            "content": W_CONTENT * content,
            "liked_sims": sims[:k],
            "root": root,
            "candidates": candidates,
            "genre": W_GENRE * genre,
            "collab": W_COLLAB * collab,
            "neighbours": neighbours,
        }

    def _mmr(self, candidates: np.ndarray, score: np.ndarray, count: int, *, known: np.ndarray) -> list[int]:
        """Indices into ``candidates``: greedy maximal marginal relevance over a shortlist, passing
        over a cut of a song already picked or among the ``known`` rows (rated, shared, the seed)."""
        m = len(candidates)
        size = min(m, max(SHORTLIST_MIN, SHORTLIST_FACTOR * count))
        shortlist = np.argpartition(-score, size - 1)[:size] if size < m else np.arange(m)
        shortlist = shortlist[np.argsort(-score[shortlist], kind="stable")]
        rows = candidates[shortlist]
        unit = self.features.unit[rows]
        relevance = np.asarray(score[shortlist], dtype=np.float64)
        closest = np.full(len(shortlist), -np.inf)
        taken = same_song_as_any(self.catalog, rows, known)  # checked on the shortlist only: cheap
        picks: list[int] = []
        while len(picks) < count and not taken.all():
            value = np.where(taken, -np.inf, relevance - W_REDUNDANCY * np.maximum(closest, 0.0))
            best = int(np.argmax(value))
            taken[best] = True
            if same_song_as_any(self.catalog, rows[best : best + 1], candidates[picks])[0]:
                continue  # another cut of a song on the page
            picks.append(int(shortlist[best]))
            closest = np.maximum(closest, unit @ unit[best])
        return picks

    def _genre(self, row: int) -> str:
        return self.catalog.top_genres[row] or ""

    def sure_genre(self, row: int) -> str:
        """The track's top genre in words when Crate is confident of it, else ``""``: a reason
        never states a doubtful genre."""
        top = self._genre(row)
        return label(top) if top and self.features.confident[row] else ""

    def _recommendation(self, row: int, score: float, reason: Reason) -> Recommendation:
        return Recommendation(
            track_id=int(self.catalog.ids[row]),
            title=self.catalog.titles[row],
            score=round(score, 4),
            reason=reason,
            top_genre=self._genre(row),
        )

    def _explain(
        self, row: int, parts: dict[str, np.ndarray], i: int, profile: TasteProfile, chosen: _Filter | None
    ) -> Recommendation:
        options: list[tuple[float, Reason]] = []
        weighted = parts["liked_sims"][:, row]
        nearest = int(np.argmax(weighted))
        if weighted[nearest] / parts["root"][nearest] >= REASON_MIN_COSINE:
            liked_row = int(profile.liked_rows[nearest])
            close = Reason(
                ReasonKind.CLOSE_TO_LIKED,
                track_id=int(self.catalog.ids[liked_row]),
                track_title=self.catalog.titles[liked_row],
            )
            options.append((float(parts["content"][i]), close))
        genre = self.sure_genre(row)
        top = self._genre(row)
        liked_genre = bool(genre) and top in profile.clear_genres  # sure of the track's genre and of the taste
        if parts["genre"][i] > 0 and liked_genre:
            options.append((float(parts["genre"][i]), Reason(ReasonKind.LIKED_GENRE, genre=genre)))
        if parts["collab"][i] > 0:
            collab = self._collab_reason(row, profile.user_id, parts["neighbours"])
            if collab.member_ids:
                options.append((float(parts["collab"][i]), collab))
        if options:
            reason = max(options, key=lambda option: option[0])[1]
        elif chosen is not None:
            reason = Reason(ReasonKind.FILTER_NEW, genre=chosen.label)
        elif parts["genre"][i] > 0 or top in profile.clear_genres:
            reason = Reason(ReasonKind.NEW_TO_YOU)  # nothing in it that words could truly name
        else:
            reason = Reason(ReasonKind.DIFFERENT, genre=genre)
        return self._recommendation(row, float(parts["score"][i]), reason)

    def _collab_reason(self, row: int, user_id: int, similarity: np.ndarray) -> Reason:
        mask = (self._rows == row) & (self._values == LIKE) & (self._users != user_id)
        codes = self._user_codes[mask]
        codes = codes[similarity[codes] > 0]
        codes = codes[np.argsort(-similarity[codes], kind="stable")]
        likers = tuple(int(self._user_ids[c]) for c in codes)
        return Reason(ReasonKind.SIMILAR_TASTE, member_ids=likers, count=len(likers))


def genre_term(f: CatalogFeatures, profile: TasteProfile, rows: np.ndarray) -> np.ndarray:
    """Genre affinity of each of ``rows``, weighted by its genre distribution: ``sum_g P(g) a(g)``."""
    affinity = np.array([profile.genre_affinity.get(g, 0.0) for g in f.genre_names], np.float32)
    if not len(affinity):
        return np.zeros(len(rows), np.float32)
    return f.genre_probs[rows] @ affinity


__all__ = [
    "CatalogFeatures",
    "RatingArrays",
    "RecommendError",
    "Recommendation",
    "Recommender",
    "UnknownFilter",
    "features_of",
    "recency_weight",
]
