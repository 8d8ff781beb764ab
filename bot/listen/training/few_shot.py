"""How fast a server's head learns: the few-shot learning curve (``crate evaluate DIR --few-shot``).

On the labelled music the family model is trained on (:mod:`bot.listen.training.family_training`: GTZAN-mini,
the commercial previews and the labelled Debian music), every track gets the base model's *out-of-fold*
distribution, genre split included (grouped CV, as in :mod:`bot.listen.training.family_fit`: no track is
judged by a model that saw it). Then,
for K = 1, 2, 3, 5 and many seeds, K tracks per family are "taught" as a server's corrections would
be, and every other track is classified by :func:`bot.listen.server_head.relabel`. Two curves:

- **families**: accuracy on the untaught tracks, base model alone vs base + head;
- **custom genre**: each family in turn is hidden from the base model (its column removed, as if
  a server invented it) and taught under a new name: recall and precision of that name on the
  untaught tracks. The base model alone can never answer it (0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.listen.server_head import relabel

K_VALUES = (1, 2, 3, 5)
SEEDS = 20


@dataclass(frozen=True)
class LabelledSet:
    embeddings: np.ndarray  # [n, 200] MSD_musicnn penultimate, per-track mean (what tracks.embedding stores)
    base: np.ndarray  # [n, F] the base model's out-of-fold distributions
    y: np.ndarray  # [n] family index (the first of a track's families)
    names: tuple[str, ...]  # F family names
    Y: np.ndarray | None = None  # [n, F] every family a track is positive for (partial labels); None: y's
    sources: np.ndarray | None = None  # [n] where each track comes from ("gtzan-mini", "commercial-4q", "debian")

    def take(self, rows: np.ndarray) -> LabelledSet:
        """The tracks at ``rows`` alone (as a server whose catalog were only those)."""
        pick = lambda a: None if a is None else a[rows]  # noqa: E731
        return LabelledSet(
            self.embeddings[rows], self.base[rows], self.y[rows], self.names, pick(self.Y), pick(self.sources)
        )

    def right(self, rows: np.ndarray, answers: np.ndarray) -> np.ndarray:
        """Whether each answer (a family index per row) is one of that row's families."""
        if self.Y is None:
            return answers == self.y[rows]
        return self.Y[rows, answers] > 0


@dataclass(frozen=True)
class SoundSets:
    """Sets of tracks of one kind (a game's soundtrack, one composer), and music unrelated to them."""

    embeddings: np.ndarray  # [n, 200]
    base: np.ndarray  # [n, F] the base model's distributions
    sets: dict[str, np.ndarray]  # name -> row indices of one set
    unrelated: np.ndarray  # rows of music unrelated to every set (commercial previews, GTZAN)
    names: tuple[str, ...]


def custom_set_curve(data: SoundSets, k: int = 3, seeds: int = SEEDS, **head) -> list[dict]:
    """A server teaches a genre of its own on ``k`` tracks of one set (a composer's soundtrack): how
    many of the set's other tracks, and how many unrelated tracks, then get that genre."""
    rows = []
    for name, members in data.sets.items():
        if len(members) <= k:
            continue
        found, unrelated = [], []
        for seed in range(seeds):
            taught = np.random.default_rng([seed, k, len(members)]).choice(members, size=k, replace=False)
            out = relabel(data.embeddings, data.base, data.names, [(int(i), "custom") for i in taught], **head)
            said = out.probabilities.argmax(axis=1) == len(data.names)
            found.append(float(said[np.setdiff1d(members, taught)].mean()))
            unrelated.append(float(said[data.unrelated].mean()))
        rows.append(
            {
                "set": name,
                "tracks": len(members),
                "found": float(np.mean(found)),
                "unrelated": float(np.mean(unrelated)),
            }
        )
    return rows


def _choose(rng: np.random.Generator, y: np.ndarray, family: int, k: int) -> np.ndarray:
    return rng.choice(np.flatnonzero(y == family), size=k, replace=False)


def families_curve(data: LabelledSet, ks: Sequence[int] = K_VALUES, seeds: int = SEEDS, **head) -> list[dict]:
    """Accuracy on untaught tracks with K taught per family (families with more than K tracks)."""
    rows = []
    for k in ks:
        eligible = [f for f in range(len(data.names)) if (data.y == f).sum() > k]
        base_acc, head_acc = [], []
        for seed in range(seeds):
            rng = np.random.default_rng([seed, k])
            taught = np.concatenate([_choose(rng, data.y, f, k) for f in eligible])
            test = np.setdiff1d(np.arange(len(data.y)), taught)
            out = relabel(
                data.embeddings, data.base, data.names, [(int(i), data.names[data.y[i]]) for i in taught], **head
            )
            head_acc.append(float(data.right(test, out.probabilities[test].argmax(axis=1)).mean()))
            base_acc.append(float(data.right(test, data.base[test].argmax(axis=1)).mean()))
        rows.append(
            {
                "k": k,
                "families_taught": len(eligible),
                "test_tracks": int(len(data.y) - k * len(eligible)),
                "base_accuracy": float(np.mean(base_acc)),
                "head_accuracy": float(np.mean(head_acc)),
                "head_accuracy_std": float(np.std(head_acc)),
            }
        )
    return rows


def families_by_source(data: LabelledSet, k: int = 3, seeds: int = SEEDS, **head) -> list[dict]:
    """:func:`families_curve` at ``k`` within each source alone, as a server whose catalog were that
    source's tracks. GTZAN's clips carry one clean label each; a commercial preview's taught family
    is the first its distributor lists (a death-metal band filed under "Electronic" is taught
    electronic), which no member would teach."""
    if data.sources is None:
        return []
    rows = []
    for source in sorted(set(data.sources)):
        part = data.take(np.flatnonzero(data.sources == source))
        [row] = families_curve(part, ks=(k,), seeds=seeds, **head)
        if row["families_taught"]:
            rows.append({"source": source, "tracks": len(part.y), **row})
    return rows


def custom_genre_curve(data: LabelledSet, ks: Sequence[int] = K_VALUES, seeds: int = SEEDS, **head) -> list[dict]:
    """Each family hidden from the base model and taught K times under a new name: recall, precision."""
    rows = []
    for k in ks:
        recalls, precisions = [], []
        families = [f for f in range(len(data.names)) if (data.y == f).sum() > k]
        for f in families:
            keep = [j for j in range(len(data.names)) if j != f]
            base = data.base[:, keep]
            base = base / base.sum(axis=1, keepdims=True)
            names = tuple(data.names[j] for j in keep)
            for seed in range(seeds):
                taught = _choose(np.random.default_rng([seed, k, f]), data.y, f, k)
                test = np.setdiff1d(np.arange(len(data.y)), taught)
                out = relabel(data.embeddings, base, names, [(int(i), "custom") for i in taught], **head)
                said = out.probabilities[test].argmax(axis=1) == len(names)  # the new column
                truth = data.y[test] == f if data.Y is None else data.Y[test, f] > 0
                recalls.append(float((said & truth).sum() / truth.sum()))
                if said.any():
                    precisions.append(float((said & truth).sum() / said.sum()))
        rows.append(
            {
                "k": k,
                "families": len(families),
                "recall": float(np.mean(recalls)),
                "precision": float(np.mean(precisions)) if precisions else None,
            }
        )
    return rows


#: Kernel widths compared in the report (the shipped one is :data:`bot.listen.server_head.BANDWIDTH`).
BANDWIDTHS = (0.08, 0.12, 0.15, 0.18)


def sensitivity(data: LabelledSet, sets: SoundSets | None = None, k: int = 3, seeds: int = SEEDS) -> list[dict]:
    """Family accuracy, custom-genre recall and (with ``sets``) a soundtrack's genre found on its
    other tracks and on unrelated music, at ``k`` taught, for each kernel width of :data:`BANDWIDTHS`."""
    rows = []
    for bandwidth in BANDWIDTHS:
        [fam] = families_curve(data, ks=(k,), seeds=seeds, bandwidth=bandwidth)
        [custom] = custom_genre_curve(data, ks=(k,), seeds=seeds, bandwidth=bandwidth)
        found = custom_set_curve(sets, k=k, seeds=seeds, bandwidth=bandwidth) if sets else []
        rows.append(
            {
                "bandwidth": bandwidth,
                "k": k,
                **{f"families_{n}": v for n, v in fam.items() if n != "k"},
                **{f"custom_{n}": v for n, v in custom.items() if n != "k"},
                "set_found": float(np.mean([r["found"] for r in found])) if found else None,
                "set_unrelated": float(np.mean([r["unrelated"] for r in found])) if found else None,
            }
        )
    return rows


def render(
    families: list[dict],
    custom: list[dict],
    *,
    seeds: int,
    summary: str,
    widths: list[dict] | None = None,
    sets: list[dict] | None = None,
    by_source: list[dict] | None = None,
) -> str:
    lines = [
        summary,
        "",
        f"Families (K taught per family, the rest classified; mean over {seeds} seeds):",
        "",
        "| K | families taught | untaught tracks | base model | base + server head |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in families:
        lines.append(
            f"| {r['k']} | {r['families_taught']} | {r['test_tracks']} | {r['base_accuracy']:.3f} |"
            f" {r['head_accuracy']:.3f} ± {r['head_accuracy_std']:.3f} |"
        )
    if by_source:
        lines += [
            "",
            f"The same within each source alone (K = {by_source[0]['k']}), as a server whose catalog were only it:",
            "",
            "| source | tracks | families taught | base model | base + server head |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for r in by_source:
            lines.append(
                f"| {r['source']} | {r['tracks']} | {r['families_taught']} | {r['base_accuracy']:.3f} |"
                f" {r['head_accuracy']:.3f} ± {r['head_accuracy_std']:.3f} |"
            )
    lines += [
        "",
        "A custom genre (each family in turn hidden from the base model, taught K times under a new name):",
        "",
        "| K | families tried | recall | precision |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for r in custom:
        precision = "–" if r["precision"] is None else f"{r['precision']:.3f}"
        lines.append(f"| {r['k']} | {r['families']} | {r['recall']:.3f} | {precision} |")
    if sets:
        lines += [
            "",
            "A genre of the server's own taught on 3 tracks of one soundtrack (one composer or game): the share of "
            "the soundtrack's other tracks, and of unrelated music (the commercial previews and GTZAN), then given it:",
            "",
            "| soundtrack | tracks | its other tracks | unrelated music |",
            "| --- | ---: | ---: | ---: |",
        ]
        for r in sets:
            lines.append(f"| {r['set']} | {r['tracks']} | {r['found']:.2f} | {r['unrelated']:.3f} |")
    if widths:
        lines += [
            "",
            f"Kernel width (K = {widths[0]['k']}; chosen on these same tracks, so optimistic):",
            "",
            "| width | families accuracy | custom recall | custom precision | soundtrack found | unrelated |",
            "| ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in widths:
            precision = "–" if r["custom_precision"] is None else f"{r['custom_precision']:.3f}"
            found = "–" if r["set_found"] is None else f"{r['set_found']:.2f}"
            unrelated = "–" if r["set_unrelated"] is None else f"{r['set_unrelated']:.3f}"
            lines.append(
                f"| {r['bandwidth']:.2f} | {r['families_head_accuracy']:.3f} | {r['custom_recall']:.3f} | {precision} |"
                f" {found} | {unrelated} |"
            )
    return "\n".join(lines)


def labelled_set(gtzan_dir, *, sample: int | None = None, log=print) -> tuple[LabelledSet, SoundSets, str]:
    """The family model's training data with out-of-fold base distributions, and the Debian game
    soundtracks as sets of one kind each (needs ../shared and the Debian music packages).
    ``sample``: at most that many tracks of each family from each source, and of each soundtrack
    (:func:`family_training.sample_items`); ``None``: every track."""
    from pathlib import Path

    from bot.listen import families
    from bot.listen.training import family_fit, family_training

    cache = family_training.FEATURE_CACHE
    shared = family_training.SHARED / "data" / "commercial-4q"
    items = family_training.load_items(Path(gtzan_dir), cache / "extracted", shared)
    if sample is not None:
        items = family_training.sample_items(items, sample)
    features = family_training.cached_features(items, cache / "features", log=log)
    dataset = family_training.build_dataset(items, features)
    model = families.default_model()
    cv = model.manifest.get("cross_validation", {})
    chosen = cv.get("chosen", "prior")
    labelled = np.flatnonzero(dataset.y >= 0)
    sources = np.asarray([family_fit.source_of(dataset.items[i]) for i in labelled])
    weights = family_fit.training_weights(sources)
    prior_w = families.prior_matrix(*family_fit._tag_names())
    inputs = dataset.inputs.take(labelled)
    raw = family_fit.cross_validated(
        inputs,
        dataset.y[labelled],
        dataset.groups[labelled],
        prior_w,
        family_fit.candidates().get(chosen),
        Y=dataset.Y[labelled],
        source_weights=weights,
        head_scale=float(cv.get("head_scale", 1.0)),
    )
    temperature = float(cv.get("temperature", 1.0))
    split = None
    if model.split is not None:
        split = family_fit.split_out_of_fold(
            inputs, dataset.y[labelled], dataset.groups[labelled], sources, model.head_input
        )
    base = family_fit.out_of_fold_answers(raw, temperature, split)
    embeddings = dataset.inputs.block("msd_pen")
    data = LabelledSet(embeddings[labelled], base, dataset.y[labelled], families.FAMILIES, dataset.Y[labelled], sources)
    # Every track's distribution from the packaged model (the soundtracks are unlabelled: never trained on).
    everything = model.proba(dataset.inputs)
    origin = np.asarray([item.source for item in dataset.items])
    soundtracks = sorted({s for s in origin if s not in ("gtzan-mini", "commercial-4q")})
    sets = SoundSets(
        embeddings,
        everything,
        {s: np.flatnonzero(origin == s) for s in soundtracks},
        np.flatnonzero(np.isin(origin, ["gtzan-mini", "commercial-4q"])),
        families.FAMILIES,
    )
    summary = (
        f"{len(labelled)} labelled tracks ({', '.join(sorted(set(sources)))}); base model: {chosen}, out-of-fold"
        f" ({family_fit.FOLDS}-fold grouped CV, temperature {temperature:.2f}). Sets of one kind: "
        + ", ".join(f"{s} ({len(r)})" for s, r in sets.sets.items())
        + "."
    )
    return data, sets, summary
