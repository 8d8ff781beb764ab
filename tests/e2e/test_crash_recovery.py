"""A bot process killed with jobs on the PostgreSQL queue (issue 24, point 3).

The real ``crate run`` (``CRATE_QUEUE=postgres``, no ``crate worker`` running, so the jobs stay
queued) against the fake Discord and a real PostgreSQL: two members share a track each, the bot
is SIGKILLed (as the OOM killer or a power loss would stop it: nothing unwinds), and a new bot
process starts. Its start-up sweep must tell both members to share again (their interactions are
still valid), each in the language they were answered in, remove the two rows of audio and cancel the two jobs; the periodic sweep of the
queue finds nothing left.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import psycopg

from tests.fakediscord import FakeDiscord, discord_pointed_at
from tests.fakediscord.harness import crate_env, crate_process, settings_for

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def count(url: str, sql: str) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute(sql).fetchone()[0])


async def wait_until(check, timeout: float = 120) -> None:
    async with asyncio.timeout(timeout):
        while not await asyncio.to_thread(check):
            await asyncio.sleep(0.3)


async def test_a_killed_bot_leaves_no_audio_and_its_members_are_told(tmp_path, postgres_url):
    async with FakeDiscord() as fake:
        with discord_pointed_at(None, None):
            from cogs.client import sync_commands

            await sync_commands(settings_for(fake, tmp_path / "unused.sqlite3"))
        env = crate_env(fake, None, CRATE_DATABASE_URL=postgres_url, CRATE_QUEUE="postgres")
        guild = fake.guilds[0]
        channel = next(c for c in guild.channels if c.name == "music")
        guild.member("bob").user.locale = "de"  # told in German: the language is stored with the job
        asked = []
        async with crate_process(env, tmp_path / "first.log") as first:
            await fake.wait_ready(timeout=120)
            for user, name in (("alice", "nexuiz-brainsukker.ogg"), ("bob", "singularity-awakening.ogg")):
                data = (EXAMPLES / name).read_bytes()
                ix = await fake.slash(guild, channel, user, "genre", attachments={"file": (name, data, "audio/ogg")})
                assert (await ix.wait_response(timeout=10)).type == 5
                asked.append(ix)
            await wait_until(lambda: count(postgres_url, "SELECT count(*) FROM crate_analysis_jobs") == 2)
            first.send_signal(signal.SIGKILL)
            await first.wait()
        assert count(postgres_url, "SELECT count(*) FROM crate_analysis_jobs") == 2  # nothing unwound
        queued = "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
        assert count(postgres_url, queued) == 2

        async with crate_process(env, tmp_path / "second.log"):
            await fake.wait_ready(timeout=120, count=2)
            for ix, words in zip(asked, ("I'm restarting — please share it again", "Ich starte neu — bitte teile")):
                told = await ix.wait_original(
                    predicate=lambda m, words=words: words in m.text, timeout=60, allow_loading=True
                )
                assert words in told.text
            assert count(postgres_url, "SELECT count(*) FROM crate_analysis_jobs") == 0
            assert count(postgres_url, queued) == 0
    log = (tmp_path / "second.log").read_text()
    assert "Traceback" not in log, log


async def test_the_sweep_removes_old_rows_and_dead_owners_rows_only(postgres_url):
    from bot.jobs.queue import make_app, prepare_database, sweep_rows
    from bot.store import analysis_jobs

    app = make_app(postgres_url)
    async with app.open_async():
        await prepare_database(app)
        async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as alive:
            await analysis_jobs.hold_owner(alive, 7)  # a live bot process
            live = await analysis_jobs.put_input(app.connector, b"live", owner=7)
            dead = await analysis_jobs.put_input(app.connector, b"dead", owner=8)  # nobody holds 8
            old = await analysis_jobs.put_input(app.connector, b"old", owner=7)
            await app.connector.execute_query_async(
                "UPDATE crate_analysis_jobs SET created_at = now() - interval '1 hour' WHERE id = %(id)s", id=old
            )
            by_age = await sweep_rows(app, older_than=600, orphans=False)  # what a crate worker sweeps
            assert [row.row_id for row in by_age] == [old]
            orphaned = await sweep_rows(app, older_than=600, orphans=True)  # what a bot sweeps
            assert [row.row_id for row in orphaned] == [dead]
            assert await analysis_jobs.exists(app.connector, live)
