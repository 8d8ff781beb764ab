"""``/recommend`` against the store: each server's decoded catalog and rating arrays, cached.

Decoding a 100,000-track catalog takes ~0.3-0.5 s and turning 50,000 ratings into arrays ~0.1 s,
so a :class:`CatalogCache` (one per :class:`~bot.app.crate.Crate`) keeps the last
:data:`CACHE_GUILDS` servers' and reloads one only when its change counts moved
(:func:`bot.store.changes.changes_of`: triggers count every change to a server's tracks and
ratings, whichever process made it; one primary-key lookup per request). Rating arrays index
the catalog's rows, so a new catalog rebuilds them too.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from bot.catalog import Catalog
from bot.recommend.rank import RatingArrays, Recommendation, Recommender, features_of
from bot.store import ratings as store_ratings
from bot.store import shares as store_shares
from bot.store import tracks as store_tracks
from bot.store.changes import Changes, changes_of
from bot.store.database import Database

#: How many servers' decoded catalogs stay in memory (a 100k-track catalog is ~110 MB with its
#: ranking features; most servers are far smaller).
CACHE_GUILDS = 16


@dataclass
class _Cached:
    changes: Changes
    catalog: Catalog
    ratings: RatingArrays | None = None
    ratings_changes: int | None = None


class CatalogCache:
    """The decoded catalogs and rating arrays of the servers asked for most recently, at most
    ``guilds`` of them, each reloaded only when that server's tracks or ratings changed."""

    def __init__(self, db: Database, *, guilds: int = CACHE_GUILDS):
        self.db = db
        self.guilds = guilds
        self._cached: OrderedDict[int, _Cached] = OrderedDict()
        self._locks: dict[int, asyncio.Lock] = {}

    def _lock(self, guild_id: int) -> asyncio.Lock:
        lock = self._locks.get(guild_id)
        if lock is None:
            # Locks of servers no longer cached and not in use go: the dict stays as small as the cache.
            if len(self._locks) > 2 * self.guilds:
                for gone in [g for g, l in self._locks.items() if g not in self._cached and not l.locked()]:
                    del self._locks[gone]
            lock = self._locks[guild_id] = asyncio.Lock()
        return lock

    async def _entry(self, guild_id: int, changes: Changes) -> _Cached:
        hit = self._cached.get(guild_id)
        if hit is None or hit.changes.tracks != changes.tracks:
            catalog = await store_tracks.load_catalog(self.db, guild_id)
            await asyncio.to_thread(features_of, catalog)  # centring/normalising is worth caching too
            hit = self._cached[guild_id] = _Cached(changes, catalog)
        self._cached.move_to_end(guild_id)
        while len(self._cached) > self.guilds:
            self._cached.popitem(last=False)
        return hit

    async def catalog(self, guild_id: int) -> Catalog:
        """The server's decoded catalog, reloaded only when its tracks changed."""
        async with self._lock(guild_id):
            return (await self._entry(guild_id, await changes_of(self.db, guild_id))).catalog

    async def catalog_and_ratings(self, guild_id: int) -> tuple[Catalog, RatingArrays]:
        """The server's catalog and its ratings as arrays over the catalog's rows, each rebuilt
        only when it changed (one change-count lookup for both)."""
        async with self._lock(guild_id):
            changes = await changes_of(self.db, guild_id)
            entry = await self._entry(guild_id, changes)
            if entry.ratings is None or entry.ratings_changes != changes.ratings:
                rows = await store_ratings.rating_rows(self.db, guild_id)
                entry.ratings = await asyncio.to_thread(_rating_arrays, entry.catalog, rows)
                entry.ratings_changes = changes.ratings
            return entry.catalog, entry.ratings

    async def ratings(self, guild_id: int, catalog: Catalog) -> RatingArrays:
        """The server's ratings as arrays over ``catalog``'s rows (the current catalog's)."""
        current, ratings = await self.catalog_and_ratings(guild_id)
        if current is not catalog:
            return await asyncio.to_thread(_rating_arrays, catalog, await store_ratings.rating_rows(self.db, guild_id))
        return ratings

    def clear(self) -> None:
        self._cached.clear()

    async def recommender(self, guild_id: int, user_id: int, *, now: float | None = None) -> Recommender:
        catalog, guild_ratings = await self.catalog_and_ratings(guild_id)
        mine = await store_shares.shares_of(self.db, guild_id, user_id)
        shares = {user_id: {share.track_id for share in mine}}
        return Recommender(catalog, guild_ratings, shares=shares, now=now)


def _rating_arrays(catalog: Catalog, rows: list[tuple]) -> RatingArrays:
    table = np.array(rows, dtype=_RATING_ROW)  # exact int64 ids (Discord snowflakes exceed float precision)
    return RatingArrays(catalog, table["user_id"], table["track_id"], table["value"], table["rated_at"])


_RATING_ROW = np.dtype([("user_id", "<i8"), ("track_id", "<i8"), ("value", "i1"), ("rated_at", "<f8")])


@dataclass(frozen=True)
class RecommendationResult:
    recommendations: list[Recommendation] = field(default_factory=list)
    #: The member has liked nothing here yet: picks came from genres / popularity / variety.
    cold_start: bool = False
    #: The server has no tracks at all: tell people how to fill the catalog.
    catalog_empty: bool = False
    catalog_size: int = 0
    genre: str | None = None


async def recommend_for(
    cache: CatalogCache,
    guild_id: int,
    user_id: int,
    *,
    count: int = 5,
    genre: str | None = None,
    now: float | None = None,
) -> RecommendationResult:
    """Recommendations for one member of one guild, from that guild's data only.

    Raises :class:`~bot.recommend.rank.UnknownFilter` for a genre/tag the catalog can't match.
    """
    recommender = await cache.recommender(guild_id, user_id, now=now)
    size = len(recommender.catalog)
    if size == 0:
        return RecommendationResult(catalog_empty=True, genre=genre)
    cold = recommender.is_cold(user_id)
    recommendations = await asyncio.to_thread(recommender.for_user, user_id, count=count, genre=genre)
    return RecommendationResult(recommendations, cold_start=cold, catalog_size=size, genre=genre)


async def more_like_for(
    cache: CatalogCache,
    guild_id: int,
    user_id: int,
    track_id: int,
    *,
    count: int = 5,
) -> list[Recommendation]:
    """The "more like this" button: tracks of this guild that sound like ``track_id``."""
    recommender = await cache.recommender(guild_id, user_id)
    return await asyncio.to_thread(recommender.more_like, track_id, user_id, count=count)
