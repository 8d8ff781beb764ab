"""The ``shares`` table: which member shared which track (several members may share one)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bot.store.database import Database, unknown_track_on_foreign_key


@dataclass(frozen=True)
class Share:
    guild_id: int
    track_id: int
    user_id: int
    shared_at: float


def _share(row) -> Share:
    return Share(guild_id=row[0], track_id=row[1], user_id=row[2], shared_at=row[3])


async def record_share(db: Database, guild_id: int, user_id: int, track_id: int, *, now: float | None = None) -> bool:
    """Remember that ``user_id`` shared ``track_id``; False if they had shared it before.

    The first share's time is kept. Raises :class:`UnknownTrack` if the track is not in
    this guild (composite foreign key).
    """
    with unknown_track_on_foreign_key(f"guild {guild_id} has no track {track_id}"):
        changed = await db.execute(
            "INSERT INTO shares (guild_id, track_id, user_id, shared_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (guild_id, track_id, user_id) DO NOTHING",
            (guild_id, track_id, user_id, time.time() if now is None else now),
        )
    return changed > 0


async def sharers_of(db: Database, guild_id: int, track_id: int) -> list[Share]:
    """Everyone who shared this track, first sharer first."""
    rows = await db.fetch_all(
        "SELECT guild_id, track_id, user_id, shared_at FROM shares"
        " WHERE guild_id = ? AND track_id = ? ORDER BY shared_at, user_id",
        (guild_id, track_id),
    )
    return [_share(row) for row in rows]


async def shares_of(db: Database, guild_id: int, user_id: int) -> list[Share]:
    """Every track this member shared in this guild, most recent first."""
    rows = await db.fetch_all(
        "SELECT guild_id, track_id, user_id, shared_at FROM shares"
        " WHERE guild_id = ? AND user_id = ? ORDER BY shared_at DESC, track_id DESC",
        (guild_id, user_id),
    )
    return [_share(row) for row in rows]


async def top_sharers(
    db: Database, guild_id: int, *, since: float | None = None, limit: int = 10
) -> list[tuple[int, int]]:
    """``(user_id, tracks shared)`` of the members who shared most (since ``since``), most first."""
    return await db.fetch_rows(
        "SELECT user_id, count(*) AS shared FROM shares WHERE guild_id = ? AND shared_at >= ?"
        " GROUP BY user_id ORDER BY shared DESC, min(shared_at), user_id LIMIT ?",
        (guild_id, float("-inf") if since is None else float(since), max(0, int(limit))),
    )


async def delete_shares_of(db: Database, guild_id: int, user_id: int) -> int:
    """Forget every share by this member in this guild; returns how many were removed."""
    return await db.execute("DELETE FROM shares WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))
