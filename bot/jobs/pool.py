"""A supervised process pool: N worker processes, each set up once, that run jobs one at a time.

Generic: nothing here knows about music (Crate's analysis job and its worker set-up live in
:mod:`bot.jobs.analysis`). Only :mod:`bot.errors` is imported, for the user-facing error types.

Why not ``concurrent.futures.ProcessPoolExecutor``: when one of its workers dies it breaks *every*
pending future and the executor itself, and it cannot stop a single job that runs too long. Crate
needs "the user whose job it was gets an error, everybody else is unaffected", so the pool is N
independent *slots*, each one ``spawn``-ed :class:`multiprocessing.Process` talking to the parent
over its own socket pair:

* **Jobs** are ``(module-level function, args)`` pairs, pickled in the parent (an unpicklable job
  fails at once, in the caller) and run in the worker. The worker sends back the pickled result, or
  the pickled exception plus its formatted traceback. :class:`~bot.errors.CrateError` subclasses
  round-trip with their ``user_message`` and ``detail`` intact; exceptions that cannot be pickled
  come back as a ``RuntimeError`` naming them.
* **Waiting** never blocks the event loop: the parent registers the socket with
  ``loop.add_reader`` and only reads once the worker has written. Results should be small plain
  values (Crate's :class:`~bot.analysis.Analysis` is a few KB of numpy and tuples), so unpickling
  them on the loop costs microseconds; all CPU work happens in the workers.
* **Timeout**: the worker's process group (the worker and any ffmpeg it started) is killed, the
  caller gets :class:`JobTimeout`, and a replacement worker is started in the background.
* **Crash** (EOF on the socket: the worker exited, was OOM-killed, segfaulted...): the caller of
  *that* job gets :class:`WorkerCrashed` and the slot's worker is replaced; other slots' jobs keep
  running. A replacement warms up before it takes jobs; waiting jobs simply wait for it. A worker
  found dead while idle (process exited or socket at EOF) is replaced and the job goes to another
  worker, since it never started.
* **Admission is bounded**: at most ``workers + queue_depth`` jobs are admitted (running plus
  waiting for a free worker). Beyond that :class:`Busy` is raised immediately, so a burst of
  shares gets a friendly "try again in a minute" instead of an unbounded backlog. The job timeout
  counts from the moment a worker starts the job, not while it waits in the queue.

Each worker, on start: ignores SIGINT (the parent owns shutdown), becomes its own process-group
leader (so a kill also takes its children, e.g. ffmpeg, and Ctrl-C in a terminal doesn't reach it),
lowers its CPU priority a little (the event loop of the bot stays snappy even when every core is
busy), then calls the pool's ``initializer(*initargs)`` (e.g. load models, limit BLAS threads).
Only then does it report ready.

**Start method**: ``forkserver`` by default. The fork server is started once, imports the
``preload`` modules (what every worker needs: numpy, the models' code...), and forks each worker
from that warm process, so a worker (and a replacement after a crash) skips those imports. Pass
``start_method="spawn"`` for fully independent interpreters.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Self

from bot.errors import CrateError
from bot.i18n import N_

log = logging.getLogger(__name__)

#: How long a new worker may take to import, load its models and warm up.
START_TIMEOUT = 120.0
#: How long ``close()`` lets idle workers exit on their own before killing them.
CLOSE_GRACE = 3.0
#: Nice increment for workers: their jobs are batch work; the bot's event loop comes first.
WORKER_NICENESS = 5


class Busy(CrateError):
    user_message = N_("I'm busy listening to other music right now — please try again in a minute.")


class JobTimeout(CrateError):
    user_message = N_("That took me too long to analyze, so I gave up. Try a shorter file or a different link.")


class WorkerCrashed(CrateError):
    user_message = N_(
        "Something went wrong while I was listening to that, so I restarted my listener. Please try again."
    )


class PoolClosed(CrateError):
    user_message = N_("I'm shutting down right now — please try again in a moment.")


class WorkerStartError(CrateError):
    """A worker could not import, load its models or warm up (an operator problem, not a user's)."""

    user_message = N_("My listener couldn't start.")


class RemoteTraceback(Exception):
    """Attached as ``__cause__`` of an exception re-raised from a worker: the worker's traceback."""

    def __init__(self, tb: str):
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return f'\n"""\n{self.tb}"""'


# =========================================================================== worker side


def _worker_main(conn: Connection, initializer: Callable[..., None] | None, initargs: tuple) -> None:
    """A worker's whole life: set up, report ready, then run jobs until told to stop or orphaned."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.setpgrp()
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    started = time.perf_counter()
    try:
        if initializer is not None:
            initializer(*initargs)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            conn.send_bytes(pickle.dumps(("failed", f"{type(exc).__name__}: {exc}", traceback.format_exc())))
        return
    conn.send_bytes(pickle.dumps(("ready", os.getpid(), time.perf_counter() - started)))
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):  # the parent is gone
            return
        try:
            job = pickle.loads(data)
            if job is None:  # orderly shutdown
                return
            function, args = job
            reply = pickle.dumps(("ok", function(*args)))
        except Exception as exc:
            reply = error_reply(exc)
        except BaseException as exc:  # SystemExit & co. must not escape into the caller's process
            reply = error_reply(RuntimeError(f"job raised {type(exc).__name__}: {exc}"))
        try:
            conn.send_bytes(reply)
        except OSError:
            return


def error_reply(exc: BaseException) -> bytes:
    """The pickled ``("error", exception, traceback)``; a stand-in if the exception won't pickle."""
    tb = traceback.format_exc()
    try:
        reply = pickle.dumps(("error", exc, tb))
        pickle.loads(reply)  # some exceptions pickle but can't be rebuilt (custom __init__)
        return reply
    except Exception:
        stand_in = RuntimeError(f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}")
        return pickle.dumps(("error", stand_in, tb))


# =========================================================================== parent side


class _Worker:
    """One live worker process and the parent's end of its socket pair."""

    def __init__(self, context, slot: int, initializer: Callable[..., None] | None, initargs: tuple, name: str):
        self.slot = slot
        parent_end, child_end = context.Pipe(duplex=True)
        self.conn: Connection = parent_end
        self.process = context.Process(
            target=_worker_main,
            args=(child_end, initializer, initargs),
            name=f"{name}-{slot}",
            daemon=True,  # terminated by multiprocessing's atexit if the bot exits without close()
        )
        self.process.start()
        child_end.close()  # only the child holds it now, so the child's death means EOF here
        self.started = time.perf_counter()
        self.pid: int | None = self.process.pid
        self.disposed = False
        #: Seconds from start() to the worker's "ready" (None until then).
        self.ready_seconds: float | None = None
        log.info("Started worker %d (pid %s)", slot, self.process.pid)

    async def receive(self, timeout: float | None) -> Any:
        """The next message from the worker, without blocking the loop.

        Raises ``EOFError``/``OSError`` if the worker is gone, ``TimeoutError`` after ``timeout``.
        """
        loop = asyncio.get_running_loop()
        arrived = loop.create_future()
        fd = self.conn.fileno()

        def readable() -> None:
            loop.remove_reader(fd)
            if not arrived.done():
                arrived.set_result(None)

        loop.add_reader(fd, readable)
        try:
            async with asyncio.timeout(timeout):
                await arrived
        finally:
            loop.remove_reader(fd)
        data = self.conn.recv_bytes()  # the worker has written: a small message, read at once
        return pickle.loads(data)

    def is_usable(self) -> bool:
        """Cheap check before sending a job to an idle worker: still running, socket not at EOF."""
        try:
            # An idle worker never writes, so a readable socket means EOF (it exited).
            return self.process.is_alive() and not self.conn.poll()
        except (OSError, ValueError):
            return False

    def kill(self) -> None:
        """SIGKILL the worker's process group (the worker and any ffmpeg it started)."""
        pid = self.pid
        if pid is None or self.disposed:
            return
        try:
            if self.process.exitcode is not None:  # reaped: its pid may belong to someone else now
                return
            # Until we reap it (only we do), its pid can't be reused, so this can't hit a stranger.
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
            else:  # killed before it could call setpgrp()
                self.process.kill()
        except (ProcessLookupError, PermissionError, ValueError):
            pass

    def dispose(self, *, close_connection: bool = True) -> None:
        """Kill, reap (blocking, but a SIGKILLed process is reaped in milliseconds) and close.

        ``close_connection=False`` while a caller may still be watching the socket from the event
        loop: the socket then closes when the last reference to it goes.
        """
        if self.disposed:
            return
        self.kill()
        self.process.join(timeout=5)
        self.disposed = True
        if close_connection:
            with contextlib.suppress(OSError):
                self.conn.close()
        with contextlib.suppress(ValueError):
            self.process.close()

    def join(self, timeout: float) -> None:
        """Wait for the process to exit (blocking: call from a thread unless it's known to be dead)."""
        if not self.disposed:
            self.process.join(timeout)

    def describe_exit(self) -> str:
        if self.disposed:
            return "disposed"
        code = self.process.exitcode
        if code is None:
            return "still running"
        if code < 0:
            with contextlib.suppress(ValueError):
                return f"killed by {signal.Signals(-code).name}"
        return f"exit code {code}"


def start_fork_server(preload: tuple[str, ...]) -> None:
    """Start this interpreter's fork server now, importing ``preload``, and return at once.

    A front end calls it before its own heavy imports (discord.py, matplotlib, yt-dlp): the server
    imports the listening stack meanwhile, on the other core, and the pool's first worker forks from
    it ready or nearly so (``crate demo`` waited for the two one after the other). Does nothing
    when a fork server is already running; a pool created later with the same ``preload`` uses it.
    """
    import multiprocessing.forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(list(preload))
    multiprocessing.forkserver.ensure_running()


class ProcessPool:
    """A bounded pool of supervised worker processes. Use ``async with`` or ``start()``/``close()``.

    ``initializer(*initargs)`` runs once in each worker before it reports ready (both must be
    picklable); ``preload`` names modules the fork server imports once for every worker.
    """

    def __init__(
        self,
        *,
        workers: int,
        queue_depth: int,
        job_timeout: float,
        initializer: Callable[..., None] | None = None,
        initargs: tuple = (),
        preload: tuple[str, ...] = (),
        start_method: str = "forkserver",
        name: str = "worker",
    ):
        if workers < 1 or queue_depth < 0 or job_timeout <= 0:
            raise ValueError("need workers >= 1, queue_depth >= 0 and job_timeout > 0")
        self.workers = workers
        self.queue_depth = queue_depth
        self.job_timeout = job_timeout
        self.initializer = initializer
        self.initargs = tuple(initargs)
        self.name = name
        #: Workers replaced so far (after a crash, a timeout or a cancelled job).
        self.restarts = 0
        self._context = multiprocessing.get_context(start_method)
        if start_method == "forkserver" and preload:
            # One fork server per interpreter: the last pool created decides what it preloads.
            self._context.set_forkserver_preload(list(preload))
        self._live: dict[int, _Worker] = {}  # slot -> its current worker (ready, busy or starting)
        self._idle: asyncio.Queue[_Worker | None] | None = None
        self._replacing: set[asyncio.Task] = set()
        self._admitted = 0
        self._started = False
        self._closed = False

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Spawn every worker and wait until each has loaded its models and warmed up.

        Raises :class:`WorkerStartError` (and stops the others) if any worker can't start.
        """
        if self._started:
            raise RuntimeError(f"{type(self).__name__}.start() called twice")
        self._started = True
        self._idle = asyncio.Queue()
        started = time.perf_counter()
        fresh = [self._new_worker(slot) for slot in range(self.workers)]
        self._live = {worker.slot: worker for worker in fresh}
        try:
            outcomes = await asyncio.gather(
                *(self._await_ready(worker) for worker in fresh),
                return_exceptions=True,
            )
        except BaseException:  # cancelled: don't leave workers behind
            await self.close()
            raise
        failure = next((o for o in outcomes if isinstance(o, BaseException)), None)
        if failure is not None:
            await self.close()
            raise failure
        for worker in fresh:
            self._idle.put_nowait(worker)
        log.info("Pool %s ready: %d workers in %.1f s", self.name, self.workers, time.perf_counter() - started)

    async def close(self) -> None:
        """Stop every worker (idle ones exit on their own, the rest are killed); idempotent.

        Jobs still running or waiting get :class:`PoolClosed`.
        """
        if self._closed:
            return
        self._closed = True
        for task in list(self._replacing):
            task.cancel()
        if self._replacing:
            await asyncio.gather(*self._replacing, return_exceptions=True)
        idle: list[_Worker] = []
        if self._idle is not None:
            while not self._idle.empty():
                worker = self._idle.get_nowait()
                if worker is not None:
                    idle.append(worker)
            for _ in range(self.workers + self.queue_depth):  # wakes every job waiting for a worker
                self._idle.put_nowait(None)
        for worker in idle:
            with contextlib.suppress(OSError):
                worker.conn.send_bytes(pickle.dumps(None))
        busy = [w for w in self._live.values() if w not in idle]
        for worker in busy:
            worker.kill()  # their callers see EOF and get PoolClosed
        self._live.clear()
        await asyncio.to_thread(_reap, idle, busy, CLOSE_GRACE)
        log.info("Pool %s closed", self.name)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    async def wait_ready(self) -> None:
        """Wait until every slot has a ready worker again (replacements take a few seconds)."""
        while self._replacing:
            await asyncio.gather(*self._replacing, return_exceptions=True)

    @property
    def pending(self) -> int:
        """Jobs admitted and not finished (running plus waiting for a worker)."""
        return self._admitted

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the current workers (including ones still starting)."""
        return [w.pid for w in self._live.values() if w.pid is not None]

    @property
    def ready_seconds(self) -> list[float]:
        """For each current ready worker: seconds from its start to its "ready" message."""
        return [w.ready_seconds for w in self._live.values() if w.ready_seconds is not None]

    # ----------------------------------------------------------------- jobs

    def ensure_capacity(self) -> None:
        """Raise :class:`Busy` now if a new job would be refused.

        Callers check before slow preparation (downloading an attachment) so that an overloaded
        bot says "busy" at once instead of after fetching a file it cannot analyze.
        """
        if self._admitted >= self.workers + self.queue_depth:
            raise Busy(detail=f"{self._admitted} jobs admitted")

    async def run(self, function: Callable[..., Any], *args: Any, timeout: float | None = None) -> Any:
        """Run ``function(*args)`` in a worker and return its result (or raise its exception).

        ``function`` must be picklable (module-level); it fails here, at once, if it isn't.
        Raises :class:`Busy`, :class:`JobTimeout`, :class:`WorkerCrashed` or :class:`PoolClosed`.
        """
        job = pickle.dumps((function, args))  # before admission: a bad job is the caller's bug
        if self._idle is None:
            raise RuntimeError(f"{type(self).__name__}.start() has not been called")
        if self._closed:
            raise PoolClosed(detail=f"the {self.name} pool is closed")
        self.ensure_capacity()
        self._admitted += 1
        try:
            return await self._run(job, self.job_timeout if timeout is None else timeout, function)
        finally:
            self._admitted -= 1

    async def _run(self, job: bytes, timeout: float, function: Callable[..., Any]) -> Any:
        assert self._idle is not None
        name = getattr(function, "__qualname__", repr(function))
        while True:
            worker = await self._idle.get()
            if worker is None or self._closed:
                raise PoolClosed()
            if worker.is_usable():
                try:
                    worker.conn.send_bytes(job)
                    break
                except OSError:
                    pass
            # It died while idle: the job never started, so it goes to another worker.
            log.warning("Worker %d (pid %s) died while idle", worker.slot, worker.pid)
            self._replace(worker)

        started = time.perf_counter()
        try:
            message = await worker.receive(timeout)
        except TimeoutError:
            log.warning("Job %s timed out after %.0f s in worker %d; killing it", name, timeout, worker.slot)
            self._replace(worker)
            raise JobTimeout(detail=f"{name} ran for more than {timeout:g} s") from None
        except (EOFError, OSError):
            if self._closed:
                raise PoolClosed() from None
            log.error("Worker %d (pid %s) died during %s", worker.slot, worker.pid, name)
            self._replace(worker)
            raise WorkerCrashed(detail=f"worker {worker.slot} (pid {worker.pid}) died during {name}") from None
        except asyncio.CancelledError:
            # Nobody wants the result, and a worker can't be interrupted: replace it.
            if not self._closed:
                self._replace(worker)
            raise
        except BaseException:  # the reply couldn't be unpickled here: the worker itself is fine
            self._release(worker)
            raise

        self._release(worker)
        log.debug("Job %s done in %.3f s by worker %d", name, time.perf_counter() - started, worker.slot)
        kind, *payload = message
        if kind == "ok":
            return payload[0]
        error, tb = payload
        error.__cause__ = RemoteTraceback(tb)
        raise error

    def _release(self, worker: _Worker) -> None:
        assert self._idle is not None
        if self._closed:
            return
        self._idle.put_nowait(worker)

    # ----------------------------------------------------------------- workers

    def _replace(self, worker: _Worker) -> None:
        """Kill ``worker`` and start a replacement in its slot; it joins the idle queue when ready."""
        worker.kill()
        if self._closed:  # close() has taken care of every worker
            return
        if self._live.get(worker.slot) is worker:
            del self._live[worker.slot]  # from now on only its replacement task touches it
        self.restarts += 1
        task = asyncio.get_running_loop().create_task(self._replacement(worker))
        self._replacing.add(task)
        task.add_done_callback(self._replacing.discard)

    async def _replacement(self, old: _Worker) -> None:
        await asyncio.to_thread(old.join, 5)
        log.info("Worker %d (pid %s) ended: %s", old.slot, old.pid, old.describe_exit())
        await asyncio.to_thread(old.dispose)
        delay = 1.0
        while not self._closed:
            worker = self._new_worker(old.slot)
            self._live[old.slot] = worker
            try:
                await self._await_ready(worker)  # if cancelled, close() stops the new worker
            except WorkerStartError:
                log.exception("Replacement for worker %d failed; retrying in %.0f s", old.slot, delay)
                del self._live[old.slot]
                await asyncio.to_thread(worker.dispose)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)
                continue
            self._release(worker)
            return

    def _new_worker(self, slot: int) -> _Worker:
        return _Worker(self._context, slot, self.initializer, self.initargs, self.name)

    async def _await_ready(self, worker: _Worker) -> None:
        try:
            message = await worker.receive(START_TIMEOUT)
        except TimeoutError:
            raise WorkerStartError(
                f"Worker {worker.slot} did not start within {START_TIMEOUT:g} s.",
                detail="timed out waiting for the worker to load its models",
            ) from None
        except (EOFError, OSError):
            await asyncio.to_thread(worker.join, 5)
            raise WorkerStartError(
                f"Worker {worker.slot} exited while starting ({worker.describe_exit()}).",
            ) from None
        if message[0] == "failed":
            _, summary, tb = message
            raise WorkerStartError(f"Worker {worker.slot} couldn't start: {summary}", detail=tb)
        _, pid, seconds = message
        worker.ready_seconds = time.perf_counter() - worker.started
        log.info("Worker %d (pid %s) ready in %.2f s (set-up %.2f s)", worker.slot, pid, worker.ready_seconds, seconds)


def _reap(idle: list[_Worker], busy: list[_Worker], grace: float) -> None:
    """Join workers (blocking; run in a thread); idle ones get ``grace`` to exit before a kill."""
    deadline = time.monotonic() + grace
    for worker in idle:
        worker.join(max(0.0, deadline - time.monotonic()))
        if not worker.disposed and worker.process.is_alive():
            log.warning("Worker %d (pid %s) did not stop; killing it", worker.slot, worker.pid)
        worker.dispose()
    for worker in busy:  # already killed; their callers may still be reading the socket
        worker.dispose(close_connection=False)
