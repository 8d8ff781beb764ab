"""Admission: one reservation per shared track, taken before downloading, limited per member and server.

The unit tests drive ``bot.jobs.admission`` directly; the last tests run the real share flow
(``Crate.share``: a real analysis pool, real SQLite, yt-dlp in its download process) against a
local server on 127.0.0.1 that drips one byte a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web

from bot.app.crate import Crate
from bot.app.sharing import Source
from bot.audio.errors import LinkTimeout
from bot.config import ConfigError, Settings
from bot.jobs.admission import Admission, AdmissionLimits, Busy, MemberBusy, ServerBusy
from tests.music import singularity_track

REPO = Path(__file__).resolve().parent.parent
GUILD, OTHER_GUILD = 1, 2
ALICE, BOB, CAROL = 10, 20, 30


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


# --- limits -------------------------------------------------------------------------------


def test_member_limit_refuses_at_once_with_a_friendly_count():
    admission = Admission(AdmissionLimits(member_concurrent=1, member_queued=1))
    first, second = admission.reserve(GUILD, ALICE), admission.reserve(GUILD, ALICE)
    with pytest.raises(MemberBusy) as caught:
        admission.reserve(GUILD, ALICE)
    assert caught.value.user_message.startswith("You have 2 tracks being analyzed — one at a time, please.")
    assert isinstance(caught.value, Busy)
    # Another member, and the same member in another server, are not affected.
    admission.reserve(GUILD, BOB).release()
    admission.reserve(OTHER_GUILD, ALICE).release()
    first.release()
    first.release()  # idempotent
    assert admission.held_by(GUILD, ALICE) == 1
    admission.reserve(GUILD, ALICE)  # room again
    second.release()


def test_one_track_is_said_as_a_track():
    admission = Admission(AdmissionLimits(member_concurrent=1, member_queued=0))
    admission.reserve(GUILD, ALICE)
    with pytest.raises(MemberBusy) as caught:
        admission.reserve(GUILD, ALICE)
    assert "You have a track being analyzed" in caught.value.user_message


def test_server_and_global_limits():
    limits = AdmissionLimits(capacity=4, member_concurrent=1, member_queued=0, server_concurrent=2, server_queued=1)
    admission = Admission(limits)
    for member in (1, 2, 3):
        admission.reserve(GUILD, member)
    with pytest.raises(ServerBusy) as caught:
        admission.reserve(GUILD, 4)
    assert "This server has 3 tracks being analyzed" in caught.value.user_message
    admission.reserve(OTHER_GUILD, 1)
    with pytest.raises(Busy) as busy:
        admission.reserve(OTHER_GUILD, 2)
    assert type(busy.value) is Busy and admission.total == 4


def test_limits_are_validated():
    with pytest.raises(ValueError):
        AdmissionLimits(member_concurrent=0)
    with pytest.raises(ValueError):
        AdmissionLimits(server_queued=-1)


def test_limits_come_from_the_environment():
    settings = Settings.from_env(
        {"CRATE_MEMBER_CONCURRENT": "2", "CRATE_MEMBER_QUEUED": "0", "CRATE_SERVER_CONCURRENT": "4",
         "CRATE_SERVER_QUEUED": "2", "CRATE_WORKERS": "3", "CRATE_QUEUE_DEPTH": "5",
         "CRATE_DOWNLOAD_DEADLINE": "45", "CRATE_MAX_PAGE_BYTES": "1_000_000"},
    )  # fmt: skip
    assert settings.admission == AdmissionLimits(
        capacity=8, member_concurrent=2, member_queued=0, server_concurrent=4, server_queued=2
    )
    assert settings.download_deadline == 45 and settings.max_page_bytes == 1_000_000
    defaults = Settings.from_env({})
    assert (defaults.admission.per_member, defaults.admission.per_server) == (2, 6)
    for bad in (
        {"CRATE_MEMBER_CONCURRENT": "0"},
        {"CRATE_MEMBER_QUEUED": "-1"},
        {"CRATE_MEMBER_CONCURRENT": "4", "CRATE_SERVER_CONCURRENT": "3"},
        {"CRATE_MEMBER_QUEUED": "9"},  # more than a whole server may hold
        {"CRATE_MAX_PAGE_BYTES": "100"},
        {"CRATE_DOWNLOAD_DEADLINE": "soon"},
    ):
        with pytest.raises(ConfigError):
            Settings.from_env(bad)


# --- turns --------------------------------------------------------------------------------


async def test_queued_reservation_waits_for_its_members_turn():
    admission = Admission(AdmissionLimits(member_concurrent=1, member_queued=1))
    order: list[str] = []
    release_first = asyncio.Event()

    async def job(name: str, user: int, until: asyncio.Event | None = None) -> None:
        async def queued() -> None:
            order.append(f"{name} waits")

        async with admission.reserve(GUILD, user, on_wait=queued):
            order.append(f"{name} starts")
            if until is not None:
                await until.wait()
        order.append(f"{name} ends")

    first = asyncio.create_task(job("alice-1", ALICE, release_first))
    await settle()
    second = asyncio.create_task(job("alice-2", ALICE))
    bob = asyncio.create_task(job("bob", BOB))
    await settle()
    # Bob does not wait behind Alice; Alice's second track does.
    assert order == ["alice-1 starts", "alice-2 waits", "bob starts", "bob ends"]
    assert admission.waiting == 1 and not second.done()
    release_first.set()
    await asyncio.gather(first, second, bob)
    assert order[4:] == ["alice-1 ends", "alice-2 starts", "alice-2 ends"]
    assert admission.total == 0 and admission.waiting == 0


async def test_server_running_limit_is_first_come_first_served():
    admission = Admission(AdmissionLimits(member_concurrent=1, member_queued=0, server_concurrent=1, server_queued=2))
    gate = asyncio.Event()
    started: list[int] = []

    async def job(user: int) -> None:
        async with admission.reserve(GUILD, user):
            started.append(user)
            await gate.wait()

    tasks = [asyncio.create_task(job(user)) for user in (1, 2, 3)]
    await settle()
    assert started == [1] and admission.running_in(GUILD) == 1 and admission.waiting == 2
    gate.set()
    await asyncio.gather(*tasks)
    assert started == [1, 2, 3]


async def test_errors_and_cancellation_give_the_place_back():
    admission = Admission(AdmissionLimits(member_concurrent=1, member_queued=1))
    with pytest.raises(RuntimeError):
        async with admission.reserve(GUILD, ALICE):
            raise RuntimeError("the download failed")
    assert admission.total == 0

    gate = asyncio.Event()

    async def hold() -> None:
        async with admission.reserve(GUILD, ALICE):
            await gate.wait()

    running = asyncio.create_task(hold())
    await settle()
    waiting = asyncio.create_task(hold())
    await settle()
    assert admission.waiting == 1
    waiting.cancel()  # e.g. the bot shuts down while it waits
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert admission.held_by(GUILD, ALICE) == 1 and admission.waiting == 0
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert admission.total == 0


# --- the real share flow ------------------------------------------------------------------


@pytest.fixture
async def sites():
    """A fast site with a real track, and a slow one that drips a byte a second."""
    ogg = singularity_track().read_bytes()
    app = web.Application()

    async def track(request):
        return web.Response(body=ogg, content_type="audio/ogg")

    async def drip(request):
        response = web.StreamResponse(headers={"Content-Type": "audio/ogg", "Content-Length": str(len(ogg))})
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):  # the bot gave up on it
            for byte in ogg:
                await response.write(bytes([byte]))
                await asyncio.sleep(1.0)
        return response

    app.router.add_get("/track.ogg", track)
    app.router.add_get("/drip/{n}.ogg", drip)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    await runner.cleanup()


async def test_slow_links_hold_their_members_place_not_a_worker(sites, tmp_path):
    settings = dataclasses.replace(
        Settings(), database_path=tmp_path / "crate.sqlite3", workers=1, queue_depth=4,
        url_allowlist=("127.0.0.1",), download_timeout=5.0, download_deadline=12.0,
    )  # fmt: skip
    async with Crate.running(settings) as crate:
        slow = [
            asyncio.create_task(crate.sharing.share(GUILD, ALICE, Source.link(f"{sites}/drip/{n}.ogg"))) for n in (1, 2)
        ]
        await asyncio.sleep(0.5)
        # Alice's third link is refused at once, before anything is fetched.
        with pytest.raises(MemberBusy) as caught:
            await crate.sharing.share(GUILD, ALICE, Source.link(f"{sites}/drip/3.ogg"))
        assert "You have 2 tracks being analyzed" in caught.value.user_message
        # Her downloads wait on the network in their own process: the only analysis worker is free.
        assert crate.pool.pending == 0 and crate.admission.held_by(GUILD, ALICE) == 2
        # Bob's track is fetched and analyzed while Alice's links are still dripping.
        shared = await crate.sharing.share(GUILD, BOB, Source.link(f"{sites}/track.ogg"))
        assert shared.track.top_genre and shared.shared_by == BOB
        assert crate.admission.held_by(GUILD, ALICE) >= 1
        # Alice's links end with the site's fault, in words, one after the other.
        for task in slow:
            with pytest.raises(LinkTimeout) as timed_out:
                await task
            assert "too slow" in timed_out.value.user_message
        assert crate.admission.total == 0


def test_slow_links_benchmark_quick_mode():
    """``benchmarks/slow_links.py --quick`` on the real bot: its outcomes, never its times."""
    script = REPO / "benchmarks" / "slow_links.py"
    run = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=600)
    lines = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(lines[-1].removeprefix("RESULT "))
    assert result["others_answered"] == result["others"] == 2, result
    # Mallory's three links: two take her places (and end "too slow"), the third is refused at once.
    assert result["slow_refused_as_member_busy"] == 1, result
    assert result["slow_too_slow"] == 2, result
