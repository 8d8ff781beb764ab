"""SIGTERM stops Crate cleanly (issue 11, section 5): the real ``crate run`` process, signalled.

The bot runs as its own process (as in Docker, where ``docker stop`` sends SIGTERM) against the
fake Discord in this process. A member's ``/genre`` link is stuck downloading from a local server
that never answers; SIGTERM must tell that member, stop the analysis workers, close the database
(no WAL left behind) and exit 0.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from aiohttp import web

from tests.fakediscord import FakeDiscord, discord_pointed_at
from tests.fakediscord.harness import TOKEN, settings_for
from tests.test_packaging import DOCKERFILE, _instructions

ROOT = Path(__file__).resolve().parents[2]


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    text = stat.read()
            except OSError:
                continue
            if int(text[text.rindex(")") + 2 :].split()[1]) == pid:
                found.add(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


async def stalling_server(started: asyncio.Event):
    """A link whose server accepts the request and then never sends a byte."""

    async def stall(request: web.Request) -> web.StreamResponse:
        started.set()
        await asyncio.sleep(3600)
        raise web.HTTPGatewayTimeout()

    app = web.Application()
    app.router.add_get("/{tail:.*}", stall)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"


async def test_sigterm_answers_in_flight_members_stops_workers_and_closes_the_database(tmp_path):
    database = tmp_path / "crate.sqlite3"
    requested = asyncio.Event()
    runner, web_base = await stalling_server(requested)
    try:
        async with FakeDiscord() as fake:
            settings = settings_for(fake, database, workers=1)
            with discord_pointed_at(None, None):
                from cogs.client import sync_commands

                await sync_commands(settings)
            env = {
                **os.environ,
                "DISCORD_TOKEN": TOKEN,
                "DISCORD_API_BASE": fake.api_base,
                "DISCORD_GATEWAY_URL": fake.gateway_url,
                "CRATE_DATABASE": str(database),
                "CRATE_WORKERS": "1",
                "CRATE_URL_ALLOWLIST": "127.0.0.1",
            }
            crate = Path(sys.executable).parent / "crate"
            bot = subprocess.Popen(
                [str(crate), "run"], env=env, cwd=ROOT, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                await fake.wait_ready(timeout=120)
                guild = fake.guilds[0]
                channel = next(c for c in guild.channels if c.name == "music")
                ix = await fake.slash(guild, channel, "alice", "genre", {"url": f"{web_base}/song.ogg"})
                assert (await ix.wait_response(timeout=10)).type == 5
                await asyncio.wait_for(requested.wait(), timeout=120)  # the download is in flight
                workers = children_of(bot.pid)
                assert workers, "the bot should have analysis workers"

                bot.send_signal(signal.SIGTERM)
                told = await ix.wait_original(
                    predicate=lambda m: (
                        any("restarting" in (e.get("description") or "") for e in m.embeds)
                        or "restarting" in (m.content or "")
                    ),
                    timeout=60,
                )
                code = await asyncio.to_thread(bot.wait, 120)
            finally:
                if bot.poll() is None:
                    bot.kill()
                    bot.wait()
            output = bot.stdout.read().decode(errors="replace")
    finally:
        await runner.cleanup()

    assert "please share it again in a minute" in str(told.payload())
    assert code == 0, output
    assert "Traceback" not in output, output
    assert not [pid for pid in workers if alive(pid)], "analysis workers outlived the bot"
    wal = Path(f"{database}-wal")
    assert not wal.exists() or wal.stat().st_size == 0, "the WAL was not checkpointed on close"
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA quick_check").fetchone()[0] == "ok"


def test_the_docker_image_forwards_sigterm_to_crate():
    """``docker stop`` signals PID 1: tini (which reaps ffmpeg orphans) forwards it to ``crate run``,
    and the exec form keeps a shell from swallowing it."""
    instructions = _instructions(DOCKERFILE)
    entrypoints = [args for keyword, args in instructions if keyword == "ENTRYPOINT"]
    commands = [args for keyword, args in instructions if keyword == "CMD"]
    assert entrypoints and entrypoints[-1].startswith("[") and "tini" in entrypoints[-1]
    assert commands and commands[-1].startswith("["), "CMD must be in exec form"
    assert any("tini" in args for keyword, args in instructions if keyword == "RUN")
