"""Analysis on the PostgreSQL queue: real PostgreSQL, real ``crate worker`` processes.

The bot's side (:class:`bot.jobs.queue.AnalysisQueue`) runs in the test; the workers are separate
``python -m bot worker`` processes, as on another host. PostgreSQL missing fails these tests
with the reason (tests/conftest.py's ``postgres_server``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

import pytest

from bot.catalog import content_hash
from bot.config import Settings
from bot.jobs.queue import QUEUE, AnalysisQueue
from tests.fakediscord.harness import ROOT, crate_env, crate_process, wait_for_log

pytestmark = pytest.mark.asyncio

EXAMPLES = ROOT / "examples"


@contextlib.asynccontextmanager
async def crate_worker(url: str, log_path: Path):
    """A real ``crate worker`` process (one analysis process); yields once it says it is ready."""
    env = crate_env(None, None, CRATE_QUEUE="postgres", CRATE_DATABASE_URL=url)
    async with crate_process(env, log_path, "worker") as process:
        await wait_for_log(process, log_path, "crate worker ready")
        yield process


def descendants(pid: int, *, below: int = 1) -> list[int]:
    """Every live process below ``pid`` (the worker's fork server and analysis processes);
    ``below=2``: only from its grandchildren down (the analysis processes, not the fork server)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [(pid, 0)]
    while todo:
        parent, depth = todo.pop()
        for child in children.get(parent, []):
            if depth + 1 >= below:
                found.append(child)
            todo.append((child, depth + 1))
    return found


def queue_for(url: str) -> AnalysisQueue:
    settings = Settings.from_env({"CRATE_QUEUE": "postgres", "CRATE_DATABASE_URL": url}, dotenv_path=None)
    return AnalysisQueue.from_settings(settings)


async def settled_job_rows(queue: AnalysisQueue) -> list[dict]:
    """The jobs once none is still marked running (a worker writes the outcome, and so wakes the
    caller, just before procrastinate marks its job finished)."""
    async with asyncio.timeout(60):
        while True:
            rows = await job_rows(queue)
            if all(row["status"] != "doing" for row in rows):
                return rows
            await asyncio.sleep(0.1)


async def job_rows(queue: AnalysisQueue) -> list[dict]:
    return await queue.app.connector.execute_query_all_async(
        "SELECT id, status, attempts FROM procrastinate_jobs WHERE queue_name = %(q)s ORDER BY id", q=QUEUE
    )


async def job_held_by(queue: AnalysisQueue, frozen: list[int], path: Path) -> asyncio.Task:
    """Stop (SIGSTOP) a worker's analysis processes ``frozen``, send a job, and return it once
    that worker has taken it: it holds the job in ``doing`` and cannot finish it."""
    assert frozen, "crate worker runs its analysis in child processes"
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    job = asyncio.create_task(queue.analyze(path))
    async with asyncio.timeout(60):
        while [r["status"] for r in await job_rows(queue)] != ["doing"]:
            await asyncio.sleep(0.1)
    return job


async def test_two_workers_share_the_jobs_and_results_wake_the_caller(postgres_url, tmp_path):
    paths = sorted(EXAMPLES.glob("*.ogg"))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with (
        crate_worker(postgres_url, tmp_path / "a" / "worker.log"),
        crate_worker(postgres_url, tmp_path / "b" / "worker.log"),
        queue_for(postgres_url) as queue,
    ):
        results = await asyncio.gather(*(queue.analyze(path) for path in paths))
        for path, analyzed in zip(paths, results):
            assert analyzed.content_hash == content_hash(path)
            assert analyzed.analysis.genres and analyzed.analysis.embedding.shape == (200,)
        assert [row["status"] for row in await settled_job_rows(queue)] == ["succeeded"] * len(paths)
        # nothing is left behind in Crate's job table
        left = await queue.app.connector.execute_query_all_async("SELECT id FROM crate_analysis_jobs")
        assert left == []
        # a file that is not audio comes back as the worker's typed error, with the member's sentence
        junk = tmp_path / "junk.mp3"
        junk.write_bytes(b"not audio at all" * 100)
        from bot.errors import CrateError

        with pytest.raises(CrateError) as caught:
            await queue.analyze(junk)
        assert caught.value.user_message and "went wrong" not in caught.value.user_message


async def test_a_job_whose_worker_is_killed_is_retried_by_another_worker(postgres_url, tmp_path):
    """Worker A takes the job, then dies (SIGKILL, with its analysis processes): it stops
    heart-beating, and worker B, started meanwhile, retries the job and answers it.

    Deterministic: A's analysis processes are stopped (SIGSTOP) before the job is sent, so A
    holds the job in ``doing`` until it is killed.
    """
    path = EXAMPLES / "singularity-awakening.ogg"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with queue_for(postgres_url) as queue:
        async with crate_worker(postgres_url, tmp_path / "a" / "worker.log") as worker_a:
            frozen = descendants(worker_a.pid)
            job = await job_held_by(queue, frozen, path)
            for pid in [worker_a.pid, *frozen]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            await worker_a.wait()
        async with crate_worker(postgres_url, tmp_path / "b" / "worker.log"):
            analyzed = await asyncio.wait_for(job, 120)
        assert analyzed.content_hash == content_hash(path)
        (row,) = await settled_job_rows(queue)
        assert row["status"] == "succeeded" and row["attempts"] >= 1
        assert "retrying it" in (tmp_path / "b" / "worker.log").read_text()


async def test_a_cancelled_wait_aborts_its_job_and_the_queue_says_busy_when_full(postgres_url, tmp_path):
    path = EXAMPLES / "singularity-awakening.ogg"
    async with queue_for(postgres_url) as queue:  # no worker at all: jobs wait in the queue
        queue.queue_depth = 1
        waiting = asyncio.create_task(queue.analyze(path))
        async with asyncio.timeout(30):
            while not await job_rows(queue):
                await asyncio.sleep(0.05)
        from bot.jobs.pool import Busy

        with pytest.raises(Busy):
            await queue.analyze(path)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert [r["status"] for r in await job_rows(queue)] == ["cancelled"]
        left = await queue.app.connector.execute_query_all_async("SELECT id FROM crate_analysis_jobs")
        assert left == []


async def test_a_stopped_worker_hands_its_job_back_to_the_queue(postgres_url, tmp_path):
    """SIGTERM (``docker stop``) to a worker whose job cannot finish: after its grace period
    the job goes back to the queue (not lost, not failed), and the next worker answers it."""
    path = EXAMPLES / "nexuiz-brainsukker.ogg"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with queue_for(postgres_url) as queue:
        async with crate_worker(postgres_url, tmp_path / "a" / "worker.log") as worker_a:
            job = await job_held_by(queue, descendants(worker_a.pid, below=2), path)  # it cannot finish
            worker_a.terminate()
            assert await asyncio.wait_for(worker_a.wait(), 60) == 0
        assert [r["status"] for r in await job_rows(queue)] == ["todo"]
        async with crate_worker(postgres_url, tmp_path / "b" / "worker.log"):
            analyzed = await asyncio.wait_for(job, 120)
        assert analyzed.content_hash == content_hash(path)
        (row,) = await settled_job_rows(queue)
        assert row["status"] == "succeeded" and row["attempts"] >= 1  # handed back, then taken again
