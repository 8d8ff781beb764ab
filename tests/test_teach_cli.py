"""Teaching a server from the terminal: ``crate teach``, ``crate classify --database --guild``,
``/correct`` in ``crate console``, and ``crate evaluate --few-shot`` — real subprocesses, real music."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cli import crate

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
BRAINSUKKER = EXAMPLES / "nexuiz-brainsukker.ogg"
BEAST = EXAMPLES / "nexuiz-beast-of-insanity.ogg"
GTZAN = REPO.parent / "shared" / "data" / "gtzan-mini"


def genres(line: str) -> dict[str, float]:
    return {g["genre"]: g["probability"] for g in json.loads(line)["genres"]}


def test_teach_then_classify_with_that_servers_head(tmp_path):
    database = tmp_path / "crate.sqlite3"
    taught = crate(
        "teach", "--database", str(database), "--guild", "7", "--genre", "city pop", str(BRAINSUKKER), cwd=tmp_path
    )
    assert taught.returncode == 0, taught.stderr
    assert "is city pop in this server now" in taught.stdout
    args = ("classify", "--json", "--database", str(database))
    here = crate(*args, "--guild", "7", str(BRAINSUKKER), str(BEAST), cwd=tmp_path)
    elsewhere = crate(*args, "--guild", "8", str(BRAINSUKKER), cwd=tmp_path)
    assert here.returncode == 0 and elsewhere.returncode == 0, here.stderr + elsewhere.stderr
    same, other = here.stdout.splitlines()
    assert max(genres(same), key=genres(same).get) == "city pop"  # the taught audio answers what was taught
    assert genres(other)["city pop"] < genres(same)["city pop"]  # the metal track sounds less like it
    assert "city pop" not in genres(elsewhere.stdout)  # another server never learnt it
    lone = crate("classify", "--guild", "7", str(BEAST), cwd=tmp_path)
    assert lone.returncode == 2 and "--database and --guild together" in lone.stderr


def test_console_correct_relabels_the_last_track(tmp_path):
    lines = "\n".join(
        [
            f"/genre {BRAINSUKKER}",
            "/correct",
            "/correct Soul, R&B and funk; drop",
            "/correct fantasy orchestral",
            f"/genre {BRAINSUKKER}",
            "/as bob",
            "/correct folk #1",
            "/forget",
            "/quit",
        ]
    )
    database = tmp_path / "console.sqlite3"
    done = subprocess.run(
        [sys.executable, "-m", "bot", "console", "--database", str(database)],
        input=lines,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    out = done.stdout
    assert done.returncode == 0, done.stderr
    assert "Usage: /correct GENRE" in out
    assert "A genre name has 1 to 40" in out  # the ; is refused, and nothing was stored
    assert "is fantasy orchestral in this server now" in out
    assert "fantasy orchestral" in out.split("/correct fantasy orchestral")[-1]  # the second /genre shows it
    assert "you say “nexuiz-brainsukker” is Folk & world, but most here say" not in out  # a tie, not a majority
    assert "no majority yet" in out
    assert "1 genre correction" in out  # bob's /forget


@pytest.mark.skipif(not GTZAN.is_dir(), reason="needs ../shared/data/gtzan-mini (and the labelled Debian music)")
def test_evaluate_few_shot_learning_curve(tmp_path):
    # --sample 5: about 150 of the 854 files, so a machine whose feature cache is cold (a new CI
    # machine, or a new CACHE_VERSION) hears them in about a minute, not ten.
    done = crate("evaluate", str(GTZAN), "--few-shot", "--seeds", "2", "--sample", "5", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr  # a family with fewer sampled tracks than folds is no news
    report = json.loads(done.stdout)
    labelled = int(report["summary"].split()[0])
    assert 0 < labelled <= 14 * 5 * 3  # at most 5 of each family from each of the three sources
    assert [r["k"] for r in report["families"]] == [1, 2, 3, 5]
    assert all(0 <= r["head_accuracy"] <= 1 for r in report["families"])
    assert report["custom_genre"][-1]["recall"] > 0  # the base model alone can never answer it
    # A genre taught on 3 tracks of one soundtrack finds more of that soundtrack than of unrelated music.
    sets = {r["set"]: r for r in report["soundtracks"]}
    assert {"nexuiz-music", "singularity-music"} <= set(sets)
    assert all(r["found"] > r["unrelated"] for r in sets.values())
    assert max(r["tracks"] for r in sets.values()) <= 10  # nexuiz: 5 labelled, 5 not


def test_evaluate_few_shot_refuses_an_empty_sample(tmp_path):
    done = crate("evaluate", str(tmp_path), "--few-shot", "--sample", "0", cwd=tmp_path)
    assert done.returncode != 0 and "--sample takes a number of tracks" in done.stderr
