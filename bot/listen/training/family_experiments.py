"""Choices about the family model, measured again on demand.

The genre split's share, and what was tried and not kept:

``python -m bot.listen.training.family_experiments [--seeds 4]`` (the features cached by
:mod:`bot.listen.training.family_training`; needs ``../shared``). Every figure is out of fold, in the
grouped CV of :mod:`bot.listen.training.family_fit`, for the shipped candidate, averaged over CV seeds:
top-1 per source against the label sets the model is trained on.

- **The head's say** (shipped at the manifest's ``head_scale``, chosen by
  :func:`family_fit.choose_head_scale` on one CV seed): top-1 per source at every scale of
  :data:`family_fit.HEAD_SCALES`, over several seeds.
- **A prior shift** (``p * prior ** -tau``, the prior being the mean out-of-fold distribution):
  does it make the rarely answered families (electronic, folk, soul on released music) answered
  without costing top-1?
- **The genre split** (shipped at :data:`family_fit.SPLIT_SHARE`): a logistic regression on
  GTZAN's clips alone re-dividing, among GTZAN's ten genres only, the probability the model gives
  them, at several shares (0: without it).
- **Wider catch-alls**: AllMusic's "Stage & Screen" read as classical, pop, jazz or ambient (show
  tunes are not classical) and "Latin"/"International" as folk or pop, instead of classical and
  folk alone.
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from bot.listen import families
from bot.listen.families import FAMILIES
from bot.listen.training import family_fit, family_training

CHOSEN = "prior+head[tags+pen] l2=0.3"
CHOSEN_SPEC = ("tags+pen", 0.3)
WIDER = family_training.ALLMUSIC_FAMILIES | {
    "Stage & Screen": ("classical", "pop", "jazz", "ambient"),
    "Latin": ("folk", "pop"),
    "International": ("folk", "pop"),
}


def load(cache: Path, mapping: Mapping[str, tuple[str, ...]] = family_training.ALLMUSIC_FAMILIES):
    """The labelled tracks (inputs, stratification label, groups, label sets, sources), the
    previews' AllMusic genres read through ``mapping``."""
    shared = family_training.SHARED / "data"
    items = family_training.load_items(shared / "gtzan-mini", cache / "extracted", shared / "commercial-4q", mapping)
    features = family_training.cached_features(items, cache / "features", log=lambda _: None, cached_only=True)
    data = family_training.build_dataset(items, features)
    rows = np.flatnonzero(data.y >= 0)
    sources = np.asarray([family_fit.source_of(data.items[i]) for i in rows])
    return data.inputs.take(rows), data.y[rows], data.groups[rows], data.Y[rows], sources


def by_head_scale(inputs, y, groups, Y, sources, seed: int) -> dict[float, np.ndarray]:
    """Out-of-fold probabilities of the shipped candidate at every head scale
    (:data:`family_fit.HEAD_SCALES`, from one fit per fold), without the genre split."""
    prior_w = families.prior_matrix(*family_fit._tag_names())
    weights = family_fit.training_weights(sources)
    return family_fit.cross_validated_scales(
        inputs, y, groups, prior_w, CHOSEN_SPEC, family_fit.HEAD_SCALES, Y=Y, source_weights=weights, seed=seed
    )


def out_of_fold(inputs, y, groups, Y, sources, seed: int, *, shares: Iterable[float] = ()) -> dict[float, np.ndarray]:
    """Out-of-fold probabilities of the shipped candidate at the shipped head scale without the
    genre split (share 0) and, for each of ``shares``, with it (:func:`family_fit.split_out_of_fold`,
    at that share)."""
    prior_w = families.prior_matrix(*family_fit._tag_names())
    weights = family_fit.training_weights(sources)
    head_scale = float(families.default_model().manifest["cross_validation"].get("head_scale", 1.0))
    raw = family_fit.cross_validated(
        inputs, y, groups, prior_w, CHOSEN_SPEC, Y=Y, source_weights=weights, seed=seed, head_scale=head_scale
    )
    if not shares:
        return {0.0: raw}
    said, columns = family_fit.split_out_of_fold(inputs, y, groups, sources, CHOSEN_SPEC[0], seed)
    return {0.0: raw, **{share: families.resplit(raw, said, columns, share) for share in shares}}


def top1(p: np.ndarray, Y: np.ndarray, sources: np.ndarray) -> dict[str, float]:
    right = family_fit.right(p, Y)
    return {source: float(right[sources == source].mean()) for source in sorted(set(sources))}


def answered(p: np.ndarray, Y: np.ndarray, sources: np.ndarray, names: Iterable[str]) -> dict[str, float]:
    """Per family, the share of released previews listing it that are answered it."""
    released = sources == "commercial-4q"
    top = p.argmax(axis=1)
    return {n: float((top[released & (Y[:, FAMILIES.index(n)] > 0)] == FAMILIES.index(n)).mean()) for n in names}


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=family_training.FEATURE_CACHE)
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args(list(argv) if argv is not None else None)
    warnings.filterwarnings("ignore", category=UserWarning)  # a family with fewer clips than folds
    rare = ("electronic", "folk", "soul", "classical", "reggae")
    seeds = range(args.seeds)

    inputs, y, groups, Y, sources = load(args.cache)
    runs = [out_of_fold(inputs, y, groups, Y, sources, seed, shares=(0.25, 0.5)) for seed in seeds]
    print(f"{CHOSEN}, top-1 per source, mean over {args.seeds} CV seeds")
    for share in (0.0, 0.25, 0.5):
        scores = [top1(run[share], Y, sources) for run in runs]
        what = "without the genre split" if share == 0 else f"genre split, share {share}"
        print(f"  {what:26s}", "  ".join(f"{s} {np.mean([x[s] for x in scores]):.3f}" for s in scores[0]))
    print(
        f"the head's say (genre split at {family_fit.SPLIT_SHARE}), top-1 per source, mean over {args.seeds} CV seeds"
    )
    per_seed = []  # scale -> top-1 per source, for each seed
    for seed in seeds:
        said, columns = family_fit.split_out_of_fold(inputs, y, groups, sources, CHOSEN_SPEC[0], seed)
        raws = by_head_scale(inputs, y, groups, Y, sources, seed)
        per_seed.append(
            {
                scale: top1(families.resplit(raw, said, columns, family_fit.SPLIT_SHARE), Y, sources)
                for scale, raw in raws.items()
            }
        )
    for scale in family_fit.HEAD_SCALES:
        scores = [run[scale] for run in per_seed]
        print(f"  head scale {scale:<14g}", "  ".join(f"{s} {np.mean([x[s] for x in scores]):.3f}" for s in scores[0]))
    print("prior shift (seed 0): top-1 per source | answered when listed on released music")
    base = runs[0][0.0]
    prior = base.mean(axis=0)
    for tau in (0.0, 0.25, 0.5, 0.75, 1.0):
        q = base * prior**-tau
        q /= q.sum(axis=1, keepdims=True)
        shares = answered(q, Y, sources, rare)
        print(
            f"  tau {tau:.2f}",
            "  ".join(f"{s} {v:.3f}" for s, v in top1(q, Y, sources).items()),
            "|",
            " ".join(f"{n} {v:.2f}" for n, v in shares.items()),
        )
    # Wider catch-alls: judged against the label sets of the shipped mapping (the wider sets accept more).
    wide_inputs, wide_y, wide_groups, wide_Y, _ = load(args.cache, WIDER)
    scores = []
    for seed in seeds:
        p = out_of_fold(wide_inputs, wide_y, wide_groups, wide_Y, sources, seed)[0.0]
        scores.append(top1(p, Y, sources))
    print("  wider catch-alls         ", "  ".join(f"{s} {np.mean([x[s] for x in scores]):.3f}" for s in scores[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
