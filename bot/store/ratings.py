"""The ``ratings`` table: members like (+1) or dislike (-1) tracks; rating again replaces."""

from __future__ import annotations

import time

from bot.catalog import DISLIKE, LIKE, Rating, TrackScore
from bot.store.database import Database, unknown_track_on_foreign_key

_COLUMNS = "guild_id, user_id, track_id, value, rated_at"


def _rating(row) -> Rating:
    return Rating(guild_id=row[0], user_id=row[1], track_id=row[2], value=row[3], rated_at=row[4])


async def rate(
    db: Database, guild_id: int, user_id: int, track_id: int, value: int, *, now: float | None = None
) -> Rating:
    """Record (or replace) this member's rating of a track in this guild.

    A dislike also takes the track out of the member's Blends, in the same transaction: a Blend
    never holds what one of its members dislikes, even before its refill (which may fail) runs.

    Raises :class:`UnknownTrack` if the track is not in this guild.
    """
    if value not in (LIKE, DISLIKE):
        raise ValueError(f"a rating is {LIKE} (like) or {DISLIKE} (dislike), not {value!r}")
    rating = Rating(guild_id, user_id, track_id, int(value), time.time() if now is None else float(now))
    upsert = (
        f"INSERT INTO ratings ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (guild_id, user_id, track_id)"
        " DO UPDATE SET value = excluded.value, rated_at = excluded.rated_at",
        (rating.guild_id, rating.user_id, rating.track_id, rating.value, rating.rated_at),
    )
    with unknown_track_on_foreign_key(f"guild {guild_id} has no track {track_id}"):
        if rating.value == LIKE:  # one statement: no transaction (nor PostgreSQL's writer lock) needed
            await db.execute(*upsert)
            return rating
        async with db.transaction():
            await db.execute(*upsert)
            await db.execute(
                "DELETE FROM playlist_tracks WHERE guild_id = ? AND track_id = ? AND playlist_id IN"
                " (SELECT playlist_id FROM blend_members WHERE guild_id = ? AND user_id = ?)",
                (guild_id, track_id, guild_id, user_id),
            )
    return rating


async def clear_rating(db: Database, guild_id: int, user_id: int, track_id: int) -> bool:
    """Withdraw this member's rating of a track; False if there was none."""
    changed = await db.execute(
        "DELETE FROM ratings WHERE guild_id = ? AND user_id = ? AND track_id = ?", (guild_id, user_id, track_id)
    )
    return changed > 0


async def rating_of(db: Database, guild_id: int, user_id: int, track_id: int) -> int | None:
    """This member's current rating of a track (+1 / -1), or None."""
    return await db.fetch_value(
        "SELECT value FROM ratings WHERE guild_id = ? AND user_id = ? AND track_id = ?",
        (guild_id, user_id, track_id),
    )


async def ratings_of(db: Database, guild_id: int, user_id: int) -> list[Rating]:
    """Every rating by this member in this guild, most recent first."""
    rows = await db.fetch_all(
        f"SELECT {_COLUMNS} FROM ratings WHERE guild_id = ? AND user_id = ? ORDER BY rated_at DESC, track_id",
        (guild_id, user_id),
    )
    return [_rating(row) for row in rows]


async def ratings_in_guild(db: Database, guild_id: int) -> list[Rating]:
    """Every rating in this guild (for collaborative signals), by member then track."""
    rows = await db.fetch_rows(
        f"SELECT {_COLUMNS} FROM ratings WHERE guild_id = ? ORDER BY user_id, track_id", (guild_id,)
    )
    return [_rating(row) for row in rows]


async def track_scores(db: Database, guild_id: int, limit: int = 25, *, since: float | None = None) -> list[TrackScore]:
    """The best-liked tracks of the guild: highest likes − dislikes first, then most likes.

    With ``since``, only ratings given (or last changed) at or after that time count.
    """
    rows = await db.fetch_rows(
        "SELECT track_id, likes, dislikes FROM ("
        " SELECT track_id, sum(CASE WHEN value = 1 THEN 1 ELSE 0 END) AS likes,"
        " sum(CASE WHEN value = -1 THEN 1 ELSE 0 END) AS dislikes FROM ratings"
        " WHERE guild_id = ? AND rated_at >= ? GROUP BY track_id) AS scores"
        " ORDER BY likes - dislikes DESC, likes DESC, track_id LIMIT ?",
        (guild_id, float("-inf") if since is None else float(since), max(0, int(limit))),
    )
    return [TrackScore(track_id=row[0], likes=row[1], dislikes=row[2]) for row in rows]


async def ratings_of_track(db: Database, guild_id: int, track_id: int) -> list[Rating]:
    """Every member's rating of one track in this guild, most recent first."""
    rows = await db.fetch_all(
        f"SELECT {_COLUMNS} FROM ratings WHERE guild_id = ? AND track_id = ? ORDER BY rated_at DESC, user_id",
        (guild_id, track_id),
    )
    return [_rating(row) for row in rows]


async def delete_ratings_of(db: Database, guild_id: int, user_id: int) -> int:
    """Forget every rating by this member in this guild; returns how many were removed."""
    return await db.execute("DELETE FROM ratings WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))


async def rating_rows(db: Database, guild_id: int) -> list[tuple]:
    """Every rating of the guild as bare ``(user_id, track_id, value, rated_at)`` rows, by member then
    track: the cheap form the recommender turns into arrays."""
    return await db.fetch_rows(
        "SELECT user_id, track_id, value, rated_at FROM ratings WHERE guild_id = ? ORDER BY user_id, track_id",
        (guild_id,),
    )
