"""How fast is ``/recommend`` on a big server? ``python -m benchmarks.recommend [--sizes 10000,100000,1000000] [--postgresql [URL]] [--quick]``

For each catalog size it builds a synthetic server: clustered 200-d embeddings (``--genres``
clusters, tracks spread around their genre's centre like real musicnn embeddings spread around
a genre), 50 tag probabilities, 1,000 members and 50,000 ratings (members like mostly within
one or two favourite genres). Sizes up to ``--sqlite-max`` (default 100,000) are written to a
real SQLite file through :class:`bot.store.Database` (bulk ``INSERT``s with the store's schema
and BLOB encoding; ``add_track``'s per-track duplicate check is skipped to keep the set-up short)
and loaded back with the same code the bot uses (:class:`bot.recommend.service.CatalogCache`).
Larger sizes are built as in-memory arrays (no
SQLite): the ranking step is identical, the load and request times are not measured.

Timed, for ``--requests`` random members:

* **ranking** — the ranking step of ``/recommend`` on the cached catalog and rating arrays:
  ``Recommender(...)`` plus ``for_user(count=5)`` (p50/p95 ms; ``for_user`` alone too);
* **whole request** (SQLite sizes) — :func:`~bot.recommend.service.recommend_for` on warm
  caches: the server's change counts (one primary-key lookup), the member's shares, the ranking
  in a worker thread. Nothing is vacuumed or analyzed after the bulk load: a server's statistics
  may be stale, and the request must not depend on them.

With ``--postgresql URL`` the database sizes are measured on that (empty) PostgreSQL database
too, through the same :class:`bot.store.Database` API (``CRATE_DATABASE_URL``); ``--postgresql``
alone starts a throwaway local server (Debian's ``postgresql`` package, as the tests do).

Memory: the peak of one ranking call (tracemalloc), the process RSS growth of the cached
catalog + ranking features, and the size of the cached rating arrays. The first (cold) load of
the catalog and of the ratings is reported too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from bot.catalog import DISLIKE, EMBEDDING_DIM, LIKE, TAG_COUNT, Catalog, Rating
from bot.recommend.rank import RatingArrays, Recommender, features_of
from bot.recommend.service import CatalogCache, recommend_for
from bot.store import open_database

GUILD = 1
USERS = 1_000
RATINGS = 50_000
NOW = 1_700_000_000.0


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:  # pragma: no cover - not Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic(n: int, genres: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 1.0, size=(genres, EMBEDDING_DIM)).astype(np.float32)
    genre_of = rng.integers(0, genres, size=n)
    embeddings = np.empty((n, EMBEDDING_DIM), np.float32)
    for start in range(0, n, 100_000):  # bounded temporaries for 1M tracks
        stop = min(n, start + 100_000)
        noise = rng.normal(0.0, 0.8, size=(stop - start, EMBEDDING_DIM)).astype(np.float32)
        embeddings[start:stop] = centres[genre_of[start:stop]] + noise + 0.2
    tag_probs = rng.beta(0.5, 4.0, size=(n, TAG_COUNT)).astype(np.float32)
    names = [f"genre{g:02d}" for g in range(genres)]
    top_genres = [names[g] for g in genre_of]
    # Ratings: each member favours one or two genres; 85 % of their ratings are likes in them.
    members = rng.integers(10_000, 10_000 + USERS * 10, size=USERS)
    by_genre = [np.flatnonzero(genre_of == g) for g in range(genres)]
    per_user = rng.multinomial(RATINGS - USERS, np.full(USERS, 1 / USERS)) + 1
    rows, users, values = [], [], []
    for member, k in zip(members, per_user):
        favourites = rng.choice(genres, size=int(rng.integers(1, 3)), replace=False)
        for _ in range(k):
            if rng.random() < 0.85:
                pool = by_genre[int(rng.choice(favourites))]
                rows.append(int(rng.choice(pool)))
                values.append(LIKE)
            else:
                rows.append(int(rng.integers(0, n)))
                values.append(DISLIKE)
            users.append(int(member))
    pairs = {}
    for row, user, value in zip(rows, users, values):
        pairs[(user, row)] = value  # rating again replaces
    times = NOW - rng.uniform(0, 365 * 86_400, size=len(pairs))
    ratings = [Rating(GUILD, u, r + 1, v, float(t)) for ((u, r), v), t in zip(pairs.items(), times)]
    return embeddings, tag_probs, top_genres, ratings, members


async def _store_bench(target: Path | str, embeddings, tag_probs, top_genres, ratings, users) -> tuple:
    """Write the server into the database, load it back as the bot does, time the ranking and the request."""
    n = len(embeddings)
    async with open_database(target) as db:
        async with db.transaction():
            await db.execute_many(
                "INSERT INTO tracks (id, guild_id, title, source_kind, content_hash, duration, genres, top_genre,"
                " tag_probs, embedding, added_at) VALUES (?, ?, ?, 'file', ?, 180.0, ?, ?, ?, ?, ?)",
                (
                    (
                        i + 1,
                        GUILD,
                        f"Track {i + 1}",
                        hashlib.sha256(str(i).encode()).hexdigest(),
                        json.dumps([[top_genres[i], 0.9]]),
                        top_genres[i],
                        tag_probs[i].astype("<f4").tobytes(),
                        embeddings[i].astype("<f4").tobytes(),
                        NOW,
                    )
                    for i in range(n)
                ),
            )
            await db.execute_many(
                "INSERT INTO ratings (guild_id, user_id, track_id, value, rated_at) VALUES (?, ?, ?, ?, ?)",
                ((r.guild_id, r.user_id, r.track_id, r.value, r.rated_at) for r in ratings),
            )
        cache = CatalogCache(db)
        rss = _rss_mb()
        start = time.perf_counter()
        catalog = await cache.catalog(GUILD)
        catalog_s = time.perf_counter() - start
        rss_growth = _rss_mb() - rss
        start = time.perf_counter()
        arrays = await cache.ratings(GUILD, catalog)
        ratings_s = time.perf_counter() - start
        start = time.perf_counter()
        assert await cache.catalog(GUILD) is catalog
        assert await cache.ratings(GUILD, catalog) is arrays
        hit_s = time.perf_counter() - start
        timings = _time_ranking(catalog, arrays, users)
        # The whole /recommend request on warm caches: the change counts, the member's shares,
        # Recommender + for_user in a worker thread.
        request = []
        for user in users:
            start = time.perf_counter()
            result = await recommend_for(cache, GUILD, int(user), count=5, now=NOW)
            request.append(time.perf_counter() - start)
            assert len(result.recommendations) == 5
    load = {"catalog_load_s": catalog_s, "ratings_load_s": ratings_s, "cache_hit_s": hit_s, "rss_growth_mb": rss_growth}
    return catalog, arrays, timings, request, load


def _in_memory(embeddings, tag_probs, top_genres):
    n = len(embeddings)
    rss = _rss_mb()
    start = time.perf_counter()
    catalog = Catalog(
        guild_id=GUILD,
        ids=np.arange(1, n + 1, dtype=np.int64),
        titles=[f"Track {i + 1}" for i in range(n)],
        top_genres=top_genres,
        durations=np.full(n, 180.0),
        tag_probs=tag_probs,
        embeddings=embeddings,
    )
    features_of(catalog)
    return catalog, {
        "catalog_load_s": None,
        "features_s": time.perf_counter() - start,
        "ratings_load_s": None,
        "cache_hit_s": None,
        "rss_growth_mb": _rss_mb() - rss,
    }


def _time_ranking(catalog: Catalog, arrays: RatingArrays, users) -> tuple[list[float], list[float]]:
    """(Recommender + for_user, for_user alone) seconds per member: the ranking step of /recommend."""
    Recommender(catalog, arrays, now=NOW).for_user(int(users[0]))  # warm-up
    total, ranking = [], []
    for user in users:
        start = time.perf_counter()
        recommender = Recommender(catalog, arrays, now=NOW)
        middle = time.perf_counter()
        picks = recommender.for_user(int(user), count=5)
        end = time.perf_counter()
        assert len(picks) == 5
        total.append(end - start)
        ranking.append(end - middle)
    return total, ranking


def bench(
    n: int, *, genres: int, requests: int, sqlite_max: int, workdir: Path, database: Path | str | None = None
) -> dict:
    """One catalog size; ``database`` (a PostgreSQL URL) instead of a SQLite file in ``workdir``."""
    embeddings, tag_probs, top_genres, ratings, members = synthetic(n, genres)
    users = np.random.default_rng(1).choice(members, size=requests)
    request: list[float] = []
    kind = "in-memory"
    if n <= sqlite_max:
        kind = "sqlite" if database is None else "postgresql"
        target = workdir / f"bench-{n}.sqlite3" if database is None else database
        catalog, arrays, (total, ranking), request, load = asyncio.run(
            _store_bench(target, embeddings, tag_probs, top_genres, ratings, users)
        )
    else:
        catalog, load = _in_memory(embeddings, tag_probs, top_genres)
        start = time.perf_counter()
        arrays = RatingArrays.from_ratings(catalog, ratings)
        load["ratings_load_s"] = time.perf_counter() - start
        total, ranking = _time_ranking(catalog, arrays, users)
    del embeddings
    tracemalloc.start()
    Recommender(catalog, arrays, now=NOW).for_user(int(users[0]), count=5)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    ms = lambda xs, q: float(np.percentile(xs, q) * 1000) if len(xs) else None  # noqa: E731
    return {
        "tracks": n,
        "ratings": len(arrays),
        "store": kind,
        "p50_ms": ms(total, 50),
        "p95_ms": ms(total, 95),
        "for_user_p95_ms": ms(ranking, 95),
        "request_p50_ms": ms(request, 50),
        "request_p95_ms": ms(request, 95),
        "peak_mb_per_request": peak / 2**20,
        "ratings_arrays_mb": arrays.nbytes / 2**20,
        "pca_variance_kept": features_of(catalog).explained_variance,
        **load,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--genres", type=int, default=30)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--sqlite-max", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--postgresql",
        nargs="?",
        const="start",
        metavar="URL",
        help="also measure on PostgreSQL: an empty database's URL, or nothing to start a throwaway local server",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run (2,000 tracks on SQLite and 4,000 in memory, 5 requests) that prints the"
        " same figures; run by tests/test_benchmarks.py",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.requests, args.sqlite_max = "2000,4000", 5, 2000
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)  # as the bot runs (bot/cli.py)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, _postgresql(args.postgresql) as server:
        for n in (int(s) for s in args.sizes.split(",")):
            databases: list[Path | str | None] = [None]
            if server is not None and n <= args.sqlite_max:
                databases.append(server.create_database(f"bench{n}") if not isinstance(server, str) else server)
            for database in databases:
                rows.append(
                    bench(
                        n,
                        genres=args.genres,
                        requests=args.requests,
                        sqlite_max=args.sqlite_max,
                        workdir=Path(tmp),
                        database=database,
                    )
                )
                print(json.dumps(rows[-1]) if args.json else _row(rows[-1]), flush=True)
                if isinstance(server, str) and database is not None:
                    asyncio.run(_empty(server))  # the next size starts from an empty database again
    return 0


@contextlib.contextmanager
def _postgresql(option: str | None):
    """None, the given URL, or a throwaway local server (tests/postgres_server.py) for the run."""
    if option is None or option != "start":
        yield option
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo's tests package
    from tests import postgres_server

    server = postgres_server.start()
    try:
        yield server
    finally:
        server.stop()


async def _empty(url: str) -> None:
    async with open_database(url) as db:
        await db.execute("TRUNCATE tracks CASCADE")


def _row(r: dict) -> str:
    if r["catalog_load_s"] is None:
        load = f"n/a (in memory; ratings -> arrays {r['ratings_load_s'] * 1000:.0f} ms)"
        request = "n/a (no SQLite)"
    else:
        load = (
            f"catalog {r['catalog_load_s']:.2f} s + ratings {r['ratings_load_s'] * 1000:.0f} ms "
            f"(cache hits {r['cache_hit_s'] * 1000:.1f} ms)"
        )
        request = f"p50 {r['request_p50_ms']:.1f} / p95 {r['request_p95_ms']:.1f} ms"
    return (
        f"{r['tracks']:>9,} tracks ({r['store']}), {r['ratings']:,} ratings: ranking p50 {r['p50_ms']:.1f} ms, "
        f"p95 {r['p95_ms']:.1f} ms (for_user alone p95 {r['for_user_p95_ms']:.1f} ms); whole request {request}; "
        f"peak {r['peak_mb_per_request']:.1f} MB/request; catalog+features RSS +{r['rss_growth_mb']:.0f} MB, "
        f"rating arrays {r['ratings_arrays_mb']:.1f} MB; first load {load}; PCA variance kept {r['pca_variance_kept']:.2f}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
