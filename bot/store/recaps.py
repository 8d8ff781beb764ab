"""What a recap counts that the ratings do not hold (plays, first shares), and the monthly posts
already made: ``recap_posts`` (schema in ``migrations/0011_blends_and_recaps.sql``).

Periods are ``[start, end)`` in Unix seconds; every function takes the guild id and filters on it.
"""

from __future__ import annotations

import time

from bot.store.database import Database


async def plays_between(
    db: Database, guild_id: int, start: float, end: float, *, user_id: int | None = None, limit: int = 10
) -> list[tuple[int, int]]:
    """(track id, times played) of the tracks most played in listening sessions in the period,
    most first; with ``user_id``, only in sessions that member took part in."""
    member = (
        ""
        if user_id is None
        else " AND EXISTS (SELECT 1 FROM session_members m WHERE m.guild_id = q.guild_id"
        " AND m.session_id = q.session_id AND m.user_id = ?)"
    )
    params: tuple = (guild_id, float(start), float(end), *(() if user_id is None else (user_id,)), int(limit))
    rows = await db.fetch_rows(
        "SELECT q.track_id, count(*) AS plays FROM session_queue q"
        " WHERE q.guild_id = ? AND q.status IN ('played', 'playing') AND q.started_at >= ? AND q.started_at < ?"
        f"{member} GROUP BY q.track_id ORDER BY plays DESC, q.track_id LIMIT ?",
        params,
    )
    return [(int(t), int(n)) for t, n in rows]


async def first_shares_between(
    db: Database, guild_id: int, start: float, end: float, *, user_id: int | None = None
) -> list[tuple[int, int, float]]:
    """(track id, user id, shared at) of the tracks first shared in this server during the period
    (nobody had shared them before), earliest first; with ``user_id``, those that member shared first."""
    rows = await db.fetch_rows(
        "SELECT s.track_id, s.user_id, s.shared_at FROM shares s"
        " WHERE s.guild_id = ? AND s.shared_at >= ? AND s.shared_at < ?"
        " AND NOT EXISTS (SELECT 1 FROM shares e WHERE e.guild_id = s.guild_id AND e.track_id = s.track_id"
        " AND (e.shared_at < s.shared_at OR (e.shared_at = s.shared_at AND e.user_id < s.user_id)))"
        + ("" if user_id is None else " AND s.user_id = ?")
        + " ORDER BY s.shared_at, s.track_id",
        (guild_id, float(start), float(end), *(() if user_id is None else (user_id,))),
    )
    return [(int(t), int(u), float(at)) for t, u, at in rows]


async def claim_recap_post(
    db: Database, guild_id: int, period: str, *, channel_id: int | None, now: float | None = None
) -> bool:
    """Claim the right to post this server's recap of ``period`` ("2026-11"); False: it was
    claimed (posted) already, by this process before a restart or by another."""
    return (
        await db.execute(
            "INSERT INTO recap_posts (guild_id, period, posted_at, channel_id) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (guild_id, period) DO NOTHING",
            (guild_id, period, time.time() if now is None else float(now), channel_id),
        )
        > 0
    )


async def release_recap_post(db: Database, guild_id: int, period: str) -> None:
    """Give a claim back (the post failed), so the next round tries again."""
    await db.execute("DELETE FROM recap_posts WHERE guild_id = ? AND period = ?", (guild_id, period))


async def recap_posted(db: Database, guild_id: int, period: str) -> bool:
    return bool(
        await db.fetch_value("SELECT count(*) FROM recap_posts WHERE guild_id = ? AND period = ?", (guild_id, period))
    )


__all__ = ["claim_recap_post", "first_shares_between", "plays_between", "recap_posted", "release_recap_post"]
