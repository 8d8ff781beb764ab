"""How long one correction takes in a big server: the member's answer stored, the whole catalog
relabelled by the server's head, and only the changed answers written back.

    python benchmarks/relabel.py [--tracks 100000] [--path /tmp/crate-bench.sqlite3] [--quick]

Fills a fresh SQLite database with random tracks (``benchmarks/store_load.py``'s filler, random
base distributions) whose embeddings are as alike as real ones (:func:`musicnn_like`), then times ``Teacher.correct`` for a few corrections (a new
custom genre, a second track of it, a family) and a ``/forget`` of the first member, and how long
the event loop was held up during each (the parsing and the head run in threads).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from benchmarks.store_load import GUILD, fill
from bot import store
from bot.app.teaching import Teacher
from bot.catalog import EMBEDDING_DIM
from bot.store import (
    open_database,
)

#: Embeddings of GTZAN-mini and the Debian music (MSD_musicnn's penultimate layer, mean over the
#: excerpts) have pairwise cosines of about -0.19 / 0.20 / 0.84 at the 5th / 50th / 95th
#: percentile; a shared direction, one of 14 cluster directions and noise give 0.05 / 0.15 / 0.82.
_SHARED, _CLUSTERS = np.random.default_rng(1).standard_normal((2, 14, EMBEDDING_DIM))


def musicnn_like(rng: np.random.Generator, i: int) -> np.ndarray:
    """Track i's embedding: a shared direction + 2 x its cluster's + unit noise."""
    return _SHARED[0] + 2.0 * _CLUSTERS[i % 14] + rng.standard_normal(EMBEDDING_DIM)


#: (member, track id, genre) of each timed correction.
CORRECTIONS = ((11, 5, "vaporwave"), (22, 17, "vaporwave"), (33, 33, "metal"))


async def _lag_watch(stop: asyncio.Event, worst: list[float]) -> None:
    """The longest the event loop went without running this task (ticks every 10 ms)."""
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(0.01)
        worst[0] = max(worst[0], time.perf_counter() - before - 0.01)


async def _timed(work) -> tuple[float, float, object]:
    stop, worst = asyncio.Event(), [0.0]
    watcher = asyncio.create_task(_lag_watch(stop, worst))
    started = time.perf_counter()
    result = await work
    elapsed = time.perf_counter() - started
    stop.set()
    await watcher
    return elapsed, worst[0], result


async def measure(path: Path) -> None:
    async with open_database(path) as db:
        teacher = Teacher(db)
        for member, track_id, genre in CORRECTIONS:
            elapsed, lag, taught = await _timed(teacher.correct(GUILD, member, track_id, genre))
            print(
                f"correction #{track_id} -> {genre}: {elapsed:.2f} s, event loop held up at most {lag * 1000:.0f} ms; "
                f"top genre changed on {taught.relabelled:,} tracks"  # type: ignore[attr-defined]
            )
        await store.delete_corrections_of(db, GUILD, CORRECTIONS[0][0])
        elapsed, lag, changed = await _timed(teacher.relabel(GUILD))
        print(
            f"relabel after /forget: {elapsed:.2f} s, event loop held up at most {lag * 1000:.0f} ms; top genre changed on {changed:,} tracks"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--path", type=Path, default=None)
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run (2,000 tracks) that prints the same figures; run by the tests"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.tracks = 2_000
    scratch = None if args.path else Path(tempfile.mkdtemp(prefix="crate-bench-"))
    path = args.path or scratch / "bench.sqlite3"  # type: ignore[operator]  # scratch is set when --path is not
    try:
        asyncio.run(fill(path, args.tracks, musicnn_like))
        print(f"{args.tracks:,} tracks in one server")
        asyncio.run(measure(path))
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
