"""``crate index DIR``: analyze a local music folder into one server's catalog.

The cold-start answer for a server without tracks: besides sharing with ``/genre``, an admin can
point Crate at a folder of music. :func:`index_folder` walks the folder's audio files (by suffix,
:data:`bot.audio.decode.AUDIO_SUFFIXES`) in sorted order and, for each one:

1. computes the SHA-256 of its bytes (streamed, in a thread) and **skips** it when the guild
   already has a track with exactly these bytes (:func:`bot.store.track_by_hash`);
2. otherwise analyzes it in the analysis pool and stores it at once
   (:func:`bot.store.add_track`, ``source_kind="file"``, title = the file's stem).

Every file is committed as soon as it is analyzed, so an interrupted run loses at most the files
in flight, and running the command again **resumes**: what is already indexed is only hashed.
A file Crate cannot analyze (:class:`~bot.errors.CrateError`: not audio, too long, a worker
crash ...) is recorded in the report and the others go on. Up to ``crate.pool.concurrency`` files
are analyzed at a time: the pool's worker processes, or with the PostgreSQL queue enough jobs in
flight to keep every ``crate worker`` of every host busy.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bot import store
from bot.audio.decode import AUDIO_SUFFIXES
from bot.catalog import content_hash
from bot.errors import CrateError
from bot.jobs.pool import Busy

if TYPE_CHECKING:
    from bot.app.crate import Crate

log = logging.getLogger(__name__)

#: Seconds to wait before offering a file again when the analysis queue is full.
BUSY_PAUSE = 1.0

#: ``progress(done, total, path)`` after each file (analyzed, skipped or failed).
IndexProgress = Callable[[int, int, Path], None]


class IndexFolderError(CrateError):
    user_message = "Crate could not index that folder."


@dataclass(frozen=True)
class IndexReport:
    #: New tracks stored in the guild's catalog.
    added: int = 0
    #: Files whose exact bytes the guild already had (not analyzed again).
    skipped_known: int = 0
    #: Files that could not be analyzed: (path, the reason, in the user's words).
    failed: list[tuple[Path, str]] = field(default_factory=list)
    #: Analyzed, but the catalog already had the same audio in another encoding (near-duplicate).
    duplicates: int = 0

    @property
    def total(self) -> int:
        return self.added + self.skipped_known + len(self.failed) + self.duplicates


def audio_files(directory: Path) -> list[Path]:
    """Every audio file under ``directory`` (recursively), sorted by path."""
    return sorted(path for path in directory.rglob("*") if path.suffix.lower() in AUDIO_SUFFIXES and path.is_file())


def check_folder(directory: Path) -> Path:
    """``directory`` as a Path, or :class:`IndexFolderError` when it is not a folder (checked
    before any worker starts, so that a typo is answered at once)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise IndexFolderError(f"{directory} is not a folder.", detail=f"not a directory: {directory}")
    return directory


async def index_folder(
    crate: Crate,
    guild_id: int,
    directory: Path,
    *,
    added_by: int | None = None,
    progress: IndexProgress = lambda done, total, path: None,
) -> IndexReport:
    """Analyze every audio file of ``directory`` into ``guild_id``'s catalog; see the module docstring."""
    directory = check_folder(directory)
    paths = audio_files(directory)
    total = len(paths)
    counts = {"added": 0, "skipped_known": 0, "duplicates": 0}
    failed: list[tuple[Path, str]] = []
    pending = iter(paths)
    done = 0

    async def index_one(path: Path) -> str:
        digest = await asyncio.to_thread(content_hash, path)
        if await store.track_by_hash(crate.db, guild_id, digest) is not None:
            return "skipped_known"
        while True:
            try:
                analyzed = await crate.pool.analyze(path)
                break
            except Busy:  # other processes' jobs fill the shared queue: wait for room, lose nothing
                await asyncio.sleep(BUSY_PAUSE)
        _, created = await crate.sharing.add_analyzed(
            guild_id, analyzed, title=path.stem, source=store.TrackSource("file", None), shared_by=added_by
        )
        return "added" if created else "duplicates"

    async def worker() -> None:
        nonlocal done
        for path in pending:  # a shared iterator: each file is taken by exactly one worker, in order
            try:
                outcome = await index_one(path)
            except CrateError as error:
                failed.append((path, error.user_message))
            except OSError as error:
                failed.append((path, f"Crate could not read this file ({error.strerror or error})."))
            else:
                counts[outcome] += 1
            done += 1
            progress(done, total, path)

    workers = max(1, min(crate.pool.concurrency, total))
    await asyncio.gather(*(worker() for _ in range(workers)))
    failed.sort(key=lambda item: item[0])
    return IndexReport(failed=failed, **counts)


def progress_bar(done: int, total: int, label: str = "", width: int = 30) -> str:
    """``[#####.....] 12/40 Awakening.ogg``"""
    filled = width if total <= 0 else round(width * done / total)
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label}".rstrip()


def report_text(report: IndexReport, guild_id: int, directory: Path) -> str:
    lines = [
        f"Indexed {directory} into server {guild_id}: {report.added} added, "
        f"{report.skipped_known} already indexed, {len(report.failed)} failed"
        + (f", {report.duplicates} duplicates of tracks already there" if report.duplicates else "")
        + "."
    ]
    lines += [f"  failed {path}: {message}" for path, message in report.failed]
    return "\n".join(lines)
