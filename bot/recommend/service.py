"""``/recommend`` against the store: load what the ranker needs, cache decoded catalogs per guild.

Decoding a 100,000-track catalog takes ~0.3-0.5 s, so :func:`cached_catalog` keeps the last
:data:`CACHE_GUILDS` guilds' catalogs and reloads one only when its fingerprint changes: track
count, largest id and newest ``added_at`` (index-only lookups, ~5 ms at 100k tracks). Adding or
deleting a track changes the fingerprint, even when SQLite reuses a deleted largest id.

The guild's ratings are cached the same way, as :class:`~bot.recommend.rank.RatingArrays` over
the cached catalog's rows (:func:`cached_ratings`): loading 50,000 ratings and turning them into
arrays takes ~0.1 s, the fingerprint query ~10 ms. Their fingerprint (:func:`bot.store.ratings.ratings_fingerprint`)
is the count, the newest ``rated_at`` and sums of ``value``, ``rated_at`` and ``track_id * value``:
a new rating, a withdrawn one, and a rating changed in place (``rate`` upserts: like -> dislike
changes the sum of values, liking again changes ``rated_at``) all change it. A new catalog
(tracks added or deleted) rebuilds the arrays too, since they index its rows.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from bot.catalog import Catalog
from bot.recommend.rank import RatingArrays, Recommendation, Recommender, features_of
from bot.store import ratings as store_ratings
from bot.store import shares as store_shares
from bot.store import tracks as store_tracks
from bot.store.database import Database

#: How many guilds' decoded catalogs stay in memory (a 100k-track catalog is ~110 MB with its
#: ranking features; most servers are far smaller).
CACHE_GUILDS = 16

_cache: OrderedDict[tuple[str, int], tuple[tuple, Catalog]] = OrderedDict()
_locks: dict[tuple[str, int], asyncio.Lock] = {}
#: (db path, guild) -> (catalog the arrays index, ratings fingerprint, arrays); same LRU bound.
_ratings_cache: OrderedDict[tuple[str, int], tuple[Catalog, tuple, RatingArrays]] = OrderedDict()
_ratings_locks: dict[tuple[str, int], asyncio.Lock] = {}


@dataclass(frozen=True)
class RecommendationResult:
    recommendations: list[Recommendation] = field(default_factory=list)
    #: The member has liked nothing here yet: picks came from genres / popularity / variety.
    cold_start: bool = False
    #: The server has no tracks at all: tell people how to fill the catalog.
    catalog_empty: bool = False
    catalog_size: int = 0
    genre: str | None = None


async def cached_catalog(db: Database, guild_id: int) -> Catalog:
    """The guild's decoded catalog, reloaded only when its tracks changed."""
    key = (str(db.path), guild_id)
    lock = _locks.setdefault(key, asyncio.Lock())
    async with lock:
        fingerprint = await store_tracks.catalog_fingerprint(db, guild_id)
        hit = _cache.get(key)
        if hit is not None and hit[0] == fingerprint:
            _cache.move_to_end(key)
            return hit[1]
        catalog = await store_tracks.load_catalog(db, guild_id)
        # Centring/normalising the embeddings is part of what is worth caching.
        await asyncio.to_thread(features_of, catalog)
        _cache[key] = (fingerprint, catalog)
        _cache.move_to_end(key)
        while len(_cache) > CACHE_GUILDS:
            _cache.popitem(last=False)
        return catalog


async def cached_ratings(db: Database, guild_id: int, catalog: Catalog) -> RatingArrays:
    """The guild's ratings as arrays over ``catalog``'s rows, rebuilt only when a rating or the catalog changed."""
    key = (str(db.path), guild_id)
    lock = _ratings_locks.setdefault(key, asyncio.Lock())
    async with lock:
        fingerprint = await store_ratings.ratings_fingerprint(db, guild_id)
        hit = _ratings_cache.get(key)
        if hit is not None and hit[0] is catalog and hit[1] == fingerprint:
            _ratings_cache.move_to_end(key)
            return hit[2]
        rows = await store_ratings.rating_rows(db, guild_id)
        arrays = await asyncio.to_thread(_rating_arrays, catalog, rows)
        _ratings_cache[key] = (catalog, fingerprint, arrays)
        _ratings_cache.move_to_end(key)
        while len(_ratings_cache) > CACHE_GUILDS:
            _ratings_cache.popitem(last=False)
        return arrays


def _rating_arrays(catalog: Catalog, rows: list[tuple]) -> RatingArrays:
    table = np.array(rows, dtype=_RATING_ROW)  # exact int64 ids (Discord snowflakes exceed float precision)
    return RatingArrays(catalog, table["user_id"], table["track_id"], table["value"], table["rated_at"])


_RATING_ROW = np.dtype([("user_id", "<i8"), ("track_id", "<i8"), ("value", "i1"), ("rated_at", "<f8")])


def clear_cache() -> None:
    _cache.clear()
    _ratings_cache.clear()


async def recommender_for(
    db: Database, guild_id: int, user_id: int, *, names: Mapping[int, str] | None = None, now: float | None = None
) -> Recommender:
    catalog = await cached_catalog(db, guild_id)
    guild_ratings = await cached_ratings(db, guild_id, catalog)
    mine = await store_shares.shares_of(db, guild_id, user_id)
    shares = {user_id: {share.track_id for share in mine}}
    return Recommender(catalog, guild_ratings, shares=shares, names=names, now=now)


async def recommend_for(
    db: Database,
    guild_id: int,
    user_id: int,
    *,
    count: int = 5,
    genre: str | None = None,
    names: Mapping[int, str] | None = None,
    now: float | None = None,
) -> RecommendationResult:
    """Recommendations for one member of one guild, from that guild's data only.

    Raises :class:`~bot.recommend.rank.UnknownFilter` for a genre/tag the catalog can't match.
    """
    recommender = await recommender_for(db, guild_id, user_id, names=names, now=now)
    size = len(recommender.catalog)
    if size == 0:
        return RecommendationResult(catalog_empty=True, genre=genre)
    cold = recommender.is_cold(user_id)
    recommendations = await asyncio.to_thread(recommender.for_user, user_id, count=count, genre=genre)
    return RecommendationResult(recommendations, cold_start=cold, catalog_size=size, genre=genre)


async def more_like_for(
    db: Database,
    guild_id: int,
    user_id: int,
    track_id: int,
    *,
    count: int = 5,
    names: Mapping[int, str] | None = None,
) -> list[Recommendation]:
    """The "more like this" button: tracks of this guild that sound like ``track_id``."""
    recommender = await recommender_for(db, guild_id, user_id, names=names)
    return await asyncio.to_thread(recommender.more_like, track_id, user_id, count=count)
