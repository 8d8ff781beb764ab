"""How long ``load_catalog`` takes for a guild with many tracks.

    python benchmarks/store_load.py [--tracks 100000] [--path /tmp/crate-bench.sqlite3]

Fills a fresh database with random tracks (bulk INSERT, bypassing deduplication), then times
``load_catalog`` cold (first read after opening) and warm (page cache filled).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bot.catalog import EMBEDDING_DIM, TAG_COUNT
from bot.genres import FAMILIES
from bot.store import load_catalog, open_database, to_blob

GUILD = 1


async def fill(
    path: Path, count: int, embedding: Callable[[np.random.Generator, int], np.ndarray] | None = None
) -> None:
    """``count`` random tracks in guild :data:`GUILD`; ``embedding(rng, i)`` makes track i's
    embedding (default: standard normal, so any two tracks are nearly orthogonal)."""
    rng = np.random.default_rng(0)
    genres = list(FAMILIES)
    async with open_database(path) as db:
        for start in range(0, count, 10_000):
            rows = []
            for i in range(start, min(start + 10_000, count)):
                # a distribution over the 14 families, as the family model stores (most probable first)
                p = rng.dirichlet(np.full(len(genres), 0.3))
                distribution = [[genres[j], round(float(p[j]), 4)] for j in np.argsort(-p)]
                top = distribution[0][0]
                rows.append(
                    (
                        GUILD,
                        f"Track {i}",
                        None,
                        "attachment",
                        hashlib.sha256(str(i).encode()).hexdigest(),
                        float(rng.uniform(60, 600)),
                        json.dumps(distribution),
                        json.dumps(distribution),  # base_genres: the family model's own, as analysis stores it
                        top,
                        to_blob(rng.random(TAG_COUNT), TAG_COUNT),
                        to_blob(
                            embedding(rng, i) if embedding is not None else rng.standard_normal(EMBEDDING_DIM),
                            EMBEDDING_DIM,
                        ),
                        120.0,
                        time.time(),
                        42,
                    )
                )
            async with db.transaction():
                await db.execute_many(
                    "INSERT INTO tracks (guild_id, title, source_url, source_kind, content_hash, duration, genres,"
                    " base_genres, top_genre, tag_probs, embedding, tempo, added_at, added_by)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )


async def measure(path: Path, repeats: int) -> None:
    async with open_database(path) as db:
        for attempt in range(repeats):
            started = time.perf_counter()
            catalog = await load_catalog(db, GUILD)
            elapsed = time.perf_counter() - started
            label = "first" if attempt == 0 else "warm "
            print(
                f"{label} load_catalog: {len(catalog):,} tracks in {elapsed * 1000:.0f} ms "
                f"(embeddings {catalog.embeddings.nbytes / 2**20:.0f} MiB)"
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--path", type=Path, default=None)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run (2,000 tracks, one repeat) that prints the same figures; run by tests/test_benchmarks.py",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.tracks, args.repeats = 2_000, 1
    scratch = None if args.path else Path(tempfile.mkdtemp(prefix="crate-bench-"))
    path = args.path or scratch / "bench.sqlite3"  # type: ignore[operator]  # scratch is set when --path is not
    try:
        started = time.perf_counter()
        asyncio.run(fill(path, args.tracks))
        print(
            f"inserted {args.tracks:,} tracks in {time.perf_counter() - started:.1f} s "
            f"({path.stat().st_size / 2**20:.0f} MiB)"
        )
        asyncio.run(measure(path, args.repeats))
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
