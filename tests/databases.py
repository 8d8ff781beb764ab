"""Helpers for tests that run the store on both databases (the ``db_target`` fixture in conftest)."""

from __future__ import annotations

import sqlite3

import asyncpg

from bot.store import Database

#: What a constraint the database enforces raises from raw SQL, on either database.
INTEGRITY_ERRORS = (sqlite3.IntegrityError, asyncpg.IntegrityConstraintViolationError)


async def table_names(db: Database) -> set[str]:
    """The tables of the database Crate created (SQLite's sqlite_master, PostgreSQL's current schema)."""
    if db.dialect.name == "sqlite":
        return {row[0] for row in await db.fetch_all("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return {row[0] for row in await db.fetch_all("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
