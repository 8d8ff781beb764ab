"""Blend playlists: ``blends``, ``blend_members`` and ``blend_tracks`` (schema in
``migrations/0011_blends_and_recaps.sql``).

A blend is a row of ``playlists`` (its tracks are ``playlist_tracks``, so ``/playlist play`` and
``export`` work on it) with members and, for each track, the members it is for. Every function
takes the guild id and filters on it. What goes in a blend is decided above, in
:mod:`bot.app.blends`; this module only stores.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bot.store import playlists as store_playlists
from bot.store.database import Database, fits_integer
from bot.store.playlists import Playlist


@dataclass(frozen=True)
class Blend:
    playlist: Playlist
    member_ids: tuple[int, ...]  # by when they joined
    refreshed_at: float
    together_track_id: int | None  # the first track, when Crate found the song that brings them together
    taste_match: float | None  # at the last refresh; None: not enough ratings


@dataclass(frozen=True)
class LeftBlend:
    """What leaving a blend did: who is left, and whether the blend (and its playlist) went."""

    playlist: Playlist
    remaining: tuple[int, ...]
    deleted: bool


#: A blend with fewer members than this is deleted (a Blend is for two to six members).
MIN_MEMBERS = 2


def _now(now: float | None) -> float:
    return time.time() if now is None else float(now)


async def create_blend(
    db: Database, guild_id: int, name: str, owner_id: int, member_ids: Sequence[int], *, now: float | None = None
) -> Blend:
    """A new, empty playlist that is a blend of ``member_ids`` (raises
    :class:`~bot.store.playlists.PlaylistExistsError` when the name is taken)."""
    created = _now(now)
    members = tuple(dict.fromkeys(int(u) for u in member_ids))
    async with db.transaction():
        playlist = await store_playlists.create_playlist(db, guild_id, name, owner_id, now=created)
        await db.execute(
            "INSERT INTO blends (guild_id, playlist_id, refreshed_at) VALUES (?, ?, ?)",
            (guild_id, playlist.id, created),
        )
        await db.execute_many(
            "INSERT INTO blend_members (guild_id, playlist_id, user_id, joined_at) VALUES (?, ?, ?, ?)",
            [(guild_id, playlist.id, user_id, created + i * 1e-6) for i, user_id in enumerate(members)],
        )
    return Blend(playlist, members, created, None, None)


async def get_blend(db: Database, guild_id: int, playlist_id: int) -> Blend | None:
    if not fits_integer(playlist_id):
        return None
    row = await db.fetch_one(
        "SELECT refreshed_at, together_track_id, taste_match FROM blends WHERE guild_id = ? AND playlist_id = ?",
        (guild_id, playlist_id),
    )
    playlist = await store_playlists.get_playlist(db, guild_id, playlist_id)
    if row is None or playlist is None:
        return None
    members = await db.fetch_all(
        "SELECT user_id FROM blend_members WHERE guild_id = ? AND playlist_id = ? ORDER BY joined_at, user_id",
        (guild_id, playlist_id),
    )
    return Blend(playlist, tuple(int(m[0]) for m in members), float(row[0]), row[1], row[2])


async def is_blend(db: Database, guild_id: int, playlist_id: int) -> bool:
    """Whether the playlist is a blend (Crate refills its tracks; nobody edits them by hand)."""
    if not fits_integer(playlist_id):
        return False
    row = await db.fetch_one("SELECT 1 FROM blends WHERE guild_id = ? AND playlist_id = ?", (guild_id, playlist_id))
    return row is not None


async def blend_ids_of_member(db: Database, guild_id: int, user_id: int) -> list[int]:
    """The playlist ids of the blends this member is in."""
    rows = await db.fetch_all(
        "SELECT playlist_id FROM blend_members WHERE guild_id = ? AND user_id = ? ORDER BY playlist_id",
        (guild_id, user_id),
    )
    return [int(r[0]) for r in rows]


async def blend_ids_in_guild(db: Database, guild_id: int) -> list[int]:
    rows = await db.fetch_all("SELECT playlist_id FROM blends WHERE guild_id = ? ORDER BY playlist_id", (guild_id,))
    return [int(r[0]) for r in rows]


async def blends_due(db: Database, refreshed_before: float) -> list[tuple[int, int]]:
    """(guild id, playlist id) of every blend last refreshed before that time, oldest first."""
    rows = await db.fetch_all(
        "SELECT guild_id, playlist_id FROM blends WHERE refreshed_at < ? ORDER BY refreshed_at, guild_id, playlist_id",
        (float(refreshed_before),),
    )
    return [(int(r[0]), int(r[1])) for r in rows]


async def replace_blend_tracks(
    db: Database,
    guild_id: int,
    playlist_id: int,
    picks: Sequence[tuple[int, Sequence[int]]],
    *,
    together_track_id: int | None,
    taste_match: float | None,
    now: float | None = None,
) -> bool:
    """The blend's new tracks, in order, each with the members it is for (added by nobody: Crate
    picked them), in one transaction with its refresh time, together track and taste match.

    False, with nothing written, when the blend was deleted while its picks were worked out (its
    last member left, a server manager deleted it); picks whose track was forgotten meanwhile
    are left out.
    """
    refreshed = _now(now)
    async with db.transaction():
        if not await is_blend(db, guild_id, playlist_id):
            return False
        wanted = json.dumps(sorted({int(t) for t, _ in picks}))
        still_there = {
            int(r[0])
            for r in await db.fetch_all(
                f"SELECT id FROM tracks WHERE guild_id = ? AND id IN ({db.dialect.id_list()})", (guild_id, wanted)
            )
        }
        picks = [(t, for_ids) for t, for_ids in picks if int(t) in still_there]
        if together_track_id is not None and together_track_id not in still_there:
            together_track_id = None
        members = {
            int(r[0])
            for r in await db.fetch_all(
                "SELECT user_id FROM blend_members WHERE guild_id = ? AND playlist_id = ?", (guild_id, playlist_id)
            )
        }
        await db.execute("DELETE FROM playlist_tracks WHERE guild_id = ? AND playlist_id = ?", (guild_id, playlist_id))
        await db.execute_many(
            "INSERT INTO playlist_tracks (guild_id, playlist_id, track_id, position, added_by, added_at)"
            " VALUES (?, ?, ?, ?, NULL, ?)",
            [(guild_id, playlist_id, int(t), i, refreshed) for i, (t, _) in enumerate(picks, 1)],
        )
        await db.execute_many(
            "INSERT INTO blend_tracks (guild_id, playlist_id, track_id, user_id) VALUES (?, ?, ?, ?)",
            [
                (guild_id, playlist_id, int(t), int(u))
                for t, for_ids in picks
                for u in dict.fromkeys(for_ids)
                if int(u) in members
            ],
        )
        await db.execute(
            "UPDATE blends SET refreshed_at = ?, together_track_id = ?, taste_match = ?"
            " WHERE guild_id = ? AND playlist_id = ?",
            (refreshed, together_track_id, taste_match, guild_id, playlist_id),
        )
    return True


async def blend_track_members(db: Database, guild_id: int, playlist_id: int) -> dict[int, tuple[int, ...]]:
    """Who each of the blend's tracks is for, by track id."""
    rows = await db.fetch_all(
        "SELECT b.track_id, b.user_id FROM blend_tracks b"
        " JOIN blend_members m ON m.guild_id = b.guild_id AND m.playlist_id = b.playlist_id AND m.user_id = b.user_id"
        " WHERE b.guild_id = ? AND b.playlist_id = ? ORDER BY b.track_id, m.joined_at",
        (guild_id, playlist_id),
    )
    out: dict[int, list[int]] = {}
    for track_id, user_id in rows:
        out.setdefault(int(track_id), []).append(int(user_id))
    return {t: tuple(u) for t, u in out.items()}


async def leave_blend(db: Database, guild_id: int, playlist_id: int, user_id: int) -> LeftBlend | None:
    """Take a member out of a blend (None: they were not in it). A blend left with fewer than
    :data:`MIN_MEMBERS` is deleted with its playlist; one the leaver owned passes to the member
    there longest."""
    async with db.transaction():
        playlist = await store_playlists.get_playlist(db, guild_id, playlist_id)
        gone = await db.execute(
            "DELETE FROM blend_members WHERE guild_id = ? AND playlist_id = ? AND user_id = ?",
            (guild_id, playlist_id, user_id),
        )
        if playlist is None or not gone:
            return None
        rows = await db.fetch_all(
            "SELECT user_id FROM blend_members WHERE guild_id = ? AND playlist_id = ? ORDER BY joined_at, user_id",
            (guild_id, playlist_id),
        )
        remaining = tuple(int(r[0]) for r in rows)
        if len(remaining) < MIN_MEMBERS:
            await store_playlists.delete_playlist(db, guild_id, playlist_id)
            return LeftBlend(playlist, remaining, True)
        if playlist.owner_id == user_id:
            await store_playlists.set_owner(db, guild_id, playlist_id, remaining[0])
        return LeftBlend(playlist, remaining, False)


async def forget_member_blends(db: Database, guild_id: int, user_id: int) -> list[LeftBlend]:
    """For /forget (before the member's playlists are deleted): leave every blend they are in."""
    left = []
    async with db.transaction():
        for playlist_id in await blend_ids_of_member(db, guild_id, user_id):
            result = await leave_blend(db, guild_id, playlist_id, user_id)
            if result is not None:
                left.append(result)
    return left


__all__ = [
    "MIN_MEMBERS",
    "Blend",
    "LeftBlend",
    "blend_ids_in_guild",
    "blend_ids_of_member",
    "blend_track_members",
    "blends_due",
    "create_blend",
    "forget_member_blends",
    "get_blend",
    "is_blend",
    "leave_blend",
    "replace_blend_tracks",
]
