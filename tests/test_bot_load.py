"""The mixed-load benchmark's quick mode runs and reports every figure (its speed is not judged here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_mixed_load_benchmark_quick_mode_reports_every_interaction():
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bot_load.py"), "--mixed", "--quick"],
        capture_output=True, text=True, timeout=900, cwd=ROOT,
    )  # fmt: skip
    out = done.stdout
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    counts = re.search(r"answered / busy / failed\s+(\d+) / (\d+) / (\d+)", out)
    assert counts, out
    answered, busy, failed = map(int, counts.groups())
    assert answered + busy + failed == 20 and failed == 0, out
    for figure in ("acknowledged within 3 s", "time to acknowledge", "time to final answer",
                   "event-loop lag p99", "peak RSS"):  # fmt: skip
        assert figure in out, out
    assert re.search(r"mix\s+genre 4, rating 5, recommend 4, profile 3, autocomplete 4", out), out
