"""Crate survives restarts and worker crashes: the real bot, real music, real SQLite.

Each test starts its own fake Discord and bot (one analysis worker, to start quickly).
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
from pathlib import Path

import pytest

from bot.jobs.analysis import AnalysisPool
from bot.jobs.pool import WorkerCrashed
from tests import music
from tests.e2e.cards import card
from tests.fakediscord import FakeDiscord
from tests.fakediscord.harness import running_crate, settings_for

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ACK_LIMIT = 3.0


def example(name: str, shared_as: str | None = None) -> tuple[str, bytes, str]:
    return (shared_as or name, (EXAMPLES / name).read_bytes(), "audio/ogg")


def music_channel(guild):
    return next(c for c in guild.channels if c.name == "music")


async def answer(ix, timeout: float = 60):
    """The reply once it carries its embed or card (deferred replies show progress text first)."""
    return await ix.wait_original(
        predicate=lambda m: m.shown or bool(m.content and "⏬" not in m.content and "🎧" not in m.content),
        timeout=timeout,
    )


async def share(fake, user: str, file: tuple[str, bytes, str]):
    guild = fake.guilds[0]
    return await fake.slash(guild, music_channel(guild), user, "genre", attachments={"file": file})


def track_id_of(message) -> int:
    ids = [c for c in message.custom_ids if c.startswith("crate:rate:")]
    assert ids, f"no rating buttons on {message.payload()}"
    return int(ids[0].split(":")[2])


def running_pool() -> AnalysisPool:
    """The running bot's analysis pool (``run_bot`` keeps it in a local; closed pools have no workers)."""
    pools = [
        o for o in gc.get_objects() if issubclass(type(o), AnalysisPool) and o.worker_pids
    ]  # type(): no dead weakproxy is touched
    assert len(pools) == 1, f"expected one running analysis pool, found {len(pools)}"
    return pools[0]


async def test_buttons_and_data_survive_a_restart(tmp_path):
    """Persistent views: the 👍 under a message posted by the previous process still works,
    because its custom id (``crate:rate:<track>:up``) carries the track id and the new process
    registers the dynamic item at start; ratings and the catalog live in the SQLite file."""
    database = tmp_path / "crate.sqlite3"
    async with FakeDiscord() as fake:
        guild = fake.guilds[0]
        channel = music_channel(guild)
        settings = settings_for(fake, database, workers=1)

        async with running_crate(fake, settings):
            ix = await share(fake, "alice", example("singularity-awakening.ogg", "awakening.ogg"))
            shared = await answer(ix)
            track = track_id_of(shared)
            assert card(shared).title == "awakening"
            # carol opens "Something else…" now and submits the form only after the restart
            opened = await fake.select(guild, channel, "carol", shared, f"crate:correct:{track}", values=["new"])
            assert (await opened.wait_response(timeout=10)).type == 9  # the modal
        # the first bot is gone: its task was cancelled and awaited, its workers stopped

        async with running_crate(fake, settings, ready_count=2):
            old = fake.message(shared.id)
            assert f"crate:rate:{track}:up" in old.custom_ids
            click = await fake.click(guild, channel, "alice", old, f"crate:rate:{track}:up")
            response = await click.wait_response(timeout=10)
            assert click.ack_latency < ACK_LIMIT
            assert response.ephemeral and response.type == 5, response.data
            reply = (await click.wait_original(timeout=10)).content
            assert "You liked" in reply and "awakening" in reply

            profile = await fake.slash(guild, channel, "alice", "profile")
            summary = await answer(profile, 30)
            fields = {f["name"]: f["value"] for f in summary.embed["fields"]}
            assert fields["Likes"] == "1" and fields["Shared"] == "1", fields

            choices = await fake.autocomplete(guild, channel, "alice", "like", focused="track", value="awa")
            assert [c["value"] for c in choices] == [track]
            like = await fake.slash(guild, channel, "bob", "like", {"track": track})
            assert "You liked" in (await like.wait_original()).content

            # the "Not right?" select of the old message too (its id carries the track)
            pick = await fake.select(guild, channel, "bob", old, f"crate:correct:{track}", values=["f:ambient"])
            assert (await pick.wait_response(timeout=10)).ephemeral
            assert "is Ambient in this server now" in (await pick.wait_original(timeout=10)).content

            # the modal the previous process opened: its custom id carries the track, its field the name
            named = await fake.submit_modal(guild, channel, "carol", opened, {"crate:newgenre:name": "Space Ambient"})
            assert (await named.wait_response(timeout=10)).ephemeral
            noted = (await named.wait_original(timeout=10)).content
            assert "you say **awakening** is Space Ambient, others say Ambient — no majority yet" in noted, noted


@pytest.fixture(scope="module")
def long_track(tmp_path_factory) -> tuple[str, bytes, str]:
    """A whole real track (minutes long), so that its analysis is still running when the worker is killed."""
    source = max(music.singularity_tracks(), key=lambda p: p.stat().st_size)
    return (source.name, source.read_bytes(), "audio/ogg")


@pytest.mark.logs_errors("bot.jobs.pool")  # the worker's death
async def test_a_worker_crash_during_genre_gets_a_friendly_error_and_the_next_share_works(tmp_path, long_track):
    """The worker analysing a member's track is SIGKILLed while the job is in flight.

    Deterministic: with one worker, ``pool.pending`` turns 1 in the same event-loop step in which
    the idle worker is taken and the job written to its socket (``AnalysisPool._run`` doesn't
    suspend between the two when a worker is idle), so once the test sees it, the job belongs to
    that worker; killing it now can only end as an EOF on that socket -> ``WorkerCrashed`` for this
    member. (A tiny ``CRATE_JOB_TIMEOUT`` would give ``JobTimeout`` just as surely, but then the
    next share in the same process would time out too, so it couldn't show recovery.) The slot's
    replacement worker then answers the next /genre.
    """
    async with FakeDiscord() as fake:
        settings = settings_for(fake, tmp_path / "crate.sqlite3", workers=1)
        async with running_crate(fake, settings):
            pool = running_pool()
            (victim,) = pool.worker_pids
            assert pool.pending == 0

            ix = await share(fake, "bob", long_track)
            async with asyncio.timeout(30):
                while pool.pending == 0:
                    await asyncio.sleep(0.002)
            os.kill(victim, signal.SIGKILL)

            assert (await ix.wait_response()).type == 5
            assert ix.ack_latency < ACK_LIMIT
            (message,) = await ix.wait_followups(timeout=60)  # errors are answered privately
            assert message.ephemeral
            text = message.embed["description"]
            assert text == f"⚠️ {WorkerCrashed.user_message}", text
            assert not any(c.startswith("crate:rate:") for c in message.custom_ids)
            assert pool.restarts == 1

            # the next share waits for the replacement worker and is answered normally
            again = await share(fake, "carol", example("nexuiz-brainsukker.ogg"))
            reply = await answer(again, 90)
            assert "█" in card(reply).description, reply.payload()
            assert card(reply).title == "nexuiz-brainsukker"
            assert pool.worker_pids and victim not in pool.worker_pids
