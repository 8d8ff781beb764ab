"""Radio sessions: ``session_radio`` (schema in ``migrations/0007_playlists_and_radio.sql``).

A session with a row here is a radio: Crate fills its queue with tracks that sound like the last
one played, starting from the seed (:mod:`bot.recommend.radio`). No row: an ordinary session.
"""

from __future__ import annotations

from bot.store.database import Database, unknown_track_on_foreign_key


async def set_radio_seed(db: Database, guild_id: int, session_id: int, track_id: int) -> None:
    """Make the session a radio seeded by ``track_id`` (raises UnknownTrack for another guild's track)."""
    with unknown_track_on_foreign_key(f"guild {guild_id} has no track {track_id} (or no session {session_id})"):
        await db.execute(
            "INSERT INTO session_radio (guild_id, session_id, seed_track_id) VALUES (?, ?, ?)"
            " ON CONFLICT (guild_id, session_id) DO UPDATE SET seed_track_id = excluded.seed_track_id",
            (guild_id, session_id, track_id),
        )


async def radio_seed(db: Database, guild_id: int, session_id: int) -> int | None:
    """The seed track of a radio session, or None for an ordinary session."""
    return await db.fetch_value(
        "SELECT seed_track_id FROM session_radio WHERE guild_id = ? AND session_id = ?", (guild_id, session_id)
    )


__all__ = ["radio_seed", "set_radio_seed"]
