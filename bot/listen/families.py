"""Genre families: the fourteen answers Crate gives, and a pure-numpy predictor for them.

A track is described to the predictor by what the two musicnn taggers hear, averaged over its
analysis excerpts: MSD_musicnn's 50 last.fm tag probabilities and MTT_musicnn's 50 MagnaTagATune
tag probabilities (:class:`FamilyInputs`; the 200-d penultimate embeddings are carried too, for
heads that use them). The model has two parts, both plain arrays in
``bot/assets/family-model/family-model.npz``:

- a *tag prior*: a hand-specified, documented tag -> family weight matrix (:data:`PRIOR_TAGS`).
  The taggers were trained on hundreds of thousands of tracks, so their style tags know families
  that no labelled data here has (folk, soul, ambient, ...): ``prior = log(eps + probs @ W0)``;
- a *learned head*: a linear map of the standardized tag logits, fitted where labelled data
  exists (GTZAN-mini, labelled Debian music), rows of families without data kept at zero.

``logits = prior_scale * prior + head``; softmax -> a distribution over :data:`FAMILIES`. Then
a *genre split* (:class:`GenreSplit`) may re-divide, among GTZAN's ten genres only, the
probability the model gives them: the only labels that tell rock, pop, metal and disco apart are
GTZAN's (a released track filed under "Pop/Rock" may be any of them), so a small classifier fitted
on GTZAN's clips alone has a say in how that share is split; the other families keep theirs. Last,
one *temperature* makes the distribution as sure as the answers were right out of fold; it changes
no ranking, so it comes after the split (before it, it would change the split's say). The
answer is *confident* when the top probability reaches the threshold chosen from the grouped-CV
reliability analysis (``manifest.json``, ``docs/families.md``); otherwise Crate says "not sure —
A or B?". No scikit-learn at prediction time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from importlib import resources
from typing import Any

import numpy as np

from bot.genres import DISPLAY_NAMES as DISPLAY_NAMES  # re-exported: the family vocabulary lives in bot.genres
from bot.genres import FAMILIES as FAMILIES
from bot.genres import describe_answer

ASSETS = resources.files("bot.assets").joinpath("family-model")
MODEL_FORMAT = "crate-family-model/1"

#: The tag prior: for each family, the tags of each tagger that speak for it, with weights (1 =
#: the tag names the family; less = a style or instrument that usually goes with it). Tag names
#: are the taggers' own (bot/assets/musicnn-msd/tags.json; MTT's list in the manifest).
PRIOR_TAGS: dict[str, dict[str, dict[str, float]]] = {
    "msd": {
        "rock": {
            "rock": 1,
            "alternative rock": 1,
            "classic rock": 1,
            "indie rock": 1,
            "punk": 1,
            "hard rock": 1,
            "Progressive rock": 1,
            "alternative": 0.5,
            "indie": 0.5,
            "guitar": 0.3,
        },
        "metal": {"metal": 1, "heavy metal": 1, "hard rock": 0.3},
        "pop": {"pop": 1, "indie pop": 0.7, "catchy": 0.5, "female vocalists": 0.3, "dance": 0.3, "happy": 0.2},
        "hiphop": {"Hip-Hop": 1, "rnb": 0.3},
        "electronic": {
            "electronic": 1,
            "electronica": 1,
            "electro": 1,
            "House": 1,
            "dance": 0.7,
            "experimental": 0.3,
            "party": 0.2,
        },
        "ambient": {
            "ambient": 1,
            "chillout": 0.7,
            "chill": 0.5,
            "instrumental": 0.3,
            "experimental": 0.3,
            "Mellow": 0.2,
        },
        "jazz": {"jazz": 1, "easy listening": 0.3},
        "blues": {"blues": 1},
        "classical": {"instrumental": 0.2},
        "folk": {"folk": 1, "acoustic": 0.7},
        "country": {"country": 1},
        "soul": {"soul": 1, "rnb": 1, "funk": 1},
        "reggae": {},
        "disco": {"dance": 0.5, "funk": 0.5, "70s": 0.5, "80s": 0.3, "party": 0.3},
    },
    "mtt": {
        "rock": {"rock": 1, "guitar": 0.3, "drums": 0.2, "loud": 0.2},
        "metal": {"metal": 1, "loud": 0.5},
        "pop": {"pop": 1},
        "hiphop": {"beats": 0.3},
        "electronic": {"techno": 1, "electronic": 1, "synth": 0.7, "dance": 0.7, "beats": 0.5, "beat": 0.3},
        "ambient": {"ambient": 1, "new age": 1, "quiet": 0.3, "slow": 0.3, "soft": 0.2, "weird": 0.2},
        "jazz": {"piano": 0.2},
        "blues": {},
        "classical": {
            "classical": 1,
            "harpsichord": 1,
            "opera": 1,
            "choral": 1,
            "strings": 0.7,
            "violin": 0.7,
            "cello": 0.7,
            "choir": 0.7,
            "classic": 0.5,
            "harp": 0.5,
            "piano": 0.3,
            "flute": 0.3,
        },
        "folk": {"indian": 1, "sitar": 1, "flute": 0.2, "guitar": 0.2},
        "country": {"country": 1},
        "soul": {},
        "reggae": {},
        "disco": {"dance": 0.3},
    },
}


class FamilyModelError(Exception):
    pass


@dataclass(frozen=True)
class FamilyInputs:
    """Per-track (excerpt-averaged) tagger outputs; each array is ``[n, width]`` (or ``[width]``)."""

    msd_tags: np.ndarray  # [n, 50] MSD_musicnn tag probabilities
    msd_pen: np.ndarray  # [n, 200] MSD_musicnn penultimate layer
    mtt_tags: np.ndarray  # [n, 50] MTT_musicnn tag probabilities
    mtt_pen: np.ndarray  # [n, 200] MTT_musicnn penultimate layer
    #: False for tracks heard by MSD_musicnn alone (see :meth:`FamilyModel.msd_only`).
    mtt_heard: bool = True

    def block(self, name: str) -> np.ndarray:
        return np.atleast_2d(np.asarray(getattr(self, name), dtype=np.float64))

    def tags(self) -> np.ndarray:
        """``[n, 100]``: MSD's 50 tag probabilities, then MTT's 50."""
        return np.concatenate([self.block("msd_tags"), self.block("mtt_tags")], axis=1)

    def take(self, index) -> FamilyInputs:
        msd_tags, msd_pen, mtt_tags, mtt_pen = (
            self.block(n)[index] for n in ("msd_tags", "msd_pen", "mtt_tags", "mtt_pen")
        )
        return FamilyInputs(msd_tags, msd_pen, mtt_tags, mtt_pen, mtt_heard=self.mtt_heard)


@dataclass(frozen=True)
class FamilyPrediction:
    """One track's answer: every family with its probability, and whether Crate is sure."""

    families: tuple[tuple[str, float], ...]  # all 14, most probable first
    confident: bool
    threshold: float

    @property
    def top(self) -> str:
        return self.families[0][0]

    @property
    def runner_up(self) -> str:
        return self.families[1][0]

    @property
    def probability(self) -> float:
        return self.families[0][1]

    def describe(self) -> str:
        """``"electronic (83%)"`` or ``"not sure — electronic or ambient?"``."""
        return describe_answer(self.families, self.confident)

    def to_dict(self) -> dict[str, Any]:
        return {
            "genres": [{"genre": f, "probability": round(p, 4)} for f, p in self.families],
            "confident": self.confident,
            "runner_up": self.runner_up,
        }


def prior_matrix(msd_tags: tuple[str, ...], mtt_tags: tuple[str, ...]) -> np.ndarray:
    """:data:`PRIOR_TAGS` as a ``[100, 14]`` matrix over (MSD tags, MTT tags) x families."""
    w = np.zeros((len(msd_tags) + len(mtt_tags), len(FAMILIES)))
    for offset, tagger, names in ((0, "msd", msd_tags), (len(msd_tags), "mtt", mtt_tags)):
        for j, family in enumerate(FAMILIES):
            for tag, weight in PRIOR_TAGS[tagger][family].items():
                w[offset + names.index(tag), j] = weight
    return w


def spoken_for(prior_weights: np.ndarray) -> np.ndarray:
    """``bool[14]``: the families some tag speaks for in the prior (``[100, 14]`` weights)."""
    return (prior_weights > 0).any(axis=0)


def tag_logits(tags: np.ndarray) -> np.ndarray:
    """Tag probabilities -> clipped logits, the learned head's input."""
    p = np.clip(tags, 1e-4, 1 - 1e-4)
    return np.log(p) - np.log1p(-p)


def head_features(inputs: FamilyInputs, head_input: str) -> np.ndarray:
    """The learned head's (unstandardized) input for ``head_input``."""
    x = tag_logits(inputs.tags())
    if head_input == "tags":
        return x
    if head_input == "tags+pen":
        return np.concatenate([x, inputs.block("msd_pen"), inputs.block("mtt_pen")], axis=1)
    raise FamilyModelError(f"unknown head input {head_input!r}")


def mtt_columns(head_input: str, width: int = 50, embedding: int = 200) -> np.ndarray:
    """Which of the head's input columns come from the MTT tagger (its tags, and its embedding)."""
    columns = list(range(width, 2 * width))
    if head_input == "tags+pen":
        columns += range(2 * width + embedding, 2 * width + 2 * embedding)
    return np.asarray(columns, dtype=int)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def temper(p: np.ndarray, temperature: float) -> np.ndarray:
    """``p ** (1 / temperature)``, renormalized: surer below 1, less sure above; the ranking stays."""
    return softmax(np.log(np.clip(p, 1e-12, 1.0)) / temperature)


def standardized_input(inputs: FamilyInputs, head_input: str, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """A head's standardized input; MTT's columns at their training mean (0) for a track MTT never heard."""
    x = (head_features(inputs, head_input) - mean) / std
    if not inputs.mtt_heard:
        x[:, mtt_columns(head_input, inputs.block("msd_tags").shape[1])] = 0.0
    return x


def resplit(p: np.ndarray, said: np.ndarray, columns: np.ndarray, share: float) -> np.ndarray:
    """``p`` with the mass of ``columns`` divided anew: ``p ** (1 - share) * said ** share`` there,
    normalized to the same total (``said``: another model's distribution over those columns)."""
    inner = np.maximum(p[:, columns], 1e-12) ** (1.0 - share) * np.maximum(said, 1e-12) ** share
    inner /= inner.sum(axis=1, keepdims=True)
    out = p.copy()
    out[:, columns] = inner * p[:, columns].sum(axis=1, keepdims=True)
    return out


@dataclass(frozen=True)
class GenreSplit:
    """A linear classifier over some families only (GTZAN's ten genres, fitted on GTZAN's clips), on
    the same input as the head but standardized on its own clips; ``share`` is its say in how the
    model's probability of those families is divided (:func:`resplit`)."""

    columns: np.ndarray  # int [G]: its families, as columns of FAMILIES
    mean: np.ndarray  # [d]
    std: np.ndarray  # [d]
    weights: np.ndarray  # [d, G]
    bias: np.ndarray  # [G]
    share: float

    def said(self, inputs: FamilyInputs, head_input: str) -> np.ndarray:
        """Its own distribution over its families ``[n, G]``."""
        return softmax(standardized_input(inputs, head_input, self.mean, self.std) @ self.weights + self.bias)

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "split_columns": self.columns,
            "split_mean": self.mean,
            "split_std": self.std,
            "split_weights": self.weights,
            "split_bias": self.bias,
            "split_share": np.asarray(self.share),
        }

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> GenreSplit | None:
        if "split_weights" not in a:
            return None
        return cls(
            a["split_columns"].astype(int),
            a["split_mean"],
            a["split_std"],
            a["split_weights"],
            a["split_bias"],
            float(a["split_share"]),
        )


@dataclass(frozen=True)
class FamilyModel:
    """The arrays of a family model and how to apply them (all float64 numpy)."""

    prior_weights: np.ndarray  # [100, 14]
    prior_scale: float
    prior_eps: float
    head_mean: np.ndarray  # [d] standardization of the head's input
    head_std: np.ndarray  # [d]
    head_weights: np.ndarray  # [d, 14] (zero columns: families without labelled data)
    head_bias: np.ndarray  # [14]
    head_input: str  # "none", "tags" (100 tag logits) or "tags+pen" (+ both taggers' 200-d embeddings)
    threshold: float
    manifest: dict
    split: GenreSplit | None = None  # re-divides GTZAN's genres' share (None: the head's division stands)
    temperature: float = 1.0  # applied last, after the split (:func:`temper`)

    @cached_property
    def version(self) -> str:
        """Names these arrays and threshold (a digest): stored with every answer the model gives, so a
        start with another model knows which stored answers to recompute (:mod:`bot.listen.relabel`).
        Computed once per model (every analysis records it)."""
        digest = hashlib.sha256(self.head_input.encode() + repr(self.threshold).encode())
        for value in self.arrays().values():
            digest.update(np.ascontiguousarray(value, dtype=np.float64).tobytes())
        return f"families:{digest.hexdigest()[:16]}"

    def logits(self, inputs: FamilyInputs) -> np.ndarray:
        tags = inputs.tags()
        weights = self.prior_weights
        if not inputs.mtt_heard:  # MTT's rows say nothing: the prior is MSD's tags alone
            weights = np.where(np.arange(len(weights))[:, None] < inputs.block("msd_tags").shape[1], weights, 0.0)
        out = self.prior_scale * np.log(self.prior_eps + tags @ weights)
        if self.head_input != "none":
            x = standardized_input(inputs, self.head_input, self.head_mean, self.head_std)
            out = out + x @ self.head_weights + self.head_bias
        return out

    def with_head_scale(self, scale: float) -> FamilyModel:
        """This model with its head's logits multiplied by ``scale`` for every family the prior reads
        from some tag: the geometric blend ``p ** scale * p_prior ** (1 - scale)`` of its
        distribution (before the genre split) with the prior's alone, where the prior has a say. A
        family no tag speaks for (reggae: neither tagger has the tag) keeps its head's full say."""
        column = np.where(spoken_for(self.prior_weights), scale, 1.0)
        return replace(self, head_weights=self.head_weights * column, head_bias=self.head_bias * column)

    def proba(self, inputs: FamilyInputs) -> np.ndarray:
        """``[n, 14]`` family probabilities, columns in :data:`FAMILIES` order: the head's
        distribution, re-divided by the genre split when there is one, at the temperature."""
        p = softmax(self.logits(inputs))
        if self.split is not None:
            p = resplit(p, self.split.said(inputs, self.head_input), self.split.columns, self.split.share)
        return p if self.temperature == 1.0 else temper(p, self.temperature)

    def msd_only(self, msd_tags: np.ndarray, msd_pen: np.ndarray | None = None) -> FamilyInputs:
        """Inputs for tracks heard by MSD_musicnn alone (analyzed before Crate ran MTT_musicnn).

        MTT says nothing then: the prior is computed from MSD's tags only and the head's MTT
        inputs sit at their training mean (standardized to 0). The answers are less sure than
        with both taggers, and the confidence decision says so. ``msd_pen``: MSD's 200-d embedding
        for a head that reads it (``tags+pen``); without it, its training mean too.
        """
        msd = np.atleast_2d(np.asarray(msd_tags, dtype=np.float64))
        n, width = len(msd), msd.shape[1]
        typical = 1.0 / (1.0 + np.exp(-self.head_mean[width : 2 * width])) if self.head_input != "none" else 0.0
        mtt = np.broadcast_to(typical, (n, width)).copy()
        if msd_pen is not None:
            pen = np.atleast_2d(np.asarray(msd_pen, dtype=np.float64))
        elif self.head_input == "tags+pen":
            pen = np.broadcast_to(self.head_mean[2 * width : 2 * width + 200], (n, 200)).copy()
        else:
            pen = np.zeros((n, 200))
        return FamilyInputs(msd, pen, mtt, np.zeros((n, 200)), mtt_heard=False)

    def predict(self, inputs: FamilyInputs) -> list[FamilyPrediction]:
        return [self.decide(row) for row in self.proba(inputs)]

    def decide(self, probabilities: np.ndarray) -> FamilyPrediction:
        """A distribution over the families -> ranked answer plus the confidence decision."""
        order = np.argsort(-probabilities, kind="stable")
        ranked = tuple((FAMILIES[i], float(probabilities[i])) for i in order)
        return FamilyPrediction(ranked, bool(ranked[0][1] >= self.threshold), self.threshold)

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "prior_weights": self.prior_weights,
            "prior_scale": np.asarray(self.prior_scale),
            "prior_eps": np.asarray(self.prior_eps),
            "head_mean": self.head_mean,
            "head_std": self.head_std,
            "head_weights": self.head_weights,
            "head_bias": self.head_bias,
            **(self.split.arrays() if self.split is not None else {}),
            "temperature": np.asarray(self.temperature),
        }

    def save(self, directory) -> None:
        from pathlib import Path

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        np.savez(directory / "family-model.npz", **self.arrays())
        manifest = {
            **self.manifest,
            "format": MODEL_FORMAT,
            "families": list(FAMILIES),
            "head_input": self.head_input,
            "threshold": self.threshold,
        }
        (directory / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", "utf-8")

    @classmethod
    def load(cls, directory=None) -> FamilyModel:
        """Load the packaged model (or the one in ``directory``); refuses pickles and other formats."""
        from pathlib import Path

        base = ASSETS if directory is None else Path(directory)
        try:
            manifest = json.loads(base.joinpath("manifest.json").read_text("utf-8"))
        except FileNotFoundError:
            raise FamilyModelError(f"No family model at {base}.") from None
        if manifest.get("format") != MODEL_FORMAT or manifest.get("families") != list(FAMILIES):
            raise FamilyModelError(f"{base} is not a {MODEL_FORMAT} model over {len(FAMILIES)} families.")
        with base.joinpath("family-model.npz").open("rb") as fh, np.load(fh, allow_pickle=False) as npz:
            a = {k: np.asarray(npz[k], dtype=np.float64) for k in npz.files}
        return cls(
            a["prior_weights"],
            float(a["prior_scale"]),
            float(a["prior_eps"]),
            a["head_mean"],
            a["head_std"],
            a["head_weights"],
            a["head_bias"],
            manifest["head_input"],
            float(manifest["threshold"]),
            manifest,
            GenreSplit.from_arrays(a),
            float(a.get("temperature", 1.0)),  # a model from before the temperature came last: folded in
        )


def is_family_model(directory) -> bool:
    """Is ``directory`` a family model (else it should be a custom ``crate train`` model)?"""
    from pathlib import Path

    try:
        manifest = json.loads((Path(directory) / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("format") == MODEL_FORMAT


@lru_cache(maxsize=1)
def default_model() -> FamilyModel:
    return FamilyModel.load()
