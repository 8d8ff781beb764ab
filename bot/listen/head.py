"""The genre head as plain numpy arrays: what a worker loads and runs per track.

A trained genre model is a scikit-learn pipeline (a ``StandardScaler`` then a random forest or a
logistic regression; see :mod:`bot.listen.genre`). Loading it through skops and predicting with
scikit-learn costs a worker ~1.5 s of imports and 20-30 ms per track (200 trees dispatched
through joblib). :func:`to_arrays` converts such a pipeline once into a handful of arrays
(saved as ``arrays.npz`` beside the skops file, no pickle) and :class:`ArrayHead` predicts
from them with numpy alone, with the same probabilities (a test proves equality).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bot.errors import CrateError

MODEL_FORMAT = "crate-genre-model/1"
MANIFEST = "manifest.json"
ARRAYS = "arrays.npz"
#: Written into ``arrays.npz`` as ``kind``.
FOREST, LOGISTIC = "random-forest", "logistic-regression"


class GenreModelError(CrateError):
    user_message = "The genre model could not be loaded."


def default_model_path() -> Path:
    """The model shipped with Crate (trained on GTZAN's ten genres)."""
    return Path(__file__).resolve().parent.parent / "assets" / "genre-model"


def read_manifest(directory: Path, feature_version: str) -> dict:
    """A model directory's manifest, refusing other formats and other feature versions."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except FileNotFoundError:
        raise GenreModelError(f"No genre model at {directory} (expected {MANIFEST} there).") from None
    except json.JSONDecodeError as error:
        raise GenreModelError(f"The genre model manifest in {directory} is not valid JSON ({error}).") from None
    if manifest.get("format") != MODEL_FORMAT:
        raise GenreModelError(
            f"{directory} is not a Crate genre model of format {MODEL_FORMAT} (found {manifest.get('format')!r})."
        )
    if manifest.get("feature_version") != feature_version:
        trained_on = manifest.get("dataset")
        raise GenreModelError(
            f"The genre model in {directory} was trained on features this Crate no longer computes "
            f"({_version_name(manifest.get('feature_version'))}; this Crate computes "
            f"{_version_name(feature_version)}), so it cannot be used. Retrain it on the same labeled folder"
            + (f" (it was trained on {trained_on!r})" if isinstance(trained_on, str) else "")
            + f": `crate train DATASET_DIR --out {directory}`.",
            detail=f"model: {manifest.get('feature_version')!r}; Crate: {feature_version!r}",
        )
    return manifest


def _version_name(feature_version: object) -> str:
    """``crate-features/2`` of ``crate-features/2: what the features are``."""
    return str(feature_version).split(":")[0] if feature_version else "no feature version"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class GenreHead:
    """What analysis needs of a genre model: its genres, its columns, and probabilities."""

    genres: tuple[str, ...]
    columns: np.ndarray  # which feature-vector columns the model reads
    model: Any  # an ArrayHead, or (a model that does not convert) a scikit-learn pipeline
    metadata: dict = field(default_factory=dict)

    def predict_proba(self, vectors: np.ndarray) -> np.ndarray:
        """Genre probabilities per excerpt, columns in :attr:`genres` order."""
        return self.model.predict_proba(np.asarray(vectors)[:, self.columns])


def load_head(directory: str | os.PathLike, *, feature_version: str) -> GenreHead | None:
    """Load a saved genre model for prediction from its ``arrays.npz``, with numpy alone; None when
    the model has no arrays file (then :func:`bot.listen.genre.load_skops_head` loads it)."""
    directory = Path(directory)
    manifest = read_manifest(directory, feature_version)
    arrays_name = manifest.get("arrays")
    if not arrays_name:
        return None
    path = directory / arrays_name
    if sha256(path) != manifest.get("arrays_sha256"):
        raise GenreModelError(f"The genre model file {path} does not match its manifest.")
    with np.load(path, allow_pickle=False) as npz:
        head = ArrayHead({name: npz[name] for name in npz.files})
    if list(head.classes) != manifest["genres"]:
        raise GenreModelError(f"The genre model in {directory} does not match its manifest's genre list.")
    return GenreHead(head.classes, np.asarray(manifest["columns"], dtype=np.int64), head)


class ArrayHead:
    """Scaler + forest or logistic regression, from the arrays of :func:`to_arrays`."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.kind = str(arrays["kind"])
        self.classes = tuple(str(c) for c in arrays["classes"])
        self.mean = arrays["mean"]
        self.scale = arrays["scale"]
        if self.kind == FOREST:
            self.feature = arrays["feature"]  # int64[trees, nodes]; leaves point at feature 0
            self.threshold = arrays["threshold"]  # float64[trees, nodes]
            self.left = arrays["left"]  # int64[trees, nodes]; a leaf's children are itself
            self.right = arrays["right"]
            self.leaf_probs = arrays["leaf_probs"]  # float64[trees, nodes, classes]
            self.depth = int(arrays["depth"])
        elif self.kind == LOGISTIC:
            self.coef = arrays["coef"]  # float64[classes, features]
            self.intercept = arrays["intercept"]
        else:
            raise ValueError(f"unknown genre head kind {self.kind!r}")

    def predict_proba(self, vectors: np.ndarray) -> np.ndarray:
        """``[n, features]`` (already the model's columns) -> ``[n, classes]`` probabilities."""
        # StandardScaler keeps float32 input in float32, subtracting and dividing in place.
        x = np.array(vectors, dtype=np.float32)
        x -= self.mean
        x /= self.scale
        if self.kind == LOGISTIC:  # in float32, like scikit-learn on float32 input (equal to ~1e-7)
            logits = x @ self.coef.T.astype(np.float32) + self.intercept.astype(np.float32)
            if logits.shape[1] == 1:  # two classes: one decision value, the positive class's
                positive = 0.5 * (1.0 + np.tanh(0.5 * logits[:, 0]))
                return np.stack([1.0 - positive, positive], axis=1)
            logits -= logits.max(axis=1, keepdims=True)
            exp = np.exp(logits)
            return exp / exp.sum(axis=1, keepdims=True)
        n_trees = self.feature.shape[0]
        trees = np.arange(n_trees)[:, None]
        node = np.zeros((n_trees, len(x)), dtype=np.int64)
        rows = np.arange(len(x))[None, :]
        for _ in range(self.depth):
            go_left = x[rows, self.feature[trees, node]] <= self.threshold[trees, node]
            node = np.where(go_left, self.left[trees, node], self.right[trees, node])
        return self.leaf_probs[trees, node].mean(axis=0)


def to_arrays(pipeline: Any) -> dict[str, np.ndarray]:
    """The arrays of a fitted ``StandardScaler -> RandomForest | LogisticRegression`` pipeline.

    Raises ``ValueError`` for any other pipeline (such a model keeps being run by scikit-learn).
    """
    steps = list(getattr(pipeline, "steps", ()))
    if len(steps) != 2 or type(steps[0][1]).__name__ != "StandardScaler":
        raise ValueError("only StandardScaler -> forest/logistic pipelines convert to arrays")
    scaler, model = steps[0][1], steps[1][1]
    arrays: dict[str, np.ndarray] = {
        "classes": np.asarray([str(c) for c in model.classes_]),
        "mean": np.asarray(scaler.mean_ if scaler.with_mean else np.zeros_like(scaler.scale_), np.float64),
        "scale": np.asarray(scaler.scale_ if scaler.with_std else np.ones_like(scaler.mean_), np.float64),
    }
    name = type(model).__name__
    if name == "RandomForestClassifier" and getattr(model, "n_outputs_", 1) == 1:
        trees = [estimator.tree_ for estimator in model.estimators_]
        nodes = max(t.node_count for t in trees)
        n_classes = len(model.classes_)
        feature = np.zeros((len(trees), nodes), np.int64)
        threshold = np.zeros((len(trees), nodes), np.float64)
        left = np.tile(np.arange(nodes), (len(trees), 1))
        right = left.copy()
        leaf_probs = np.zeros((len(trees), nodes, n_classes), np.float64)
        for i, t in enumerate(trees):
            count = t.node_count
            inner = t.children_left[:count] != -1
            feature[i, :count] = np.where(inner, t.feature[:count], 0)
            threshold[i, :count] = np.where(inner, t.threshold[:count], 0.0)
            left[i, :count] = np.where(inner, t.children_left[:count], np.arange(count))
            right[i, :count] = np.where(inner, t.children_right[:count], np.arange(count))
            value = t.value[:count, 0, :]
            total = value.sum(axis=1, keepdims=True)
            total[total == 0] = 1.0
            leaf_probs[i, :count] = value / total
        depth = max(t.max_depth for t in trees)
        arrays.update(kind=np.asarray(FOREST), feature=feature, threshold=threshold, left=left, right=right,
                      leaf_probs=leaf_probs, depth=np.asarray(depth))  # fmt: skip
        return arrays
    if name == "LogisticRegression":
        arrays.update(kind=np.asarray(LOGISTIC), coef=np.asarray(model.coef_, np.float64),
                      intercept=np.asarray(model.intercept_, np.float64))  # fmt: skip
        return arrays
    raise ValueError(f"{name} does not convert to arrays")
