"""Crate past one machine, end to end: PostgreSQL for the store and the analysis queue, two
``crate run`` processes on shards 0 and 1 of 2, two ``crate worker`` processes.

A ``/genre`` in a guild of each shard is answered by that shard's process, analyzed by a worker
through the queue; a like made through one process is seen by ``/recommend`` in another (after
the bot is re-sharded onto one process, which then serves that guild). PostgreSQL missing fails
this test with the reason (tests/conftest.py).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from cogs.client import sync_commands
from tests.e2e.cards import card
from tests.e2e.test_shards import EXAMPLES, guilds_on_each_shard, received, wait_for_shards
from tests.fakediscord import FakeDiscord, discord_pointed_at
from tests.fakediscord.harness import crate_env, crate_process, settings_for, wait_for_log

pytestmark = pytest.mark.asyncio


def folder(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.mkdir()
    return path / "crate.log"


def attachment(name: str) -> dict:
    return {"file": (name, (EXAMPLES / name).read_bytes(), "audio/ogg")}


async def embed_answer(ix):
    return await ix.wait_original(predicate=lambda m: m.shown, timeout=240)


async def test_two_shards_two_workers_one_postgres(tmp_path, postgres_url):
    guilds = guilds_on_each_shard(2)
    music = [next(c for c in g.channels if c.name == "music") for g in guilds]
    async with FakeDiscord(guilds, shard_count=2) as fake:
        with discord_pointed_at(None, None):
            await sync_commands(settings_for(fake, tmp_path / "unused.sqlite3"))
        common = {"CRATE_DATABASE_URL": postgres_url, "CRATE_QUEUE": "postgres"}
        sharded = {**common, "CRATE_SHARD_COUNT": "2"}
        unused = tmp_path / "no.sqlite3"  # the store is PostgreSQL: no SQLite file may appear
        async with contextlib.AsyncExitStack() as stack:
            workers = [
                (await stack.enter_async_context(crate_process(crate_env(fake, unused, **common), log, "worker")), log)
                for log in (folder(tmp_path, "worker-0"), folder(tmp_path, "worker-1"))
            ]
            bots = contextlib.AsyncExitStack()
            await stack.enter_async_context(bots)
            shard_processes = {}
            for shard in (0, 1):
                env = crate_env(fake, unused, CRATE_SHARD_IDS=str(shard), **sharded)
                log = folder(tmp_path, f"bot-{shard}")
                shard_processes[log] = await bots.enter_async_context(crate_process(env, log))
            for process, log in workers:
                await wait_for_log(process, log, "crate worker ready")
            sessions = await wait_for_shards(fake, 2, shard_processes)

            # a /genre in a guild of each shard: answered by its owner, analyzed by a worker
            shared = []
            for shard, name in ((0, "singularity-awakening.ogg"), (1, "nexuiz-brainsukker.ogg")):
                ix = await fake.slash(guilds[shard], music[shard], "alice", "genre", attachments=attachment(name))
                message = await embed_answer(ix)
                assert any(c.startswith("crate:rate:") for c in message.custom_ids), message.payload()
                assert received(sessions[shard], ix.payload["id"]) and not received(
                    sessions[1 - shard], ix.payload["id"]
                )
                shared.append(message)
            second = await embed_answer(
                await fake.slash(
                    guilds[1], music[1], "bob", "genre", attachments=attachment("nexuiz-beast-of-insanity.ogg")
                )
            )
            liked = next(c for c in shared[1].custom_ids if c.startswith("crate:rate:")).split(":")[2]
            like = await fake.slash(guilds[1], music[1], "carol", "like", {"track": int(liked)})
            assert "liked" in (await like.wait_original()).content

            # re-shard onto one process: it serves guild 1 now, and sees the like made through bot-1
            await bots.aclose()
            env = crate_env(fake, unused, **common)
            log = folder(tmp_path, "bot-all")
            await wait_for_shards(fake, 1, {log: await stack.enter_async_context(crate_process(env, log))})
            ix = await fake.slash(guilds[1], music[1], "carol", "recommend")
            picks = await embed_answer(ix)
            assert card(picks).title.startswith("Picks for"), picks.payload()  # not the cold start
            beast = next(c for c in second.custom_ids if c.startswith("crate:rate:")).split(":")[2]
            assert f"crate:rate:{beast}" in " ".join(picks.custom_ids)
        assert not unused.exists()
