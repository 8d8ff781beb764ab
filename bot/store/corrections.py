"""The ``corrections`` table: members telling Crate a track's right genre (one answer per member and track)."""

from __future__ import annotations

import time

from bot.catalog import Correction
from bot.store.database import Database, unknown_track_on_foreign_key

_COLUMNS = "guild_id, track_id, user_id, genre, corrected_at"


def _correction(row) -> Correction:
    return Correction(guild_id=row[0], track_id=row[1], user_id=row[2], genre=row[3], corrected_at=row[4])


async def record_correction(
    db: Database, guild_id: int, user_id: int, track_id: int, genre: str, *, now: float | None = None
) -> str | None:
    """Record (or replace) this member's answer for a track; returns the answer it replaced, if any.

    Raises :class:`UnknownTrack` if the track is not in this guild.
    """
    async with db.transaction():
        previous = await db.fetch_value(
            "SELECT genre FROM corrections WHERE guild_id = ? AND track_id = ? AND user_id = ?",
            (guild_id, track_id, user_id),
        )
        with unknown_track_on_foreign_key(f"guild {guild_id} has no track {track_id}"):
            await db.execute(
                f"INSERT INTO corrections ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (guild_id, track_id, user_id)"
                " DO UPDATE SET genre = excluded.genre, corrected_at = excluded.corrected_at",
                (guild_id, track_id, user_id, genre, time.time() if now is None else float(now)),
            )
    return previous


async def corrections_in_guild(db: Database, guild_id: int) -> list[Correction]:
    """Every correction of this guild, oldest first."""
    rows = await db.fetch_all(
        f"SELECT {_COLUMNS} FROM corrections WHERE guild_id = ? ORDER BY corrected_at, track_id, user_id",
        (guild_id,),
    )
    return [_correction(row) for row in rows]


async def guilds_with_corrections(db: Database) -> set[int]:
    """The guilds whose members have corrected at least one track (their heads change what is shown)."""
    return {int(row[0]) for row in await db.fetch_rows("SELECT DISTINCT guild_id FROM corrections")}


async def corrections_of_track(db: Database, guild_id: int, track_id: int) -> list[Correction]:
    """Every member's answer for one track, oldest first."""
    rows = await db.fetch_all(
        f"SELECT {_COLUMNS} FROM corrections WHERE guild_id = ? AND track_id = ? ORDER BY corrected_at, user_id",
        (guild_id, track_id),
    )
    return [_correction(row) for row in rows]


async def delete_corrections_of(db: Database, guild_id: int, user_id: int) -> int:
    """Forget every correction by this member in this guild; returns how many were removed."""
    return await db.execute("DELETE FROM corrections WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))
