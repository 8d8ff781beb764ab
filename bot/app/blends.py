"""Blends (``/blend``): a playlist for two to six members that Crate keeps fresh.

A Blend is a real playlist of the server (:mod:`bot.store.playlists`; ``/playlist play`` and
``export`` work on it) plus its members and whom each track is for (:mod:`bot.store.blends`).
Its tracks come from :func:`bot.recommend.blend.blend_tracks`: "the song that brings you
together" on top, then each member served in turn, nothing any member disliked. Crate refills
it when one of its members likes or dislikes a track (:meth:`BlendService.rated`, called by
:class:`~bot.app.library.Library`), when a member leaves it or uses ``/forget``, and at least
daily (:meth:`BlendService.refresh_due`, run by the cog's background task with the clock it is
given; a member who has left the server is taken out then). A Blend left with one member is
deleted: a Blend is for two or more, and a playlist of one member's taste is what ``/recommend``
is for.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from bot.caller import Caller
from bot.errors import CrateError
from bot.i18n import N_
from bot.recommend.blend import BLEND_TRACKS, MATCH_MIN_RATINGS, blend_tracks
from bot.recommend.service import CatalogCache
from bot.safe_text import UNSAFE
from bot.store import blends as store
from bot.store import members as store_members
from bot.store import playlists as store_playlists
from bot.store.blends import Blend, LeftBlend
from bot.store.database import Database
from bot.store.playlists import PlaylistExistsError

log = logging.getLogger(__name__)

MIN_MEMBERS = store.MIN_MEMBERS
MAX_MEMBERS = 6
#: A Blend is refilled at least this often (seconds).
REFRESH_EVERY = 86_400.0
#: How often a front end asks :meth:`BlendService.refresh_due` (seconds); read at each round.
CHECK_EVERY = 600.0


class BlendError(CrateError):
    user_message = N_("Something went wrong with that Blend.")


class BadBlendMembers(BlendError):
    user_message = N_("A Blend is for 2 to 6 members, you included: pick 1 to 5 others.")  # MIN_MEMBERS, MAX_MEMBERS


class BlendExists(BlendError):
    def __init__(self, name: str, **kwargs):
        super().__init__(
            N_("You already have a Blend together: “{name}” (see it with /blend show)."),
            values={"name": name},
            **kwargs,
        )


class NotABlend(BlendError):
    user_message = N_("That isn't one of your Blends — see yours with /blend show.")


class NoBlend(BlendError):
    user_message = N_("You aren't in any Blend here — start one with /blend start member:@someone.")


class WhichBlend(BlendError):
    user_message = N_("You are in several Blends: say which one with the `name` option.")


@dataclass(frozen=True)
class BlendTrack:
    position: int
    track_id: int
    title: str
    top_genre: str | None
    for_user_ids: tuple[int, ...]


@dataclass(frozen=True)
class BlendView:
    """A Blend as it stands: its playlist, members and tracks (who each is for)."""

    blend: Blend
    tracks: tuple[BlendTrack, ...]
    #: Members short of the ratings a taste match needs (bot.recommend.blend.MATCH_MIN_RATINGS), and how many they have.
    short_of_ratings: tuple[tuple[int, int], ...] = ()

    @property
    def name(self) -> str:
        return self.blend.playlist.name

    @property
    def together(self) -> BlendTrack | None:
        """The song that brings them together (the first track), when Crate found one."""
        first = self.tracks[0] if self.tracks else None
        return first if first is not None and first.track_id == self.blend.together_track_id else None


def wall_clock() -> float:
    """The time now, for a :class:`BlendService` given no clock of its own (read at each call, so
    an end-to-end test can move the running bot a day on and see the daily refresh)."""
    return time.time()


def blend_name(names: Sequence[str]) -> str:
    """The Blend's name, "Blend: alice + bob", from the members' names (what can't be shown in a name taken out)."""
    shown = [" ".join(UNSAFE.sub("", n).split())[:24] or "someone" for n in names]
    return ("Blend: " + " + ".join(shown))[:90]


def free_names(base: str) -> Iterator[str]:
    """``base``, then ``base (2)``, ``base (3)``… for when a name is taken in the server."""
    yield base
    for attempt in range(2, 20):
        yield f"{base} ({attempt})"


class BlendService:
    """Blends over the database and each server's cached catalog."""

    def __init__(self, db: Database, catalogs: CatalogCache, *, clock: Callable[[], float] | None = None):
        self.db = db
        self.catalogs = catalogs
        #: The time now (tests give their own); None: :func:`wall_clock`.
        self.clock = clock
        self._locks: dict[tuple[int, int], asyncio.Lock] = {}

    def now(self) -> float:
        return (self.clock or wall_clock)()

    # -- making and showing -----------------------------------------------------------------

    async def create(
        self, guild_id: int, caller: Caller, member_ids: Sequence[int], *, names: Mapping[int, str] | None = None
    ) -> BlendView:
        """A new Blend of the caller and ``member_ids``, filled at once."""
        members = list(dict.fromkeys([caller.user_id, *(int(u) for u in member_ids)]))
        if not MIN_MEMBERS <= len(members) <= MAX_MEMBERS:
            raise BadBlendMembers(detail=f"members {members}")
        for playlist_id in await store.blend_ids_of_member(self.db, guild_id, caller.user_id):
            existing = await store.get_blend(self.db, guild_id, playlist_id)
            if existing is not None and set(existing.member_ids) == set(members):
                raise BlendExists(existing.playlist.name, detail=f"playlist {playlist_id}")
        names = names or {}
        base = blend_name([names.get(u, "member") for u in members])
        for name in free_names(base):
            try:
                blend = await store.create_blend(self.db, guild_id, name, caller.user_id, members, now=self.now())
                return await self.refresh(guild_id, blend.playlist.id)
            except PlaylistExistsError:
                continue
        raise BlendError(detail=f"no free name for {base!r}")

    async def _rename(self, guild_id: int, playlist_id: int) -> None:
        """After a member left: the Blend named after the members still in it, by the names Crate
        remembers (left as it was when one of theirs is unknown: "member" would say less)."""
        blend = await store.get_blend(self.db, guild_id, playlist_id)
        if blend is None:
            return
        known = await store_members.display_names(self.db, guild_id)
        if any(u not in known for u in blend.member_ids):
            return
        for name in free_names(blend_name([known[u] for u in blend.member_ids])):
            if name == blend.playlist.name:
                return
            try:
                await store_playlists.rename_playlist(self.db, guild_id, playlist_id, name)
                return
            except PlaylistExistsError:
                continue

    async def show(self, guild_id: int, user_id: int, name: str | None = None) -> BlendView:
        """One of the member's Blends (by name; without one, their only Blend)."""
        return await self.view(guild_id, await self._mine(guild_id, user_id, name))

    async def mine(self, guild_id: int, user_id: int) -> list[Blend]:
        found = [
            await store.get_blend(self.db, guild_id, p)
            for p in await store.blend_ids_of_member(self.db, guild_id, user_id)
        ]
        return [b for b in found if b is not None]

    async def view(self, guild_id: int, playlist_id: int) -> BlendView:
        blend = await store.get_blend(self.db, guild_id, playlist_id)
        if blend is None:
            raise NotABlend(detail=f"guild {guild_id} playlist {playlist_id}")
        entries = await store_playlists.playlist_entries(self.db, guild_id, playlist_id)
        owners = await store.blend_track_members(self.db, guild_id, playlist_id)
        tracks = tuple(
            BlendTrack(e.position, e.track_id, e.title, e.top_genre, owners.get(e.track_id, ())) for e in entries
        )
        _, ratings = await self.catalogs.catalog_and_ratings(guild_id)
        counts = {u: int((ratings.users == u).sum()) for u in blend.member_ids}
        short = tuple((u, n) for u, n in counts.items() if n < MATCH_MIN_RATINGS)
        return BlendView(blend, tracks, short)

    async def _mine(self, guild_id: int, user_id: int, name: str | None) -> int:
        ids = await store.blend_ids_of_member(self.db, guild_id, user_id)
        if name is not None and name.strip():
            playlist = await store_playlists.playlist_by_name(self.db, guild_id, name.strip())
            if playlist is None or playlist.id not in ids:
                raise NotABlend(detail=f"guild {guild_id} user {user_id} {name!r}")
            return playlist.id
        if not ids:
            raise NoBlend(detail=f"guild {guild_id} user {user_id}")
        if len(ids) > 1:
            raise WhichBlend(detail=f"guild {guild_id} user {user_id} {ids}")
        return ids[0]

    # -- keeping fresh ----------------------------------------------------------------------

    async def refresh(self, guild_id: int, playlist_id: int) -> BlendView:
        """Refill the Blend from its members' ratings now."""
        lock = self._locks.setdefault((guild_id, playlist_id), asyncio.Lock())
        async with lock:
            blend = await store.get_blend(self.db, guild_id, playlist_id)
            if blend is None:
                raise NotABlend(detail=f"guild {guild_id} playlist {playlist_id}")
            now = self.now()
            catalog, ratings = await self.catalogs.catalog_and_ratings(guild_id)
            picks = await asyncio.to_thread(
                blend_tracks, catalog, ratings, blend.member_ids, count=BLEND_TRACKS, now=now
            )
            stored = await store.replace_blend_tracks(
                self.db,
                guild_id,
                playlist_id,
                [(p.track_id, p.for_user_ids) for p in picks.tracks],
                together_track_id=None if picks.together is None else picks.together.track_id,
                taste_match=None if picks.match is None else min(1.0, max(0.0, picks.match)),
                now=now,
            )
            if not stored:  # deleted while its picks were worked out
                raise NotABlend(detail=f"guild {guild_id} playlist {playlist_id} (deleted during its refill)")
        return await self.view(guild_id, playlist_id)

    async def rated(self, guild_id: int, user_id: int) -> int:
        """A member liked or disliked something: refill every Blend they are in; how many."""
        ids = await store.blend_ids_of_member(self.db, guild_id, user_id)
        for playlist_id in ids:
            try:
                await self.refresh(guild_id, playlist_id)
            except NotABlend:  # deleted meanwhile
                continue
        return len(ids)

    async def refresh_due(
        self,
        *,
        owns: Callable[[int], bool] | None = None,
        still_here: Callable[[int, int], Awaitable[bool | None]] | None = None,
    ) -> int:
        """Refill every Blend not refilled for :data:`REFRESH_EVERY` (the daily refresh); how many.
        ``owns``: the servers this process serves (a bot run as several shards), default all.
        ``still_here(guild, member)``: False for a member who has left the server (None: can't
        tell), who is then taken out of the Blend first, as if they had left it: they can no longer
        run /blend leave or /forget there themselves."""
        due = await store.blends_due(self.db, self.now() - REFRESH_EVERY)
        due = [(g, p) for g, p in due if owns is None or owns(g)]
        for guild_id, playlist_id in due:
            try:
                if still_here is not None and await self._take_out_departed(guild_id, playlist_id, still_here):
                    continue  # left with one member: gone
                await self.refresh(guild_id, playlist_id)
            except NotABlend:  # deleted meanwhile
                continue
        return len(due)

    async def _take_out_departed(
        self, guild_id: int, playlist_id: int, still_here: Callable[[int, int], Awaitable[bool | None]]
    ) -> bool:
        """Take the members who left the server out of the Blend; True when that deleted it."""
        blend = await store.get_blend(self.db, guild_id, playlist_id)
        for user_id in blend.member_ids if blend is not None else ():
            if await still_here(guild_id, user_id) is False:
                left = await store.leave_blend(self.db, guild_id, playlist_id, user_id)
                log.info("took member %s, who left server %s, out of Blend %s", user_id, guild_id, playlist_id)
                if left is not None and left.deleted:
                    return True
                if left is not None:
                    await self._rename(guild_id, playlist_id)
        return False

    # -- leaving ----------------------------------------------------------------------------

    async def leave(self, guild_id: int, user_id: int, name: str | None = None) -> LeftBlend:
        """Take the member out of one of their Blends; one left with a single member is deleted."""
        playlist_id = await self._mine(guild_id, user_id, name)
        left = await store.leave_blend(self.db, guild_id, playlist_id, user_id)
        if left is None:
            raise NotABlend(detail=f"guild {guild_id} user {user_id} playlist {playlist_id}")
        if not left.deleted:
            await self._rename(guild_id, playlist_id)
            await self.refresh(guild_id, playlist_id)
        return left

    async def forgotten(self, guild_id: int, blends_left: Sequence[int]) -> None:
        """After /forget: refill the Blends the member was taken out of (bot.store.forget_member)."""
        for playlist_id in blends_left:
            try:
                await self._rename(guild_id, playlist_id)
                await self.refresh(guild_id, playlist_id)
            except NotABlend:
                continue


__all__ = [
    "CHECK_EVERY",
    "MAX_MEMBERS",
    "MIN_MEMBERS",
    "REFRESH_EVERY",
    "BadBlendMembers",
    "BlendError",
    "BlendExists",
    "BlendService",
    "BlendTrack",
    "BlendView",
    "NoBlend",
    "NotABlend",
    "WhichBlend",
    "blend_name",
    "wall_clock",
]
