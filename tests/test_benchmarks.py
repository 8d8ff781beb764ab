"""Every benchmark's quick mode runs and prints its figures, so the README's figures cannot rot.

Nothing here is timed: a quick run checks that the script still works against today's code and
says what it measures. The figures themselves come from full runs (see README, "Runtime figures").
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, script, *args], cwd=ROOT, capture_output=True, text=True, timeout=900)


def test_store_load_quick():
    done = run("benchmarks/store_load.py", "--quick")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "inserted 2,000 tracks in" in done.stdout
    assert "load_catalog: 2,000 tracks in" in done.stdout, done.stdout


def test_recommend_quick():
    done = run("benchmarks/recommend.py", "--quick")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if "tracks (" in line]
    assert len(lines) == 2, done.stdout
    assert lines[0].lstrip().startswith("2,000 tracks") and "whole request p50" in lines[0], lines[0]
    assert lines[1].lstrip().startswith("4,000 tracks") and "n/a (no SQLite)" in lines[1], lines[1]
    assert all("ranking p50" in line and "PCA variance kept" in line for line in lines)


def test_recommend_quick_on_postgresql(postgres_url):
    """The same figures on PostgreSQL (``--postgresql URL``) beside SQLite's, same catalog."""
    done = run("benchmarks/recommend.py", "--quick", "--postgresql", postgres_url)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if "tracks (" in line]
    starts = ["2,000 tracks (sqlite)", "2,000 tracks (postgresql)", "4,000 tracks (in-memory)"]
    assert [line.lstrip()[: len(start)] for line, start in zip(lines, starts)] == starts, done.stdout
    assert len(lines) == 3 and "whole request p50" in lines[1] and "n/a (no SQLite)" in lines[2]


def test_bot_load_quick():
    done = run("benchmarks/bot_load.py", "--quick")
    # Exit status 1 means a latency target was missed, which a loaded machine may do: that is a
    # figure, not a failure. Every request must still be answered or told busy.
    assert done.returncode in (0, 1), done.stdout + done.stderr
    assert "unexpected error" not in done.stderr, done.stderr  # what cogs.replies logs for a bug
    for figure in ("bot ready in", "event-loop lag", "wall time", "peak RSS, bot process"):
        assert figure in done.stdout, done.stdout
    assert "PASS  3/3 answered or told busy" in done.stdout, done.stdout


def test_analyze_quick():
    done = run("benchmarks/analyze.py", "--quick")
    assert done.returncode == 0, done.stdout + done.stderr
    figures = ("probe+decode", "musicnn taggers", "total: Listener.analyze", "load both taggers' weights", "target:")
    for figure in figures:
        assert figure in done.stdout, done.stdout


def test_queue_quick():
    """The queue benchmark's quick mode: the pool and one real `crate worker` on a real PostgreSQL."""
    done = run("benchmarks/analysis_queue.py", "--quick")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "in-process pool, 1 worker(s):" in done.stdout
    assert "PostgreSQL queue, 1 crate worker(s):" in done.stdout and "overhead per job" in done.stdout
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["pool"]["1"]["tracks_per_s"] > 0 and figures["queue"]["1"]["tracks_per_s"] > 0
    queue = figures["queue"]["1"]
    assert queue["overhead_p95_ms"] >= queue["overhead_p50_ms"] and queue["woken_p95_ms"] >= queue["woken_p50_ms"] >= 0


def test_relabel_quick():
    """One correction and a /forget in a big server: the figures of each, and the event loop's lag."""
    done = run("benchmarks/relabel.py", "--quick")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2,000 tracks in one server" in done.stdout
    lines = [line for line in done.stdout.splitlines() if "event loop held up at most" in line]
    assert len(lines) == 4 and lines[-1].startswith("relabel after /forget:"), done.stdout


def test_voice_quick():
    """benchmarks/voice.py: sessions' frames decoded by ffmpeg and opus-encoded at 50 a second."""
    done = run("benchmarks/voice.py", "--quick")
    assert done.returncode == 0, done.stdout + done.stderr
    one = next(line for line in done.stdout.splitlines() if line.startswith("one session:"))
    assert "100 frames in 2 s" in one and "% of a core" in one and "MB ffmpeg" in one, one
    assert "  2 sessions: 200 frames" in done.stdout, done.stdout
    assert "sustained with no late frame:" in done.stdout


def test_map_quick():
    """benchmarks/map.py: /map's placing and drawing at 10, 1,000 and 5,000 tracks (figures, not checks)."""
    done = run("benchmarks/map.py", "--quick")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if " tracks: " in line]
    assert [line.split(" tracks:")[0].strip() for line in lines] == ["10", "1,000", "5,000"], done.stdout
    assert all("drawn, render p50" in line and "placing" in line for line in lines)
    drawn = lines[2].split("tracks:")[1].split("drawn")[0].strip()
    assert drawn in ("3,000", "3,001"), lines[2]  # thinned past MAX_POINTS (the pinned track may be one more)
    assert "slowest render:" in done.stdout
