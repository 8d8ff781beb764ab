"""The start-up benchmark's quick mode runs, so the README's start-up figures cannot rot silently."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_startup_benchmark_quick_mode_reports_every_figure() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "startup.py"), "--quick"],
        capture_output=True, text=True, check=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["classify_s"] > 0 and figures["worker_ready_s"] > 0 and figures["replacement_ready_s"] > 0
    assert figures["bot"]["rss_mb"] > 0 and figures["worker"]["rss_mb"] > 0
    assert figures["bot_heavy_modules"] == []  # the bot process never imported the listening stack
    assert "worker ready" in done.stdout
