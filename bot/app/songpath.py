"""``/path from: to: [length]``: a session queue that walks from one track to another in small
steps of sound (:func:`bot.recommend.songpath.walk`), each entry's reason saying where on the
path it is ("step 3 of 8 on the path from “A” to “B”").

In a channel with a session the path is queued after what is there (never a track the session
already played or queued, but A and B themselves); elsewhere a session opens with it, hosted by
the member. The entries are the member's own (added by them), so a member joining later does not
drop them as it drops Crate's picks for the group.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bot.app.sessions import SessionService
from bot.recommend.service import CatalogCache
from bot.recommend.songpath import DEFAULT_LENGTH, MAX_LENGTH, MIN_LENGTH, PathLength, PathStep, walk
from bot.store import sessions as store_sessions
from bot.store.sessions import QueueEntry, Session


@dataclass(frozen=True)
class PathPlayed:
    session: Session
    opened: bool  # a new session was opened for the path
    steps: tuple[PathStep, ...]
    entries: tuple[QueueEntry, ...]


class SongPaths:
    """Song paths over the server's cached catalog, queued through the session service."""

    def __init__(self, catalogs: CatalogCache, sessions: SessionService):
        self.catalogs = catalogs
        self.sessions = sessions

    async def preview(
        self, guild_id: int, from_track_id: int, to_track_id: int, *, length: int = DEFAULT_LENGTH, exclude=()
    ) -> list[PathStep]:
        """The path, without queueing it (the console's and the command line's /path). A length out
        of [MIN_LENGTH, MAX_LENGTH] is refused (:class:`PathLength`), not quietly changed."""
        if not MIN_LENGTH <= length <= MAX_LENGTH:
            raise PathLength(detail=f"length {length}")
        catalog = await self.catalogs.catalog(guild_id)
        return await asyncio.to_thread(
            walk, catalog, from_track_id, to_track_id, length=length, exclude_track_ids=tuple(exclude)
        )

    async def play(
        self,
        guild_id: int,
        user_id: int,
        from_track_id: int,
        to_track_id: int,
        channel_id: int,
        *,
        length: int = DEFAULT_LENGTH,
        voice_channel_id: int | None = None,
    ) -> PathPlayed:
        """Queue the path in this channel's session, or open one (hosted by ``user_id``) with it."""
        session = await store_sessions.get_open_session(self.sessions.db, guild_id, channel_id)
        exclude: set[int] = set()
        if session is not None:
            queued = await store_sessions.queue_of(self.sessions.db, guild_id, session.id)
            exclude = {e.track_id for e in queued}
        steps = await self.preview(guild_id, from_track_id, to_track_id, length=length, exclude=exclude)
        opened = session is None
        if session is None:
            session = await self.sessions.start(guild_id, channel_id, user_id, voice_channel_id)
        tracks = [store_sessions.Queued(step.track_id, step.reason) for step in steps]
        entries = await self.sessions.add_queued(session, tracks, user_id)
        return PathPlayed(session, opened, tuple(steps), tuple(entries))


__all__ = ["PathPlayed", "SongPaths"]
