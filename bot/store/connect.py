"""Open Crate's database, whichever it is: a SQLite file, or a ``postgresql://`` URL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from bot.store.database import Database, Migration, is_database_url


async def connect_database(target: str | Path, *, migrations: Sequence[Migration] | None = None) -> Database:
    """Open (creating if needed) and migrate the database at ``target``; call ``close()`` after.

    ``target`` is a SQLite file, or a ``postgresql://`` URL (:class:`~bot.store.postgres.PostgresDatabase`).
    """
    if is_database_url(target):
        from bot.store.postgres import PostgresDatabase  # asyncpg: only for PostgreSQL

        return await PostgresDatabase.connect(str(target), migrations=migrations)
    return await Database.connect(target, migrations=migrations)


@asynccontextmanager
async def open_database(
    target: str | Path, *, migrations: Sequence[Migration] | None = None
) -> AsyncIterator[Database]:
    """``async with open_database(target) as db:`` — connect, migrate, and always close."""
    db = await connect_database(target, migrations=migrations)
    try:
        yield db
    finally:
        await db.close()
