"""The catalog's titles in memory, for autocomplete: answers never wait behind a database write.

Discord gives an autocomplete answer 3 s. Under load the single writer path (ratings, shares,
``/forget``) can hold the database for seconds, so :class:`TitleIndex` keeps every guild's
``(id, title, top genre, added_at)`` in memory: loaded once at start (one query), updated when a
track is added, and reloaded for a guild after ``/forget`` removed tracks or another process
changed its tracks (PostgreSQL's NOTIFY, or the change counts polled on SQLite:
:meth:`bot.app.library.Library.follow_changes`). Matching follows
:func:`bot.store.tracks.search_tracks`: titles containing the text (case-insensitive), those
starting with it first, then newest first; empty text gives the newest tracks.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from bot.audio.services import song_key

SEARCH_LIMIT = 25


@dataclass(frozen=True)
class TitleEntry:
    """What an autocomplete choice needs of a track."""

    id: int
    title: str
    top_genre: str | None
    added_at: float


class TitleIndex:
    """Per-guild track titles; :meth:`search` and :meth:`genres` are plain memory reads."""

    def __init__(self) -> None:
        self._guilds: dict[int, dict[int, TitleEntry]] = {}
        #: guild -> song key (:func:`bot.audio.services.song_key`) -> the oldest track with it; built at first use.
        self._songs: dict[int, dict[str, int]] = {}
        self._generation = 0  # counts reloads, so that keys worked out meanwhile are not kept
        self.loaded = False  # True once every guild was loaded: a guild absent then has no tracks
        self._stale: set[int] = set()  # guilds forgotten since: reloaded at their next lookup

    def has(self, guild_id: int) -> bool:
        return guild_id in self._guilds or (self.loaded and guild_id not in self._stale)

    def load(self, rows: Iterable[tuple[int, int, str, str | None, float]]) -> None:
        """Every guild at once, from ``(guild_id, id, title, top_genre, added_at)`` rows."""
        guilds: dict[int, dict[int, TitleEntry]] = {}
        for guild_id, track_id, title, top_genre, added_at in rows:
            guilds.setdefault(int(guild_id), {})[int(track_id)] = TitleEntry(track_id, title, top_genre, added_at)
        self._guilds = guilds
        self._songs.clear()
        self._generation += 1
        self.loaded = True
        self._stale.clear()

    def replace_guild(self, guild_id: int, rows: Iterable[tuple[int, int, str, str | None, float]]) -> None:
        self._guilds[guild_id] = {int(r[1]): TitleEntry(int(r[1]), r[2], r[3], r[4]) for r in rows}
        self._songs.pop(guild_id, None)
        self._generation += 1
        self._stale.discard(guild_id)

    def forget_guild(self, guild_id: int) -> None:
        """Drop a guild's titles (another process changed its catalog): the next lookup reloads them."""
        self._guilds.pop(guild_id, None)
        self._songs.pop(guild_id, None)
        self._generation += 1
        self._stale.add(guild_id)

    def add(self, guild_id: int, track_id: int, title: str, top_genre: str | None, added_at: float) -> None:
        if self.has(guild_id):
            self._guilds.setdefault(guild_id, {})[track_id] = TitleEntry(track_id, title, top_genre, added_at)
            key, songs = song_key(title), self._songs.get(guild_id)
            if key is not None and songs is not None:
                songs.setdefault(key, track_id)

    def search(self, guild_id: int, text: str, limit: int = SEARCH_LIMIT) -> list[TitleEntry]:
        entries = self._guilds.get(guild_id, {}).values()
        limit = max(0, min(int(limit), SEARCH_LIMIT))
        needle = text.strip().casefold()
        newest = sorted(entries, key=lambda e: (-e.added_at, -e.id))
        if not needle:
            return newest[:limit]
        hits = [e for e in newest if needle in e.title.casefold()]
        hits.sort(key=lambda e: not e.title.casefold().startswith(needle))  # stable: newest first within
        return hits[:limit]

    async def song(self, guild_id: int, key: str) -> int | None:
        """The track of this guild whose title names the song ``key`` (the oldest), if any. The
        guild's song keys are worked out once (off the event loop: a big catalog takes seconds),
        then kept up to date as tracks are added."""
        songs = self._songs.get(guild_id)
        if songs is None:
            generation = self._generation
            entries = list(self._guilds.get(guild_id, {}).values())
            songs = await asyncio.to_thread(_song_keys, entries)
            if generation == self._generation:  # no guild was reloaded meanwhile
                self._songs[guild_id] = songs
        return songs.get(key)

    def genres(self, guild_id: int) -> list[str]:
        """Top genres present in the guild, most tracks first."""
        counts = Counter(e.top_genre for e in self._guilds.get(guild_id, {}).values() if e.top_genre)
        return [genre for genre, _ in sorted(counts.items(), key=lambda gc: (-gc[1], gc[0]))]


def _song_keys(entries: list[TitleEntry]) -> dict[str, int]:
    """Song key -> the oldest of ``entries`` whose title names it."""
    songs: dict[str, int] = {}
    for entry in sorted(entries, key=lambda e: (e.added_at, e.id)):
        found = song_key(entry.title)
        if found is not None:
            songs.setdefault(found, entry.id)
    return songs
