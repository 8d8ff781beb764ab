"""The bot process stays light: it never imports the listening stack; and the listening stack
itself (workers, ``crate classify``, ``crate demo``) needs librosa but not scikit-learn.

Each check runs in a fresh interpreter (this test process has imported everything already):
importing the bot's run path and every cog, and unpickling an analysis result as the pool does,
must leave librosa, numba, scipy.signal and scikit-learn out of ``sys.modules``; analyzing real
music in a worker or with ``crate classify`` imports librosa (with numba and scipy.signal) and
still leaves scikit-learn and skops out.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.analysis import MTT_TAGS, TAGS, Analysis, ranked
from bot.jobs.analysis import AnalyzedFile

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("librosa", "numba", "scipy.signal", "sklearn", "skops")
#: Only the analysis workers decode audio: PyAV (and the FFmpeg libraries it loads) stays out of
#: the bot process, which imports bot.audio.decode for the voice playback options only.
DECODER = ("av",)

_PROBE = """
import importlib, json, pickle, pkgutil, sys
import bot.cli, bot.app.crate, cogs.client
import cogs
for module in pkgutil.iter_modules(cogs.__path__):
    importlib.import_module("cogs." + module.name)
result = pickle.loads(sys.stdin.buffer.read())
assert result.analysis.tags[0][0], result
print(json.dumps({"heavy": [m for m in %r if m in sys.modules], "listen": sorted(m for m in sys.modules if m.startswith("bot.listen")), "jobs": sorted(m for m in sys.modules if m.startswith("bot.jobs")), "audio": sorted(m for m in sys.modules if m.startswith("bot.audio"))}))
"""


def _analysis() -> AnalyzedFile:
    rng = np.random.default_rng(0)
    probs, mtt = rng.random(50).astype(np.float32), rng.random(50).astype(np.float32)
    analysis = Analysis(
        duration=30.0, genres=(("rock", 0.6), ("pop", 0.4)), tags=ranked(TAGS, probs),
        embedding=rng.random(200).astype(np.float32), tag_probs=probs, tempo=120.0, excerpt_starts=(0.0,),
        mtt_tags=ranked(MTT_TAGS, mtt), mtt_embedding=rng.random(200).astype(np.float32), mtt_tag_probs=mtt,
    )  # fmt: skip
    return AnalyzedFile(analysis=analysis, content_hash="0" * 64)


def test_bot_run_path_and_cogs_do_not_import_the_listening_stack() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE % (HEAVY + DECODER,)],
        input=pickle.dumps(_analysis()), capture_output=True, cwd=ROOT, check=True, timeout=120,
    )  # fmt: skip
    found = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert found["heavy"] == []
    assert "bot.audio.decode" in found["audio"]  # imported, yet PyAV is not (checked just above)
    # The pool's client side is in the bot; the analysis code is not.
    assert "bot.jobs.analysis" in found["jobs"]
    assert "bot.listen.analyze" not in found["listen"] and "bot.listen.features" not in found["listen"]


_ANALYSIS_PROBE = """
import contextlib, io, json, sys
import bot.listen.preload  # what the fork server imports for every worker
from bot.cli import main
from bot.config import AudioLimits
from bot.jobs import analysis as worker
worker.initialize(None)
result = worker.analyze_file(sys.argv[1], AudioLimits())
assert result.analysis.genres, result
with contextlib.redirect_stdout(io.StringIO()) as out:
    assert main(["classify", "--json", sys.argv[1]]) == 0
assert json.loads(out.getvalue())["genres"]
assert "av" in sys.modules  # the worker decoded in-process
print(json.dumps([m for m in %r if m in sys.modules]))
"""


def test_analysis_imports_librosa_but_not_scikit_learn() -> None:
    """A worker's start and job, and `crate classify`, import librosa for the handcrafted features
    and the tempo (numba and scipy.signal with it), but not scikit-learn or skops (the demo's
    analyses run in such a worker); they decode with PyAV."""
    example = ROOT / "examples" / "singularity-awakening.ogg"
    done = subprocess.run(
        [sys.executable, "-c", _ANALYSIS_PROBE % ((*HEAVY, "scipy"),), str(example)],
        capture_output=True, cwd=ROOT, check=True, timeout=300,
    )  # fmt: skip
    assert json.loads(done.stdout.decode().strip().splitlines()[-1]) == ["librosa", "numba", "scipy.signal", "scipy"]


def test_tag_names_come_from_the_packaged_json() -> None:
    for folder, names in (("musicnn-msd", TAGS), ("musicnn-mtt", MTT_TAGS)):
        assert json.loads((ROOT / "bot" / "assets" / folder / "tags.json").read_text()) == list(names)
        assert len(names) == 50


_EARLY = """
import multiprocessing.forkserver as fs, os, sys, time
from bot.config import Settings
from bot.jobs.analysis import start_workers_early
start_workers_early(Settings.from_env())
server = fs._forkserver._forkserver_pid
print(server)
if server is not None:  # the server imports the listening stack meanwhile; this process is free
    deadline = time.monotonic() + 60
    while 'bot.listen.preload' not in open(f'/proc/{server}/cmdline').read() and time.monotonic() < deadline:
        time.sleep(0.05)
    print(open(f'/proc/{server}/cmdline').read().replace(chr(0), ' '))
"""


@pytest.mark.parametrize(("queue", "starts"), [("pool", True), ("postgres", False)])
def test_a_front_end_starts_the_workers_fork_server_before_its_own_imports(queue, starts):
    """``crate demo``, ``console`` and ``run`` start the fork server first (it preloads the listening
    stack on the other core while they import discord.py and the rest); not when the workers are
    elsewhere (the PostgreSQL queue)."""
    env = {**os.environ, "CRATE_QUEUE": queue, "CRATE_DATABASE_URL": "postgresql://crate@127.0.0.1:1/crate"}
    out = subprocess.run(
        [sys.executable, "-c", _EARLY], env=env, capture_output=True, text=True, timeout=120, check=True
    ).stdout.splitlines()
    assert (out[0] != "None") is starts
    if starts:
        assert "bot.listen.preload" in out[1]  # what every analysis worker is forked from
