"""``crate migrate-db``: a SQLite catalog copied into PostgreSQL, every table, ids as they were.

Real parts: a real SQLite file filled through the store, the real ``crate migrate-db`` process,
the real PostgreSQL server of tests/postgres_server.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from bot import catalog, store
from bot.store import Database, open_database, sessions
from bot.store.transfer import copy_database, database_target, tables

ROOT = Path(__file__).resolve().parents[1]
GUILD, OTHER = 1001, 2002


async def add(db, guild_id: int, title: str, user_id: int | None, seed: int):
    rng = np.random.default_rng(seed)
    track, _ = await store.add_track(
        db, guild_id, title=title, source_url=f"https://example.org/{seed}", source_kind="link",
        content_hash=f"{seed:064x}", duration=60.0 + seed / 7, genres=[("jazz", 0.7), ("rock", 0.3)],
        tag_probs=rng.random(catalog.TAG_COUNT, np.float32),
        embedding=rng.standard_normal(catalog.EMBEDDING_DIM).astype(np.float32), tempo=97.5, shared_by=user_id,
        now=1_700_000_000.25 + seed,
    )  # fmt: skip
    return track


async def fill(db: Database) -> None:
    """A little of everything: tracks in two guilds (with gaps in the ids), shares, ratings,
    members with names and last tracks, an open and a closed session with a queue, fairness and votes."""
    tracks = [await add(db, GUILD if i % 3 else OTHER, f"Track {i}", 10 + i % 4, i) for i in range(1, 13)]
    await store.delete_track(db, GUILD, tracks[4].id)  # a hole in the ids
    kept = [t for t in tracks if t.id != tracks[4].id]
    for i, track in enumerate(kept):
        await store.rate(db, track.guild_id, 10 + i % 5, track.id, catalog.LIKE if i % 2 else catalog.DISLIKE)
        await store.record_share(db, track.guild_id, 99, track.id, now=1_700_000_500.5)
    await store.remember_name(db, GUILD, 10, "Ädelheid ♫")
    await store.set_last_track(db, GUILD, 11, kept[1].id)
    ours = [t for t in kept if t.guild_id == GUILD]
    closed = await sessions.open_session(db, GUILD, 500, 10, now=1_700_001_000.0)
    await sessions.enqueue(db, GUILD, closed.id, ours[0].id, added_by=10, now=1_700_001_001.0)
    await sessions.close_session(db, GUILD, closed.id, now=1_700_002_000.0)
    live = await sessions.open_session(db, GUILD, 501, 11, voice_channel_id=7, now=1_700_003_000.0)
    await sessions.join(db, GUILD, live.id, 12, now=1_700_003_001.0)
    first = await sessions.enqueue(
        db, GUILD, live.id, ours[1].id, added_by=None, reason="for you", for_user_ids=[11, 12], now=1_700_003_002.0
    )
    await sessions.enqueue(db, GUILD, live.id, ours[2].id, added_by=12, now=1_700_003_003.0)
    await sessions.add_skip_vote(db, GUILD, live.id, first.id, 12, now=1_700_003_004.0)


async def snapshot(db: Database) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order."""
    result = {}
    for table in await tables(db):
        order = ", ".join(table.primary_key or table.columns)
        columns = ", ".join(sorted(table.columns))
        result[table.name] = await db.fetch_rows(f"SELECT {columns} FROM {table.name} ORDER BY {order}")
    return result


def migrate_db(*args: str) -> subprocess.CompletedProcess:
    crate = shutil.which("crate", path=str(Path(sys.executable).parent)) or "crate"
    return subprocess.run(
        [crate, "migrate-db", *args], capture_output=True, text=True, timeout=300, cwd=ROOT, env=dict(os.environ)
    )


async def test_migrate_db_copies_every_table_with_its_ids_and_fixes_the_sequences(tmp_path, postgres_url):
    source = tmp_path / "crate.sqlite3"
    async with open_database(source) as db:
        await fill(db)
        before = await snapshot(db)
    assert all(before[name] for name in ("tracks", "shares", "ratings", "members", "sessions", "session_queue"))
    assert before["session_served"] and before["session_skip_votes"] and before["session_members"]

    done = migrate_db("--from", f"sqlite:///{source}", "--to", postgres_url)
    assert done.returncode == 0, done.stderr
    assert f"Copied {sum(len(rows) for rows in before.values())} rows" in done.stdout

    async with open_database(postgres_url) as db:
        assert await snapshot(db) == before  # every row, every value, every id
        # What the bot reads through the store is the same, too.
        async with open_database(source) as lite:
            for guild in (GUILD, OTHER):
                assert await store.ratings_in_guild(db, guild) == await store.ratings_in_guild(lite, guild)
                ours, theirs = await store.load_catalog(db, guild), await store.load_catalog(lite, guild)
                assert np.array_equal(ours.ids, theirs.ids) and np.array_equal(ours.embeddings, theirs.embeddings)
                assert ours.titles == theirs.titles
            assert await sessions.open_sessions(db) == await sessions.open_sessions(lite)
        # The sequences continue after the copied ids: new rows do not collide.
        newest = max(row[0] for row in await db.fetch_rows("SELECT id FROM tracks"))
        track = await add(db, GUILD, "After the move", 10, 500)
        assert track.id > newest
        copied_sessions = await db.fetch_value("SELECT max(id) FROM sessions")
        session = await sessions.open_session(db, GUILD, 777, 10)
        assert copied_sessions >= 2 and session.id > copied_sessions

    again = migrate_db("--from", f"sqlite:///{source}", "--to", postgres_url)
    assert again.returncode != 0
    assert again.stderr.startswith("crate: ") and "already holds rows" in again.stderr


async def test_and_back_again_into_a_new_sqlite_file(tmp_path, postgres_url):
    source = tmp_path / "crate.sqlite3"
    async with open_database(source) as db:
        await fill(db)
        before = await snapshot(db)
    async with open_database(source) as lite, open_database(postgres_url) as pg:
        await copy_database(lite, pg)
    async with open_database(postgres_url) as pg, open_database(tmp_path / "back.sqlite3") as back:
        copied = await copy_database(pg, back)
        assert await snapshot(back) == before
    assert copied["tracks"] == len(before["tracks"])


def test_database_targets_are_read_as_documented():
    assert database_target("sqlite:///crate.sqlite3") == Path("crate.sqlite3")
    assert database_target("sqlite:////srv/crate.sqlite3") == Path("/srv/crate.sqlite3")
    assert database_target("postgresql://crate@127.0.0.1/crate") == "postgresql://crate@127.0.0.1/crate"
    assert database_target("crate.sqlite3") == Path("crate.sqlite3")


def test_a_missing_source_file_is_refused_without_creating_it(tmp_path, postgres_url):
    done = migrate_db("--from", f"sqlite:///{tmp_path / 'typo.sqlite3'}", "--to", postgres_url)
    assert done.returncode != 0 and "no database file" in done.stderr
    assert not (tmp_path / "typo.sqlite3").exists()
