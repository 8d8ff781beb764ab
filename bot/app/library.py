"""The server's catalog as members use it: look a track up, find one by title, rate one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot import store
from bot.app.titles import TitleEntry, TitleIndex
from bot.catalog import NoTrackChosen, Track, UnknownTrack
from bot.recommend.service import CatalogCache
from bot.recommend.songs import song_groups
from bot.store import Database

log = logging.getLogger(__name__)

#: Autocomplete waits at most this long for the catalog to tell cuts of one song apart (Discord
#: gives 3 s); past it, identical titles are all offered.
SONGS_WAIT = 1.0
#: Seconds between two looks at what other processes changed, on a database that can't tell
#: (SQLite: `crate index` run beside the bot); PostgreSQL notifies at once.
CHANGES_POLL = 10.0


@dataclass(frozen=True)
class RatedTrack:
    track: Track
    value: int  # LIKE or DISLIKE
    previous: int | None  # the rating it replaced, if any


class Library:
    """Tracks by id, titles for autocomplete (from memory), and members' ratings."""

    def __init__(self, db: Database, titles: TitleIndex, catalogs: CatalogCache | None = None):
        self.db = db
        #: Titles and genres for autocomplete, in memory (never behind a database write).
        self.titles = titles
        self.catalogs = catalogs
        #: Called with (guild id, user id) after every like or dislike (Blends refill at once).
        self.on_rated: list[Callable[[int, int], Awaitable[object]]] = []

    async def track(self, guild_id: int, track_id: int) -> Track:
        track = await store.get_track(self.db, guild_id, track_id)
        if track is None:
            raise UnknownTrack(detail=f"guild {guild_id} track {track_id}")
        return track

    async def rate(self, guild_id: int, user_id: int, value: int, track_id: int | None = None) -> RatedTrack:
        """Like or dislike a track (default: the last one this member shared or was recommended)."""
        if track_id is None:
            track_id = await store.last_track(self.db, guild_id, user_id)
            if track_id is None:
                raise NoTrackChosen()
        track = await self.track(guild_id, track_id)
        previous = await store.rating_of(self.db, guild_id, user_id, track.id)
        await store.rate(self.db, guild_id, user_id, track.id, value)
        for listener in self.on_rated:
            try:
                await listener(guild_id, user_id)
            except Exception:  # the rating is stored: what follows it (a Blend's refill) is retried later
                log.exception("after a rating in guild %s", guild_id)
        return RatedTrack(track, value, previous)

    async def search(self, guild_id: int, text: str) -> list[TitleEntry]:
        """Tracks whose title matches, for autocomplete (at most 25), from memory; of two tracks
        with the same title that are one song (:mod:`bot.recommend.songs`), only the newest."""
        await self._known_titles(guild_id)
        hits = self.titles.search(guild_id, text)
        same_title = {e.title.casefold() for e in hits}
        if len(same_title) == len(hits) or self.catalogs is None:
            return hits
        try:
            catalog = await asyncio.wait_for(asyncio.shield(self.catalogs.catalog(guild_id)), SONGS_WAIT)
        except TimeoutError:
            return hits
        rows = [catalog.index_of(e.id) for e in hits]
        known = [i for i, row in enumerate(rows) if row is not None]
        groups = song_groups(catalog, [rows[i] for i in known])
        first: dict[tuple[str, int], int] = {}
        drop = set()
        for position, i in enumerate(known):
            title_song = (hits[i].title.casefold(), int(groups[position]))
            if title_song in first:
                drop.add(i)  # hits are newest first within a rank: the newest cut stays
            first.setdefault(title_song, i)
        return [e for i, e in enumerate(hits) if i not in drop]

    async def genres_available(self, guild_id: int) -> list[str]:
        """Top genres present in this server's catalog, most tracks first (from memory)."""
        await self._known_titles(guild_id)
        return self.titles.genres(guild_id)

    async def follow_changes(self, every: float | None = None) -> None:
        """Reload, in the background, the titles of every server whose tracks changed since the
        last look (another process's `crate index`, or this one's own adds: the count can't tell
        them apart, and a reload is one query off the autocomplete path). Runs until cancelled."""
        seen: dict[int, int] | None = None  # the counts at the last look
        while True:
            try:
                now = await store.track_changes(self.db)
                changed = [g for g, count in now.items() if seen is not None and seen.get(g) != count]
                for guild_id in changed:
                    if self.titles.has(guild_id):
                        self.titles.replace_guild(guild_id, await store.track_titles(self.db, guild_id))
                seen = now
            except Exception:  # a locked or unreachable database: look again at the next round
                log.exception("could not look for other processes' changes to the catalog")
            await asyncio.sleep(CHANGES_POLL if every is None else every)

    async def _known_titles(self, guild_id: int) -> None:
        # Crate.running loads every guild at start; a Crate built by hand loads a guild once.
        if not self.titles.has(guild_id):
            self.titles.replace_guild(guild_id, await store.track_titles(self.db, guild_id))
