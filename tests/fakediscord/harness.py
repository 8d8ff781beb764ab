"""Start the real Crate bot (``cogs.client.run_bot``, unmodified) against the fake Discord.

Shared by the end-to-end tests (tests/e2e) and the benchmarks (benchmarks/bot_load.py), which
import it from here rather than from the test suite.

The bot is configured only through its settings, exactly as ``crate run`` configures it from
the environment: DISCORD_API_BASE and DISCORD_GATEWAY_URL point at the fake on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from bot.config import Settings
from cogs.client import run_bot, sync_commands
from tests.fakediscord import FakeDiscord, discord_pointed_at, voice_trusted

TOKEN = "crate.test.token"
ROOT = Path(__file__).resolve().parents[2]


def settings_for(fake: FakeDiscord, database: Path, **overrides) -> Settings:
    env = {
        "DISCORD_TOKEN": TOKEN,
        "DISCORD_API_BASE": fake.api_base,
        "DISCORD_GATEWAY_URL": fake.gateway_url,
        "CRATE_DATABASE": str(database),
        "CRATE_WORKERS": "2",
        "CRATE_URL_ALLOWLIST": "127.0.0.1",
    }
    return dataclasses.replace(Settings.from_env(env), **overrides)


@contextlib.asynccontextmanager
async def running_crate(fake: FakeDiscord, settings: Settings, *, ready_count: int = 1) -> AsyncIterator[asyncio.Task]:
    """Run ``run_bot(settings)`` in a task until the block ends; the first run syncs commands globally."""
    trust = voice_trusted(fake.voice.certificate) if fake.voice is not None else contextlib.nullcontext()
    with discord_pointed_at(None, None), trust:  # restore discord.py's endpoints afterwards
        if not fake.commands():
            await sync_commands(settings)
        task = asyncio.create_task(run_bot(settings), name="crate-bot")
        ready = asyncio.ensure_future(fake.wait_ready(count=ready_count, timeout=120))
        done, _ = await asyncio.wait([task, ready], return_when=asyncio.FIRST_COMPLETED, timeout=150)
        if task in done:
            ready.cancel()
            task.result()  # raises the bot's start-up error
            raise RuntimeError("the bot stopped before it was ready")
        if ready not in done:
            task.cancel()
            raise TimeoutError("the bot did not connect to the fake Discord")
        try:
            yield task
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class Gate:
    """Holds a :func:`music_server`'s answers while closed: a slow server, on cue.

    ``held`` is set when a request is waiting at the closed gate, ``answered`` once a request
    that waited has been answered.
    """

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.open.set()
        self.held = asyncio.Event()
        self.answered = asyncio.Event()

    def close(self) -> None:
        self.open.clear()
        self.held.clear()
        self.answered.clear()

    async def pass_through(self) -> bool:
        """Wait while the gate is closed; True if this request waited."""
        if self.open.is_set():
            return False
        self.held.set()
        await self.open.wait()
        return True


@contextlib.asynccontextmanager
async def music_server(files: dict[str, tuple[bytes, str]], gate: Gate | None = None) -> AsyncIterator[str]:
    """A local HTTP server for links: ``{"/song.ogg": (bytes, content_type)}`` -> base URL.
    With a ``gate``, every answer waits while it is closed."""

    async def serve(request: web.Request) -> web.Response:
        body, content_type = files.get(request.path, (None, None))
        if body is None:
            raise web.HTTPNotFound()
        if gate is not None and await gate.pass_through():
            response = web.StreamResponse(headers={"Content-Type": content_type or "application/octet-stream"})
            response.content_length = len(body)
            await response.prepare(request)
            await response.write(body)
            await response.write_eof()
            gate.answered.set()
            return response
        return web.Response(body=body, content_type=content_type)

    app = web.Application()
    app.router.add_get("/{tail:.*}", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def crate_env(fake: FakeDiscord | None, database: Path | None, **overrides: str) -> dict[str, str]:
    """The environment of a ``crate run`` process (``crate_process``) against ``fake``, on the
    SQLite file ``database`` (None, None: a ``crate worker``, which needs neither)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CRATE_", "DISCORD_"))  # the test's own settings only
    }
    env.update({"CRATE_WORKERS": "1", "CRATE_URL_ALLOWLIST": "127.0.0.1", "PYTHONPATH": str(ROOT)})
    if fake is not None:
        env.update({"DISCORD_TOKEN": TOKEN, "DISCORD_API_BASE": fake.api_base, "DISCORD_GATEWAY_URL": fake.gateway_url})
    if database is not None:
        env["CRATE_DATABASE"] = str(database)
    env.update(overrides)
    return env


@contextlib.asynccontextmanager
async def crate_process(
    env: dict[str, str], log_path: Path, *command: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run ``python -m bot COMMAND...`` (default ``run``: the real bot) as a process of its own
    until the block ends; then SIGTERM it (the way ``docker stop`` does) and wait."""
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *(command or ("run",)),
            env=env, cwd=log_path.parent, stdout=log_file, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        try:
            yield process
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 30)
                except TimeoutError:
                    process.kill()
                    await process.wait()


async def wait_for_log(process: asyncio.subprocess.Process, log_path: Path, text: str, timeout: float = 300) -> None:
    """Wait until ``text`` appears in a ``crate_process``'s log (e.g. "crate worker ready")."""
    async with asyncio.timeout(timeout):
        while text not in log_path.read_text(errors="replace"):
            if process.returncode is not None:
                raise AssertionError(f"the process exited ({process.returncode}):\n{log_path.read_text()}")
            await asyncio.sleep(0.2)
