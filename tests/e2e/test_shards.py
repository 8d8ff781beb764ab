"""Two Crate processes, each on its own shard of two, against one fake Discord.

Each process is a real ``crate run`` (``python -m bot run``) started with CRATE_SHARD_COUNT=2 and
its own CRATE_SHARD_IDS; the fake Discord routes each guild's events by ``(guild_id >> 22) % 2``
as Discord does, so a ``/genre`` in a guild of shard 1 reaches only the process running shard 1.
Both write to one SQLite file here (PostgreSQL is for more than one host).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from bot.shards import shard_of
from cogs.client import sync_commands
from tests.fakediscord import FakeDiscord, discord_pointed_at
from tests.fakediscord.builders import FakeGuild, FakeUser, make_guild
from tests.fakediscord.harness import crate_env, crate_process, settings_for, wait_for_log

pytestmark = pytest.mark.asyncio

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SHARDS = 2


def guilds_on_each_shard(count: int):
    """One guild per shard (snowflakes are time-based: make guilds until every shard has one)."""
    users: dict[str, FakeUser] = {}
    found: dict[int, FakeGuild] = {}
    while len(found) < count:
        guild = make_guild(f"Guild {len(found) + 1}", users=users)
        found.setdefault(shard_of(guild.id, count), guild)
        time.sleep(0.002)
    return [found[shard] for shard in range(count)]


async def wait_for_shards(fake: FakeDiscord, count: int, processes: dict[Path, asyncio.subprocess.Process]):
    """Wait until a live session has identified for every shard; returns them by shard id.

    A process that exits first fails the wait at once, with its log (``processes``: log -> process).
    """

    async with asyncio.timeout(180):
        while True:
            sessions = {s.shard[0]: s for s in fake.gateway.live_sessions if s.shard[1] == count}
            if len(sessions) == count:
                return sessions
            for log, process in processes.items():
                if process.returncode is not None:
                    raise AssertionError(f"a shard's process exited ({process.returncode}):\n{log.read_text()}")
            await asyncio.sleep(0.2)


def received(session, interaction_id: str) -> bool:
    return any(p["t"] == "INTERACTION_CREATE" and p["d"]["id"] == interaction_id for p in session.sent)


async def test_each_process_answers_the_guilds_of_its_own_shard(tmp_path):
    guilds = guilds_on_each_shard(SHARDS)
    async with FakeDiscord(guilds, shard_count=SHARDS) as fake:
        with discord_pointed_at(None, None):
            await sync_commands(settings_for(fake, tmp_path / "unused.sqlite3"))
        database = tmp_path / "crate.sqlite3"
        common = {"CRATE_SHARD_COUNT": str(SHARDS), "DISCORD_GUILD_ID": str(guilds[0].id)}
        envs = [crate_env(fake, database, CRATE_SHARD_IDS=str(shard), **common) for shard in range(SHARDS)]
        logs = [tmp_path / f"shard-{shard}" / "crate.log" for shard in range(SHARDS)]
        for log in logs:
            log.parent.mkdir()
        async with crate_process(envs[0], logs[0]) as first, crate_process(envs[1], logs[1]) as second:
            sessions = await wait_for_shards(fake, SHARDS, {logs[0]: first, logs[1]: second})
            # on_ready (once each shard's guilds arrived) says which shards each process runs
            await wait_for_log(first, logs[0], "shard 0 of 2 (primary)")
            await wait_for_log(second, logs[1], "shard 1 of 2 (secondary)")
            # each connection was told about its own shard's guild only
            for shard, session in sessions.items():
                created = [p["d"]["id"] for p in session.sent if p["t"] == "GUILD_CREATE"]
                assert created == [str(guilds[shard].id)]

            interactions = []
            for guild, name in zip(guilds, ("singularity-awakening.ogg", "nexuiz-brainsukker.ogg")):
                channel = next(c for c in guild.channels if c.name == "music")
                file = (name, (EXAMPLES / name).read_bytes(), "audio/ogg")
                interactions.append(await fake.slash(guild, channel, "alice", "genre", attachments={"file": file}))
            for shard, ix in enumerate(interactions):
                message = await ix.wait_original(predicate=lambda m: m.shown, timeout=180)
                assert any(c.startswith("crate:rate:") for c in message.custom_ids), message.payload()
                # only the owner got it, so only the owner can have answered it
                assert received(sessions[shard], ix.payload["id"])
                assert not received(sessions[1 - shard], ix.payload["id"])

        # exactly one process (the primary: the one running shard 0) synced the guild's commands
        guild_syncs = [r for r in fake.requests if r.startswith("PUT") and f"/guilds/{guilds[0].id}/commands" in r]
        assert len(guild_syncs) == 1, fake.requests
