"""The executor pool, with real worker processes and real music (no mocks).

Workers take a few seconds to start (imports, models, librosa warm-up), so most tests share one
module-scoped pool; tests that need every slot free call ``pool.wait_ready()`` first, because a
crash or timeout in an earlier test leaves a replacement warming up.
"""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio

from bot.audio.errors import EmptyFile, NotAudio, TooLong
from bot.config import Settings
from bot.errors import CrateError
from bot.jobs.analysis import AnalysisPool, AnalyzedFile
from bot.jobs.pool import (
    WORKER_NICENESS,
    Busy,
    JobTimeout,
    PoolClosed,
    RemoteTraceback,
    WorkerCrashed,
    WorkerStartError,
)
from bot.listen.analyze import Listener
from tests.music import singularity_track

pytestmark = pytest.mark.asyncio(loop_scope="module")

TRACK = "Aberrations"


# --------------------------------------------------------------------------- jobs run in workers


def raise_crate_error(message: str, detail: str) -> None:
    raise TooLong(message, detail=detail)


def segfault_while_decoding(path: str) -> None:
    """Decode in-process as the analysis job does, and crash inside the decode with a real SIGSEGV
    (what libav crashing on a hostile file would do to the worker)."""
    import ctypes

    from bot.audio import decode

    def crash(*args):
        ctypes.string_at(0)  # reads address 0

    decode._resample = crash
    decode.decode_excerpts(path)


def raise_value_error() -> None:
    raise ValueError("not a user's fault")


class Unpicklable(Exception):
    def __init__(self):
        super().__init__("holds a lock")
        self.lock = threading.Lock()


def raise_unpicklable() -> None:
    raise Unpicklable()


def call_exit() -> None:
    raise SystemExit(4)


def worker_state() -> dict:
    from threadpoolctl import threadpool_info

    return {
        "pid": os.getpid(),
        "pgid": os.getpgid(0),
        "niceness": os.nice(0),
        "sigint": signal.getsignal(signal.SIGINT),
        "blas_threads": {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"},
    }


def sleep_then_pid(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


# --------------------------------------------------------------------------- fixtures


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pool():
    async with AnalysisPool(workers=2, queue_depth=4, job_timeout=60) as pool:
        yield pool
        pids = pool.worker_pids
    # Idle workers exit on their own when the pool closes (busy ones are killed: see below).
    assert pids and not any(alive(pid) for pid in pids)
    assert not (set(pids) & children_of_this_process())


@pytest.fixture(scope="module")
def track() -> Path:
    return singularity_track(TRACK)


@pytest.fixture(scope="module")
def in_process(track):
    return Listener.load().analyze(track)


def alive(pid: int) -> bool:
    """True unless ``pid`` is gone or a zombie whose threads have all exited.

    (A killed multi-threaded process shows "Z" for its main thread while other threads are still
    exiting; its sockets close only when the last one is gone.)
    """
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        threads = len(list(Path(f"/proc/{pid}/task").iterdir()))
    except FileNotFoundError:
        return False
    return state != "Z" or threads > 1


def children_of_this_process() -> set[int]:
    own = str(os.getpid())
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if fields[1] == own:
            found.add(int(stat.parent.name))
    return found


# --------------------------------------------------------------------------- analysis


async def test_analysis_matches_in_process_listener(pool, track, in_process):
    result = await pool.analyze(track)
    assert isinstance(result, AnalyzedFile)
    assert result.analysis.top_genre == in_process.top_genre
    assert [g for g, _ in result.analysis.genres] == [g for g, _ in in_process.genres]
    np.testing.assert_allclose(result.analysis.embedding, in_process.embedding, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(result.analysis.tag_probs, in_process.tag_probs, rtol=1e-4, atol=1e-5)
    assert result.analysis.duration == in_process.duration
    assert result.analysis.excerpt_starts == in_process.excerpt_starts


async def test_content_hash_is_sha256_of_the_file(pool, track):
    result = await pool.analyze(track)
    assert result.content_hash == hashlib.sha256(track.read_bytes()).hexdigest()


async def test_workers_are_set_up_once_and_isolated(pool):
    await pool.wait_ready()
    states = [await pool.run(worker_state) for _ in range(4)]
    for state in states:
        assert state["pid"] in pool.worker_pids
        assert state["pid"] != os.getpid()
        assert state["pgid"] == state["pid"]  # own process group: a kill also takes its ffmpeg
        assert state["niceness"] >= WORKER_NICENESS
        assert state["sigint"] == signal.SIG_IGN
        assert state["blas_threads"] <= {1}


# --------------------------------------------------------------------------- errors from workers


async def test_not_audio_comes_back_as_the_same_typed_error(pool, tmp_path):
    png = tmp_path / "cover.png"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "color=red:s=32x32", "-frames:v", "1", str(png)],
        check=True,
    )
    with pytest.raises(NotAudio) as raised:
        await pool.analyze(png)
    assert "image" in raised.value.user_message
    assert isinstance(raised.value.__cause__, RemoteTraceback)


async def test_empty_file_comes_back_as_empty_file(pool, tmp_path):
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    with pytest.raises(EmptyFile) as raised:
        await pool.analyze(empty)
    assert raised.value.user_message == EmptyFile.user_message


async def test_crate_error_round_trips_with_message_and_detail(pool):
    with pytest.raises(TooLong) as raised:
        await pool.run(raise_crate_error, "That one is far too long.", "4 h")
    assert isinstance(raised.value, CrateError)
    assert raised.value.user_message == "That one is far too long."
    assert str(raised.value) == "That one is far too long."
    assert raised.value.detail == "4 h"


async def test_other_exceptions_keep_their_type_and_remote_traceback(pool):
    with pytest.raises(ValueError, match="not a user's fault") as raised:
        await pool.run(raise_value_error)
    assert "raise_value_error" in raised.value.__cause__.tb


async def test_unpicklable_exception_becomes_runtime_error(pool):
    with pytest.raises(RuntimeError, match="Unpicklable"):
        await pool.run(raise_unpicklable)
    assert await pool.run(abs, -2) == 2  # the worker is fine


async def test_system_exit_in_a_job_does_not_escape(pool):
    with pytest.raises(RuntimeError, match="SystemExit"):
        await pool.run(call_exit)


async def test_unpicklable_job_fails_in_the_caller_and_is_not_admitted(pool):
    with pytest.raises(Exception, match="pickle|lambda"):
        await pool.run(lambda: 1)
    assert pool.pending == 0


# --------------------------------------------------------------------------- crashes and timeouts


async def test_worker_crash_fails_only_that_job_and_is_replaced(pool, track):
    restarts = pool.restarts
    with pytest.raises(WorkerCrashed) as raised:
        await pool.run(os._exit, 3)
    assert raised.value.user_message == WorkerCrashed.user_message
    assert pool.restarts == restarts + 1
    result = await pool.analyze(track)  # works at once on the other worker, or on the replacement
    assert result.content_hash


async def test_a_segfault_inside_in_process_decoding_fails_only_that_job(pool, track):
    """Decoding runs in the worker's own process (PyAV): a crash in it kills that worker only; the
    member gets the friendly WorkerCrashed reply, the slot is replaced and analysis goes on."""
    restarts = pool.restarts
    with pytest.raises(WorkerCrashed) as raised:
        await pool.run(segfault_while_decoding, str(track))
    assert raised.value.user_message == WorkerCrashed.user_message
    assert pool.restarts == restarts + 1
    assert (await pool.analyze(track)).content_hash


async def test_worker_that_died_while_idle_is_replaced_and_the_job_still_runs(pool):
    await pool.wait_ready()
    victim = pool.worker_pids[0]
    restarts = pool.restarts
    os.kill(victim, signal.SIGKILL)
    while alive(victim):
        await asyncio.sleep(0.01)
    # Two jobs take both idle workers; the one sent to the dead worker moves on to a live one.
    pids = await asyncio.gather(pool.run(os.getpid), pool.run(os.getpid))
    assert victim not in pids
    assert pool.restarts == restarts + 1


async def test_crash_in_one_slot_does_not_fail_a_concurrent_job_in_the_other(pool, track):
    await pool.wait_ready()
    analysis = asyncio.create_task(pool.analyze(track))
    await asyncio.sleep(0.1)  # the analysis is running in one slot
    with pytest.raises(WorkerCrashed):
        await pool.run(os._exit, 7)
    result = await analysis
    assert result.content_hash == hashlib.sha256(track.read_bytes()).hexdigest()


async def test_timeout_kills_the_job_and_replaces_the_worker(pool, track):
    before = set(pool.worker_pids)
    restarts = pool.restarts
    started = time.monotonic()
    with pytest.raises(JobTimeout) as raised:
        await pool.run(time.sleep, 30, timeout=1)
    assert time.monotonic() - started < 5
    assert raised.value.user_message == JobTimeout.user_message
    assert pool.restarts == restarts + 1
    (killed,) = before - set(pool.worker_pids)
    assert (await pool.analyze(track)).content_hash  # on the other worker, or the replacement
    assert not alive(killed)


# --------------------------------------------------------------------------- the event loop


async def test_event_loop_stays_responsive_during_analyses(pool, track):
    await pool.wait_ready()
    lags: list[float] = []
    stop = asyncio.Event()

    async def ticker():
        while not stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - before - 0.01)

    ticking = asyncio.create_task(ticker())
    results = await asyncio.gather(*(pool.analyze(track) for _ in range(4)))
    stop.set()
    await ticking
    assert len({r.content_hash for r in results}) == 1
    assert len(lags) > 20
    assert max(lags) < 0.5, f"max event-loop lag {max(lags):.3f} s"


# --------------------------------------------------------------------------- admission and shutdown


async def test_bounded_admission_then_clean_close():
    pool = AnalysisPool(workers=1, queue_depth=1, job_timeout=30)
    await pool.start()
    try:
        (pid,) = pool.worker_pids
        first = asyncio.create_task(pool.run(sleep_then_pid, 1.0))
        second = asyncio.create_task(pool.run(sleep_then_pid, 1.0))
        await asyncio.sleep(0)
        assert pool.pending == 2
        started = time.monotonic()
        with pytest.raises(Busy) as raised:
            await pool.run(sleep_then_pid, 1.0)
        assert time.monotonic() - started < 0.1
        assert raised.value.user_message == Busy.user_message
        assert await first == pid and await second == pid
        assert pool.pending == 0

        # Closing while a job runs: the job's caller is told, the worker is killed.
        running = asyncio.create_task(pool.run(time.sleep, 30))
        await asyncio.sleep(0.2)
    finally:
        started = time.monotonic()
        await pool.close()
    assert time.monotonic() - started < 2
    with pytest.raises(PoolClosed):
        await running
    assert not alive(pid)
    assert pid not in {p.pid for p in multiprocessing.active_children()}
    assert pid not in children_of_this_process()
    await pool.close()  # idempotent
    with pytest.raises(PoolClosed):
        await pool.run(abs, 1)


async def test_a_worker_that_cannot_start_is_a_clear_error(tmp_path):
    before = children_of_this_process()
    pool = AnalysisPool(workers=1, queue_depth=1, job_timeout=10, genre_model_path=tmp_path / "no-model")
    with pytest.raises(WorkerStartError, match="No genre model") as raised:
        await pool.start()
    assert "GenreModelError" in str(raised.value)
    assert children_of_this_process() <= before


async def test_from_settings():
    settings = Settings(workers=3, queue_depth=5, job_timeout=12.5, genre_model_path=Path("/models/x"))
    pool = AnalysisPool.from_settings(settings)
    assert (pool.workers, pool.queue_depth, pool.job_timeout) == (3, 5, 12.5)
    assert pool.genre_model_path == Path("/models/x")
    assert pool.limits == settings.limits
