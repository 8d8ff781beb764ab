"""Crate's analysis pool: the generic :class:`~bot.jobs.pool.ProcessPool` running the listening jobs.

This module is imported by the bot process, so it stays light at import time: the listening
stack (both numpy taggers, the handcrafted features, the family model) is imported by the workers only,
in :func:`initialize` (and, once for all workers, by the fork server: :data:`PRELOAD`). Results
cross the pool boundary as :class:`AnalyzedFile`, whose :class:`~bot.analysis.Analysis` is a
ground-floor dataclass, so unpickling them here imports nothing of the listening stack.

Each worker, in :func:`initialize`: limits BLAS to one thread (Crate's matrices are small; N
workers x M BLAS threads would only oversubscribe the cores), loads the
:class:`~bot.listen.analyze.Listener` once, and analyses a few seconds of synthetic noise, so
that one-off first-call costs are paid at start, not by the first user.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Self

from bot.analysis import Analysis
from bot.catalog import content_hash
from bot.config import AudioLimits
from bot.jobs.pool import ProcessPool, start_fork_server

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.listen.analyze import Listener

#: Seconds of synthetic noise analysed once per worker to warm it up.
WARM_UP_SECONDS = 6.0
#: Imported once by the fork server, so that every worker (and replacement) starts warm.
PRELOAD = ("bot.listen.preload",)


@dataclass(frozen=True)
class AnalyzedFile:
    analysis: Analysis
    content_hash: str  # sha256 hex digest of the file's bytes


# =========================================================================== worker side

_listener: Listener | None = None
_blas_limits: Any = None  # keeps threadpoolctl's limiter referenced for the worker's lifetime


def initialize(genre_model_path: Path | None) -> None:
    """Per-process setup: one BLAS thread, models loaded once, warmed up on synthetic noise."""
    global _listener, _blas_limits
    import av  # noqa: F401 - the decoder, loaded now rather than by the first job (already there when forked)
    import numpy as np
    from threadpoolctl import threadpool_limits

    from bot.audio.decode import SAMPLE_RATE, AudioInfo, DecodedAudio, Excerpt
    from bot.listen.analyze import Listener

    _blas_limits = threadpool_limits(1)
    # Both taggers: the genre families are heard through MSD's and MTT's tags, and the store keeps
    # MTT's output for each track.
    listener = Listener.load(genre_model_path)
    noise = np.random.default_rng(0).normal(0.0, 0.1, int(WARM_UP_SECONDS * SAMPLE_RATE)).astype(np.float32)
    info = AudioInfo(
        duration=WARM_UP_SECONDS, format_name="synthetic", codec="pcm_f32le",
        channels=1, sample_rate=SAMPLE_RATE, size=noise.nbytes,
    )  # fmt: skip
    listener.analyze_decoded(DecodedAudio(info=info, excerpts=(Excerpt(start=0.0, samples=noise),)))
    _listener = listener


def analyze_file(path: str, limits: AudioLimits) -> AnalyzedFile:
    """The analysis job (runs in a worker): decode + analyze ``path``, and hash its bytes."""
    if _listener is None:
        raise RuntimeError("analyze_file runs in a pool worker, after the worker initializer")
    analysis = _listener.analyze(path, limits)
    return AnalyzedFile(analysis=analysis, content_hash=content_hash(path))


# =========================================================================== parent side


class Analyzer(Protocol):
    """What :class:`~bot.app.crate.Crate` analyzes with: this module's :class:`AnalysisPool` (worker
    processes of the bot's own) or :class:`bot.jobs.queue.AnalysisQueue` (``crate worker``s anywhere).

    Both raise the same errors: the worker's typed ``CrateError``s, ``Busy``, ``JobTimeout``,
    ``WorkerCrashed``, ``PoolClosed``.
    """

    async def analyze(self, path: Path) -> AnalyzedFile: ...

    @property
    def concurrency(self) -> int:
        """How many jobs a caller with many (``crate index``) keeps in flight."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc_info: object) -> None: ...


def start_workers_early(settings: Settings) -> None:
    """When this process will run the analysis workers (``CRATE_QUEUE=pool``), start their fork
    server now (:func:`~bot.jobs.pool.start_fork_server`), before the front end's own imports."""
    if settings.queue != "postgres":
        start_fork_server(PRELOAD)


class AnalysisPool(ProcessPool):
    """Crate's pool of analysis workers (see :class:`~bot.jobs.pool.ProcessPool` for the supervision)."""

    def __init__(
        self,
        *,
        workers: int,
        queue_depth: int,
        job_timeout: float,
        genre_model_path: Path | None = None,
        limits: AudioLimits = AudioLimits(),
        start_method: str = "forkserver",
    ):
        self.genre_model_path = Path(genre_model_path) if genre_model_path is not None else None
        self.limits = limits
        super().__init__(
            workers=workers,
            queue_depth=queue_depth,
            job_timeout=job_timeout,
            initializer=initialize,
            initargs=(self.genre_model_path,),
            preload=PRELOAD,
            start_method=start_method,
            name="analysis",
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> AnalysisPool:
        return cls(
            workers=settings.workers,
            queue_depth=settings.queue_depth,
            job_timeout=settings.job_timeout,
            genre_model_path=settings.genre_model_path,
            limits=settings.limits,
        )

    @property
    def concurrency(self) -> int:
        return self.workers

    async def analyze(self, path: Path) -> AnalyzedFile:
        """Decode and analyze ``path`` in a worker; raises the worker's typed ``CrateError``s."""
        return await self.run(analyze_file, str(path), self.limits)
