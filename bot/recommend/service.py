"""``/recommend`` against the store: load what the ranker needs, cache decoded catalogs per guild.

Decoding a 100,000-track catalog takes ~0.3-0.5 s, so :func:`cached_catalog` keeps the last
:data:`CACHE_GUILDS` guilds' catalogs and reloads one only when its fingerprint changes: track
count, largest id, sum of ids and newest ``added_at`` (one indexed aggregate query). Adding or
deleting a track changes the fingerprint, even when SQLite reuses a deleted largest id.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.recommend.rank import Recommendation, Recommender, features_of
from bot.store import ratings as store_ratings
from bot.store import shares as store_shares
from bot.store import tracks as store_tracks
from bot.store.database import Database
from bot.store.tracks import Catalog

#: How many guilds' decoded catalogs stay in memory (a 100k-track catalog is ~110 MB with its
#: ranking features; most servers are far smaller).
CACHE_GUILDS = 16

_cache: OrderedDict[tuple[str, int], tuple[tuple, Catalog]] = OrderedDict()
_locks: dict[tuple[str, int], asyncio.Lock] = {}


@dataclass(frozen=True)
class RecommendationResult:
    recommendations: list[Recommendation] = field(default_factory=list)
    #: The member has liked nothing here yet: picks came from genres / popularity / variety.
    cold_start: bool = False
    #: The server has no tracks at all: tell people how to fill the catalog.
    catalog_empty: bool = False
    catalog_size: int = 0
    genre: str | None = None


async def catalog_fingerprint(db: Database, guild_id: int) -> tuple:
    row = await db.fetch_one(
        "SELECT count(*), max(id), total(id), max(added_at) FROM tracks WHERE guild_id = ?", (guild_id,)
    )
    return tuple(row) if row is not None else (0, None, 0.0, None)


async def cached_catalog(db: Database, guild_id: int) -> Catalog:
    """The guild's decoded catalog, reloaded only when its tracks changed."""
    key = (str(db.path), guild_id)
    lock = _locks.setdefault(key, asyncio.Lock())
    async with lock:
        fingerprint = await catalog_fingerprint(db, guild_id)
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


def clear_cache() -> None:
    _cache.clear()


async def recommender_for(
    db: Database, guild_id: int, user_id: int, *, names: Mapping[int, str] | None = None, now: float | None = None
) -> Recommender:
    catalog = await cached_catalog(db, guild_id)
    guild_ratings = await store_ratings.ratings_in_guild(db, guild_id)
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
