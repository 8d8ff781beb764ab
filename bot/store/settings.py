"""Per-server settings: ``guild_settings`` (schema in ``migrations/0008_settings.sql``; the
voice volume a session's host sets, ``0010_voice_controls.sql``; the monthly recap,
``0011_blends_and_recaps.sql``).

One row per guild, only once a server manager changed something. ``None`` in a field means
"Crate's default" (the environment's, applied in :mod:`bot.app.settings`), so the row keeps
only what the server chose.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields

from bot.store.database import Database


@dataclass(frozen=True)
class StoredSettings:
    """What a server chose; None: the default."""

    dj_role_id: int | None = None
    voice_idle_timeout: float | None = None
    stay_in_voice: bool | None = None
    member_analysis_limit: int | None = None
    profiles_public: bool | None = None
    announce_channel_id: int | None = None
    recap_monthly: bool | None = None


_COLUMNS = tuple(f.name for f in fields(StoredSettings))
_BOOLEANS = {"stay_in_voice", "profiles_public", "recap_monthly"}


def _value(name: str, raw):
    if raw is None:
        return None
    return bool(raw) if name in _BOOLEANS else raw


async def guild_settings(db: Database, guild_id: int) -> StoredSettings:
    row = await db.fetch_one(f"SELECT {', '.join(_COLUMNS)} FROM guild_settings WHERE guild_id = ?", (guild_id,))
    if row is None:
        return StoredSettings()
    return StoredSettings(**{name: _value(name, row[i]) for i, name in enumerate(_COLUMNS)})


async def all_guild_settings(db: Database) -> dict[int, StoredSettings]:
    """Every guild's stored settings (to apply them at start)."""
    rows = await db.fetch_all(f"SELECT guild_id, {', '.join(_COLUMNS)} FROM guild_settings")
    return {
        int(row[0]): StoredSettings(**{name: _value(name, row[i + 1]) for i, name in enumerate(_COLUMNS)})
        for row in rows
    }


async def save_guild_settings(db: Database, guild_id: int, chosen: StoredSettings, *, now: float | None = None) -> None:
    """Store the server's whole choice (None fields go back to the default)."""
    values = [getattr(chosen, name) for name in _COLUMNS]
    values = [int(v) if isinstance(v, bool) else v for v in values]
    assignments = ", ".join(f"{name} = excluded.{name}" for name in _COLUMNS)
    await db.execute(
        f"INSERT INTO guild_settings (guild_id, {', '.join(_COLUMNS)}, updated_at)"
        f" VALUES (?, {', '.join('?' * len(_COLUMNS))}, ?)"
        f" ON CONFLICT (guild_id) DO UPDATE SET {assignments}, updated_at = excluded.updated_at",
        (guild_id, *values, time.time() if now is None else float(now)),
    )


async def voice_volume(db: Database, guild_id: int) -> int | None:
    """The server's remembered voice volume (0-200 %), or None: never set."""
    return await db.fetch_value("SELECT voice_volume FROM guild_settings WHERE guild_id = ?", (guild_id,))


async def save_voice_volume(db: Database, guild_id: int, level: int, *, now: float | None = None) -> None:
    """Remember the server's voice volume (set by a session's host or a DJ, not in /settings:
    the rest of the row is left as the managers chose it)."""
    await db.execute(
        "INSERT INTO guild_settings (guild_id, voice_volume, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (guild_id) DO UPDATE SET voice_volume = excluded.voice_volume, updated_at = excluded.updated_at",
        (guild_id, int(level), time.time() if now is None else float(now)),
    )


__all__ = [
    "StoredSettings",
    "all_guild_settings",
    "guild_settings",
    "save_guild_settings",
    "save_voice_volume",
    "voice_volume",
]
