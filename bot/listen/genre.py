"""The genre head: a scikit-learn pipeline over Crate's excerpt feature vectors.

Training picks a model by grouped cross-validation (excerpts of one file never straddle a
train/test split), fits it on everything, and saves it without pickle: a ``manifest.json``
(genres, feature version, columns, how it was chosen) beside an ``estimator.skops`` file that
is loaded with skops' safe loader and only scikit-learn/numpy types.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin, clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from bot.listen.head import (
    ARRAYS,
    MANIFEST,
    MODEL_FORMAT,
    ArrayHead,
    GenreHead,
    GenreModelError,
    default_model_path,
    read_manifest,
    to_arrays,
)
from bot.listen.head import sha256 as _sha256

__all__ = ["ESTIMATOR", "MANIFEST", "MODEL_FORMAT", "GenreModel", "GenreModelError", "default_model_path"]

ESTIMATOR = "estimator.skops"
#: Module prefixes whose classes a genre model file may contain (classes only: a function such
#: as ``builtins.eval`` or ``posix.system`` stored in e.g. a FunctionTransformer would run at
#: prediction time, so functions are never trusted, whatever their module).
TRUSTED_MODULES = ("sklearn.", "numpy.")


def candidate_models(seed: int = 0) -> dict[str, ClassifierMixin]:
    """The models cross-validation chooses from, by name.

    On gtzan-mini (60 clips) a random forest over [embedding + handcrafted] scored best
    (grouped 5-fold CV: forest 0.88, logistic regression 0.82-0.83); both stay in the running
    so that other datasets can pick what suits them.
    """
    return {
        "logistic-regression C=0.01": make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=5000)),
        "logistic-regression C=0.1": make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=5000)),
        "random-forest": make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=200, random_state=seed)),
    }


@dataclass(frozen=True)
class Evaluation:
    """Track-level scores: what a user would see, one prediction per file."""

    genres: tuple[str, ...]
    accuracy: float
    macro_f1: float
    precision: tuple[float, ...]
    recall: tuple[float, ...]
    support: tuple[int, ...]
    confusion: tuple[tuple[int, ...], ...]  # rows: true genre, columns: predicted

    @classmethod
    def from_predictions(cls, true: Sequence[str], predicted: Sequence[str], genres: Sequence[str]) -> Evaluation:
        labels = list(genres)
        seen = [g for g in labels if g in set(true) | set(predicted)]
        precision, recall, _, support = precision_recall_fscore_support(true, predicted, labels=labels, zero_division=0)
        return cls(
            genres=tuple(labels),
            accuracy=float(accuracy_score(true, predicted)),
            # Genres neither present nor predicted say nothing about the model: leave them out of
            # the macro average (else scoring a 10-genre model on 2 genres would read as ~0.2).
            macro_f1=float(f1_score(true, predicted, labels=seen, average="macro", zero_division=0)) if seen else 0.0,
            precision=tuple(float(p) for p in precision),
            recall=tuple(float(r) for r in recall),
            support=tuple(int(s) for s in support),
            confusion=tuple(tuple(int(c) for c in row) for row in confusion_matrix(true, predicted, labels=labels)),
        )

    def to_dict(self) -> dict:
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "per_genre": {
                genre: {"precision": p, "recall": r, "support": s}
                for genre, p, r, s in zip(self.genres, self.precision, self.recall, self.support)
            },
            "confusion": {"labels": list(self.genres), "matrix": [list(row) for row in self.confusion]},
        }

    def to_text(self) -> str:
        width = max(len(g) for g in self.genres)
        lines = [
            f"tracks: {sum(self.support)}   accuracy: {self.accuracy:.3f}   macro-F1: {self.macro_f1:.3f}",
            "",
            f"{'genre':<{width}}  precision  recall  support",
        ]
        for genre, p, r, s in zip(self.genres, self.precision, self.recall, self.support):
            lines.append(f"{genre:<{width}}  {p:9.2f}  {r:6.2f}  {s:7d}")
        short = [g[:4] for g in self.genres]
        lines += [
            "",
            "confusion (rows: true, columns: predicted)",
            " " * width + "  " + " ".join(f"{s:>4}" for s in short),
        ]
        for genre, row in zip(self.genres, self.confusion):
            lines.append(f"{genre:<{width}}  " + " ".join(f"{c:>4}" for c in row))
        return "\n".join(lines)


def track_predictions(probabilities: np.ndarray, groups: np.ndarray, classes: Sequence[str]):
    """Average excerpt probabilities per track (group): (group ids, predicted genre per group)."""
    track_ids = np.unique(groups)
    mean = np.stack([probabilities[groups == g].mean(axis=0) for g in track_ids])
    return track_ids, [classes[i] for i in mean.argmax(axis=1)]


def cross_validate(
    estimator: ClassifierMixin, X: np.ndarray, y: np.ndarray, groups: np.ndarray, *, folds: int = 5, seed: int = 0
) -> Evaluation:
    """Grouped, stratified K-fold: each file's excerpts stay on one side of every split."""
    genres = sorted(set(y))
    track_label = {g: y[groups == g][0] for g in np.unique(groups)}
    true, predicted = [], []
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(X, y, groups):
        fitted = clone(estimator).fit(X[train], y[train])
        probabilities = fitted.predict_proba(X[test])
        track_ids, labels = track_predictions(probabilities, groups[test], list(fitted.classes_))
        true += [track_label[t] for t in track_ids]
        predicted += labels
    return Evaluation.from_predictions(true, predicted, genres)


@dataclass
class GenreModel:
    """A fitted genre classifier plus what it needs to be used safely."""

    estimator: Pipeline
    feature_version: str
    columns: np.ndarray  # which feature-vector columns the estimator reads
    metadata: dict = field(default_factory=dict)

    @property
    def genres(self) -> tuple[str, ...]:
        return tuple(str(g) for g in self.estimator.classes_)

    def predict_proba(self, vectors: np.ndarray) -> np.ndarray:
        """Genre probabilities per excerpt, columns in :attr:`genres` order."""
        return self.estimator.predict_proba(np.asarray(vectors)[:, self.columns])

    @classmethod
    def train(
        cls,
        X: np.ndarray,
        y: np.ndarray,
        groups: np.ndarray,
        *,
        feature_version: str,
        columns: np.ndarray,
        folds: int = 5,
        seed: int = 0,
        candidates: dict[str, ClassifierMixin] | None = None,
        progress: Callable[[str], None] = lambda message: None,
    ) -> GenreModel:
        """Choose the candidate with the best grouped-CV track accuracy, then fit it on all data."""
        X = np.asarray(X)[:, columns]
        scores: dict[str, dict] = {}
        for name, estimator in (candidates or candidate_models(seed)).items():
            evaluation = cross_validate(estimator, X, y, groups, folds=folds, seed=seed)
            scores[name] = {"accuracy": evaluation.accuracy, "macro_f1": evaluation.macro_f1}
            progress(f"{name}: cross-validated accuracy {evaluation.accuracy:.3f}, macro-F1 {evaluation.macro_f1:.3f}")
        best = max(scores, key=lambda n: (scores[n]["accuracy"], scores[n]["macro_f1"]))
        estimator = clone((candidates or candidate_models(seed))[best]).fit(X, y)
        metadata = {
            "model": best,
            "cross_validation": {"folds": folds, "seed": seed, "scores": scores},
            "tracks": len(np.unique(groups)),
            "excerpts": len(y),
        }
        return cls(estimator, feature_version, np.asarray(columns, dtype=np.int64), metadata)

    def save(self, directory: str | os.PathLike) -> Path:
        import skops.io

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        estimator_path = directory / ESTIMATOR
        skops.io.dump(self.estimator, estimator_path)
        manifest = {
            "format": MODEL_FORMAT,
            "feature_version": self.feature_version,
            "genres": list(self.genres),
            "columns": [int(c) for c in self.columns],
            "estimator": ESTIMATOR,
            "estimator_sha256": _sha256(estimator_path),
            **self.metadata,
        }
        # The same model as plain arrays, which workers load and run with numpy alone.
        arrays_path = directory / ARRAYS
        try:
            arrays = to_arrays(self.estimator)
        except ValueError:
            arrays_path.unlink(missing_ok=True)
            manifest.pop("arrays", None)
            manifest.pop("arrays_sha256", None)
        else:
            np.savez_compressed(arrays_path, **arrays)  # type: ignore[arg-type]
            manifest.update(arrays=ARRAYS, arrays_sha256=_sha256(arrays_path))
        (directory / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike, *, feature_version: str) -> GenreModel:
        """Load a saved model, refusing other formats, other feature versions and unsafe types."""
        import skops.io

        directory = Path(directory)
        manifest = read_manifest(directory, feature_version)
        estimator_path = directory / manifest["estimator"]
        if _sha256(estimator_path) != manifest.get("estimator_sha256"):
            raise GenreModelError(f"The genre model file {estimator_path} does not match its manifest.")
        untrusted = skops.io.get_untrusted_types(file=estimator_path)
        unsafe = [t for t in untrusted if not _trusted_class(t)]
        if unsafe:
            raise GenreModelError(f"Refusing to load {estimator_path}: it contains untrusted types {unsafe}.")
        estimator = skops.io.load(estimator_path, trusted=untrusted)
        metadata = {
            k: v
            for k, v in manifest.items()
            if k
            not in {
                "format",
                "feature_version",
                "genres",
                "columns",
                "estimator",
                "estimator_sha256",
                "arrays",
                "arrays_sha256",
            }
        }
        model = cls(estimator, manifest["feature_version"], np.asarray(manifest["columns"], dtype=np.int64), metadata)
        if list(model.genres) != manifest["genres"]:
            raise GenreModelError(f"The genre model in {directory} does not match its manifest's genre list.")
        return model


def _trusted_class(name: str) -> bool:
    """Whether ``name`` (``module.Qualified``) is a class from a trusted module (not a function)."""
    import importlib

    if not name.startswith(TRUSTED_MODULES):
        return False
    module, _, attribute = name.rpartition(".")
    try:
        value = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError, ValueError):
        return False
    return isinstance(value, type)


def load_skops_head(directory: str | os.PathLike, *, feature_version: str) -> GenreHead:
    """A saved genre model without an ``arrays.npz``, loaded through skops and converted to
    arrays in memory (scikit-learn runs it when it can't be converted)."""
    model = GenreModel.load(directory, feature_version=feature_version)
    try:
        runner: Any = ArrayHead(to_arrays(model.estimator))
    except ValueError:
        runner = model.estimator
    return GenreHead(model.genres, model.columns, runner, model.metadata)
