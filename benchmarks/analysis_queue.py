"""Analysis throughput through the PostgreSQL queue vs the in-process pool, and the queue's overhead.

Same tracks both ways (the example music, repeated): first the bot's own
:class:`~bot.jobs.analysis.AnalysisPool` with 1 (and 2) worker processes, then
:class:`bot.jobs.queue.AnalysisQueue` with 1 (and 2) real ``crate worker`` processes of one analysis
process each, on a real PostgreSQL started for the run (tests/postgres_server.py: Debian's
``postgresql``). Per job through the queue: the seconds from enqueueing (audio upload included)
to holding the outcome, minus the seconds the analysis took in the worker = the queue's overhead
(p50/p95), measured on jobs sent one at a time so that no job waits behind another; and the
seconds from the analysis ending in the worker to the caller holding the outcome (woken by the
NOTIFY; the target is 100 ms). For throughput the jobs are all submitted at once, as a burst of
``/genre`` would be, counted from the first submission to the last outcome, with every worker
already started.

    python benchmarks/analysis_queue.py            # 1 and 2 workers, 12 tracks
    python benchmarks/analysis_queue.py --quick    # 1 worker, 3 tracks (run by tests/test_benchmarks.py)

The last line is the figures as JSON. On a 2-core machine shared with other work the figures
are noisy, and two workers cannot beat one by much when the cores are already busy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.jobs.analysis import AnalysisPool  # noqa: E402
from bot.jobs.queue import AnalysisQueue  # noqa: E402
from tests import postgres_server  # noqa: E402
from tests.fakediscord.harness import crate_env, crate_process, wait_for_log  # noqa: E402


def tracks(count: int) -> list[Path]:
    examples = sorted((ROOT / "examples").glob("*.ogg"))
    return [examples[i % len(examples)] for i in range(count)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def through_pool(paths: list[Path], workers: int) -> float:
    async with AnalysisPool(workers=workers, queue_depth=len(paths), job_timeout=300) as pool:
        started = time.perf_counter()
        await asyncio.gather(*(pool.analyze(p) for p in paths))
        return len(paths) / (time.perf_counter() - started)


async def through_queue(
    url: str, paths: list[Path], workers: int, scratch: Path
) -> tuple[float, list[float], list[float]]:
    async with contextlib.AsyncExitStack() as stack:
        env = crate_env(None, None, CRATE_QUEUE="postgres", CRATE_DATABASE_URL=url)
        for i in range(workers):
            log = scratch / f"worker-{workers}-{i}" / "worker.log"
            log.parent.mkdir()
            process = await stack.enter_async_context(crate_process(env, log, "worker"))
            await wait_for_log(process, log, "crate worker ready")
        async with AnalysisQueue(url, workers=workers, queue_depth=len(paths), job_timeout=300) as queue:
            started = time.perf_counter()
            await asyncio.gather(*(queue.analyze(p) for p in paths))
            rate = len(paths) / (time.perf_counter() - started)
            queue.timings.clear()
            for path in paths:  # one at a time: no job waits behind another, only for the queue
                await queue.analyze(path)
            return rate, [wait - analysis for wait, analysis, _ in queue.timings], [w for *_, w in queue.timings]


async def main(quick: bool) -> dict:
    paths = tracks(3 if quick else 12)
    counts = (1,) if quick else (1, 2)
    figures: dict = {"tracks": len(paths), "pool": {}, "queue": {}}
    server = postgres_server.start()
    try:
        with tempfile.TemporaryDirectory(prefix="crate-queue-bench-") as scratch:
            for workers in counts:
                rate = await through_pool(paths, workers)
                figures["pool"][workers] = {"tracks_per_s": round(rate, 3)}
                print(f"in-process pool, {workers} worker(s): {rate:.2f} tracks/s", flush=True)
            for workers in counts:
                url = server.create_database()
                rate, overheads, wakes = await through_queue(url, paths, workers, Path(scratch))
                server.drop_database(url)
                p50, p95 = statistics.median(overheads), percentile(overheads, 95)
                w50, w95 = statistics.median(wakes), percentile(wakes, 95)
                figures["queue"][workers] = {
                    "tracks_per_s": round(rate, 3),
                    "overhead_p50_ms": round(p50 * 1000, 1),
                    "overhead_p95_ms": round(p95 * 1000, 1),
                    "woken_p50_ms": round(w50 * 1000, 1),
                    "woken_p95_ms": round(w95 * 1000, 1),
                }
                print(
                    f"PostgreSQL queue, {workers} crate worker(s): {rate:.2f} tracks/s; overhead per job "
                    f"(enqueue to outcome, minus the analysis) p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms; "
                    f"caller woken after the analysis ended p50 {w50 * 1000:.1f} ms, p95 {w95 * 1000:.1f} ms",
                    flush=True,
                )
    finally:
        server.stop()
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 worker, 3 tracks")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.quick))))
