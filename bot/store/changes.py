"""How many times each server's tracks and ratings have changed (the ``catalog_changes`` table).

Triggers keep the counts (migration 9), in the transaction of the change, whichever process made
it; what caches a server's catalog compares them with the counts it was built at.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.store.database import Database


@dataclass(frozen=True)
class Changes:
    """Changes so far to one server's tracks and to its ratings."""

    tracks: int = 0
    ratings: int = 0


async def changes_of(db: Database, guild_id: int) -> Changes:
    """The server's change counts: one primary-key lookup."""
    row = await db.fetch_one("SELECT tracks, ratings FROM catalog_changes WHERE guild_id = ?", (guild_id,))
    return Changes(int(row[0]), int(row[1])) if row is not None else Changes()


async def track_changes(db: Database) -> dict[int, int]:
    """Every server's count of changes to its tracks (a database without a change channel, SQLite,
    is polled with it for what other processes did)."""
    return {int(g): int(n) for g, n in await db.fetch_all("SELECT guild_id, tracks FROM catalog_changes")}
