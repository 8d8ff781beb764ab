"""The genre head on real music: training, grouped cross-validation, safe saving and loading.

Models here are trained for real on a tiny two-genre dataset cut from the Debian game music
(``tiny_genre_dataset`` in conftest: 4 singularity-music tracks as "ambient", 4 nexuiz-music
tracks as "electronic", 20 s each), then judged on cuts of six other tracks.
"""

from __future__ import annotations

import builtins
import json
import os
import posix
import shutil
from pathlib import Path

import numpy as np
import pytest
import skops.io
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from bot.listen.analyze import BLOCKS, FEATURE_VERSION, Listener, block_columns
from bot.listen.genre import (
    ESTIMATOR,
    MANIFEST,
    Evaluation,
    GenreModel,
    GenreModelError,
    cross_validate,
    default_model_path,
)
from bot.listen.training.dataset import extract_training_data, scan_dataset

GTZAN_GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
GTZAN_MINI = Path(__file__).resolve().parents[2] / "shared" / "data" / "gtzan-mini"
FOLDS = 2


@pytest.fixture(scope="module")
def listener() -> Listener:
    return Listener.load(with_genres=False, with_mtt=False)


@pytest.fixture(scope="module")
def training_data(tiny_genre_dataset, listener):
    return extract_training_data(scan_dataset(tiny_genre_dataset["train"]), listener)


@pytest.fixture(scope="module")
def trained(training_data) -> GenreModel:
    return GenreModel.train(
        training_data.X,
        training_data.y,
        training_data.groups,
        feature_version=FEATURE_VERSION,
        columns=block_columns(("embedding", "handcrafted")),
        folds=FOLDS,
        seed=0,
    )


@pytest.fixture(scope="module")
def saved_model(trained, tmp_path_factory) -> Path:
    return trained.save(tmp_path_factory.mktemp("models") / "tiny")


def _copy(model_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(model_dir, tmp_path / "model"))


def _manifest(model_dir: Path) -> dict:
    return json.loads((model_dir / MANIFEST).read_text())


def _load(model_dir: Path) -> GenreModel:
    return GenreModel.load(model_dir, feature_version=FEATURE_VERSION)


# --------------------------------------------------------------------------- training on real music


def test_training_data_has_one_group_per_track_and_tiled_excerpts(training_data):
    """8 tracks of 20 s, each tiled into 6-s windows every 3 s: 5 excerpts per track."""
    assert len(training_data.tracks) == 8 and not training_data.skipped
    assert training_data.X.shape == (40, sum(BLOCKS.values()))
    assert np.isfinite(training_data.X).all()
    assert sorted(np.unique(training_data.groups)) == list(range(8))
    for group, track in enumerate(training_data.tracks):
        assert set(training_data.y[training_data.groups == group]) == {track.genre}
        assert np.count_nonzero(training_data.groups == group) == 5


def test_model_trained_on_real_music_classifies_held_out_tracks(saved_model, tiny_genre_dataset):
    """Saved, loaded back through Listener, it names the genre of six tracks it never heard."""
    listener = Listener.load(saved_model)
    assert listener.genre_model.genres == ("ambient", "electronic")
    heldout = scan_dataset(tiny_genre_dataset["heldout"])
    assert len(heldout) == 6
    answers = {track.path.name: listener.analyze(track.path).genres for track in heldout}
    wrong = {
        track.path.name: answers[track.path.name] for track in heldout if answers[track.path.name][0][0] != track.genre
    }
    assert not wrong, f"misclassified held-out tracks: {wrong}"
    for genres in answers.values():
        assert abs(sum(p for _, p in genres) - 1.0) < 1e-6


def test_saved_model_records_how_it_was_chosen_and_predicts_identically(trained, saved_model, training_data):
    manifest = _manifest(saved_model)
    assert manifest["feature_version"] == FEATURE_VERSION
    assert manifest["genres"] == ["ambient", "electronic"]
    assert manifest["columns"] == block_columns(("embedding", "handcrafted")).tolist()
    assert manifest["tracks"] == 8 and manifest["excerpts"] == 40
    assert manifest["cross_validation"]["folds"] == FOLDS
    assert manifest["model"] in manifest["cross_validation"]["scores"]
    loaded = _load(saved_model)
    np.testing.assert_array_equal(loaded.predict_proba(training_data.X), trained.predict_proba(training_data.X))


# --------------------------------------------------------------------------- grouped cross-validation

_FOLDS_SEEN: list[tuple[set[int], set[int]]] = []


class _GroupSpy(ClassifierMixin, BaseEstimator):
    """Records which tracks it is fitted on and asked about (the track id rides in the last column).

    Predicts the class prior, so cross_validate can run end to end.
    """

    def fit(self, X, y):
        self.classes_, counts = np.unique(y, return_counts=True)
        self.prior_ = counts / counts.sum()
        self.fitted_groups_ = set(X[:, -1].astype(int).tolist())
        return self

    def predict_proba(self, X):
        _FOLDS_SEEN.append((self.fitted_groups_, set(X[:, -1].astype(int).tolist())))
        return np.tile(self.prior_, (len(X), 1))


@pytest.mark.parametrize("folds", [2, 3])
def test_cross_validation_keeps_every_excerpt_of_a_track_in_one_fold(training_data, folds):
    """On the real excerpts: no track is ever on both sides of a split; each is tested once."""
    X = np.column_stack([training_data.X, training_data.groups])
    _FOLDS_SEEN.clear()
    evaluation = cross_validate(_GroupSpy(), X, training_data.y, training_data.groups, folds=folds, seed=0)
    assert len(_FOLDS_SEEN) == folds
    tested: list[int] = []
    for fitted, asked in _FOLDS_SEEN:
        assert not fitted & asked, f"tracks {fitted & asked} were both trained and tested on"
        assert fitted | asked == set(range(8))
        tested += sorted(asked)
    assert sorted(tested) == list(range(8))  # every track tested exactly once
    # Scores are per track (one answer per file), not per excerpt.
    assert sum(evaluation.support) == 8
    assert evaluation.genres == ("ambient", "electronic")


# --------------------------------------------------------------------------- refusing unsafe models


def test_model_for_other_features_is_refused_with_advice_to_retrain(saved_model, tmp_path):
    model_dir = _copy(saved_model, tmp_path)
    manifest = _manifest(model_dir)
    manifest["feature_version"] = "crate-features/0: something older"
    (model_dir / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(GenreModelError) as caught:
        _load(model_dir)
    message = caught.value.user_message
    assert "Retrain" in message and f"crate train DATASET_DIR --out {model_dir}" in message
    assert "crate-features/0;" in message and FEATURE_VERSION.split(":")[0] in message
    assert "something older" not in message  # the long descriptions are for the log, not the user
    with pytest.raises(GenreModelError):
        Listener.load(model_dir)


def test_tampered_estimator_file_is_refused(saved_model, tmp_path, monkeypatch):
    model_dir = _copy(saved_model, tmp_path)
    data = bytearray((model_dir / ESTIMATOR).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (model_dir / ESTIMATOR).write_bytes(bytes(data))
    monkeypatch.setattr(skops.io, "load", _must_not_load)
    with pytest.raises(GenreModelError, match="does not match its manifest"):
        _load(model_dir)


def _must_not_load(*args, **kwargs):
    raise AssertionError("skops.io.load was called on a model that should have been refused")


def _trojan(model_dir: Path, func) -> Path:
    """A model folder whose manifest is consistent (right version, right checksum) but whose
    pipeline starts with ``FunctionTransformer(func=func)``: code that would run on predict."""
    X = np.random.default_rng(0).normal(size=(20, 3))
    pipeline = make_pipeline(FunctionTransformer(), StandardScaler(), LogisticRegression())
    pipeline.fit(X, np.array(["a", "b"] * 10))  # fitted harmlessly, then armed:
    pipeline.set_params(functiontransformer__func=func)
    return GenreModel(pipeline, FEATURE_VERSION, np.arange(3)).save(model_dir)


@pytest.mark.parametrize("func, name", [(os.system, "system"), (builtins.eval, "builtins.eval")])
def test_model_with_untrusted_function_is_refused_and_never_run(func, name, tmp_path, monkeypatch):
    model_dir = _trojan(tmp_path / "trojan", func)
    assert name in skops.io.get_untrusted_types(file=model_dir / ESTIMATOR)[0]
    calls: list[tuple] = []

    def system(*args) -> int:
        calls.append(args)
        return 0

    monkeypatch.setattr(posix, "system", system)
    monkeypatch.setattr(skops.io, "load", _must_not_load)
    with pytest.raises(GenreModelError, match="untrusted types") as caught:
        _load(model_dir)
    assert name in str(caught.value)
    assert not calls


def test_folder_without_manifest_is_refused(saved_model, tmp_path):
    model_dir = _copy(saved_model, tmp_path)
    (model_dir / MANIFEST).unlink()
    with pytest.raises(GenreModelError, match="No genre model"):
        _load(model_dir)
    with pytest.raises(GenreModelError, match="No genre model"):
        _load(tmp_path / "does-not-exist")


def test_manifest_that_is_not_json_is_refused(saved_model, tmp_path):
    model_dir = _copy(saved_model, tmp_path)
    (model_dir / MANIFEST).write_text("{ not json")
    with pytest.raises(GenreModelError, match="not valid JSON"):
        _load(model_dir)


# --------------------------------------------------------------------------- the shipped model


def test_shipped_model_loads_with_the_ten_gtzan_genres():
    path = default_model_path()
    manifest = _manifest(path)
    assert manifest["feature_version"] == FEATURE_VERSION
    model = _load(path)
    assert model.genres == GTZAN_GENRES
    assert model.feature_version == FEATURE_VERSION
    assert model.columns.tolist() == block_columns(tuple(manifest["features"])).tolist()
    assert max(model.columns) < sum(BLOCKS.values())


@pytest.mark.skipif(not GTZAN_MINI.is_dir(), reason=f"{GTZAN_MINI} not available (../shared absent)")
@pytest.mark.parametrize("genre, number", [("metal", 2), ("classical", 0), ("jazz", 1), ("reggae", 0)])
def test_shipped_model_recognises_gtzan_mini_clips(genre, number):
    """Sanity check of the load/feature path only: these clips were in the training data of the
    shipped answer (the family model; GTZAN's folder names are family ids) and of the GTZAN head.

    Not jazz.00000, a piano-led clip the family model hears as classical; not metal.00000, which it
    calls rock 0.64 / metal 0.35 since it also learned from released music whose ``Pop/Rock`` does
    not tell rock from metal (issue 26; docs/families.md's per-family table)."""
    clip = GTZAN_MINI / genre / f"{genre}.0000{number}.wav"
    analysis = _shipped_listener().analyze(clip)
    assert analysis.top_genre == genre, analysis.genres[:3]
    assert len(analysis.genres) == 14
    head = Listener.load(default_model_path(), with_mtt=False).analyze(clip)  # the GTZAN head, on request
    assert head.top_genre == genre and head.genres[0][1] > 0.5, head.genres[:3]


_SHIPPED: list[Listener] = []


def _shipped_listener() -> Listener:
    if not _SHIPPED:
        _SHIPPED.append(Listener.load())
    return _SHIPPED[0]


# --------------------------------------------------------------------------- scores


def test_evaluation_numbers_on_a_hand_made_example():
    """6 tracks; "d" is a genre of the model that is neither present nor predicted."""
    true = ["a", "a", "a", "b", "b", "c"]
    predicted = ["a", "a", "b", "b", "c", "c"]
    evaluation = Evaluation.from_predictions(true, predicted, ["a", "b", "c", "d"])
    assert evaluation.accuracy == pytest.approx(4 / 6)
    assert evaluation.confusion == ((2, 1, 0, 0), (0, 1, 1, 0), (0, 0, 1, 0), (0, 0, 0, 0))
    assert evaluation.precision == pytest.approx((1.0, 0.5, 0.5, 0.0))
    assert evaluation.recall == pytest.approx((2 / 3, 0.5, 1.0, 0.0))
    assert evaluation.support == (3, 2, 1, 0)
    f1 = {"a": 0.8, "b": 0.5, "c": 2 / 3}  # 2PR/(P+R)
    assert evaluation.macro_f1 == pytest.approx(sum(f1.values()) / 3)

    as_dict = evaluation.to_dict()
    assert as_dict["confusion"] == {
        "labels": ["a", "b", "c", "d"],
        "matrix": [[2, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 0]],
    }
    assert as_dict["per_genre"]["c"] == {"precision": 0.5, "recall": 1.0, "support": 1}
    text = evaluation.to_text()
    assert "accuracy: 0.667" in text and "macro-F1: 0.656" in text and "tracks: 6" in text


def test_evaluation_when_everything_is_right():
    evaluation = Evaluation.from_predictions(["x", "y", "y"], ["x", "y", "y"], ["x", "y"])
    assert evaluation.accuracy == 1.0 and evaluation.macro_f1 == 1.0
    assert evaluation.confusion == ((1, 0), (0, 2))


# --------------------------------------------------------------------------- the head as arrays


@pytest.mark.parametrize(
    "name, classes", [("random-forest", 2), ("logistic-regression C=0.1", 2), ("logistic-regression C=0.1", 3)]
)
def test_head_as_arrays_predicts_exactly_like_the_pipeline(name, classes, training_data):
    """Converted once to arrays, a model gives the same probabilities with numpy alone."""
    from sklearn.base import clone

    from bot.listen.genre import candidate_models
    from bot.listen.head import ArrayHead, to_arrays

    columns = block_columns(("embedding", "handcrafted"))
    X = training_data.X[:, columns]
    pipeline = clone(candidate_models(0)[name]).fit(X[::2], training_data.y[::2])
    if classes == 3:  # multinomial (softmax) rather than one decision value
        y = training_data.y.copy()
        y[training_data.groups % 3 == 0] = "third"
        pipeline = clone(candidate_models(0)[name]).fit(X, y)
    head = ArrayHead(to_arrays(pipeline))
    assert head.classes == tuple(pipeline.classes_)
    np.testing.assert_allclose(head.predict_proba(X), pipeline.predict_proba(X), rtol=0, atol=1e-6)
    if name == "random-forest":  # the forest (the shipped model's kind) is bit-for-bit identical
        np.testing.assert_array_equal(head.predict_proba(X), pipeline.predict_proba(X))


def test_saved_model_has_arrays_and_listener_uses_them(saved_model, trained, training_data):
    from bot.listen.head import ARRAYS, ArrayHead, load_head

    manifest = _manifest(saved_model)
    assert manifest["arrays"] == ARRAYS and (saved_model / ARRAYS).is_file()
    head = load_head(saved_model, feature_version=FEATURE_VERSION)
    assert isinstance(head.model, ArrayHead)
    assert head.genres == trained.genres
    np.testing.assert_allclose(head.predict_proba(training_data.X), trained.predict_proba(training_data.X), atol=1e-6)


def test_tampered_arrays_file_is_refused(saved_model, tmp_path):
    from bot.listen.head import ARRAYS, load_head

    model_dir = _copy(saved_model, tmp_path)
    data = bytearray((model_dir / ARRAYS).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (model_dir / ARRAYS).write_bytes(bytes(data))
    with pytest.raises(GenreModelError, match="does not match its manifest"):
        load_head(model_dir, feature_version=FEATURE_VERSION)


def test_shipped_arrays_equal_the_shipped_skops_model(training_data):
    from bot.listen.head import load_head

    head = load_head(default_model_path(), feature_version=FEATURE_VERSION)
    np.testing.assert_array_equal(
        head.predict_proba(training_data.X), _load(default_model_path()).predict_proba(training_data.X)
    )


def test_a_worker_loads_the_shipped_model_without_scikit_learn():
    import subprocess
    import sys

    probe = (
        "import sys; from bot.listen.analyze import Listener; from bot.listen.head import default_model_path; "
        "listener = Listener.load(); head = Listener.load(default_model_path()); "
        "print(listener.family_model.head_input, head.genre_model.genres[0], 'sklearn' in sys.modules, 'skops' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[1])  # fmt: skip
    assert done.stdout.split() == ["tags+pen", "blues", "False", "False"]
