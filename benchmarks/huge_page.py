"""A 300 MB HTML page behind a link: how much is read, and how big the download process gets.

    python benchmarks/huge_page.py [--mib 300]

A local site on 127.0.0.1 streams an HTML page of ``--mib`` MiB; Crate's link download
(``bot.audio.download``: yt-dlp in its own process, pages capped at ``CRATE_MAX_PAGE_BYTES``,
default 5 MiB) is pointed at it. Prints what the server managed to send, the answer the member
reads, and the download process's peak RSS (``RUSAGE_CHILDREN``). Issue 11 measured ~1.4 GB
in an analysis worker before the cap.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


async def run(size: int) -> None:
    from aiohttp import web

    from bot.audio.download import download_link_in_process
    from bot.audio.fetch import scratch_directory
    from bot.config import Settings
    from bot.errors import CrateError

    sent = 0

    async def huge(request):
        nonlocal sent
        response = web.StreamResponse(headers={"Content-Type": "text/html", "Content-Length": str(size)})
        await response.prepare(request)
        block = b"<p>" + b"la " * 21844 + b"</p>\n"
        with contextlib.suppress(ConnectionError, RuntimeError):
            while sent + len(block) <= size:
                await response.write(block)
                sent += len(block)
        return response

    app = web.Application()
    app.router.add_get("/huge.html", huge)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    settings = Settings()
    started = time.perf_counter()
    with scratch_directory() as directory:
        try:
            await download_link_in_process(
                f"http://127.0.0.1:{port}/huge.html", directory, limits=settings.limits, allowlist=("127.0.0.1",),
                timeout=settings.download_timeout, deadline=settings.download_deadline,
                max_page_bytes=settings.max_page_bytes,
            )  # fmt: skip
            answer = "downloaded (unexpected)"
        except CrateError as error:
            answer = f"{type(error).__name__}: {error.user_message}"
    seconds = time.perf_counter() - started
    await asyncio.sleep(0.3)  # let the server notice the closed connection
    await runner.cleanup()
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"page {size / 2**20:.0f} MiB, cap {settings.max_page_bytes / 2**20:.0f} MiB")
    print(f"server sent {sent / 2**20:.1f} MiB before the download gave up ({seconds:.1f} s)")
    print(f"answer: {answer}")
    print(f"download process peak RSS {peak:.0f} MiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(run(args.mib * 1024 * 1024))
    return 0


if __name__ == "__main__":
    sys.exit(main())
