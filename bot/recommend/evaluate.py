"""Offline evaluation of the ranker against three baselines, on a labeled catalog of real analyses.

Protocol (:func:`evaluate`, reproducible from ``seed``):

1. **Simulated members.** Each of ``users`` members has one or two favourite genres (true
   labels). In each favourite genre they like :data:`LIKE_SHARE` of its tracks (at most
   :data:`MAX_LIKES_PER_GENRE`), drawn without replacement with probability proportional to
   ``exp(taste_bias * cos(track, anchor))`` around a personal anchor track of that genre: people
   like *some* of a genre, not a random sample of it (``taste_bias=0`` gives uniform sampling).
   They also dislike :data:`DISLIKES` tracks of other genres. Ratings get random times over the
   last :data:`RATING_DAYS` days.
2. **Hold-out.** :data:`HOLDOUT` of each member's likes (at least one) are hidden; everyone's
   remaining ratings form the server's ratings, so other members' likes feed the collaborative
   signal exactly as in a live server.
3. **Rankers** get the catalog with the genre *the bot* would know (the genre model's prediction
   when the file has one) and produce 10 tracks per member from the tracks that member hasn't
   rated: ``crate`` (:class:`~bot.recommend.rank.Recommender`), ``random``, ``most-liked``
   (net likes in the server) and ``genre-only`` (the member's genre affinity, ties broken by
   popularity — a deliberately strong genre baseline).
4. **Metrics.** precision@10 and NDCG@10 (binary relevance: the hidden likes), catalog coverage
   (share of the catalog recommended to anyone), intra-list diversity (1 − mean pairwise cosine
   of the raw musicnn embeddings within each list), averaged over members; and crate's NDCG lead
   over each baseline with its paired standard error, so a gap within the sampling noise reads
   as one.

With ``taste_bias=0`` likes within a genre are uniform: content then carries no signal beyond
the genre, and on a catalog whose genre labels are all right (gtzan-mini: the genre model agrees
with every folder) ``genre-only`` is as good as any ranker can be up to the order *within* the
favourite genres, which is chance. Crate can only tie it there; see the lead's standard error.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bot.catalog import DISLIKE, LIKE, Rating
from bot.recommend.labeled import LabeledCatalog
from bot.recommend.profile import build_profile_arrays
from bot.recommend.rank import Recommender

K = 10
LIKE_SHARE = 0.6
MAX_LIKES_PER_GENRE = 20
DISLIKES = 3
HOLDOUT = 0.3
RATING_DAYS = 180
TASTE_BIAS = 4.0
NOW = 1_700_000_000.0

RANKERS = ("crate", "random", "most-liked", "genre-only")


@dataclass(frozen=True)
class Scores:
    precision: float
    ndcg: float
    coverage: float
    diversity: float
    #: Mean per-member NDCG@10 of crate minus this ranker, and its standard error (paired over
    #: the same members): with 200 members the sampling noise is about +-0.01, as large as the
    #: gap between crate and genre-only when likes carry no signal beyond genre.
    ndcg_lead: float = 0.0
    ndcg_lead_se: float = 0.0

    def to_dict(self) -> dict[str, float]:
        return {
            "precision@10": round(self.precision, 4),
            "ndcg@10": round(self.ndcg, 4),
            "coverage": round(self.coverage, 4),
            "diversity": round(self.diversity, 4),
            "crate_ndcg_lead": round(self.ndcg_lead, 4),
            "crate_ndcg_lead_se": round(self.ndcg_lead_se, 4),
        }


@dataclass(frozen=True)
class EvaluationReport:
    scores: dict[str, Scores]
    users: int
    tracks: int
    genres: int
    seed: int
    taste_bias: float

    def to_dict(self) -> dict:
        return {
            "users": self.users,
            "tracks": self.tracks,
            "genres": self.genres,
            "seed": self.seed,
            "taste_bias": self.taste_bias,
            "scores": {name: s.to_dict() for name, s in self.scores.items()},
        }

    def to_text(self) -> str:
        lines = [
            f"{self.users} simulated members, {self.tracks} tracks, {self.genres} genres, "
            f"seed {self.seed}, taste bias {self.taste_bias:g}",
            f"{'ranker':<12} {'P@10':>7} {'NDCG@10':>8} {'coverage':>9} {'diversity':>10}  crate's NDCG lead (± s.e.)",
        ]
        for name, s in self.scores.items():
            lead = "" if name == "crate" else f"  {s.ndcg_lead:+.3f} ± {s.ndcg_lead_se:.3f}"
            lines.append(f"{name:<12} {s.precision:>7.3f} {s.ndcg:>8.3f} {s.coverage:>9.3f} {s.diversity:>10.3f}{lead}")
        return "\n".join(lines)


@dataclass(frozen=True)
class SimulatedServer:
    ratings: list[Rating]  # the visible ratings of every member
    hidden: dict[int, set[int]]  # member -> held-out liked track ids


def simulate(labeled: LabeledCatalog, *, users: int, seed: int, taste_bias: float = TASTE_BIAS) -> SimulatedServer:
    rng = np.random.default_rng(seed)
    E = labeled.embeddings - labeled.embeddings.mean(axis=0)
    unit = E / np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-9)
    genres = np.asarray(labeled.genres)
    names = sorted(set(genres.tolist()))
    members = {g: np.flatnonzero(genres == g) for g in names}
    eligible = [g for g in names if len(members[g]) >= 3]
    ratings: list[Rating] = []
    hidden: dict[int, set[int]] = {}
    for user in range(1, users + 1):
        favourites = rng.choice(eligible, size=min(len(eligible), int(rng.integers(1, 3))), replace=False)
        liked: list[int] = []
        for g in favourites:
            rows = members[g]
            anchor = rng.choice(rows)
            logits = taste_bias * (unit[rows] @ unit[anchor])
            p = np.exp(logits - logits.max())
            p /= p.sum()
            n_likes = max(2, min(MAX_LIKES_PER_GENRE, round(LIKE_SHARE * len(rows))))
            liked += rng.choice(rows, size=min(n_likes, len(rows)), replace=False, p=p).tolist()
        others = np.flatnonzero(~np.isin(genres, favourites))
        disliked = rng.choice(others, size=min(DISLIKES, len(others)), replace=False).tolist()
        liked_arr = np.asarray(liked)
        rng.shuffle(liked_arr)
        n_hidden = max(1, round(HOLDOUT * len(liked_arr)))
        hidden[user] = {int(r) + 1 for r in liked_arr[:n_hidden]}  # track id = row + 1
        times = NOW - rng.uniform(0, RATING_DAYS * 86_400, size=len(liked_arr) + len(disliked))
        for t, row in zip(times, liked_arr[n_hidden:].tolist() + disliked):
            value = LIKE if row in liked else DISLIKE
            ratings.append(Rating(0, user, int(row) + 1, value, float(t)))
    return SimulatedServer(ratings, hidden)


def _ndcg(ranked: list[int], relevant: set[int], k: int = K) -> float:
    dcg = sum(1.0 / math.log2(i + 2) for i, t in enumerate(ranked[:k]) if t in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / ideal if ideal else 0.0


def _diversity(rows: list[int], raw_unit: np.ndarray) -> float:
    if len(rows) < 2:
        return 0.0
    X = raw_unit[rows]
    S = X @ X.T
    n = len(rows)
    return float(1.0 - (S.sum() - np.trace(S)) / (n * (n - 1)))


def evaluate(
    labeled: LabeledCatalog,
    *,
    users: int = 200,
    seed: int = 0,
    taste_bias: float = TASTE_BIAS,
    progress: Callable[[str], None] = lambda message: None,
) -> EvaluationReport:
    catalog = labeled.catalog()
    server = simulate(labeled, users=users, seed=seed, taste_bias=taste_bias)
    recommender = Recommender(catalog, server.ratings, now=NOW)
    rng = np.random.default_rng(seed + 1)
    n = len(catalog)
    raw_unit = labeled.embeddings / np.maximum(np.linalg.norm(labeled.embeddings, axis=1, keepdims=True), 1e-9)

    rows_all = np.asarray([r.track_id - 1 for r in server.ratings])
    users_all = np.asarray([r.user_id for r in server.ratings])
    values_all = np.asarray([r.value for r in server.ratings])
    net_likes = np.bincount(rows_all, weights=values_all, minlength=n)

    lists: dict[str, dict[int, list[int]]] = {name: {} for name in RANKERS}
    for user in sorted(server.hidden):
        mine = users_all == user
        rated = set(rows_all[mine].tolist())
        candidates = np.asarray([r for r in range(n) if r not in rated])
        lists["crate"][user] = [r.track_id - 1 for r in recommender.for_user(user, count=K)]
        lists["random"][user] = rng.permutation(candidates)[:K].tolist()
        # Popularity from everyone else's ratings (the member's own would only point at rated tracks).
        others_net = net_likes - np.bincount(rows_all[mine], weights=values_all[mine], minlength=n)
        jitter = rng.random(len(candidates)) * 1e-6
        order = np.lexsort((jitter, -others_net[candidates]))
        lists["most-liked"][user] = candidates[order][:K].tolist()
        profile = build_profile_arrays(
            user, rows_all[mine], values_all[mine], np.full(mine.sum(), NOW), top_genres=catalog.top_genres, now=NOW
        )
        affinity = np.asarray([profile.genre_affinity.get(g or "", 0.0) for g in catalog.top_genres])
        order = np.lexsort((jitter, -others_net[candidates], -affinity[candidates]))
        lists["genre-only"][user] = candidates[order][:K].tolist()
    progress("ranked")

    scores = {}
    hidden = {u: {t - 1 for t in ids} for u, ids in server.hidden.items()}
    members = sorted(server.hidden)
    ndcgs = {name: np.asarray([_ndcg(lists[name][u], hidden[u]) for u in members]) for name in RANKERS}
    for name in RANKERS:
        per_user = lists[name]
        precision = np.mean([len(set(l[:K]) & hidden[u]) / K for u, l in per_user.items()])
        coverage = len({r for l in per_user.values() for r in l}) / n
        diversity = np.mean([_diversity(l, raw_unit) for l in per_user.values()])
        lead = ndcgs["crate"] - ndcgs[name]
        se = float(lead.std(ddof=1) / math.sqrt(len(lead))) if len(lead) > 1 else 0.0
        scores[name] = Scores(
            float(precision), float(ndcgs[name].mean()), float(coverage), float(diversity), float(lead.mean()), se
        )
    genres = len(set(np.asarray(labeled.genres).tolist()))
    return EvaluationReport(scores, users, n, genres, seed, taste_bias)


def run_cli(args, out=print) -> int:
    """``crate evaluate-recs``: build a labeled catalog, or evaluate on one (see bot/cli.py)."""
    import json
    import sys

    from bot.errors import CrateError
    from bot.recommend.labeled import build_labeled_catalog

    def progress(done, total, path):
        print(f"\r  listening {done}/{total}", end="", file=sys.stderr, flush=True)

    if args.build_catalog:
        dataset, target = args.build_catalog
        labeled = build_labeled_catalog(dataset, progress=progress)
        print(file=sys.stderr)
        labeled.save(target)
        out(f"Analyzed {len(labeled)} tracks of {dataset} into {target}.")
        return 0
    if args.catalog:
        labeled = LabeledCatalog.load(args.catalog)
        source = str(args.catalog)
    elif args.dataset:
        labeled = build_labeled_catalog(args.dataset, progress=progress)
        print(file=sys.stderr)
        source = str(args.dataset)
    else:
        raise CrateError(
            "Give a labeled catalog with --catalog FILE.npz (make one with --build-catalog DATASET_DIR OUT.npz) "
            "or a labeled folder with --dataset DATASET_DIR."
        )
    bias = TASTE_BIAS if args.taste_bias is None else args.taste_bias
    report = evaluate(labeled, users=args.users, seed=args.seed, taste_bias=bias)
    if args.json:
        out(json.dumps({"catalog": source, **report.to_dict()}))
    else:
        out(f"Recommendations on {source}")
        out(report.to_text())
    return 0
