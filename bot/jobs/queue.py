"""Analysis past one machine: the pool's jobs on procrastinate, a PostgreSQL-backed task queue.

With ``CRATE_QUEUE=postgres`` the bot process keeps no analysis workers: :class:`AnalysisQueue`
offers what :class:`~bot.jobs.analysis.AnalysisPool` offers (``analyze(path)``, ``async with``,
:class:`~bot.jobs.pool.Busy`, :class:`~bot.jobs.pool.JobTimeout`, :class:`~bot.jobs.pool.PoolClosed`), so
:class:`~bot.app.crate.Crate` does not care which one it has. ``crate worker`` processes
(:mod:`bot.jobs.queue_worker`, on this host or any other that reaches the database) take the jobs.

The way of one job:

1. the bot stores the audio in ``crate_analysis_jobs`` (:mod:`bot.store.analysis_jobs`) and
   defers a procrastinate job naming that row;
2. a worker takes it (procrastinate: ``FOR UPDATE SKIP LOCKED``, woken by its own NOTIFY),
   analyzes it in its local supervised :class:`~bot.jobs.analysis.AnalysisPool` (models loaded
   once per worker process, the job timeout and crash replacement as in the bot), and writes the
   pickled outcome into the row with a ``NOTIFY crate_analysis_done, '<row id>'``;
3. the bot, which LISTENs on its own connection, is woken and takes the outcome (the row goes).
   A missed notification (a dropped LISTEN connection) costs at most :data:`POLL_SECONDS`.

Limits as with the pool: the per-member and per-server reservations (:mod:`bot.jobs.admission`) stay
in the bot process, and they still hold across processes because Discord sends all of one
guild's interactions to one shard, so to one process. ``Busy`` when this process already has
``workers + queue_depth`` jobs in flight, or when ``queue_depth`` jobs of every process wait
untaken in the queue. A ``crate worker`` killed mid-job stops heart-beating; another worker
retries the job after :data:`STALLED_AFTER` seconds (:data:`MAX_ATTEMPTS` in all, then the
member reads the pool's "something went wrong while I was listening"); one stopped with SIGTERM
lets its jobs finish for :data:`SHUTDOWN_GRACE` seconds and hands the rest back to the queue. A
cancelled wait (the member's request dropped, Crate stopping) aborts the job and discards its row.

A bot process that dies without unwinding (SIGKILL, OOM, power loss) cannot discard anything: its
rows carry its owner number, whose advisory lock went with its connection, and :meth:`AnalysisQueue.sweep`
(at a bot's start, then every :data:`SWEEP_SECONDS` in each bot) removes them with their jobs,
and every row older than :func:`job_deadline`; each member whose interaction is still valid is told
to share again (:attr:`AnalysisQueue.tell_interrupted`, set by the Discord client). A ``crate
worker`` sweeps too, rows older than the deadline and the interactions' lifetime, when no bot
runs to do it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import logging
import pickle
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from bot import database_url as dburl
from bot import i18n
from bot.config import AudioLimits, ConfigError
from bot.jobs.analysis import AnalyzedFile
from bot.jobs.pool import Busy, JobTimeout, PoolClosed, RemoteTraceback, WorkerCrashed
from bot.store import analysis_jobs

if TYPE_CHECKING:
    import procrastinate

    from bot.config import Settings

log = logging.getLogger(__name__)

#: The procrastinate queue (and task name) of analysis jobs.
QUEUE = "crate-analysis"
TASK = "crate.analyze"
#: A worker beats every HEARTBEAT seconds; a job whose worker has not beaten for STALLED_AFTER
#: seconds is retried by another worker (each checks every STALLED_AFTER / 2 seconds).
HEARTBEAT = 2.0
STALLED_AFTER = 10.0
MAX_ATTEMPTS = 3
#: Seconds a stopping ``crate worker`` lets its running jobs finish before handing them back.
SHUTDOWN_GRACE = 5.0
#: A waiting bot also looks for its outcome this often, in case a notification was missed.
POLL_SECONDS = 5.0
#: Each bot process sweeps the rows of dead processes (and old ones) this often.
SWEEP_SECONDS = 60.0
#: Discord's interaction tokens live 15 minutes; a member is told only while there is time to.
TOKEN_LIFETIME = 15 * 60.0 - 30.0

#: Who asked for the analysis running in this task: (application id, interaction token, when), set
#: by the Discord client around an interaction (``CrateBot.working_on``) and stored with the job.
ASKED: contextvars.ContextVar[tuple[int, str, float] | None] = contextvars.ContextVar("crate_asked", default=None)

#: How a member is told that their analysis was interrupted: (application id, interaction token,
#: the language they were spoken to in, a bot.i18n catalog name).
Tell = Callable[[int, str, str], Awaitable[None]]


def job_deadline(job_timeout: float) -> float:
    """Seconds a waiting bot gives one job in all: each attempt is timed out by its worker's pool,
    a stalled one retried; past this no one waits for the job's row."""
    return MAX_ATTEMPTS * (job_timeout + STALLED_AFTER + HEARTBEAT) + 60


def make_app(url: str) -> procrastinate.App:
    """The procrastinate app on ``url``. The bot defers Crate's analysis task by name; a ``crate
    worker`` registers the task itself (:func:`bot.jobs.queue_worker.worker_app`)."""
    import procrastinate

    return procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=dburl.libpq_conninfo(url)))


#: How long one plain connection may take before :func:`unreachable` calls the database unreachable.
REACH_TIMEOUT = 5


async def unreachable(url: str) -> str | None:
    """Why one plain connection to ``url`` fails (its first line: refused, no answer, a login
    refused), or ``None`` when it opens. Asked before procrastinate's connection pool opens, which
    would retry a refused connection for its whole timeout and log every attempt."""
    import psycopg

    try:
        async with asyncio.timeout(REACH_TIMEOUT + 2):
            connection = await psycopg.AsyncConnection.connect(
                dburl.libpq_conninfo(url), connect_timeout=REACH_TIMEOUT, autocommit=True
            )
        await connection.close()
    except (psycopg.Error, OSError, TimeoutError) as error:
        return (str(error).strip().splitlines() or [f"no answer within {REACH_TIMEOUT} s"])[0]
    return None


async def prepare_database(app: procrastinate.App) -> None:
    """procrastinate's schema (once per database) and Crate's job table; safe to run again."""
    connector = app.connector
    rows = await connector.execute_query_all_async("SELECT to_regclass('procrastinate_jobs') AS t")
    if rows[0]["t"] is None:
        try:
            await app.schema_manager.apply_schema_async()
        except Exception:  # another process applied it at the same moment
            rows = await connector.execute_query_all_async("SELECT to_regclass('procrastinate_jobs') AS t")
            if rows[0]["t"] is None:
                raise
    with contextlib.suppress(Exception):  # a concurrent CREATE TABLE IF NOT EXISTS can collide once
        await analysis_jobs.create_table(connector)
    await analysis_jobs.create_table(connector)


def decode_outcome(data: bytes) -> tuple[AnalyzedFile, float, float]:
    """A worker's pickled outcome: the AnalyzedFile, the seconds its analysis took in the worker
    and the wall-clock time it finished at; or the worker's typed error, raised here."""
    kind, *payload = pickle.loads(data)
    if kind == "ok":
        analyzed, seconds, finished_at = payload
        return analyzed, seconds, finished_at
    error, tb = payload
    error.__cause__ = RemoteTraceback(tb)
    raise error


class AnalysisQueue:
    """The bot's side of the queue: the same interface as :class:`~bot.jobs.analysis.AnalysisPool`."""

    def __init__(
        self,
        url: str,
        *,
        workers: int,
        queue_depth: int,
        job_timeout: float,
        limits: AudioLimits = AudioLimits(),
    ):
        self.url = url
        self.workers = workers
        self.queue_depth = queue_depth
        self.job_timeout = job_timeout
        self.limits = limits
        self.app = make_app(url)
        self._waiters: dict[int, asyncio.Future[None]] = {}
        self._listener: asyncio.Task | None = None
        self._listening = asyncio.Event()
        self._admitted = 0
        self._closed = False
        #: This process's number on its rows; its lock, held by the LISTEN connection, says it lives.
        self.owner = secrets.randbelow(2**31 - 2) + 1
        self._sweeper: asyncio.Task | None = None
        #: Tells a member their analysis was interrupted (set by the Discord client); None: nobody told.
        self.tell_interrupted: Tell | None = None
        #: Per job: (seconds from enqueueing to holding the outcome, seconds the analysis itself
        #: took in the worker, seconds from the worker's end to this process holding the outcome:
        #: meaningful on one host, whose clock both share); see benchmarks/analysis_queue.py.
        self.timings: list[tuple[float, float, float]] = []

    @classmethod
    def from_settings(cls, settings: Settings) -> AnalysisQueue:
        if not settings.database_url:
            raise ConfigError("CRATE_QUEUE=postgres needs CRATE_DATABASE_URL (the PostgreSQL the workers use too).")
        return cls(
            settings.database_url,
            workers=settings.workers,
            queue_depth=settings.queue_depth,
            job_timeout=settings.job_timeout,
            limits=settings.limits,
        )

    @property
    def concurrency(self) -> int:
        """How many jobs a caller with many (``crate index``) keeps in flight: the queue's depth,
        enough to feed every worker of every host (which this process cannot count)."""
        return self.queue_depth

    @property
    def pending(self) -> int:
        return self._admitted

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        await self.app.open_async()
        await prepare_database(self.app)
        self._listener = asyncio.create_task(self._listen(), name="crate-queue-listen")
        async with asyncio.timeout(30):
            await self._listening.wait()
        self._sweeper = asyncio.create_task(self._sweep_every(SWEEP_SECONDS), name="crate-queue-sweep")
        log.info("Analysis queue ready on PostgreSQL (queue %s)", QUEUE)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_exception(PoolClosed())
        for task in (self._listener, self._sweeper):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await self.app.close_async()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    async def _listen(self) -> None:
        """LISTEN for finished jobs on a connection of its own; reconnect when it drops."""
        import psycopg

        delay = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    dburl.libpq_conninfo(self.url), autocommit=True
                ) as conn:
                    await analysis_jobs.hold_owner(conn, self.owner)  # held while this process lives
                    await conn.execute(f"LISTEN {analysis_jobs.DONE_CHANNEL}")
                    self._listening.set()
                    delay = 0.5
                    async for notify in conn.notifies():
                        waiter = self._waiters.get(int(notify.payload))
                        if waiter is not None and not waiter.done():
                            waiter.set_result(None)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("lost the queue's LISTEN connection; reconnecting in %.1f s", delay, exc_info=True)
                for waiter in self._waiters.values():  # whoever finished meanwhile: look now
                    if not waiter.done():
                        waiter.set_result(None)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    # ----------------------------------------------------------------- jobs

    def ensure_capacity(self) -> None:
        if self._admitted >= self.workers + self.queue_depth:
            raise Busy(detail=f"{self._admitted} jobs in flight from this process")

    async def analyze(self, path: Path) -> AnalyzedFile:
        """Analyze ``path`` on some ``crate worker``; raises the worker's typed ``CrateError``s."""
        if self._closed:
            raise PoolClosed(detail="the analysis queue is closed")
        self.ensure_capacity()
        self._admitted += 1
        try:
            connector = self.app.connector
            if await analysis_jobs.waiting_jobs(connector, QUEUE) >= self.queue_depth:
                raise Busy(detail=f"{self.queue_depth} jobs wait in the queue")
            started = time.perf_counter()
            audio = await asyncio.to_thread(Path(path).read_bytes)
            row_id = await analysis_jobs.put_input(
                connector, audio, owner=self.owner, asked=ASKED.get(), language=i18n.current()
            )
            return await self._run(row_id, Path(path).suffix, started)
        finally:
            self._admitted -= 1

    async def _run(self, row_id: int, suffix: str, started: float) -> AnalyzedFile:
        connector = self.app.connector
        loop = asyncio.get_running_loop()
        job_id: int | None = None
        deadline = job_deadline(self.job_timeout)
        try:
            async with asyncio.timeout(deadline):
                self._waiters[row_id] = loop.create_future()
                job_id = await self.app.configure_task(TASK, queue=QUEUE).defer_async(
                    row_id=row_id, suffix=suffix, limits=dataclasses.asdict(self.limits)
                )
                while True:
                    waiter = self._waiters[row_id]
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(waiter), POLL_SECONDS)
                    outcome = await analysis_jobs.take_outcome(connector, row_id)
                    if outcome is not None:
                        analyzed, seconds, finished_at = decode_outcome(outcome)
                        self.timings.append((time.perf_counter() - started, seconds, time.time() - finished_at))
                        return analyzed
                    if waiter.done():
                        waiter.result()  # PoolClosed when closing
                        self._waiters[row_id] = loop.create_future()
                    elif not await analysis_jobs.exists(connector, row_id):  # swept: believed dead
                        raise WorkerCrashed(detail=f"job {job_id}: its row was swept")
        except TimeoutError:
            await self._abandon(job_id, row_id)
            raise JobTimeout(detail=f"no worker finished job {job_id} within {deadline:g} s") from None
        except BaseException:  # cancelled (the member's request is gone, Crate stops), closed
            await asyncio.shield(self._abandon(job_id, row_id))
            raise
        finally:
            self._waiters.pop(row_id, None)

    # ----------------------------------------------------------------- sweeping

    async def sweep(self) -> int:
        """Remove the rows of bot processes that died and rows past :func:`job_deadline`, cancel
        their jobs, and tell their members (while their interaction is valid) to share again;
        returns how many rows went."""
        swept = await sweep_rows(self.app, older_than=job_deadline(self.job_timeout), orphans=True)
        tell = self.tell_interrupted
        for row in swept:
            if tell is None or row.token is None or row.application_id is None:
                continue
            if row.asked_at is not None and time.time() - row.asked_at > TOKEN_LIFETIME:
                continue
            try:
                await tell(int(row.application_id), row.token, row.language or i18n.SOURCE)
            except Exception:  # one member not reached must not stop the others
                log.warning("could not tell a member that their analysis was interrupted", exc_info=True)
        if swept:
            log.info("swept %d analysis rows nobody waits for", len(swept))
        return len(swept)

    async def _sweep_every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("could not sweep the analysis queue; trying again later", exc_info=True)

    async def _abandon(self, job_id: int | None, row_id: int) -> None:
        """Nobody wants this outcome: drop its row, then abort the job (a running one is
        cancelled). The row goes first, so that a worker taking the job meanwhile (or a retry
        of the aborted one) finds nothing to analyze and an outcome has nowhere to land."""
        with contextlib.suppress(Exception):
            await analysis_jobs.discard(self.app.connector, row_id)
            if job_id is not None:
                await self.app.job_manager.cancel_job_by_id_async(job_id, abort=True)


async def sweep_rows(app: procrastinate.App, *, older_than: float, orphans: bool) -> list[analysis_jobs.Swept]:
    """Remove the rows :func:`bot.store.analysis_jobs.sweep` finds, then cancel their jobs (a job
    taken meanwhile finds no row and ends: the row goes first)."""
    swept = await analysis_jobs.sweep(app.connector, older_than=older_than, orphans=orphans)
    for job_id in await analysis_jobs.jobs_of(app.connector, QUEUE, [row.row_id for row in swept]):
        with contextlib.suppress(Exception):  # finished meanwhile
            await app.job_manager.cancel_job_by_id_async(job_id, abort=True)
    return swept


def job_arguments(limits: dict[str, Any]) -> AudioLimits:
    """The AudioLimits a job carries as JSON."""
    return AudioLimits(**limits)
