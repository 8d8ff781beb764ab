"""The test command runs the linters: ``ruff check``, ``ruff format --check`` and ``mypy`` over bot/, cogs/, benchmarks/ and tests/.

Their settings live in pyproject.toml ([tool.ruff], [tool.mypy]); a failure shows their output.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATHS = ["bot", "cogs", "benchmarks", "tests"]


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=900)


def test_ruff_check_passes():
    result = run("ruff", "check", "--no-cache", *PATHS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_applied():
    result = run("ruff", "format", "--check", "--no-cache", *PATHS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_passes():
    result = run("mypy", *PATHS)
    assert result.returncode == 0, result.stdout + result.stderr
