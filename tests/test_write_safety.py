"""Acknowledge before writing, and what a write leaves behind (issue 11, sections 4 and 6).

Real parts: real SQLite files, another real process holding SQLite's write lock, the real bot
against the fake Discord, real music.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from bot import catalog, store
from bot.app.crate import Crate
from bot.catalog import Track
from bot.config import Settings
from bot.store import sessions
from tests.fakediscord import FakeDiscord
from tests.fakediscord.harness import running_crate, settings_for

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SECRET_TITLE = "Zanzibar Quokka Nocturne"


async def add(db, guild_id: int, title: str, user_id: int, seed: int) -> Track:
    rng = np.random.default_rng(seed)
    track, _ = await store.add_track(
        db, guild_id, title=title, source_url=None, source_kind="file", content_hash=f"{seed:064x}",
        duration=60.0 + seed, genres=[("jazz", 0.9)], tag_probs=rng.random(catalog.TAG_COUNT, np.float32),
        embedding=rng.standard_normal(catalog.EMBEDDING_DIM).astype(np.float32), tempo=None, shared_by=user_id,
    )  # fmt: skip
    return track


class WriteLock:
    """Another process that holds SQLite's write lock on ``path`` until :meth:`release`."""

    def __init__(self, path: Path):
        code = textwrap.dedent(f"""
            import sqlite3, sys
            db = sqlite3.connect({str(path)!r}, isolation_level=None)
            db.execute("BEGIN IMMEDIATE")
            print("locked", flush=True)
            sys.stdin.readline()
            db.execute("ROLLBACK")
        """)
        self.process = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout.readline().strip() == "locked"

    def release(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.write("\n")
            self.process.stdin.flush()
        self.process.wait(timeout=30)


async def test_a_write_blocked_by_another_process_is_acknowledged_and_asks_to_retry(tmp_path, caplog):
    """/like and the 👍 button answer at once (deferred) while another process holds the write
    lock; when the busy timeout runs out the member reads a retry sentence, nothing was stored,
    and autocomplete kept answering from memory meanwhile. A busy database is a known state, not
    a bug: nothing is logged as an error (the members' names, not stored meanwhile, are a warning)."""
    database = tmp_path / "crate.sqlite3"
    async with FakeDiscord() as fake:
        guild = fake.guilds[0]
        channel = next(c for c in guild.channels if c.name == "music")
        async with running_crate(fake, settings_for(fake, database, workers=1)):
            shared = await fake.slash(
                guild,
                channel,
                "alice",
                "genre",
                attachments={
                    "file": ("awakening.ogg", (EXAMPLES / "singularity-awakening.ogg").read_bytes(), "audio/ogg")
                },
            )
            message = await shared.wait_original(predicate=lambda m: m.shown, timeout=120)
            track = int(next(c for c in message.custom_ids if c.startswith("crate:rate:")).split(":")[2])

            lock = WriteLock(database)
            try:
                like = await fake.slash(guild, channel, "bob", "like", {"track": track})
                click = await fake.click(guild, channel, "carol", message, f"crate:rate:{track}:up")
                for ix in (like, click):
                    response = await ix.wait_response(timeout=10)
                    assert response.type == 5 and response.ephemeral  # deferred: acknowledged first
                # While both writes wait for the lock, autocomplete still answers.
                choices = await fake.autocomplete(guild, channel, "bob", "like", focused="track", value="awa")
                assert [c["value"] for c in choices] == [track]
                replies = [
                    (await ix.wait_original(timeout=60)).content for ix in (like, click)
                ]  # after store.BUSY_TIMEOUT_MS
            finally:
                lock.release()
            assert not fake.late_acks
            assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
            assert any("DatabaseBusy" in r.getMessage() for r in caplog.records if r.name == "cogs.client")
            for reply in replies:
                assert "database is busy" in reply and "try again" in reply, reply
                assert "Something went wrong" not in reply

            again = await fake.slash(guild, channel, "bob", "like", {"track": track})
            assert "You liked" in (await again.wait_original(timeout=30)).content

    async with store.open_database(database) as db:
        raters = {r.user_id for r in await store.ratings_in_guild(db, guild.id)}
    bob, carol = (fake.member(guild, name).id for name in ("bob", "carol"))
    assert bob in raters and carol not in raters  # the refused rating left nothing behind


async def test_a_refused_forget_changes_nothing(tmp_path):
    database = tmp_path / "crate.sqlite3"
    async with store.open_database(database) as db:
        track = await add(db, 1, SECRET_TITLE, 10, 1)
        await store.rate(db, 1, 10, track.id, catalog.LIKE)
        lock = WriteLock(database)
        try:
            with pytest.raises(store.DatabaseBusy) as refused:
                await store.forget_member(db, 1, 10)
        finally:
            lock.release()
        assert "Nothing was changed" in refused.value.user_message
        assert len(await store.ratings_of(db, 1, 10)) == 1
        assert await store.get_track(db, 1, track.id) is not None


async def test_forget_clears_closed_sessions_host_and_leaves_no_title_in_the_files(tmp_path):
    database = tmp_path / "crate.sqlite3"
    async with store.open_database(database) as db:
        track = await add(db, 1, SECRET_TITLE, 10, 1)
        await add(db, 1, "Someone Else's Song", 20, 2)
        closed = await sessions.open_session(db, 1, 500, 10)
        await sessions.close_session(db, 1, closed.id)
        still_open = await sessions.open_session(db, 1, 501, 10)
        report = await store.forget_member(db, 1, 10)
        assert report.tracks_removed == 1 and await store.get_track(db, 1, track.id) is None
        assert (await sessions.get_session(db, 1, closed.id)).host_id == sessions.NO_HOST
        ended = await sessions.get_session(db, 1, still_open.id)  # nobody else there: it ends, without her id
        assert not ended.is_open and ended.host_id == sessions.NO_HOST
        wal = Path(f"{database}-wal")
        assert not wal.exists() or wal.stat().st_size == 0  # wal_checkpoint(TRUNCATE)
        for path in (database, wal):
            if path.exists():
                assert SECRET_TITLE.encode() not in path.read_bytes(), path


async def test_a_crafted_id_beyond_sqlite_integers_is_an_unknown_track(tmp_path):
    settings = Settings.from_env({"CRATE_DATABASE": str(tmp_path / "crate.sqlite3")})
    async with store.open_database(settings.database_path) as db:
        await add(db, 1, "Real", 10, 1)
        crate = Crate(settings, db, pool=None, http=None)
        huge = 2**70
        with pytest.raises(catalog.UnknownTrack) as refused:
            await crate.library.rate(1, 10, catalog.LIKE, huge)
        assert "don't know that track" in refused.value.user_message
        with pytest.raises(catalog.UnknownTrack):
            await crate.library.track(1, -(2**64))
        assert await sessions.get_session(db, 1, huge) is None
        assert await store.ratings_of(db, 1, 10) == []


async def test_autocomplete_is_served_from_memory(tmp_path):
    """Titles come from the in-memory index, which follows additions and /forget."""
    settings = Settings.from_env({"CRATE_DATABASE": str(tmp_path / "crate.sqlite3")})
    async with store.open_database(settings.database_path) as db:
        first = await add(db, 1, "Awakening", 10, 1)
        await add(db, 1, "Nebula", 20, 2)
        crate = Crate(settings, db, pool=None, http=None)
        assert [t.id for t in await crate.library.search(1, "awa")] == [first.id]
        assert await crate.library.genres_available(1) == ["jazz"]
        # A write in progress holds the single writer path; the search must not queue behind it.
        writing, done = asyncio.Event(), asyncio.Event()

        async def long_write() -> None:
            async with db.transaction():
                writing.set()
                await done.wait()

        writer = asyncio.create_task(long_write())
        await writing.wait()
        try:
            found = await asyncio.wait_for(
                crate.library.search(1, "neb"), timeout=60
            )  # a hang guard, not a speed check
            genres = await asyncio.wait_for(crate.library.genres_available(1), timeout=60)
        finally:
            done.set()
            await writer
        assert [t.title for t in found] == ["Nebula"] and genres == ["jazz"]
        await crate.members.forget(1, 10)
        assert await crate.library.search(1, "awa") == []
