"""The SQLite and PostgreSQL migrations stay in step: the same numbered files, the same schema.

Every migration in ``bot/store/migrations/`` has a twin with the same number and name in
``bot/store/migrations/postgresql/``, and after each step both databases (a real SQLite file, a
real PostgreSQL server) have the same tables, columns (name, kind, NOT NULL, default, order),
primary keys, foreign keys (with their ON DELETE), unique constraints, named indexes (columns,
uniqueness, partial or not) and triggers.
"""

from __future__ import annotations

import re
from pathlib import Path

from bot.store import Database, Migration, open_database
from bot.store.database import load_migrations

#: Column kinds: SQLite's declared types and PostgreSQL's types, by what Python reads back.
_KINDS = {
    "integer": "int",
    "bigint": "int",
    "smallint": "int",
    "real": "float",
    "double precision": "float",
    "text": "text",
    "blob": "bytes",
    "bytea": "bytes",
}


def _default(value: str | None) -> str | None:
    """A column default without PostgreSQL's cast (``'[]'::text`` is SQLite's ``'[]'``)."""
    return None if value is None else re.sub(r"::[a-z ]+$", "", value)


async def sqlite_schema(db: Database) -> dict:
    schema: dict = {"tables": {}, "indexes": {}, "triggers": set()}
    tables = [
        row[0]
        for row in await db.fetch_all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    for table in tables:
        info = await db.fetch_all(f"PRAGMA table_info({table})")
        pk = tuple(row[1] for row in sorted((r for r in info if r[5]), key=lambda r: r[5]))
        columns = tuple((row[1], _KINDS[row[2].lower()], bool(row[3]) or row[1] in pk, row[4]) for row in info)
        fks: dict[int, list] = {}
        for row in await db.fetch_all(f"PRAGMA foreign_key_list({table})"):
            fks.setdefault(row[0], []).append(row)
        foreign = {
            (tuple(r[3] for r in rows), rows[0][2], tuple(r[4] for r in rows), rows[0][6].upper())
            for rows in fks.values()
        }
        unique = set()
        for index in await db.fetch_all(f"PRAGMA index_list({table})"):
            index_columns = tuple(r[2] or "<expression>" for r in await db.fetch_all(f"PRAGMA index_info({index[1]})"))
            if index[3] == "u":
                unique.add(index_columns)
            elif index[3] == "c":
                schema["indexes"][index[1]] = (table, index_columns, bool(index[2]), bool(index[4]))
        schema["tables"][table] = {"columns": columns, "pk": pk, "foreign": foreign, "unique": unique}
    schema["triggers"] = {row[0] for row in await db.fetch_all("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    return schema


async def postgres_schema(db: Database) -> dict:
    schema: dict = {"tables": {}, "indexes": {}, "triggers": set()}
    tables = [
        row[0]
        for row in await db.fetch_all(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            " AND tablename <> 'crate_schema_version' ORDER BY tablename"
        )
    ]

    async def constraint_columns(table: str, kind: str) -> list[tuple]:
        return await db.fetch_all(
            "SELECT c.conname, array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, o)"
            "   JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o),"
            " f.relname, array(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, o)"
            "   JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.o),"
            " c.confdeltype::text"
            " FROM pg_constraint c LEFT JOIN pg_class f ON f.oid = c.confrelid"
            " WHERE c.conrelid = ?::regclass AND c.contype::text = ?",
            (table, kind),
        )

    on_delete = {"a": "NO ACTION", "c": "CASCADE", "n": "SET NULL", "r": "RESTRICT", "d": "SET DEFAULT"}
    for table in tables:
        info = await db.fetch_all(
            "SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            (table,),
        )
        pk_rows = await constraint_columns(table, "p")
        pk = tuple(pk_rows[0][1]) if pk_rows else ()
        columns = tuple((row[0], _KINDS[row[1]], row[2] == "NO", _default(row[3])) for row in info)
        foreign = {(tuple(r[1]), r[2], tuple(r[3]), on_delete[r[4]]) for r in await constraint_columns(table, "f")}
        unique = {tuple(r[1]) for r in await constraint_columns(table, "u")}
        schema["tables"][table] = {"columns": columns, "pk": pk, "foreign": foreign, "unique": unique}
    for row in await db.fetch_all(
        "SELECT i.relname, t.relname, array(SELECT coalesce(a.attname, '<expression>')"
        "   FROM unnest(x.indkey) WITH ORDINALITY k(n, o)"
        "   LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n ORDER BY k.o),"
        " x.indisunique, x.indpred IS NOT NULL"
        " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid"
        " JOIN pg_namespace n ON n.oid = t.relnamespace"
        " WHERE n.nspname = current_schema() AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)"
    ):
        schema["indexes"][row[0]] = (row[1], tuple(row[2]), row[3], row[4])
    schema["triggers"] = {
        row[0]
        for row in await db.fetch_all(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid IN"
            " (SELECT oid FROM pg_class WHERE relnamespace = current_schema()::regnamespace)"
        )
    }
    return schema


def test_every_migration_has_a_postgresql_twin_with_the_same_number_and_name():
    sqlite = [(m.version, m.name) for m in load_migrations("sqlite")]
    postgres = [(m.version, m.name) for m in load_migrations("postgresql")]
    assert sqlite == postgres
    assert len(sqlite) >= 4


async def test_both_dialects_have_the_same_schema_after_every_migration(tmp_path, postgres_url):
    sqlite_migrations, postgres_migrations = load_migrations("sqlite"), load_migrations("postgresql")
    for step in range(1, len(sqlite_migrations) + 1):
        async with open_database(tmp_path / "crate.sqlite3", migrations=sqlite_migrations[:step]) as lite:
            expected = await sqlite_schema(lite)
        async with open_database(postgres_url, migrations=postgres_migrations[:step]) as pg:
            assert await pg.user_version() == step
            found = await postgres_schema(pg)
        assert found["tables"].keys() == expected["tables"].keys(), step
        for table, shape in expected["tables"].items():
            assert found["tables"][table] == shape, (step, table)
        assert found["indexes"] == expected["indexes"], step
        assert found["triggers"] == expected["triggers"], step


async def test_the_comparison_can_fail(tmp_path, postgres_url):
    """A PostgreSQL schema that lacks one index, or types one column differently, is told apart."""
    async with open_database(tmp_path / "crate.sqlite3") as lite:
        expected = await sqlite_schema(lite)
    async with open_database(postgres_url) as pg:
        await pg.execute("DROP INDEX tracks_by_adder")
        await pg.execute("ALTER TABLE ratings ALTER COLUMN rated_at TYPE text")
        found = await postgres_schema(pg)
    assert "tracks_by_adder" in expected["indexes"] and "tracks_by_adder" not in found["indexes"]
    assert found["tables"]["ratings"] != expected["tables"]["ratings"]
    assert found["tables"]["tracks"] == expected["tables"]["tracks"]


def test_twins_name_their_sqlite_original():
    """Each PostgreSQL file names its SQLite original, so a reader of either finds the other."""
    for migration in load_migrations("postgresql"):
        assert f"{migration.version:04d}_{migration.name}.sql" in migration.sql, migration.name


#: PostgreSQL twins of SQLite migrations that other branches are adding (families, server-learn,
#: social-b). They wait here until their SQLite originals are merged; then they move up one folder
#: and the tests above compare them like every other migration.
PENDING = Path(__file__).resolve().parents[1] / "bot" / "store" / "migrations" / "postgresql" / "pending"


def pending_twins() -> list[Migration]:
    found = []
    for path in sorted(PENDING.glob("*.sql")):
        number, name = path.stem.split("_", 1)
        found.append(Migration(int(number), name, path.read_text(encoding="utf-8")))
    return found


async def test_pending_twins_apply_in_place_of_the_reserved_migrations(postgres_url):
    """A pending twin takes the place of the current migration with its number (a reserved
    placeholder), as it will when its SQLite original merges; the whole chain still applies."""
    current = {m.version: m for m in load_migrations("postgresql")}
    pending = {m.version: m for m in pending_twins() if current.get(m.version, m).name == "reserved"}
    if not pending:
        return  # all merged: nothing waits
    chain = [pending.get(version, migration) for version, migration in sorted(current.items())]
    async with open_database(postgres_url, migrations=chain) as db:
        assert await db.user_version() == len(chain)
        names = {row[0] for row in await db.fetch_all("SELECT tablename FROM pg_tables")}
        if any(m.name == "corrections" for m in pending.values()):
            assert {"corrections", "relabels"} <= names
        if any(m.name == "families" for m in pending.values()):
            columns = {
                row[0]
                for row in await db.fetch_all(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = 'tracks'"
                )
            }
            assert {"base_genres", "confident", "mtt_tag_probs", "mtt_embedding"} <= columns
