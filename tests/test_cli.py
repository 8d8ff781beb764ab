"""The ``crate`` command line, run for real in a subprocess on real music.

Each test starts ``python -m bot`` (what the ``crate`` console script runs) in a scratch working
directory, with no ``CRATE_*``/``DISCORD_*`` variables, so a developer's ``.env`` cannot leak in.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.analysis import MTT_TAGS, TAGS
from bot.genres import FAMILIES
from bot.listen.families import FamilyModel, default_model

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((REPO / "examples").glob("*.ogg"))
TIMEOUT = 300


def crate(*args: str, cwd: Path, python: tuple[str, ...] = ("-m", "bot")) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRATE_", "DISCORD_"))}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, *python, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory) -> list[Path]:
    """An empty file, a real PNG named .mp3, and a path that does not exist."""
    folder = tmp_path_factory.mktemp("bad")
    empty = folder / "empty.ogg"
    empty.write_bytes(b"")
    png = folder / "red.png"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "color=red:s=32x32",
            "-frames:v",
            "1",
            str(png),
        ],
        check=True,
    )
    image = png.rename(folder / "cover.mp3")
    return [empty, image, folder / "missing.flac"]


@pytest.fixture(scope="module")
def classify_json(bad_inputs, tmp_path_factory):
    """One ``crate classify --json`` run over the three examples and the three bad inputs."""
    inputs = [*EXAMPLES, *bad_inputs]
    done = crate("classify", "--json", *map(str, inputs), cwd=tmp_path_factory.mktemp("cwd"))
    return inputs, done


def test_examples_are_there():
    assert [p.name for p in EXAMPLES] == [
        "nexuiz-beast-of-insanity.ogg",
        "nexuiz-brainsukker.ogg",
        "singularity-awakening.ogg",
    ]


def test_classify_json_prints_one_line_per_input_in_order(classify_json):
    inputs, done = classify_json
    assert done.returncode == 1, done.stderr  # some inputs failed
    lines = done.stdout.splitlines()
    assert len(lines) == len(inputs)
    records = [json.loads(line) for line in lines]
    assert [r["path"] for r in records] == [str(p) for p in inputs]
    for record in records:
        assert list(record) == [
            "path",
            "duration",
            "genres",
            "confident",
            "tags",
            "mtt_tags",
            "error",
            "source",
            "heard",
        ]
        assert record["source"] is None  # files, not links


def test_classify_json_good_files_have_all_genres_and_tags_ranked(classify_json):
    _inputs, done = classify_json
    for record in map(json.loads, done.stdout.splitlines()[: len(EXAMPLES)]):
        assert record["error"] is None
        assert record["duration"] == pytest.approx(20.0, abs=0.1)
        genres = [g["genre"] for g in record["genres"]]
        assert set(genres) == set(FAMILIES) and len(genres) == 14
        assert isinstance(record["confident"], bool)
        tags = [t["tag"] for t in record["tags"]]
        assert sorted(tags) == sorted(TAGS) and len(tags) == 50
        mtt_tags = [t["tag"] for t in record["mtt_tags"]]
        assert sorted(mtt_tags) == sorted(MTT_TAGS) and len(mtt_tags) == 50
        for key, ranked in (("genre", record["genres"]), ("tag", record["tags"]), ("mtt", record["mtt_tags"])):
            probabilities = [item["probability"] for item in ranked]
            assert all(0.0 <= p <= 1.0 for p in probabilities), key
            assert probabilities == sorted(probabilities, reverse=True), key
        assert sum(g["probability"] for g in record["genres"]) == pytest.approx(1.0, abs=0.002)
    # The ambient singularity track and the nexuiz tracks do not sound alike to the tagger.
    by_name = {Path(r["path"]).name: r for r in map(json.loads, done.stdout.splitlines())}
    # Families: the ambient soundtrack is never stated as a GTZAN-ten fact: electronic and ambient are
    # the two Crate names first (trained on released music too, it hears its synths as electronic
    # first), and it is stated as sure only from the model's threshold up.
    awakening = [g["genre"] for g in by_name["singularity-awakening.ogg"]["genres"]]
    top = by_name["singularity-awakening.ogg"]["genres"][0]["probability"]
    assert by_name["singularity-awakening.ogg"]["confident"] is (top >= default_model().threshold)
    assert "ambient" in awakening[:2], awakening[:3]
    assert by_name["nexuiz-brainsukker.ogg"]["genres"][0]["genre"] == "electronic"
    assert by_name["singularity-awakening.ogg"]["tags"][0]["tag"] == "ambient"
    assert by_name["nexuiz-brainsukker.ogg"]["tags"][0]["tag"] == "electronic"
    # The second tagger hears them apart too (MTT_musicnn's own words for them).
    assert by_name["singularity-awakening.ogg"]["mtt_tags"][0]["tag"] in {"ambient", "slow", "guitar", "piano", "synth"}
    assert by_name["nexuiz-brainsukker.ogg"]["mtt_tags"][0]["tag"] in {"techno", "electronic", "beat", "fast", "drums"}


def test_classify_json_bad_inputs_get_friendly_errors(classify_json):
    _inputs, done = classify_json
    records = [json.loads(line) for line in done.stdout.splitlines()[len(EXAMPLES) :]]
    empty, image, missing = records
    assert empty["error"] == "That file is empty."
    assert "image" in image["error"] and "PNG" in image["error"]
    assert "couldn't find" in missing["error"]
    for record in records:
        assert record["duration"] is None and record["genres"] == [] and record["tags"] == []
        assert record["confident"] is None
        assert record["error"].endswith(".") and "Traceback" not in record["error"]
    assert "Traceback" not in done.stderr


#: Runs the real CLI entry point, counting how often the models are loaded.
COUNTING = """
import sys
from bot.listen import analyze, musicnn
loads = {"tagger": 0, "genre": 0}
def count(cls, name):
    original = getattr(cls, "load").__func__
    def load(*args, **kwargs):
        loads[name] += 1
        return original(*args, **kwargs)
    setattr(cls, "load", classmethod(load))
count(musicnn.Musicnn, "tagger")
from bot.listen import families
loads["families"] = 0
count(families.FamilyModel, "families")
load_head = analyze.load_head
def counted_load_head(*args, **kwargs):
    loads["genre"] += 1
    return load_head(*args, **kwargs)
analyze.load_head = counted_load_head
from bot.cli import main
code = main(sys.argv[1:])
print("LOADS", loads, file=sys.stderr)
sys.exit(code)
"""


def test_classify_loads_the_models_once_for_all_files(tmp_path):
    done = crate("classify", "--json", *map(str, EXAMPLES), cwd=tmp_path, python=("-c", COUNTING))
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 3
    # MSD and MTT taggers and the family model, once each; no GTZAN-ten genre head
    assert "LOADS {'tagger': 2, 'genre': 0, 'families': 1}" in done.stderr


def test_classify_text_shows_top_genres_and_tags(tmp_path, bad_inputs):
    done = crate("classify", str(EXAMPLES[2]), str(bad_inputs[0]), cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0] == str(EXAMPLES[2])
    # the answer with its runner-up (or "not sure — A or B?"), length and tempo, then the styles
    assert re.fullmatch(
        r"  ([A-Z][a-z &,]+ \(\d+%\), then [a-z &,]+ \(\d+%\)|Not sure — [a-z &,]+ or [a-z &,]+\? \(\d+% / \d+%\))"
        r"  \(20 s, ~\d+ BPM\)",
        lines[1],
    ), lines[1]
    assert "ambient" in lines[1].casefold()
    assert re.fullmatch(r"  styles heard: [^,]+(, [^,]+){1,4}", lines[2]), lines[2]
    assert lines[2].split(": ")[1].startswith("ambient")
    assert lines[3:] == [str(bad_inputs[0]), "  error: That file is empty."]


def test_classify_with_a_missing_model_says_so(tmp_path):
    done = crate("classify", "--model", str(tmp_path / "nope"), str(EXAMPLES[0]), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("crate: No genre model at")
    assert "Traceback" not in done.stderr


def test_demo_listens_to_the_three_examples(tmp_path):
    done = crate("demo", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for example in EXAMPLES:
        assert f"/genre {example}" in done.stdout
        assert example.stem in done.stdout
    assert done.stdout.count("sounds like:") == 3
    assert re.search(r"alice & you: taste match (\d+%|not enough ratings)", done.stdout), done.stdout
    assert "Charts of all time: 2 likes" in done.stdout
    assert "liked by: alice" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    # no false reason: alice liked one track, stated as sure electronic, so the only genre a reason
    # may say she likes is electronic (docs/recommending.md, "Reasons"); and no negative percentage
    assert not re.search(r"-\d+\s?%", done.stdout), done.stdout
    assert "in genres you like" not in done.stdout
    assert set(re.findall(r"— you like (\w+)", done.stdout)) <= {"electronic"}, done.stdout


def test_help_lists_the_subcommands(tmp_path):
    done = crate("--help", cwd=tmp_path)
    assert done.returncode == 0
    for command in ("classify", "demo", "train", "evaluate"):
        assert re.search(rf"^\s+{command}\s", done.stdout, re.MULTILINE), command


def test_train_then_evaluate_on_real_music(tiny_genre_dataset, tmp_path):
    """Train on 8 real tracks, then score the model on 6 held-out ones (as test_genre does)."""
    out = tmp_path / "model"
    trained = crate("train", str(tiny_genre_dataset["train"]), "--out", str(out), "--folds", "2", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert "8 tracks in 2 genres: ambient, electronic" in trained.stderr
    assert re.search(
        r"^Chose .+ \(cross-validated track accuracy [01]\.\d{3}\); saved to ", trained.stdout, re.MULTILINE
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["genres"] == ["ambient", "electronic"] and manifest["dataset"] == "train"

    scored = crate("evaluate", str(tiny_genre_dataset["heldout"]), "--model", str(out), cwd=tmp_path)
    assert scored.returncode == 0, scored.stderr
    lines = scored.stdout.splitlines()
    assert lines[0] == f"model {out} on {tiny_genre_dataset['heldout']}"
    assert lines[1] == "tracks: 6   accuracy: 1.000   macro-F1: 1.000"
    assert re.fullmatch(r"genre\s+precision\s+recall\s+support", lines[3])
    assert re.fullmatch(r"ambient\s+1\.00\s+1\.00\s+3", lines[4])
    assert re.fullmatch(r"electronic\s+1\.00\s+1\.00\s+3", lines[5])
    assert lines[7] == "confusion (rows: true, columns: predicted)"
    assert lines[8].split() == ["ambi", "elec"]
    assert lines[9].split() == ["ambient", "3", "0"]
    assert lines[10].split() == ["electronic", "0", "3"]


def test_evaluate_cross_validation_as_json(tiny_genre_dataset, tmp_path):
    done = crate("evaluate", str(tiny_genre_dataset["train"]), "--cv", "--folds", "2", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result) == {"evaluation", "accuracy", "macro_f1", "per_genre", "confusion"}
    assert result["evaluation"].startswith("2-fold grouped cross-validation")
    assert 0.0 <= result["accuracy"] <= 1.0 and 0.0 <= result["macro_f1"] <= 1.0
    assert set(result["per_genre"]) == {"ambient", "electronic"}
    assert sum(g["support"] for g in result["per_genre"].values()) == 8  # one answer per track
    assert result["confusion"]["labels"] == ["ambient", "electronic"]
    matrix = result["confusion"]["matrix"]
    assert [sum(row) for row in matrix] == [4, 4]
    assert (matrix[0][0] + matrix[1][1]) / 8 == pytest.approx(result["accuracy"])


def test_evaluate_reports_the_family_model_with_its_reliability(tiny_genre_dataset, tmp_path):
    """Without --model, evaluate scores the answer Crate gives: the families, with both taggers."""
    done = crate("evaluate", str(tiny_genre_dataset["heldout"]), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["evaluation"] == f"model families (packaged) on {tiny_genre_dataset['heldout']}"
    assert list(result["per_genre"]) == list(FAMILIES)  # per-family precision / recall
    assert sum(g["support"] for g in result["per_genre"].values()) == 6
    assert result["per_genre"]["ambient"]["support"] == 3 and result["per_genre"]["electronic"]["support"] == 3
    families = result["families"]
    threshold = FamilyModel.load().threshold
    assert families["tracks"] == 6 and families["threshold"] == pytest.approx(threshold)
    bins = families["reliability"]["bins"]
    assert sum(b["tracks"] for b in bins) == 6 and 0.0 <= families["reliability"]["ece"] <= 1.0
    # the families hear Nexuiz's electronic tracks (20-s cuts) as electronic, and answer no track of
    # this game music with hip hop (the GTZAN-ten head's favourite mislabel); the "ambient" folder is
    # the test's own label for Maxstack's soundtrack, which states no genre, so its score is not asserted
    assert result["per_genre"]["electronic"]["recall"] >= 0.6, result["confusion"]
    hiphop = result["confusion"]["labels"].index("hiphop")
    assert sum(row[hiphop] for row in result["confusion"]["matrix"]) == 0
    text = crate("evaluate", str(tiny_genre_dataset["heldout"]), cwd=tmp_path)
    assert (
        text.returncode == 0
        and "reliability (ECE " in text.stdout
        and f"confidence (threshold {threshold:.2f})" in text.stdout
    )
