"""Link downloads in a process of their own, under a wall-clock deadline.

``bot.audio.fetch.download_link`` is blocking, and yt-dlp is CPU-hungry Python: in the bot's
process it holds the GIL and stalls the event loop; in an analysis worker it keeps that worker
from analyzing while it waits on a slow site. So each link download runs in a fresh
``python -m bot.audio.download`` child:

* the parent sends the job (pickled) on the child's stdin and reads the pickled result (a
  :class:`~bot.audio.fetch.FetchedAudio`) or the pickled :class:`~bot.errors.CrateError` from its
  stdout, with asyncio, so waiting costs the event loop nothing;
* the **deadline** counts from the start of the child to its answer, whatever the site does
  (drips a byte a second, stalls, redirects forever): when it passes, the child's process group
  is killed and the member reads :class:`~bot.audio.errors.LinkTimeout` ("that site is too slow");
* a cancelled caller (the bot shutting down, an interaction gone) kills the child too;
* the child is its own process-group leader and nice'd a little, like the analysis workers; every
  connection it opens still goes through the private-address guard of ``fetch``.

How many downloads run at once is decided by the caller's admission (``bot.jobs.admission``), not here.
A child costs ~0.8 s of CPU to start (importing yt-dlp); that is paid once per link.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from bot.audio.errors import DownloadFailed, LinkTimeout
from bot.audio.fetch import MAX_PAGE_BYTES, FetchedAudio, download_link
from bot.config import AudioLimits
from bot.errors import CrateError

log = logging.getLogger(__name__)

#: Nice increment for download processes (the bot's event loop comes first).
DOWNLOAD_NICENESS = 5
#: Longest child's stderr kept for the log when a child fails unexpectedly.
_STDERR_KEPT = 4000


async def download_link_in_process(
    url: str,
    directory: Path,
    *,
    limits: AudioLimits,
    allowlist: Sequence[str],
    timeout: float,
    deadline: float,
    max_page_bytes: int = MAX_PAGE_BYTES,
    services: Mapping[str, str] | None = None,
) -> FetchedAudio:
    """``download_link`` in a child process, killed after ``deadline`` seconds (wall clock)."""
    job = pickle.dumps(
        (url, str(directory), {
            "limits": limits, "allowlist": tuple(allowlist), "timeout": timeout,
            "deadline": deadline, "max_page_bytes": max_page_bytes, "services": dict(services or {}),
        })
    )  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.audio.download",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # its own process group: one kill takes it and anything it started
    )  # fmt: skip
    try:
        async with asyncio.timeout(deadline):
            out, err = await process.communicate(job)
    except TimeoutError:
        raise LinkTimeout(detail=f"{url}: download took more than {deadline:g} s") from None
    finally:
        if process.returncode is None:
            _kill_group(process.pid)
            with contextlib.suppress(Exception):
                await asyncio.shield(process.wait())
    try:
        kind, payload = pickle.loads(out)
    except Exception:
        log.error(
            "Download process for %s ended with code %s: %s", url, process.returncode,
            err[-_STDERR_KEPT:].decode(errors="replace"),
        )  # fmt: skip
        raise DownloadFailed(detail=f"{url}: download process exited with {process.returncode}") from None
    if kind == "ok":
        return payload
    raise payload


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _child() -> None:
    """The child's whole life: one job from stdin, one answer on stdout."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent owns shutdown
    with contextlib.suppress(OSError):
        os.nice(DOWNLOAD_NICENESS)
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but the answer goes to the parent's pipe
    url, directory, kwargs = pickle.loads(sys.stdin.buffer.read())
    reply: tuple[str, object]
    try:
        reply = ("ok", download_link(url, Path(directory), **kwargs))
    except CrateError as error:
        reply = ("error", error)
    except Exception as error:
        log.exception("Download of %s failed", url)
        reply = ("error", DownloadFailed(detail=f"{url}: {type(error).__name__}: {error}"))
    try:
        data = pickle.dumps(reply)
        pickle.loads(data)  # an exception that pickles but can't be rebuilt
    except Exception:
        data = pickle.dumps(("error", DownloadFailed(detail=f"{url}: unpicklable {reply[1]!r}")))
    out.write(data)
    out.flush()


if __name__ == "__main__":
    _child()
