"""Saved playlists, per server, with no Discord in sight: :class:`PlaylistService`.

``/playlist create`` makes one (its creator owns it); ``add``, ``remove`` and ``delete`` change
it — only its owner or a member who manages the server may (:class:`NotPlaylistOwner`, in
words); anyone may ``show``, ``play`` and ``export`` it. A Blend (:mod:`bot.app.blends`) is a
playlist too, but Crate picks its tracks, so nobody adds or removes them by hand
(:class:`BlendByHand`), and its members leave it with ``/blend leave`` rather than delete it
for everyone (only a server manager may: :class:`BlendNotDeleted`). ``add`` without a track
takes the track playing in this channel's listening session, else the member's last track (the
last one they shared or were recommended, as ``/like`` does). ``play`` queues it into the
channel's session, starting one if there is none. A session's played tracks can be saved as a
playlist (:meth:`PlaylistService.save_session`, the summary's button). Everything lives in SQLite
(:mod:`bot.store.playlists`), so playlists survive restarts.

An export (:meth:`PlaylistService.export`) is an M3U playlist (:func:`to_m3u`: ``#EXTINF`` lines
with each track's link) and a JSON document (:func:`to_json`: titles, sources, genres and styles,
who added each track).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

from bot.app.names import clean_name, refuse_look_alike
from bot.app.sessions import SessionService
from bot.caller import Caller
from bot.catalog import Track, UnknownTrack
from bot.errors import CrateError
from bot.i18n import N_
from bot.present.describe import top_tags
from bot.reasons import FROM_PLAYLIST
from bot.safe_text import escaped_link, json_lines_safe, one_line
from bot.store import blends as store_blends
from bot.store import members as store_members
from bot.store import playlists as store
from bot.store import sessions as store_sessions
from bot.store.database import Database
from bot.store.playlists import Playlist, PlaylistEntry, PlaylistExistsError
from bot.store.sessions import QueueEntry, Session
from bot.store.tracks import get_track

#: The most tracks one playlist holds (Discord shows a playlist in one message).
MAX_TRACKS = 100
MAX_NAME = 100


class PlaylistError(CrateError):
    user_message = N_("Something went wrong with that playlist.")


class PlaylistNotFound(PlaylistError):
    user_message = N_("This server has no playlist by that name — see them all with /playlist show.")


class PlaylistExists(PlaylistError):
    user_message = N_("This server already has a playlist by that name — pick another name.")


class AboutPlaylist(PlaylistError):
    """An error whose sentence names the playlist (``{name}``)."""

    def __init__(self, name: str, **kwargs):
        super().__init__(values={"name": name}, **kwargs)


class NotPlaylistOwner(AboutPlaylist):
    user_message = N_("Only the owner of “{name}” (or a member with the Manage Server permission) can change it.")


class BlendByHand(AboutPlaylist):
    """A Blend's tracks are Crate's picks from its members' ratings (:mod:`bot.app.blends`): a
    track added or removed by hand would be undone at the next refill, so it is refused."""

    user_message = N_(
        "“{name}” is a Blend: Crate fills it from its members' likes and dislikes and refills it "
        "at least daily, so its tracks can't be changed by hand. To pick tracks yourself, make your "
        "own playlist with /playlist create."
    )


class BlendNotDeleted(AboutPlaylist):
    """A Blend belongs to all its members: one of them leaves it rather than ending it for the others."""

    user_message = N_(
        "“{name}” is a Blend, shared by its members: to drop out of it, use /blend leave (a Blend "
        "left with one member ends). Only a member with the Manage Server permission can delete it "
        "for everyone."
    )


class EmptyBlend(AboutPlaylist):
    user_message = N_(
        "“{name}” is a Blend with nothing in it yet: share tracks with /genre and rate them with "
        "👍 / 👎, and Crate fills it."
    )


class BadPlaylistName(PlaylistError):
    user_message = N_("A playlist's name is 1 to {limit} characters.")
    template_values: ClassVar[Mapping[str, object]] = {"limit": MAX_NAME}


class PlaylistFull(PlaylistError):
    user_message = N_("A playlist holds at most {limit} tracks.")
    template_values: ClassVar[Mapping[str, object]] = {"limit": MAX_TRACKS}


class EmptyPlaylist(PlaylistError):
    user_message = N_("That playlist is empty — add tracks with /playlist add.")


class NoTrackToAdd(PlaylistError):
    user_message = N_(
        "Which track? Nothing is playing here and you have no last track: share one with /genre, "
        "or pick one with the `track` option."
    )


class NotInPlaylist(PlaylistError):
    user_message = N_("That track isn't in the playlist.")


class NothingToSave(PlaylistError):
    user_message = N_("Nothing was played in that session, so there is nothing to save.")


@dataclass(frozen=True)
class AddResult:
    playlist: Playlist
    track: Track
    added: bool  # False: it was already in the playlist


@dataclass(frozen=True)
class PlayResult:
    playlist: Playlist
    session: Session
    started: bool  # a session was opened for it
    entries: tuple[QueueEntry, ...]  # what was queued (a new session's: every entry)


@dataclass(frozen=True)
class ExportedTrack:
    position: int
    track: Track
    source: str | None  # a fresh link; None for a file indexed from a local folder
    added_by: int | None


@dataclass(frozen=True)
class PlaylistExport:
    playlist: Playlist
    tracks: tuple[ExportedTrack, ...]

    @property
    def stem(self) -> str:
        """A file name for the playlist (letters, digits, dashes)."""
        safe = "".join(c if c.isalnum() else "-" for c in self.playlist.name.strip()).strip("-")
        return "-".join(part for part in safe.split("-") if part)[:60] or f"playlist-{self.playlist.id}"


def to_m3u(export: PlaylistExport) -> str:
    """Extended M3U: a header, then ``#EXTINF:seconds,title`` and the link of each track (a track
    without a link, indexed from a local folder, is kept as a comment). One entry a line, whatever
    the stored text holds: names and titles lose their line breaks and hidden controls, links
    have them percent-encoded (:mod:`bot.safe_text`)."""
    lines = ["#EXTM3U", f"#PLAYLIST:{one_line(export.playlist.name)}"]
    for item in export.tracks:
        lines.append(f"#EXTINF:{round(item.track.duration)},{one_line(item.track.title)}")
        lines.append(
            escaped_link(item.source) if item.source else f"# (no link: {one_line(item.track.title)} is a local file)"
        )
    return "\n".join(lines) + "\n"


def to_json(export: PlaylistExport, names: Mapping[int, str] | None = None) -> str:
    """The playlist as JSON: each track's title, source, duration, genres, styles and who added it."""
    names = names or {}
    playlist = export.playlist
    document = {
        "name": playlist.name,
        "owner": {"id": str(playlist.owner_id), "name": names.get(playlist.owner_id)},
        "created_at": playlist.created_at,
        "tracks": [
            {
                "position": item.position,
                "title": item.track.title,
                "source": item.source,
                "source_kind": item.track.source_kind,
                "duration": round(item.track.duration, 1),
                "genre": item.track.top_genre,
                "genres": [{"genre": g, "probability": round(p, 4)} for g, p in item.track.genres],
                "styles": top_tags(item.track),
                "added_by": None
                if item.added_by is None
                else {"id": str(item.added_by), "name": names.get(item.added_by)},
            }
            for item in export.tracks
        ],
    }
    return json_lines_safe(json.dumps(document, ensure_ascii=False, indent=2)) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())


SourceUrl = Callable[[Track], Awaitable["str | None"]]


async def _plain_source(track: Track) -> str | None:
    return track.source_url if track.source_kind != "file" else None


class PlaylistService:
    """Playlists over the database; sessions are started through :class:`SessionService`."""

    def __init__(self, db: Database, sessions: SessionService, *, source_url: SourceUrl = _plain_source):
        self.db = db
        self.sessions = sessions
        #: A track's link, fresh (Crate renews expiring attachment links through Discord).
        self.source_url = source_url

    # -- finding --------------------------------------------------------------------------------

    async def get(self, guild_id: int, name: str) -> Playlist:
        playlist = await store.playlist_by_name(self.db, guild_id, name.strip())
        if playlist is None:
            raise PlaylistNotFound(detail=f"guild {guild_id} playlist {name!r}")
        return playlist

    async def all(self, guild_id: int) -> list[Playlist]:
        return await store.playlists_in_guild(self.db, guild_id)

    async def search(self, guild_id: int, text: str, limit: int = 25) -> list[Playlist]:
        """Playlists whose name contains ``text`` (for autocomplete), those starting with it first."""
        needle = text.strip().casefold()
        found = [p for p in await self.all(guild_id) if needle in p.name.casefold()]
        found.sort(key=lambda p: not p.name.casefold().startswith(needle))
        return found[:limit]

    async def entries(self, guild_id: int, name: str) -> tuple[Playlist, list[PlaylistEntry]]:
        playlist = await self.get(guild_id, name)
        return playlist, await store.playlist_entries(self.db, guild_id, playlist.id)

    # -- changing -------------------------------------------------------------------------------

    async def create(self, guild_id: int, caller: Caller, name: str) -> Playlist:
        return await self._create(guild_id, caller.user_id, name)

    async def _create(self, guild_id: int, owner_id: int, name: str) -> Playlist:
        name = clean_name(name)
        if not 1 <= len(name) <= MAX_NAME:
            raise BadPlaylistName(detail=repr(name))
        refuse_look_alike(name, [p.name for p in await store.playlists_in_guild(self.db, guild_id)])
        try:
            return await store.create_playlist(self.db, guild_id, name, owner_id)
        except PlaylistExistsError as error:
            raise PlaylistExists(detail=error.detail) from error

    async def is_blend(self, guild_id: int, playlist: Playlist) -> bool:
        """Whether the playlist is a Blend (:mod:`bot.app.blends`), whose tracks Crate picks."""
        return await store_blends.is_blend(self.db, guild_id, playlist.id)

    async def _changeable(self, guild_id: int, caller: Caller, name: str) -> Playlist:
        """The playlist whose tracks the caller may change: theirs (or any, for a server manager),
        and never a Blend."""
        playlist = await self.get(guild_id, name)
        if await self.is_blend(guild_id, playlist):
            raise BlendByHand(playlist.name, detail=f"user {caller.user_id} blend {playlist.id}")
        self._check_owner(caller, playlist)
        return playlist

    @staticmethod
    def _check_owner(caller: Caller, playlist: Playlist) -> None:
        if caller.user_id != playlist.owner_id and not caller.manages_server:
            raise NotPlaylistOwner(playlist.name, detail=f"user {caller.user_id} playlist {playlist.id}")

    async def add(
        self, guild_id: int, caller: Caller, name: str, track_id: int | None = None, *, channel_id: int | None = None
    ) -> AddResult:
        """Add a track; by default the one playing in ``channel_id``'s session, else the caller's last track."""
        playlist = await self._changeable(guild_id, caller, name)
        if track_id is None:
            track_id = await self._default_track(guild_id, caller.user_id, channel_id)
        track = await get_track(self.db, guild_id, track_id)
        if track is None:
            raise UnknownTrack(detail=f"guild {guild_id} track {track_id}")
        if playlist.track_count >= MAX_TRACKS:
            raise PlaylistFull(detail=f"playlist {playlist.id}")
        added = await store.add_tracks(self.db, guild_id, playlist.id, [track.id], caller.user_id)
        return AddResult(await self.get(guild_id, playlist.name), track, bool(added))

    async def _default_track(self, guild_id: int, user_id: int, channel_id: int | None) -> int:
        if channel_id is not None:
            session = await store_sessions.get_open_session(self.db, guild_id, channel_id)
            if session is not None:
                playing = await store_sessions.current_entry(self.db, guild_id, session.id)
                if playing is not None:
                    return playing.track_id
        last = await store_members.last_track(self.db, guild_id, user_id)
        if last is None:
            raise NoTrackToAdd(detail=f"guild {guild_id} user {user_id}")
        return last

    async def remove(self, guild_id: int, caller: Caller, name: str, track_id: int) -> tuple[Playlist, Track]:
        playlist = await self._changeable(guild_id, caller, name)
        track = await get_track(self.db, guild_id, track_id)
        if track is None or not await store.remove_track(self.db, guild_id, playlist.id, track_id):
            raise NotInPlaylist(detail=f"playlist {playlist.id} track {track_id}")
        return await self.get(guild_id, playlist.name), track

    async def delete(self, guild_id: int, caller: Caller, name: str) -> Playlist:
        """Delete the playlist. A Blend is left with ``/blend leave`` by its members; only a server
        manager may delete one, which ends it for all of them (its blend rows go with it)."""
        playlist = await self.get(guild_id, name)
        if await self.is_blend(guild_id, playlist) and not caller.manages_server:
            raise BlendNotDeleted(playlist.name, detail=f"user {caller.user_id} blend {playlist.id}")
        self._check_owner(caller, playlist)
        await store.delete_playlist(self.db, guild_id, playlist.id)
        return playlist

    # -- using ----------------------------------------------------------------------------------

    async def play(
        self, guild_id: int, user_id: int, name: str, channel_id: int, *, voice_channel_id: int | None = None
    ) -> PlayResult:
        """Queue the playlist into this channel's session, or open one (hosted by ``user_id``) for it."""
        playlist, entries = await self.entries(guild_id, name)
        if not entries and await self.is_blend(guild_id, playlist):
            raise EmptyBlend(playlist.name, detail=f"blend {playlist.id}")
        if not entries:
            raise EmptyPlaylist(detail=f"playlist {playlist.id}")
        track_ids = [e.track_id for e in entries]
        reason = FROM_PLAYLIST.format(name=playlist.name)
        session = await store_sessions.get_open_session(self.db, guild_id, channel_id)
        if session is not None:
            queued = await self.sessions.add_tracks(session, track_ids, user_id, reason=reason)
            return PlayResult(playlist, session, False, tuple(queued))
        session = await self.sessions.start(
            guild_id, channel_id, user_id, voice_channel_id, first_tracks=track_ids, reason=reason
        )
        queued = await store_sessions.queue_of(self.db, guild_id, session.id)
        return PlayResult(playlist, session, True, tuple(queued))

    async def export(self, guild_id: int, name: str) -> PlaylistExport:
        playlist, entries = await self.entries(guild_id, name)
        tracks = []
        for entry in entries:
            track = await get_track(self.db, guild_id, entry.track_id)
            if track is None:  # removed meanwhile
                continue
            source = await self.source_url(track) if track.source_kind != "file" else None
            tracks.append(ExportedTrack(entry.position, track, source, entry.added_by))
        return PlaylistExport(playlist, tuple(tracks))

    async def save_session(self, guild_id: int, caller: Caller, session_id: int, name: str | None = None) -> Playlist:
        """A session's played tracks (skipped ones left out) as a new playlist the caller owns."""
        session = await store_sessions.get_session(self.db, guild_id, session_id)
        if session is None:
            raise NothingToSave(detail=f"guild {guild_id} session {session_id}")
        played = await store_sessions.queue_of(self.db, guild_id, session_id, statuses=("played", "playing"))
        played.sort(key=lambda e: (e.started_at or 0.0, e.position))
        track_ids = list(dict.fromkeys(e.track_id for e in played))[:MAX_TRACKS]
        if not track_ids:
            raise NothingToSave(detail=f"session {session_id}")
        day = time.strftime("%Y-%m-%d", time.gmtime(session.started_at))
        playlist = await self._create(guild_id, caller.user_id, name or f"Session {session_id} ({day})")
        await store.add_tracks(self.db, guild_id, playlist.id, track_ids, caller.user_id)
        return await self.get(guild_id, playlist.name)


__all__ = [
    "MAX_TRACKS",
    "AddResult",
    "BadPlaylistName",
    "BlendByHand",
    "BlendNotDeleted",
    "EmptyBlend",
    "EmptyPlaylist",
    "ExportedTrack",
    "NoTrackToAdd",
    "NotInPlaylist",
    "NotPlaylistOwner",
    "NothingToSave",
    "PlayResult",
    "PlaylistError",
    "PlaylistExists",
    "PlaylistExport",
    "PlaylistFull",
    "PlaylistNotFound",
    "PlaylistService",
    "to_json",
    "to_m3u",
]
