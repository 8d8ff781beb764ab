"""The ``members`` table (per-member state), and forgetting a member entirely."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bot.store import blends, corrections, playlists, ratings, sessions, shares, tracks
from bot.store.database import Database, unknown_track_on_foreign_key


@dataclass(frozen=True)
class ForgetReport:
    """What :func:`forget_member` removed."""

    ratings: int
    shares: int
    tracks_removed: int
    corrections: int = 0  # genre corrections (the server's head then forgets what they taught)
    #: The Blends they left: those still of two members or more (to refill without them), and
    #: those deleted for it (their playlist ids).
    blends_left: tuple[int, ...] = ()
    blends_deleted: tuple[int, ...] = ()

    @property
    def anything(self) -> bool:
        return bool(self.ratings or self.shares or self.tracks_removed or self.corrections)


async def set_last_track(
    db: Database, guild_id: int, user_id: int, track_id: int | None, *, now: float | None = None
) -> None:
    """Remember the track this member last analyzed or was recommended (None clears it).

    Raises :class:`UnknownTrack` if the track is not in this guild.
    """
    with unknown_track_on_foreign_key(f"guild {guild_id} has no track {track_id}"):
        await db.execute(
            "INSERT INTO members (guild_id, user_id, last_track_id, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (guild_id, user_id)"
            " DO UPDATE SET last_track_id = excluded.last_track_id, updated_at = excluded.updated_at",
            (guild_id, user_id, track_id, time.time() if now is None else float(now)),
        )


async def last_track(db: Database, guild_id: int, user_id: int) -> int | None:
    """The id of the member's last track in this guild, or None."""
    return await db.fetch_value(
        "SELECT last_track_id FROM members WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
    )


async def remember_name(
    db: Database, guild_id: int, user_id: int, display_name: str, *, now: float | None = None
) -> None:
    """Remember how this member is called in this guild (the latest name wins)."""
    await db.execute(
        "INSERT INTO members (guild_id, user_id, display_name, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (guild_id, user_id)"
        " DO UPDATE SET display_name = excluded.display_name, updated_at = excluded.updated_at",
        (guild_id, user_id, display_name, time.time() if now is None else float(now)),
    )


async def display_names(db: Database, guild_id: int) -> dict[int, str]:
    """Every remembered member name in this guild, by user id."""
    rows = await db.fetch_all(
        "SELECT user_id, display_name FROM members WHERE guild_id = ? AND display_name IS NOT NULL", (guild_id,)
    )
    return {int(user_id): name for user_id, name in rows}


async def forget_member(db: Database, guild_id: int, user_id: int) -> ForgetReport:
    """Delete everything Crate stores about this member in this guild, atomically.

    Removed: the member's ratings, their genre corrections, their shares, their ``members`` row
    (with their remembered display name), their playlists, their Blend memberships (a Blend left
    with one member is deleted) and their listening-session memberships
    and votes. Tracks they added stay in the guild's library but are no longer attributed to them
    (``added_by`` becomes NULL), as are what they added to others' playlists and session queues.
    A track this member added *or* shared is deleted outright only when nobody else relies on it
    (:func:`bot.store.tracks.delete_unreferenced`: nobody else shares, rates or corrects it, it is
    in no other member's playlist, nor in a session another member took part in); deleting it
    clears other members' ``last_track`` pointers to it. Open sessions they host are handed to the
    member present longest or closed, and no session names them as host. Other guilds are
    untouched.
    Afterwards the WAL is checkpointed and truncated, so the deleted rows do not linger there
    (and ``secure_delete`` has overwritten them in the file).
    """
    async with db.transaction():
        involved = set(await tracks.track_ids_added_by(db, guild_id, user_id))
        involved.update(share.track_id for share in await shares.shares_of(db, guild_id, user_id))
        removed_ratings = await ratings.delete_ratings_of(db, guild_id, user_id)
        removed_shares = await shares.delete_shares_of(db, guild_id, user_id)
        removed_corrections = await corrections.delete_corrections_of(db, guild_id, user_id)
        await db.execute("DELETE FROM members WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))
        left = await blends.forget_member_blends(db, guild_id, user_id)  # before their playlists go
        await playlists.forget_member_playlists(db, guild_id, user_id)
        await sessions.forget_member_sessions(db, guild_id, user_id)
        removed_tracks = await tracks.delete_unreferenced(db, guild_id, involved)
        await tracks.clear_added_by(db, guild_id, user_id)
    await db.checkpoint()
    return ForgetReport(
        ratings=removed_ratings,
        shares=removed_shares,
        tracks_removed=removed_tracks,
        corrections=removed_corrections,
        blends_left=tuple(b.playlist.id for b in left if not b.deleted),
        blends_deleted=tuple(b.playlist.id for b in left if b.deleted),
    )
