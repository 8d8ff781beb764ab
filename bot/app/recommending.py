"""Recommendations for one member: picks from the server's catalog, a start for newcomers, a
radio preview. The first pick becomes the member's "last track" (what /like rates)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bot import store
from bot.catalog import UnknownTrack
from bot.recommend.group import GroupPick
from bot.recommend.radio import pick_radio
from bot.recommend.rank import Recommendation
from bot.recommend.service import CatalogCache, RecommendationResult, more_like_for, recommend_for
from bot.store import Database


class Recommendations:
    """What to play next for one member, from the server's cached catalog."""

    def __init__(self, db: Database, catalogs: CatalogCache):
        self.db = db
        self.catalogs = catalogs

    async def recommend(
        self,
        guild_id: int,
        user_id: int,
        *,
        count: int = 5,
        genre: str | None = None,
    ) -> RecommendationResult:
        """Picks from this server's catalog for one member; the first becomes their 'last track'."""
        result = await recommend_for(self.catalogs, guild_id, user_id, count=count, genre=genre)
        await self._remember_first(guild_id, user_id, result.recommendations)
        return result

    async def more_like(self, guild_id: int, user_id: int, track_id: int, *, count: int = 5) -> list[Recommendation]:
        picks = await more_like_for(self.catalogs, guild_id, user_id, track_id, count=count)
        await self._remember_first(guild_id, user_id, picks)
        return picks

    async def radio_preview(
        self, guild_id: int, user_id: int, seed_track_id: int, *, count: int = 5
    ) -> list[GroupPick]:
        """What a radio from ``seed_track_id`` would play for this member, pick by pick (each
        following the one before it), without opening a session: the console's /radio."""
        if await store.get_track(self.db, guild_id, seed_track_id) is None:
            raise UnknownTrack(detail=f"guild {guild_id} track {seed_track_id}")
        catalog, ratings = await self.catalogs.catalog_and_ratings(guild_id)
        return await asyncio.to_thread(
            pick_radio, catalog, ratings, [user_id], seed_track_id=seed_track_id, count=count
        )

    async def starter_picks(
        self,
        guild_id: int,
        user_id: int,
        genres: Sequence[str],
        *,
        count: int = 5,
    ) -> list[Recommendation]:
        """Cold start: picks from genres a new member chose (or the server's favourites)."""
        recommender = await self.catalogs.recommender(guild_id, user_id)
        picks = await asyncio.to_thread(recommender.cold_start, user_id, genres=genres, count=count)
        await self._remember_first(guild_id, user_id, picks)
        return picks

    async def _remember_first(self, guild_id: int, user_id: int, picks: Sequence[Recommendation]) -> None:
        if picks:
            await store.set_last_track(self.db, guild_id, user_id, picks[0].track_id)
