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
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from bot.config import Settings
from cogs.client import run_bot, sync_commands
from tests.fakediscord import FakeDiscord, discord_pointed_at

TOKEN = "crate.test.token"


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
    with discord_pointed_at(None, None):  # restore discord.py's endpoints afterwards
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


@contextlib.asynccontextmanager
async def music_server(files: dict[str, tuple[bytes, str]]) -> AsyncIterator[str]:
    """A local HTTP server for links: ``{"/song.ogg": (bytes, content_type)}`` -> base URL."""

    async def serve(request: web.Request) -> web.Response:
        body, content_type = files.get(request.path, (None, None))
        if body is None:
            raise web.HTTPNotFound()
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
