"""What PostgreSQL adds to the store's guarantees: several processes on one database, busy and
read-only refusals (the SQLite versions are in test_write_safety.py and test_database_refusal.py).

Real parts: the real PostgreSQL server of tests/postgres_server.py; "another process" is another
real connection to it (a second :class:`Database`, or a raw asyncpg session holding locks), and
``crate run`` is the real process.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import asyncpg
import numpy as np
import pytest

from bot import catalog, store
from bot.app.crate import Crate
from bot.app.titles import TitleIndex
from bot.config import ConfigError, Settings
from bot.database_url import shown
from bot.store import postgres, sessions
from bot.store.postgres import WRITER_LOCK_KEY, postgres_sql
from tests.postgres_server import free_port

ROOT = Path(__file__).resolve().parents[1]


async def add(db, guild_id: int, title: str, user_id: int, seed: int, content_hash: str | None = None):
    rng = np.random.default_rng(seed)
    track, created = await store.add_track(
        db, guild_id, title=title, source_url=None, source_kind="file", content_hash=content_hash or f"{seed:064x}",
        duration=60.0 + seed, genres=[("jazz", 0.9)], tag_probs=rng.random(catalog.TAG_COUNT, np.float32),
        embedding=rng.standard_normal(catalog.EMBEDDING_DIM).astype(np.float32), tempo=None, shared_by=user_id,
    )  # fmt: skip
    return track, created


@pytest.fixture
def short_busy_timeout(monkeypatch):
    """Wait half a second for locks instead of five (set before connecting: it is a session setting)."""
    monkeypatch.setattr(postgres, "BUSY_TIMEOUT_MS", 500)


def test_placeholders_are_numbered_outside_string_literals():
    assert postgres_sql("SELECT ? , '?' , ?") == "SELECT $1 , '?' , $2"
    assert postgres_sql("WHERE a = ?1 AND b = ?2 OR c = ?1") == "WHERE a = $1 AND b = $2 OR c = $1"
    assert postgres_sql("SELECT 'it''s ?', ?") == "SELECT 'it''s ?', $1"


def test_passwords_never_reach_messages():
    assert shown("postgresql://crate:hunter2@db.local:5432/crate") == "postgresql://crate@db.local:5432/crate"
    assert shown("postgresql://crate@127.0.0.1/crate") == "postgresql://crate@127.0.0.1/crate"


def test_crate_database_url_must_be_postgresql():
    settings = Settings.from_env({"CRATE_DATABASE_URL": "postgresql://crate@127.0.0.1/crate"}, dotenv_path=None)
    assert settings.database_target == "postgresql://crate@127.0.0.1/crate"
    assert Settings.from_env({}, dotenv_path=None).database_target == Path("crate.sqlite3")  # SQLite stays the default
    with pytest.raises(ConfigError, match="CRATE_DATABASE_URL"):
        Settings.from_env({"CRATE_DATABASE_URL": "mysql://x@y/z"}, dotenv_path=None)


async def test_two_processes_adding_the_same_audio_make_one_track(postgres_url):
    """The dedup check and the insert are one transaction under the cross-process writer lock,
    so two bot processes sharing the same file at once still make one track."""
    async with store.open_database(postgres_url) as one, store.open_database(postgres_url) as two:
        results = await asyncio.gather(
            *(add(db, 1, f"Song {i}", 10 + i, seed=7, content_hash="ab" * 32) for i, db in enumerate([one, two] * 5))
        )
        assert sum(created for _, created in results) == 1
        assert len({track.id for track, _ in results}) == 1
        assert await store.count_tracks(one, 1) == 1
        assert await one.fetch_value("SELECT count(*) FROM shares WHERE guild_id = 1") == 10


async def test_a_write_transaction_blocked_by_another_process_is_busy_and_changes_nothing(
    postgres_url, short_busy_timeout
):
    async with store.open_database(postgres_url) as db:
        track, _ = await add(db, 1, "Secret", 10, 1)
        await store.rate(db, 1, 10, track.id, catalog.LIKE)
        other = await asyncpg.connect(postgres_url)
        try:
            await other.execute(f"SELECT pg_advisory_lock({WRITER_LOCK_KEY})")  # another process is writing
            with pytest.raises(store.DatabaseBusy) as refused:
                await store.forget_member(db, 1, 10)
        finally:
            await other.close()
        assert "Nothing was changed" in refused.value.user_message
        assert len(await store.ratings_of(db, 1, 10)) == 1
        assert await store.get_track(db, 1, track.id) is not None
        await store.forget_member(db, 1, 10)  # once the other process let go, it goes through
        assert await store.ratings_of(db, 1, 10) == []


async def test_a_lone_write_waiting_on_a_row_lock_is_busy(postgres_url, short_busy_timeout):
    async with store.open_database(postgres_url) as db:
        track, _ = await add(db, 1, "Song", 10, 1)
        other = await asyncpg.connect(postgres_url)
        try:
            await other.execute("BEGIN; LOCK TABLE ratings IN EXCLUSIVE MODE")
            with pytest.raises(store.DatabaseBusy):
                await store.rate(db, 1, 20, track.id, catalog.LIKE)
            await other.execute("ROLLBACK")
        finally:
            await other.close()
        await store.rate(db, 1, 20, track.id, catalog.LIKE)
        assert await store.rating_of(db, 1, 20, track.id) == catalog.LIKE


async def test_a_dropped_connection_is_busy_once_then_reconnects(postgres_server, postgres_url):
    async with store.open_database(postgres_url) as db:
        track, _ = await add(db, 1, "Song", 10, 1)
        name = postgres_url.rsplit("/", 1)[1]
        killed = postgres_server.psql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            f" WHERE datname = '{name}' AND application_name = 'crate'"
        )
        assert killed.strip() == "1"  # what a server restart does to the bot's connection
        try:
            await store.rate(db, 1, 20, track.id, catalog.LIKE)
        except store.DatabaseBusy as busy:  # if the loss is noticed by this statement
            assert "try again" in busy.user_message
        await store.rate(db, 1, 30, track.id, catalog.LIKE)
        assert await store.rating_of(db, 1, 30, track.id) == catalog.LIKE


async def test_a_read_only_database_is_refused_at_start(postgres_server, postgres_url):
    async with store.open_database(postgres_url):
        pass
    name = postgres_url.rsplit("/", 1)[1]
    postgres_server.psql(f"ALTER DATABASE {name} SET default_transaction_read_only = on")
    with pytest.raises(store.StoreError, match="cannot write to its database") as refused:
        await store.connect_database(postgres_url)
    assert "\n" not in refused.value.user_message


async def test_a_crafted_id_beyond_64_bits_is_an_unknown_track(postgres_url):
    settings = Settings.from_env({"CRATE_DATABASE_URL": postgres_url}, dotenv_path=None)
    async with store.open_database(settings.database_target) as db:
        await add(db, 1, "Real", 10, 1)
        crate = Crate(settings, db, pool=None, http=None)
        with pytest.raises(catalog.UnknownTrack):
            await crate.library.rate(1, 10, catalog.LIKE, 2**70)
        with pytest.raises(catalog.UnknownTrack):
            await crate.library.rate(1, 10, catalog.LIKE, 12345)  # fits, but is nobody's track: the foreign key
        assert await sessions.get_session(db, 1, 2**70) is None
        assert await store.ratings_of(db, 1, 10) == []


def test_crate_run_refuses_an_unreachable_database_in_one_line(tmp_path):
    env = {
        **os.environ,
        "CRATE_DATABASE_URL": f"postgresql://crate:secret@127.0.0.1:{free_port()}/crate",
        "CRATE_DATABASE": str(tmp_path / "unused.sqlite3"),
        "DISCORD_TOKEN": "crate.test.token",
        "DISCORD_API_BASE": "http://127.0.0.1:9/api/v10",
        "DISCORD_GATEWAY_URL": "ws://127.0.0.1:9/gateway",
        "CRATE_WORKERS": "1",
    }
    crate = shutil.which("crate", path=str(Path(sys.executable).parent)) or "crate"
    done = subprocess.run([crate, "run"], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode != 0
    refusals = [line for line in done.stderr.splitlines() if line.startswith("crate: ")]
    assert len(refusals) == 1, done.stderr
    assert "could not open its database" in refusals[0] and "secret" not in done.stderr
    assert not (tmp_path / "unused.sqlite3").exists()  # the URL won: no SQLite file was made


async def test_the_bot_on_postgresql_acknowledges_a_blocked_like_and_asks_to_retry(postgres_url, tmp_path):
    """The real bot against the fake Discord with CRATE_DATABASE_URL: /genre stores the track in
    PostgreSQL; while another process locks the ratings, /like is acknowledged at once and then
    answers "busy, try again" (nothing stored); afterwards it goes through."""
    from tests.fakediscord import FakeDiscord
    from tests.fakediscord.harness import running_crate, settings_for

    examples = ROOT / "examples"
    async with FakeDiscord() as fake:
        guild = fake.guilds[0]
        channel = next(c for c in guild.channels if c.name == "music")
        settings = settings_for(fake, tmp_path / "unused.sqlite3", workers=1, database_url=postgres_url)
        async with running_crate(fake, settings):
            shared = await fake.slash(
                guild,
                channel,
                "alice",
                "genre",
                attachments={
                    "file": ("awakening.ogg", (examples / "singularity-awakening.ogg").read_bytes(), "audio/ogg")
                },
            )
            message = await shared.wait_original(predicate=lambda m: m.shown, timeout=120)
            track = int(next(c for c in message.custom_ids if c.startswith("crate:rate:")).split(":")[2])

            other = await asyncpg.connect(postgres_url)
            try:
                await other.execute("BEGIN; LOCK TABLE ratings IN EXCLUSIVE MODE")
                like = await fake.slash(guild, channel, "bob", "like", {"track": track})
                response = await like.wait_response(timeout=10)
                assert response.type == 5 and response.ephemeral  # deferred: acknowledged first
                reply = (await like.wait_original(timeout=60)).content  # after the 5-s lock timeout
                await other.execute("ROLLBACK")
            finally:
                await other.close()
            assert "database is busy" in reply and "try again" in reply, reply
            assert not fake.late_acks

            again = await fake.slash(guild, channel, "carol", "like", {"track": track})
            assert "You liked" in (await again.wait_original(timeout=30)).content

    assert not (tmp_path / "unused.sqlite3").exists()  # the URL won over CRATE_DATABASE
    async with store.open_database(postgres_url) as db:
        assert await store.count_tracks(db, guild.id) == 1
        raters = {r.user_id for r in await store.ratings_in_guild(db, guild.id)}
    bob, carol = (fake.member(guild, name).id for name in ("bob", "carol"))
    assert carol in raters and bob not in raters


async def test_another_process_changing_a_catalog_makes_this_one_reload_its_titles(postgres_url, tmp_path):
    """Tracks added, removed or relabelled by another process (a second shard, `crate index`)
    reach this one as a NOTIFY: its autocomplete titles of that server are dropped and reloaded."""
    async with store.open_database(tmp_path / "crate.sqlite3") as sqlite_db:
        assert await sqlite_db.listen_catalog(lambda guild_id: None) is None  # one file, one process
    async with store.open_database(postgres_url) as one, store.open_database(postgres_url) as two:
        await add(one, 1, "Before", 10, seed=1)
        titles = TitleIndex()
        titles.load(await store.track_titles(one))
        changed: asyncio.Queue[int] = asyncio.Queue()

        def on_change(guild_id: int) -> None:
            titles.forget_guild(guild_id)
            changed.put_nowait(guild_id)

        stop = await one.listen_catalog(on_change)
        assert stop is not None
        try:
            await add(one, 1, "Mine", 10, seed=2)  # this process's own change: it knows already
            track, _ = await add(two, 2, "Theirs", 20, seed=3)
            assert await asyncio.wait_for(changed.get(), 10) == 2  # first, so the own one was skipped
            assert titles.has(1) and not titles.has(2)
            titles.replace_guild(2, await store.track_titles(one, 2))
            assert [e.title for e in titles.search(2, "the")] == ["Theirs"]

            assert await store.delete_track(two, 2, track.id)
            assert await asyncio.wait_for(changed.get(), 10) == 2
            assert await store.set_shown_genres(two, 1, [(1, [("rock", 0.9)], True)]) == 1
            assert await asyncio.wait_for(changed.get(), 10) == 1
            assert not titles.has(1)
        finally:
            await stop()
