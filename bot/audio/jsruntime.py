"""The JavaScript runtime yt-dlp solves YouTube's challenges in: Deno, from the PyPI package ``deno``.

Since 2025.11 yt-dlp needs a JavaScript runtime and the ``yt-dlp-ejs`` scripts to read YouTube.
Both are Crate's dependencies (``deno``, ``yt-dlp[default]``), and Crate hands yt-dlp the path of
the binary the ``deno`` package installed (:func:`js_runtimes`), so it is found without the
virtual environment on ``PATH``: in Docker, under systemd, from a cron job.

The runtime gets no access of its own: yt-dlp runs it as ``deno run --no-prompt --no-remote
--no-npm --cached-only …`` with no ``--allow-*`` flag, so the script it solves can neither open a
connection nor read, write or run anything; every request still goes through yt-dlp's request
handler, which Crate guards (``bot.audio.fetch``). ``tests/test_jsruntime.py`` runs Deno exactly
as yt-dlp does and checks it.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass

#: yt-dlp's own minimum for Deno (``yt_dlp.utils._jsruntime.DenoJsRuntime.MIN_SUPPORTED_VERSION``).
MIN_DENO = (2, 3, 0)


def deno_path() -> str | None:
    """The ``deno`` binary the PyPI package installed beside this Python, or None without it."""
    try:
        from deno import find_deno_bin
    except ImportError:
        return None
    try:
        return os.fsdecode(find_deno_bin())
    except FileNotFoundError:
        return None


def js_runtimes() -> dict[str, dict[str, str]]:
    """yt-dlp's ``js_runtimes`` parameter: Deno at :func:`deno_path` (yt-dlp's own search without it)."""
    path = deno_path()
    return {"deno": {"path": path} if path else {}}


@dataclass(frozen=True)
class RuntimeVersion:
    path: str
    version: str  # "2.9.8"
    version_tuple: tuple[int, ...]

    @property
    def supported(self) -> bool:
        return self.version_tuple >= MIN_DENO


def deno_version(path: str, *, timeout: float = 20.0) -> RuntimeVersion:
    """``deno --version`` of the binary at ``path``; raises OSError or ValueError when it does not answer as Deno."""
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as error:
        raise OSError(f"{path} --version gave no answer within {timeout:g} s") from error
    found = re.match(r"deno (\d+(?:\.\d+)*)", done.stdout)
    if done.returncode or not found:
        raise ValueError(f"{path} --version did not answer as Deno (exit {done.returncode})")
    version = found.group(1)
    return RuntimeVersion(path, version, tuple(int(part) for part in version.split(".")))
