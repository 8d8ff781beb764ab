"""``crate migrate-db``: copy every row of one Crate database into another (SQLite ⇄ PostgreSQL).

Both databases are opened (so both are migrated to the same, newest schema); the target must
be empty. Every table is copied in foreign-key order with its ids as they are, in one
transaction on the target (all or nothing), then PostgreSQL's identity sequences are moved past
the largest copied id so new rows do not collide, and the row counts are compared table by table.
Stop the bot first: rows written to the source during the copy would not be copied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot import database_url as dburl
from bot.store.database import Database, is_database_url
from bot.store.errors import StoreError

#: Rows read and written per round trip.
BATCH_ROWS = 2_000

#: Crate's own bookkeeping (PostgreSQL's schema version row, the change counts its triggers keep): each database keeps its own.
_NOT_COPIED = {"crate_schema_version", "catalog_changes"}


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    primary_key: tuple[str, ...]
    references: frozenset[str]
    #: The column PostgreSQL numbers itself (an identity column), if any.
    identity: str | None = None


def database_target(text: str) -> Path | str:
    """``sqlite:///relative.sqlite3``, ``sqlite:////abs/path``, a bare path, or a ``postgresql://`` URL."""
    if is_database_url(text):
        dburl.parse(text, setting="The database URL")
        return text
    if text.startswith("sqlite:///"):
        return Path(text.removeprefix("sqlite:///"))
    if "://" in text:
        raise StoreError(f"Crate cannot use {text.split('://', 1)[0]}:// databases: use sqlite:/// or postgresql://.")
    return Path(text)


async def tables(db: Database) -> list[Table]:
    """Crate's tables in ``db``, each after the tables its foreign keys point at."""
    if db.dialect.name == "sqlite":
        found = await _sqlite_tables(db)
    else:
        found = await _postgres_tables(db)
    return _in_dependency_order(found)


async def _sqlite_tables(db: Database) -> list[Table]:
    names = [
        row[0]
        for row in await db.fetch_all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    result = []
    for name in names:
        if name in _NOT_COPIED:
            continue
        info = await db.fetch_all(f'PRAGMA table_info("{name}")')
        columns = tuple(row[1] for row in info)
        key = tuple(row[1] for row in sorted((r for r in info if r[5]), key=lambda r: r[5]))
        references = frozenset(row[2] for row in await db.fetch_all(f'PRAGMA foreign_key_list("{name}")'))
        result.append(Table(name, columns, key, references - {name}))
    return result


async def _postgres_tables(db: Database) -> list[Table]:
    names = [
        row[0]
        for row in await db.fetch_all(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
        )
    ]
    result = []
    for name in names:
        if name in _NOT_COPIED:
            continue
        info = await db.fetch_all(
            "SELECT column_name, is_identity FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            (name,),
        )
        key_row = await db.fetch_one(
            "SELECT array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, o)"
            " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o)"
            " FROM pg_constraint c WHERE c.conrelid = ?::regclass AND c.contype = 'p'",
            (name,),
        )
        references = await db.fetch_all(
            "SELECT DISTINCT confrelid::regclass::text FROM pg_constraint WHERE conrelid = ?::regclass AND contype = 'f'",
            (name,),
        )
        identity = next((row[0] for row in info if row[1] == "YES"), None)
        result.append(
            Table(
                name,
                tuple(row[0] for row in info),
                tuple(key_row[0]) if key_row else (),
                frozenset(row[0].strip('"') for row in references) - {name},
                identity,
            )
        )
    return result


def _in_dependency_order(found: list[Table]) -> list[Table]:
    by_name = {table.name: table for table in found}
    ordered: list[Table] = []
    placed: set[str] = set()
    while len(ordered) < len(found):
        ready = [t for t in found if t.name not in placed and t.references & by_name.keys() <= placed]
        if not ready:
            raise StoreError(f"Crate's tables reference each other in a cycle: {sorted(by_name.keys() - placed)}")
        for table in ready:
            ordered.append(table)
            placed.add(table.name)
    return ordered


async def count_rows(db: Database, table: str) -> int:
    return int(await db.fetch_value(f'SELECT count(*) FROM "{table}"'))


async def copy_database(
    source: Database, target: Database, progress: Callable[[str, int, int], None] = lambda table, done, total: None
) -> dict[str, int]:
    """Copy every row of ``source`` into the empty ``target``; returns the rows copied per table."""
    if await source.user_version() != await target.user_version():
        raise StoreError(
            f"The two databases have different schema versions ({await source.user_version()} and "
            f"{await target.user_version()}); run the same Crate on both."
        )
    source_tables = await tables(source)
    target_tables = {table.name: table for table in await tables(target)}
    missing = [t.name for t in source_tables if t.name not in target_tables]
    if missing:
        raise StoreError(f"The target database has no table {', '.join(missing)}; run the same Crate on both.")
    for table in source_tables:
        if await count_rows(target, table.name):
            raise StoreError(
                f"The target database already holds rows (in {table.name}); migrate-db copies into an empty one."
            )

    copied: dict[str, int] = {}
    async with target.transaction():
        for table in source_tables:
            total = await count_rows(source, table.name)
            columns = ", ".join(f'"{c}"' for c in table.columns)
            order = ", ".join(f'"{c}"' for c in table.primary_key) or columns
            insert = f'INSERT INTO "{table.name}" ({columns}) VALUES ({", ".join("?" for _ in table.columns)})'
            done = 0
            while done < total:
                rows = await source.fetch_rows(
                    f'SELECT {columns} FROM "{table.name}" ORDER BY {order} LIMIT ? OFFSET ?', (BATCH_ROWS, done)
                )
                if not rows:
                    break
                await target.execute_many(insert, rows)
                done += len(rows)
                progress(table.name, done, total)
            copied[table.name] = done
        for table in target_tables.values():
            if table.identity:
                # The next id the target hands out comes after every copied one.
                await target.fetch_value(
                    f'SELECT setval(pg_get_serial_sequence(?, ?), coalesce(max("{table.identity}"), 0) + 1, false)'
                    f' FROM "{table.name}"',
                    (table.name, table.identity),
                )
    for name, count in copied.items():
        if await count_rows(target, name) != count:
            raise StoreError(f"Copying {name} went wrong: the target has a different number of rows.")
    return copied
