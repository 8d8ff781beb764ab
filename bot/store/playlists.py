"""Saved playlists: ``playlists`` and ``playlist_tracks`` (schema in ``migrations/0007_playlists_and_radio.sql``).

Every function takes the guild id and filters on it. Names are unique per guild ignoring (ASCII) case
(a unique index on ``lower(name)``, plain SQL that PostgreSQL shares): :func:`create_playlist` turns that conflict into :class:`PlaylistExistsError`.
Who may change a playlist is decided above, in :mod:`bot.app.playlists`; this module only stores.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from bot.i18n import N_
from bot.store.database import Database, fits_integer, is_unique_violation, unknown_track_on_foreign_key
from bot.store.errors import StoreError


class PlaylistExistsError(StoreError):
    user_message = N_("This server already has a playlist with that name.")


@dataclass(frozen=True)
class Playlist:
    id: int
    guild_id: int
    name: str
    owner_id: int
    created_at: float
    track_count: int = 0


@dataclass(frozen=True)
class PlaylistEntry:
    """One track of a playlist, with what an export needs of the catalog track."""

    position: int
    track_id: int
    title: str
    top_genre: str | None
    added_by: int | None  # None: that member used /forget
    added_at: float


_PLAYLIST = (
    "p.id, p.guild_id, p.name, p.owner_id, p.created_at,"
    " (SELECT count(*) FROM playlist_tracks e WHERE e.guild_id = p.guild_id AND e.playlist_id = p.id)"
)


def _now(now: float | None) -> float:
    return time.time() if now is None else float(now)


async def create_playlist(
    db: Database, guild_id: int, name: str, owner_id: int, *, now: float | None = None
) -> Playlist:
    """A new, empty playlist; raises :class:`PlaylistExistsError` when the name is taken here."""
    created = _now(now)
    with _name_taken_is_typed(guild_id, name):
        playlist_id = await db.insert(
            "INSERT INTO playlists (guild_id, name, owner_id, created_at) VALUES (?, ?, ?, ?)",
            (guild_id, name, owner_id, created),
        )
    return Playlist(playlist_id, guild_id, name, owner_id, created, 0)


async def rename_playlist(db: Database, guild_id: int, playlist_id: int, name: str) -> bool:
    """Give a playlist another name (False: no such playlist); raises :class:`PlaylistExistsError`
    when the name is taken here."""
    with _name_taken_is_typed(guild_id, name):
        changed = await db.execute(
            "UPDATE playlists SET name = ? WHERE guild_id = ? AND id = ?", (name, guild_id, playlist_id)
        )
    return changed > 0


@contextmanager
def _name_taken_is_typed(guild_id: int, name: str) -> Iterator[None]:
    """The unique index on ``lower(name)`` refusing ``name`` becomes :class:`PlaylistExistsError`."""
    try:
        yield
    except Exception as error:
        if is_unique_violation(error):
            raise PlaylistExistsError(detail=f"guild {guild_id} playlist {name!r}") from error
        raise


async def playlist_by_name(db: Database, guild_id: int, name: str) -> Playlist | None:
    row = await db.fetch_one(
        f"SELECT {_PLAYLIST} FROM playlists p WHERE p.guild_id = ? AND lower(p.name) = lower(?)", (guild_id, name)
    )
    return None if row is None else Playlist(*row)


async def get_playlist(db: Database, guild_id: int, playlist_id: int) -> Playlist | None:
    if not fits_integer(playlist_id):
        return None
    row = await db.fetch_one(
        f"SELECT {_PLAYLIST} FROM playlists p WHERE p.guild_id = ? AND p.id = ?", (guild_id, playlist_id)
    )
    return None if row is None else Playlist(*row)


async def playlists_in_guild(db: Database, guild_id: int) -> list[Playlist]:
    """Every playlist of the guild, by name."""
    rows = await db.fetch_all(
        f"SELECT {_PLAYLIST} FROM playlists p WHERE p.guild_id = ? ORDER BY lower(p.name), p.id", (guild_id,)
    )
    return [Playlist(*row) for row in rows]


async def delete_playlist(db: Database, guild_id: int, playlist_id: int) -> bool:
    return await db.execute("DELETE FROM playlists WHERE guild_id = ? AND id = ?", (guild_id, playlist_id)) > 0


async def set_owner(db: Database, guild_id: int, playlist_id: int, owner_id: int) -> bool:
    """Hand the playlist to another member (a Blend whose owner left it)."""
    return (
        await db.execute(
            "UPDATE playlists SET owner_id = ? WHERE guild_id = ? AND id = ?", (owner_id, guild_id, playlist_id)
        )
        > 0
    )


async def add_tracks(
    db: Database,
    guild_id: int,
    playlist_id: int,
    track_ids: Sequence[int],
    added_by: int | None,
    *,
    now: float | None = None,
) -> list[int]:
    """Append tracks (in order) that are not in the playlist yet; returns the ids added.

    Raises :class:`~bot.catalog.UnknownTrack` when a track is not in this guild.
    """
    added_at = _now(now)
    added: list[int] = []
    with unknown_track_on_foreign_key(f"guild {guild_id} playlist {playlist_id}: unknown track in {list(track_ids)}"):
        async with db.transaction():
            position = await db.fetch_value(
                "SELECT coalesce(max(position), 0) FROM playlist_tracks WHERE guild_id = ? AND playlist_id = ?",
                (guild_id, playlist_id),
            )
            for track_id in dict.fromkeys(int(t) for t in track_ids):
                changed = await db.execute(
                    "INSERT INTO playlist_tracks (guild_id, playlist_id, track_id, position, added_by, added_at)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (guild_id, playlist_id, track_id, position + 1, added_by, added_at),
                )
                if changed:
                    position += 1
                    added.append(track_id)
    return added


async def remove_track(db: Database, guild_id: int, playlist_id: int, track_id: int) -> bool:
    """Take a track out of the playlist (the others keep their order); False if it was not in it."""
    return (
        await db.execute(
            "DELETE FROM playlist_tracks WHERE guild_id = ? AND playlist_id = ? AND track_id = ?",
            (guild_id, playlist_id, track_id),
        )
        > 0
    )


async def playlist_entries(db: Database, guild_id: int, playlist_id: int) -> list[PlaylistEntry]:
    """The playlist's tracks in order, numbered 1, 2, 3... (gaps left by removals closed)."""
    rows = await db.fetch_rows(
        "SELECT e.track_id, t.title, t.top_genre, e.added_by, e.added_at FROM playlist_tracks e"
        " JOIN tracks t ON t.guild_id = e.guild_id AND t.id = e.track_id"
        " WHERE e.guild_id = ? AND e.playlist_id = ? ORDER BY e.position",
        (guild_id, playlist_id),
    )
    return [PlaylistEntry(i, *row) for i, row in enumerate(rows, 1)]


async def forget_member_playlists(db: Database, guild_id: int, user_id: int) -> int:
    """For /forget: delete the member's playlists and unattribute what they added to others'.

    Returns how many playlists were deleted.
    """
    async with db.transaction():
        deleted = await db.execute("DELETE FROM playlists WHERE guild_id = ? AND owner_id = ?", (guild_id, user_id))
        await db.execute(
            "UPDATE playlist_tracks SET added_by = NULL WHERE guild_id = ? AND added_by = ?", (guild_id, user_id)
        )
    return deleted


__all__ = [
    "Playlist",
    "PlaylistEntry",
    "PlaylistExistsError",
    "add_tracks",
    "create_playlist",
    "delete_playlist",
    "forget_member_playlists",
    "get_playlist",
    "playlist_by_name",
    "playlist_entries",
    "playlists_in_guild",
    "remove_track",
    "set_owner",
]
