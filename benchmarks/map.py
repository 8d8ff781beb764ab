"""How long ``/map`` takes to place and draw a server's catalog.

    python benchmarks/map.py [--sizes 10,1000,100000] [--repeat 5] [--quick]

For each size: a synthetic catalog (clustered 200-d embeddings in six families, as
``benchmarks/recommend.py`` builds them), a member with 50 likes and 10 dislikes, and a pinned
track; timed, the work the use case runs in a worker thread (:func:`bot.recommend.soundmap.sound_map`,
fitting the projection included, then :func:`bot.present.soundmap.draw_map`), p50 and max over
``--repeat`` runs after one warm-up, with one BLAS thread as the bot runs. The target: at most
2 s at 100,000 tracks.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from bot.catalog import EMBEDDING_DIM, TAG_COUNT, Catalog
from bot.present.soundmap import draw_map
from bot.recommend.soundmap import sound_map

FAMILY_SET = ("rock", "jazz", "electronic", "classical", "hiphop", "ambient")
TARGET_S = 2.0


def synthetic(n: int, seed: int = 0) -> Catalog:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 1.0, size=(len(FAMILY_SET), EMBEDDING_DIM)).astype(np.float32)
    family = rng.integers(0, len(FAMILY_SET), size=n)
    embeddings = centres[family] + rng.normal(0.0, 0.8, size=(n, EMBEDDING_DIM)).astype(np.float32) + 0.2
    return Catalog(
        guild_id=1,
        ids=np.arange(1, n + 1, dtype=np.int64),
        titles=[f"Artist {i % 500} - Song {i}" for i in range(1, n + 1)],
        top_genres=[FAMILY_SET[f] for f in family],
        durations=np.full(n, 180.0),
        tag_probs=np.zeros((n, TAG_COUNT), np.float32),
        embeddings=embeddings.astype(np.float32),
    )


def render_once(catalog: Catalog, liked: np.ndarray, disliked: np.ndarray) -> tuple[float, float, int]:
    """(placing s, drawing s, points drawn)."""
    start = time.perf_counter()
    placed = sound_map(catalog, liked_rows=liked, disliked_rows=disliked, highlight_track_id=int(catalog.ids[-1]))
    placing = time.perf_counter() - start
    start = time.perf_counter()
    drawing = draw_map(placed, title="Benchmark server by sound", member="alice")
    return placing, time.perf_counter() - start, drawing.plotted


def bench(n: int, repeat: int) -> dict[str, float]:
    catalog = synthetic(n)
    rng = np.random.default_rng(1)
    liked = rng.choice(n, size=min(50, n), replace=False)
    disliked = rng.choice(n, size=min(10, n), replace=False)
    render_once(catalog, liked, disliked)  # warm-up: matplotlib's fonts and caches
    runs = [render_once(catalog, liked, disliked) for _ in range(repeat)]
    totals = [p + d for p, d, _ in runs]
    return {
        "tracks": n,
        "drawn": runs[0][2],
        "p50_s": statistics.median(totals),
        "max_s": max(totals),
        "placing_p50_s": statistics.median(p for p, _, _ in runs),
        "drawing_p50_s": statistics.median(d for _, d, _ in runs),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,1000,100000", help="catalog sizes, comma-separated")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per size (after one warm-up)")
    parser.add_argument("--quick", action="store_true", help="a smoke run (10, 1,000 and 5,000 tracks, 1 run each)")
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)  # as the bot runs (bot/cli/commands.py): two BLAS threads spin against each other
    sizes = [10, 1_000, 5_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    repeat = 1 if args.quick else max(1, args.repeat)
    print(f"/map: place and draw the catalog (p50 and max of {repeat} run(s); target <= {TARGET_S:.0f} s)")
    slowest = 0.0
    for n in sizes:
        figures = bench(n, repeat)
        slowest = max(slowest, figures["max_s"])
        print(
            f"{n:>9,} tracks: {figures['drawn']:>5,} drawn, render p50 {figures['p50_s']:.2f} s"
            f" (placing {figures['placing_p50_s']:.2f} s, drawing {figures['drawing_p50_s']:.2f} s),"
            f" max {figures['max_s']:.2f} s"
        )
    print(
        f"slowest render: {slowest:.2f} s ({'within' if slowest <= TARGET_S else 'OVER'} the {TARGET_S:.0f}-s target)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
