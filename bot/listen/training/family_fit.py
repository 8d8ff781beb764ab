"""Fitting, grouped cross-validation and reliability analysis of the family model.

Candidates (all share the tag prior of :mod:`bot.listen.families`):

- ``prior``: the hand-specified tag -> family prior alone; only its scale (a temperature) is fitted;
- ``prior+head[INPUT] l2=L``: plus a linear head, L2-penalized, on the 100 standardized tag logits
  (``tags``) or those plus MSD's 200-d embedding (``tags+msd_pen``), fitted only for families with
  labelled tracks from 3+ independent groups in the training fold (others keep the prior alone).

Grouped stratified K-fold: a GTZAN clip is its own group (its excerpts never straddle folds), a
Debian package is one group (no album is split across folds). The candidate with the lowest CV
log-loss (the mean of GTZAN's and the Debian music's, so that GTZAN alone does not decide) is refitted on everything; the "not sure" threshold is the smallest top-probability at
which CV accuracy of the answers at or above it (and at every higher threshold) reaches
``TARGET_PRECISION``.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from bot.listen import families
from bot.listen.families import FAMILIES, FamilyModel

TARGET_PRECISION = 0.85
THRESHOLDS = np.round(np.arange(0.20, 0.951, 0.05), 2)
BINS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
PRIOR_EPS = 0.02
FOLDS = 5
_MEANS = (
    "per-track means of MSD_musicnn's 50 tag probabilities over the analysis excerpts and of MTT_musicnn's 50"
    " over the first and the last of them"
)
INPUTS = {
    "none": _MEANS,
    "tags": f"{_MEANS} (prior and head); penultimate embeddings unused",
    "tags+msd_pen": f"{_MEANS} (prior and head) and MSD_musicnn's 200-d penultimate embedding (head only);"
    " MTT's embedding unused",
}
K = len(FAMILIES)


def _tag_names():
    """Both taggers' tag names, in output order (the packaged ``tags.json`` files)."""
    from bot.analysis import MTT_TAGS, TAGS

    return tuple(TAGS), tuple(MTT_TAGS)


def fit(inputs: families.FamilyInputs, y: np.ndarray, prior_w: np.ndarray, spec, groups: np.ndarray) -> FamilyModel:
    """Fit the prior scale (and, when ``spec = (head_input, l2)``, the head) by class-balanced cross-entropy."""
    head_input, l2 = spec if spec else ("none", None)
    tags = inputs.tags()
    prior = np.log(PRIOR_EPS + tags @ prior_w)
    x = families.head_features(inputs, head_input if spec else "tags")
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    x = (x - mean) / std
    d = x.shape[1]
    counts = np.bincount(y, minlength=K)
    # Class-balanced, but a family with fewer than 6 tracks is not amplified beyond 6 tracks' worth
    # (else one labelled track, e.g. the only ambient one, would weigh as much as a whole family).
    sample_w = 1.0 / np.maximum(counts[y], 6)
    sample_w /= sample_w.sum()
    # A family gets a head column only with labelled tracks from at least 3 independent groups (a GTZAN
    # clip, a Debian package): one package's tracks share an artist and a production, and a head fitted
    # on them learns that package, not the family (it swallowed ambient when only Nexuiz taught electronic).
    mask = np.asarray([len(set(groups[y == j])) >= 3 for j in range(K)], dtype=float)
    onehot = np.eye(K)[y]
    use_head = l2 is not None

    def unpack(theta):
        a = theta[0]
        if not use_head:
            return a, np.zeros((d, K)), np.zeros(K)
        w = theta[1 : 1 + d * K].reshape(d, K) * mask
        b = theta[1 + d * K :] * mask
        return a, w, b

    def loss(theta):
        a, w, b = unpack(theta)
        z = a * prior + x @ w + b
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        p = np.exp(logp)
        value = -(sample_w * (onehot * logp).sum(axis=1)).sum()
        g_z = (p - onehot) * sample_w[:, None]
        grad_a = (g_z * prior).sum()
        if l2 is None:  # no head (use_head is False)
            return value, np.array([grad_a])
        value += l2 * (w**2).sum() + l2 * (b**2).sum()
        grad_w = (x.T @ g_z + 2 * l2 * w) * mask
        grad_b = (g_z.sum(axis=0) + 2 * l2 * b) * mask
        return value, np.concatenate([[grad_a], grad_w.ravel(), grad_b])

    theta0 = np.zeros(1 + (d * K + K if use_head else 0))
    theta0[0] = 1.0
    result = minimize(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": 2000})
    a, w, b = unpack(result.x)
    return FamilyModel(prior_w, float(a), PRIOR_EPS, mean, std, w, b, head_input, threshold=0.5, manifest={})


def candidates() -> dict[str, tuple[str, float] | None]:
    out: dict[str, tuple[str, float] | None] = {"prior": None}
    for head_input in ("tags", "tags+msd_pen"):
        for l2 in (0.1, 0.03, 0.01):
            out[f"prior+head[{head_input}] l2={l2}"] = (head_input, l2)
    return out


def splits(y: np.ndarray, groups: np.ndarray, seed: int = 0):
    from sklearn.model_selection import StratifiedGroupKFold  # training only

    return list(StratifiedGroupKFold(n_splits=FOLDS, shuffle=True, random_state=seed).split(y, y, groups))


def cross_validated(inputs, y, groups, prior_w, l2) -> np.ndarray:
    """Out-of-fold probabilities ``[n, 14]`` for every labelled track."""
    out = np.zeros((len(y), K))
    for train, test in splits(y, groups):
        model = fit(inputs.take(train), y[train], prior_w, l2, groups[train])
        out[test] = model.proba(inputs.take(test))
    return out


def fit_temperature(p: np.ndarray, y: np.ndarray) -> float:
    """The temperature T minimizing the log-loss of ``softmax(log p / T)`` (grid search, 0.3-3)."""
    logp = np.log(np.clip(p, 1e-12, 1))
    grid = np.round(np.arange(0.3, 3.001, 0.05), 2)
    return float(min(grid, key=lambda t: log_loss(families.softmax(logp / t), y)))


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1))))


def per_family(p: np.ndarray, y: np.ndarray) -> dict[str, dict]:
    pred = p.argmax(axis=1)
    table = {}
    for j, family in enumerate(FAMILIES):
        tp = int(((pred == j) & (y == j)).sum())
        predicted, support = int((pred == j).sum()), int((y == j).sum())
        table[family] = {
            "precision": tp / predicted if predicted else None,
            "recall": tp / support if support else None,
            "support": support,
            "predicted": predicted,
        }
    return table


def reliability(p: np.ndarray, y: np.ndarray) -> dict:
    conf, correct = p.max(axis=1), p.argmax(axis=1) == y
    rows, ece = [], 0.0
    for lo, hi in itertools.pairwise(BINS):
        sel = (conf >= lo) & (conf < hi if hi < 1 else conf <= hi)
        if sel.any():
            acc, mean_conf = float(correct[sel].mean()), float(conf[sel].mean())
            ece += sel.mean() * abs(acc - mean_conf)
            rows.append({"bin": [lo, hi], "tracks": int(sel.sum()), "confidence": mean_conf, "accuracy": acc})
        else:
            rows.append({"bin": [lo, hi], "tracks": 0, "confidence": None, "accuracy": None})
    return {"bins": rows, "ece": float(ece)}


def threshold_table(p: np.ndarray, y: np.ndarray) -> list[dict]:
    conf, correct = p.max(axis=1), p.argmax(axis=1) == y
    rows = []
    for t in THRESHOLDS:
        sel = conf >= t
        rows.append(
            {
                "threshold": float(t),
                "coverage": float(sel.mean()),
                "accuracy_confident": float(correct[sel].mean()) if sel.any() else None,
                "accuracy_unsure": float(correct[~sel].mean()) if (~sel).any() else None,
            }
        )
    return rows


def choose_threshold(rows: list[dict]) -> float:
    """The smallest threshold from which on every higher one keeps confident accuracy >= the target."""
    chosen = float(THRESHOLDS[-1])
    for row in reversed(rows):
        if row["accuracy_confident"] is None:
            continue
        if row["accuracy_confident"] < TARGET_PRECISION:
            break
        chosen = row["threshold"]
    return chosen


def main(dataset, args) -> int:
    msd_names, mtt_names = _tag_names()
    prior_w = families.prior_matrix(msd_names, mtt_names)
    labelled = np.flatnonzero(dataset.y >= 0)
    inputs, y, groups = dataset.inputs.take(labelled), dataset.y[labelled], dataset.groups[labelled]
    items = [dataset.items[i] for i in labelled]
    sources = np.asarray([item.source for item in items])

    scores, oof = {}, {}
    for name, l2 in candidates().items():
        p = cross_validated(inputs, y, groups, prior_w, l2)
        oof[name] = p
        acc = p.argmax(axis=1) == y
        gt = sources == "gtzan-mini"
        halves = [log_loss(p[m], y[m]) for m in (gt, ~gt) if m.any()]
        scores[name] = {
            "selection_loss": float(np.mean(halves)),
            "log_loss": log_loss(p, y),
            "accuracy": float(acc.mean()),
            "accuracy_gtzan": float(acc[sources == "gtzan-mini"].mean()),
            "accuracy_debian": float(acc[sources != "gtzan-mini"].mean()),
        }
        print(f"{name:34s} " + "  ".join(f"{k} {v:.3f}" for k, v in scores[name].items()))
    # GTZAN and the Debian music weigh the same in the choice, whatever their sizes.
    best = min(scores, key=lambda n: scores[n]["selection_loss"])
    # One temperature on the logits, fitted to the out-of-fold answers (it changes no ranking, only how
    # sure the answers are); folded into the model's arrays, so prediction code does not change.
    raw = oof[best]
    temperature = fit_temperature(raw, y)
    p = families.softmax(np.log(np.clip(raw, 1e-12, 1)) / temperature)
    rows = threshold_table(p, y)
    threshold = choose_threshold(rows)
    model = fit(inputs, y, prior_w, candidates()[best], groups)
    model = FamilyModel(
        model.prior_weights,
        model.prior_scale / temperature,
        model.prior_eps,
        model.head_mean,
        model.head_std,
        model.head_weights / temperature,
        model.head_bias / temperature,
        model.head_input,
        0.5,
        {},
    )
    cv = {
        "folds": FOLDS,
        "grouping": "GTZAN clip; Debian package",
        "candidates": scores,
        "chosen": best,
        "per_family": per_family(p, y),
        "reliability": reliability(p, y),
        "thresholds": rows,
        "temperature": temperature,
        "reliability_before_temperature": reliability(raw, y),
        "target_precision": TARGET_PRECISION,
    }

    # What the final model says about music nobody labelled (allowed packages, never trained on).
    unlabelled = np.flatnonzero(dataset.y < 0)
    heard = {}
    if len(unlabelled):
        probs = model.proba(dataset.inputs.take(unlabelled))
        for i, row in zip(unlabelled, probs):
            item = dataset.items[i]
            entry = heard.setdefault(item.source, {"tracks": 0, "confident": 0, "top": Counter()})
            entry["tracks"] += 1
            entry["confident"] += int(row.max() >= threshold)
            entry["top"][FAMILIES[int(row.argmax())]] += 1
    debian_oof = []
    for i, item in enumerate(items):
        if item.source != "gtzan-mini":
            order = np.argsort(-p[i])
            debian_oof.append(
                {
                    "file": item.path.name if item.path.name != "song.ogg" else item.path.parent.name,
                    "package": item.source,
                    "label": item.family,
                    "answer": [[FAMILIES[j], round(float(p[i, j]), 3)] for j in order[:2]],
                }
            )
    cv["debian_out_of_fold"] = debian_oof
    training = Counter((item.source, item.family) for item in items)
    manifest = {
        "inputs": INPUTS[(candidates()[best] or ("none",))[0]],
        "msd_tags": list(msd_names),
        "mtt_tags": list(mtt_names),
        "prior_tags": families.PRIOR_TAGS,
        "model": best,
        "prior_scale": model.prior_scale,
        "training_data": {
            "tracks": len(y),
            "by_source": {f"{s}/{f}": n for (s, f), n in sorted(training.items())},
            "gtzan-mini": "60 GTZAN clips (Tzanetakis & Cook 2002), no licence: features only, no audio shipped",
            "debian": json.loads(families.ASSETS.joinpath("sources.json").read_text("utf-8"))["debian"],
        },
        "weights_licence": "derived from musicnn (ISC) outputs; the prior is Crate's own",
        "cross_validation": cv,
        "unlabelled_debian": {s: {**e, "top": dict(e["top"].most_common())} for s, e in heard.items()},
    }
    manifest["debian_labels"] = [
        {k: v for k, v in e.items() if k != "files"} | {"labelled": {n: f for n, f in e["files"].items() if f}}
        for e in manifest["training_data"].pop("debian")
    ]
    model = FamilyModel(
        model.prior_weights,
        model.prior_scale,
        model.prior_eps,
        model.head_mean,
        model.head_std,
        model.head_weights,
        model.head_bias,
        model.head_input,
        threshold,
        manifest,
    )
    out = Path(getattr(args, "output", None) or Path(__file__).resolve().parents[2] / "assets" / "family-model")
    model.save(out)
    if getattr(args, "output", None) is None:
        docs = Path(__file__).resolve().parents[3] / "docs" / "families.md"
        docs.parent.mkdir(exist_ok=True)
        docs.write_text(render_report(manifest, threshold), "utf-8")
    else:
        (out / "report.md").write_text(render_report(manifest, threshold), "utf-8")
    print(f"chosen {best}, threshold {threshold}; saved to {out}")
    print(
        json.dumps(
            {
                "per_family": cv["per_family"],
                "reliability": cv["reliability"],
                "thresholds": rows,
                "unlabelled": manifest["unlabelled_debian"],
            },
            indent=1,
        )
    )
    return 0


def _f(v, fmt="{:.2f}") -> str:
    return "–" if v is None or (isinstance(v, float) and np.isnan(v)) else fmt.format(v)


def render_report(manifest: dict, threshold: float) -> str:
    """``docs/families.md``: the model, its data and its grouped-CV figures, from the manifest."""
    cv = manifest["cross_validation"]
    lines = [
        "# Genre families: model and evaluation",
        "",
        "Generated by `python -m bot.listen.training.family_training` (features cached outside the repo; "
        "the model is written to `bot/assets/family-model/`). Do not edit by hand.",
        "",
        f"Families: {', '.join(FAMILIES)}. Inputs: {manifest['inputs']}.",
        "",
        "## Model",
        "",
        "`logits = prior_scale * log(0.02 + tags @ W0) + head(x)`, softmax over the 14 families. `W0` is the "
        "hand-specified tag -> family prior (`bot/listen/families.py: PRIOR_TAGS`): it is what lets Crate answer "
        "electronic, ambient, folk and soul, which GTZAN lacks. The head is linear, L2-penalized, fitted only "
        "for families with labelled tracks in the training fold, so a family without data keeps the prior's say.",
        f"Chosen by grouped CV: **{manifest['model']}** (prior scale {manifest['prior_scale']:.2f}).",
        "",
        "## Training data",
        "",
        "| source / family | tracks |",
        "| --- | ---: |",
    ]
    lines += [f"| {k} | {v} |" for k, v in manifest["training_data"]["by_source"].items()]
    lines += ["", "Debian labels, licences and why each label is trustworthy:", ""]
    for e in manifest["debian_labels"]:
        labelled = ", ".join(f"{n} → {f}" for n, f in e["labelled"].items()) or "none (heard for the table below only)"
        lines.append(f"- **{e['package']}** ({e['licence']}): {e['why']} Labelled: {labelled}.")
    lines += [
        "",
        "GTZAN-mini: 60 clips, six per genre of ten; its folder names are the labels (known GTZAN caveats: "
        "repeated artists, a few mislabelled clips). Only features are used; no audio is shipped.",
        "",
        f"## Grouped cross-validation ({cv['folds']} folds; groups: {cv['grouping']})",
        "",
        "Selection loss = mean of the GTZAN and the Debian log-loss (each half, whatever their sizes).",
        "",
        "| candidate | selection loss | log-loss | accuracy | GTZAN acc. | Debian acc. |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, s in cv["candidates"].items():
        lines.append(
            f"| {name} | {_f(s['selection_loss'], '{:.3f}')} | {_f(s['log_loss'], '{:.3f}')} | "
            f"{_f(s['accuracy'])} | {_f(s['accuracy_gtzan'])} | {_f(s['accuracy_debian'])} |"
        )
    lines += [
        "",
        "### Per family (chosen model, out-of-fold)",
        "",
        "| family | precision | recall | support | predicted |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for fam, r in cv["per_family"].items():
        lines.append(f"| {fam} | {_f(r['precision'])} | {_f(r['recall'])} | {r['support']} | {r['predicted']} |")
    rel = cv["reliability"]
    lines += [
        "",
        f"### Reliability (top probability vs accuracy; ECE {rel['ece']:.3f})",
        "",
        f"After one temperature (T = {cv['temperature']:.2f}, fitted on these same out-of-fold answers, so "
        f"this ECE is optimistic; before it: {cv['reliability_before_temperature']['ece']:.3f}).",
        "",
        "| confidence bin | tracks | mean confidence | accuracy |",
        "| --- | ---: | ---: | ---: |",
    ]
    for b in rel["bins"]:
        lines.append(
            f"| {b['bin'][0]:.1f}–{b['bin'][1]:.1f} | {b['tracks']} | {_f(b['confidence'])} | {_f(b['accuracy'])} |"
        )
    lines += [
        "",
        '### The "not sure" threshold',
        "",
        f"Chosen: **{threshold:.2f}**, the smallest top probability at which the out-of-fold accuracy of the "
        f'answers at or above it (and at every higher threshold) reaches {cv["target_precision"]:.0%} (below it Crate says "not sure — A or B?").',
        "",
        "| threshold | coverage | accuracy when confident | accuracy when unsure |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for r in cv["thresholds"]:
        lines.append(
            f"| {r['threshold']:.2f} | {r['coverage']:.2f} | {_f(r['accuracy_confident'])} | {_f(r['accuracy_unsure'])} |"
        )
    lines += [
        "",
        "### Labelled Debian tracks, out of fold (their package held out)",
        "",
        "| package | file | label | answer (top two) |",
        "| --- | --- | --- | --- |",
    ]
    for r in cv.get("debian_out_of_fold", []):
        answer = ", ".join(f"{f} {q:.2f}" for f, q in r["answer"])
        lines.append(f"| {r['package']} | {r['file']} | {r['label']} | {answer} |")
    lines += [
        "",
        "## What it says about unlabelled music (allowed packages, never trained or tuned on)",
        "",
        "| package | tracks | confident | top families |",
        "| --- | ---: | ---: | --- |",
    ]
    for pkg, e in manifest["unlabelled_debian"].items():
        top = ", ".join(f"{f} {n}" for f, n in e["top"].items())
        lines.append(f"| {pkg} | {e['tracks']} | {e['confident']} | {top} |")
    lines += [
        "",
        "## Limits",
        "",
        "- Few labelled non-GTZAN tracks could be labelled defensibly (game soundtracks rarely state a genre); "
        "electronic, ambient, folk and soul rest mostly on the tag prior. Classical has only GTZAN's six clips.",
        "- fb-music-high (an XM module) and xblast-tnt-musics (raw PCM) are not decodable through Crate's "
        "demuxer allow-list and were not used.",
        "- 74 labelled tracks: every figure above has a wide margin of error.\n- Ambient has one labelled track (Nebula), too few for a head column: it is answered by the tag prior alone, and out of fold Nebula comes out electronic (its own top tags in both taggers are electronic and techno). A learned head column needs tracks from at least 3 independent groups; class weights are capped at 6 tracks so a lone track is not amplified.",
        "",
    ]
    return "\n".join(lines)
