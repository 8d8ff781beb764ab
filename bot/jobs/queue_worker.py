"""``crate worker``: take analysis jobs from the PostgreSQL queue and run them, on any host.

One ``crate worker`` process runs a procrastinate worker with ``CRATE_WORKERS`` jobs at once,
each analyzed in the process's own supervised :class:`~bot.jobs.analysis.AnalysisPool` of as
many processes (models loaded once per process, the job timeout, a crashed analysis process
replaced: exactly what the bot runs without the queue). Beside it, :func:`retry_stalled` hands
jobs whose ``crate worker`` died (no heartbeat for :data:`~bot.jobs.queue.STALLED_AFTER` seconds)
back to the queue, where another worker takes them.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import database_url as dburl
from bot.errors import CrateError
from bot.jobs.analysis import AnalysisPool, analyze_file
from bot.jobs.pool import WorkerCrashed, error_reply
from bot.store import analysis_jobs
from bot.store.errors import StoreError

if TYPE_CHECKING:
    import procrastinate

    from bot.config import Settings

log = logging.getLogger(__name__)

#: This process's analysis pool (set by :func:`run_worker`; the task runs in the same process).
_pool: AnalysisPool | None = None


async def analyze_job(context: Any, row_id: int, suffix: str, limits: dict[str, Any]) -> None:
    """The procrastinate task: analyze the row's audio and write the outcome into the row."""
    from bot.jobs.queue import job_arguments

    connector = context.app.connector
    audio = await analysis_jobs.input_of(connector, row_id)
    if audio is None:  # nobody waits for it any more
        return
    if _pool is None:
        raise RuntimeError("analyze_job runs in `crate worker`, after its pool started")
    with tempfile.TemporaryDirectory(prefix="crate-job-") as directory:
        path = Path(directory) / f"audio{suffix[:16]}"
        await asyncio.to_thread(path.write_bytes, audio)
        try:
            started = time.perf_counter()
            analyzed = await _pool.run(analyze_file, str(path), job_arguments(limits))
            # the wall clock at the end: a caller on the same host measures how soon it was woken
            outcome = pickle.dumps(("ok", analyzed, time.perf_counter() - started, time.time()))
        except CrateError as error:  # the member's sentence travels back with the error
            outcome = error_reply(error)
    await analysis_jobs.put_outcome(connector, row_id, outcome)


async def retry_stalled(app: procrastinate.App, *, sweep_after: float | None = None) -> None:
    """Give jobs whose worker stopped beating back to the queue (after MAX_ATTEMPTS: an error);
    with ``sweep_after``, also remove rows (and their jobs) older than that many seconds, which
    no bot waits for any more (the bots sweep the rows of dead processes themselves)."""
    from bot.jobs.queue import MAX_ATTEMPTS, QUEUE, STALLED_AFTER, sweep_rows

    while True:
        await asyncio.sleep(STALLED_AFTER / 2)
        try:
            if sweep_after is not None and (swept := await sweep_rows(app, older_than=sweep_after, orphans=False)):
                log.info("swept %d analysis rows nobody waits for", len(swept))
            stalled = await app.job_manager.get_stalled_jobs(queue=QUEUE, seconds_since_heartbeat=STALLED_AFTER)
            for job in stalled:
                if job.attempts + 1 >= MAX_ATTEMPTS:
                    log.error("job %s: its worker died %d times; giving up", job.id, job.attempts + 1)
                    crashed = WorkerCrashed(detail=f"job {job.id}: {job.attempts + 1} workers died during it")
                    await analysis_jobs.put_outcome(
                        app.connector, int(str(job.task_kwargs["row_id"])), error_reply(crashed)
                    )
                    from procrastinate.jobs import Status

                    await app.job_manager.finish_job(job, status=Status.FAILED, delete_job=False)
                else:
                    log.warning("job %s: its worker stopped beating; retrying it", job.id)
                    await app.job_manager.retry_job(job)
        except asyncio.CancelledError:
            raise
        except Exception:  # another worker retried it first, the database blinked...
            log.warning("could not retry stalled jobs; trying again later", exc_info=True)


async def check_database(url: str) -> None:
    """Refuse at start, in one sentence, a database this worker cannot reach or log in to: before
    the analysis processes start, instead of the connection pool's retries and traceback."""
    from bot.jobs.queue import unreachable

    reason = await unreachable(url)
    if reason is not None:
        raise StoreError(f"crate worker could not reach its database at {dburl.shown(url)}: {reason}")


def worker_app(url: str) -> procrastinate.App:
    """The queue's app with Crate's analysis task registered, as a ``crate worker`` runs it."""
    import procrastinate

    from bot.jobs.queue import MAX_ATTEMPTS, QUEUE, TASK, make_app

    app = make_app(url)
    # A job cancelled in its worker goes back to the queue: a worker stopping (SIGTERM) cancels
    # what it still runs after SHUTDOWN_GRACE; a job the bot aborted finds its row gone and ends.
    retry = procrastinate.RetryStrategy(max_attempts=MAX_ATTEMPTS, retry_exceptions=[asyncio.CancelledError])  # type: ignore[list-item]
    app.task(name=TASK, queue=QUEUE, pass_context=True, retry=retry)(analyze_job)
    return app


async def run_worker(settings: Settings) -> None:
    """Run until cancelled (SIGINT/SIGTERM): running jobs get SHUTDOWN_GRACE seconds to finish,
    the others go back to the queue."""
    global _pool
    from bot.jobs.queue import (
        HEARTBEAT,
        QUEUE,
        SHUTDOWN_GRACE,
        STALLED_AFTER,
        TOKEN_LIFETIME,
        AnalysisQueue,
        job_deadline,
        prepare_database,
    )

    url = settings.database_url or AnalysisQueue.from_settings(settings).url  # the bot's own refusal if unset
    await check_database(url)
    app = worker_app(url)
    async with AnalysisPool.from_settings(settings) as pool, app.open_async():
        await prepare_database(app)
        _pool = pool
        # past the deadline and the interactions' lifetime: no bot waits, no member can be told
        sweep_after = max(job_deadline(settings.job_timeout), TOKEN_LIFETIME + 30)
        sweeper = asyncio.create_task(retry_stalled(app, sweep_after=sweep_after), name="crate-retry-stalled")
        log.info("crate worker ready: %d analysis processes on queue %s", settings.workers, QUEUE)
        try:
            await app.run_worker_async(
                queues=[QUEUE],
                concurrency=settings.workers,
                update_heartbeat_interval=HEARTBEAT,
                stalled_worker_timeout=STALLED_AFTER,
                shutdown_graceful_timeout=SHUTDOWN_GRACE,
                install_signal_handlers=False,
            )
        finally:
            sweeper.cancel()
            await asyncio.gather(sweeper, return_exceptions=True)
            _pool = None
