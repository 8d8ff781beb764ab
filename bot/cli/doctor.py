"""``crate doctor``: is this machine ready to run Crate? One line a check, and what to do.

Each check says ✓ (ready), ⚠ (works, but look at it) or ✗ (something Crate needs is missing or
broken, and what to do about it). ``crate doctor`` exits 1 when any check fails, 0 otherwise, so
set-up and the Docker build can run it. It needs no Discord token, and never prints a database
password (targets are shown with :func:`bot.database_url.shown`, and every line is scrubbed of
the password as well). Checks run in this process; none of them changes anything: a SQLite file
that does not exist yet is tried as a scratch file beside it, then removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bot import database_url as dburl
from bot.errors import CrateError

OK, WARN, FAIL = "ok", "warn", "fail"
SYMBOLS = {OK: "✓", WARN: "⚠", FAIL: "✗"}

MIN_PYTHON = (3, 11)
#: The oldest yt-dlp Crate accepts: the fixes through CVE-2026-55404 (pyproject.toml's floor).
YTDLP_FLOOR = datetime.date(2026, 7, 4)
#: Sites change weekly: a yt-dlp older than this many days is worth upgrading.
YTDLP_STALE_DAYS = 60
#: Free space under which the database's and the scratch files' disks are flagged.
LOW_DISK_BYTES = 1_000_000_000
#: Seconds a database or queue server gets to answer.
CONNECT_TIMEOUT = 15.0

UPGRADE_YTDLP = "pip install -U 'yt-dlp[default]'"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # OK, WARN or FAIL
    detail: str  # what was found, and what to do when it is not OK

    def line(self) -> str:
        return f"{SYMBOLS[self.status]} {self.name}: {self.detail}"


def run(*, as_json: bool = False, out=None) -> int:
    """Run every check, print them, and return the exit status (1 when any failed)."""
    out = out or sys.stdout
    checks = []
    for check in checks_of_this_machine():
        checks.append(check)
        if not as_json:
            print(check.line(), file=out, flush=True)
    failed = [check for check in checks if check.status == FAIL]
    if as_json:
        print(json.dumps({"ok": not failed, "checks": [asdict(check) for check in checks]}), file=out)
    elif failed:
        print(f"{len(failed)} check{'s' if len(failed) > 1 else ''} failed: see the ✗ lines above.", file=out)
    else:
        print("Crate is ready.", file=out)
    return 1 if failed else 0


def checks_of_this_machine() -> Iterable[Check]:
    """Every check in order; a check that breaks unexpectedly is a ✗ line, never a traceback."""
    from bot.config import Settings

    settings = None
    try:
        settings = Settings.from_env()
    except CrateError as error:
        yield Check("settings", FAIL, error.user_message)
    secrets = _secrets(settings.database_url if settings else None)
    plain: list[tuple[str, Callable[[], Check]]] = [
        ("Python", check_python),
        ("ffmpeg", lambda: check_program("ffmpeg", "plays tracks in voice")),
        ("ffprobe", lambda: check_program("ffprobe", "reads files PyAV cannot")),
        ("libopus", check_opus),
        ("davey", check_davey),
        ("JavaScript runtime for YouTube", check_js_runtime),
        ("YouTube challenge scripts", check_ejs),
        ("yt-dlp", check_ytdlp),
        ("Discord token", lambda: check_token(settings)),
        ("models", lambda: check_models(settings)),
    ]
    if settings is not None:
        plain += [
            ("database", lambda: check_database(settings)),
            ("queue", lambda: check_queue(settings)),
            ("free disk", lambda: check_disk(settings)),
        ]
    for name, check in plain:
        yield _scrubbed(_guarded(name, check), secrets)


def _guarded(name: str, check: Callable[[], Check]) -> Check:
    try:
        return check()
    except CrateError as error:
        return Check(name, FAIL, error.user_message)
    except Exception as error:
        first = (str(error).strip().splitlines() or [""])[0]
        return Check(name, FAIL, f"the check itself failed ({type(error).__name__}{': ' + first if first else ''}).")


def _secrets(url: str | None) -> list[str]:
    if not url:
        return []
    with contextlib.suppress(Exception):
        password = dburl.parse(url).get("password")
        return [secret for secret in {password, url} if secret]
    return [url]


def _scrubbed(check: Check, secrets: list[str]) -> Check:
    detail = check.detail
    for secret in sorted(secrets, key=len, reverse=True):
        detail = detail.replace(secret, "***")
    return Check(check.name, check.status, detail)


# --- the checks ------------------------------------------------------------------------------


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info[:2] < MIN_PYTHON:  # an interpreter pip was talked past requires-python with
        return Check("Python", FAIL, f"{version}; Crate needs Python 3.11 or newer.")
    return Check("Python", OK, f"{version} ({sys.executable})")


def check_program(name: str, purpose: str) -> Check:
    path = shutil.which(name)
    if path is None:
        return Check(name, FAIL, f"not found on PATH; Crate {purpose}: install it (apt install ffmpeg).")
    done = subprocess.run([path, "-version"], capture_output=True, text=True, timeout=30, check=False)
    found = re.match(rf"{name} version (\S+)", done.stdout)
    if done.returncode or not found:
        return Check(name, FAIL, f"{path} -version did not answer (exit {done.returncode}); reinstall ffmpeg.")
    return Check(name, OK, f"{found.group(1)} ({path})")


def check_opus() -> Check:
    from discord import opus

    if not (opus.is_loaded() or opus._load_default()):
        return Check("libopus", FAIL, "cannot be loaded; voice needs it: install libopus0 (apt install libopus0).")
    return Check("libopus", OK, f"{opus.Encoder.get_opus_version()} (voice)")


def check_davey() -> Check:
    try:
        import davey  # type: ignore[import-not-found]  # the DAVE library, imported so by discord.py
    except ImportError:
        return Check(
            "davey",
            FAIL,
            "not installed; Discord's encrypted voice (DAVE) needs it: pip install 'discord.py[voice]>=2.7.1'.",
        )
    return Check("davey", OK, f"{getattr(davey, '__version__', '?')} (Discord's end-to-end encrypted voice, DAVE)")


def check_js_runtime() -> Check:
    from bot.audio.jsruntime import MIN_DENO, deno_path, deno_version

    name = "JavaScript runtime for YouTube"
    path = deno_path()
    if path is None:
        return Check(name, FAIL, "no deno; YouTube links need it: pip install deno (a dependency of Crate).")
    try:
        runtime = deno_version(path)
    except (OSError, ValueError) as error:
        return Check(name, FAIL, f"{error}; reinstall it: pip install --force-reinstall deno.")
    if not runtime.supported:
        least = ".".join(map(str, MIN_DENO))
        return Check(name, FAIL, f"deno {runtime.version} is older than yt-dlp needs ({least}): pip install -U deno.")
    return Check(name, OK, f"deno {runtime.version} ({path}), no network or file access of its own")


def check_ejs() -> Check:
    name = "YouTube challenge scripts"
    try:
        import yt_dlp_ejs  # type: ignore[import-not-found]
    except ImportError:
        return Check(name, FAIL, f"yt-dlp-ejs is not installed; YouTube links need it: {UPGRADE_YTDLP}.")
    version = str(yt_dlp_ejs.version)
    try:
        from yt_dlp.extractor.youtube.jsc._builtin.vendor import VERSION as wanted
    except ImportError:  # a yt-dlp that no longer says: it checks the version itself
        return Check(name, OK, f"yt-dlp-ejs {version}")
    if version.split(".")[:2] != str(wanted).split(".")[:2]:
        return Check(name, FAIL, f"yt-dlp-ejs {version}, but this yt-dlp needs {wanted}: {UPGRADE_YTDLP}.")
    return Check(name, OK, f"yt-dlp-ejs {version}")


def check_ytdlp(version: str | None = None, today: datetime.date | None = None) -> Check:
    """yt-dlp's version and age, from the date its version is (``2026.11.23``, ``2026.07.04.1``)."""
    if version is None:
        from yt_dlp import version as ytdlp_version

        version = str(ytdlp_version.__version__)
    today = today or datetime.date.today()
    found = re.match(r"(\d{4})\.(\d{1,2})\.(\d{1,2})", version)
    if not found:
        return Check("yt-dlp", WARN, f"{version}: not a dated release, so its age is unknown; {UPGRADE_YTDLP}.")
    released = datetime.date(*map(int, found.groups()))
    age = (today - released).days
    if released < YTDLP_FLOOR:
        return Check(
            "yt-dlp",
            FAIL,
            f"{version} is older than {YTDLP_FLOOR:%Y.%m.%d}, which fixes known security flaws: {UPGRADE_YTDLP}.",
        )
    if age > YTDLP_STALE_DAYS:
        return Check(
            "yt-dlp", WARN, f"{version} is {age} days old; sites change often, links may fail: {UPGRADE_YTDLP}."
        )
    return Check("yt-dlp", OK, f"{version} ({age} day{'' if age == 1 else 's'} old)")


def check_token(settings: Any) -> Check:
    if settings is None or not settings.discord_token:
        return Check(
            "Discord token", WARN, "none: crate run needs DISCORD_TOKEN (in .env or the environment); the rest works."
        )
    return Check("Discord token", OK, "set (crate run checks it with Discord)")


def check_models(settings: Any) -> Check:
    from bot.listen.analyze import Listener

    model = settings.genre_model_path if settings is not None else None
    started = time.monotonic()
    Listener.load(model)
    answer = f"the genre model at {model}" if model else "the family model"
    return Check("models", OK, f"{answer} and both taggers (MSD, MTT) load ({time.monotonic() - started:.2f} s)")


def check_database(settings: Any) -> Check:
    target = settings.database_target
    if dburl.is_database_url(target):
        _open_and_close(target, "check CRATE_DATABASE_URL and that the server is running")
        return Check("database", OK, f"{dburl.shown(target)} (PostgreSQL) opens and is writable")
    path = Path(target)
    if path.is_dir():
        return Check("database", FAIL, f"{path} is a folder; point CRATE_DATABASE at a file (it may not exist yet).")
    if path.exists():
        _open_and_close(path, "restore a backup, or point CRATE_DATABASE at another file")
        return Check("database", OK, f"{path} (SQLite) opens and is writable")
    folder = path.parent
    if not folder.is_dir():
        return Check(
            "database",
            FAIL,
            f"{path}: its folder {folder} does not exist; create it or point CRATE_DATABASE elsewhere.",
        )
    try:
        with tempfile.TemporaryDirectory(prefix=".crate-doctor-", dir=folder) as scratch:
            _open_and_close(Path(scratch) / path.name, "point CRATE_DATABASE at a folder Crate may write to")
    except OSError as error:
        return Check(
            "database",
            FAIL,
            f"cannot create {path} ({error.strerror}); point CRATE_DATABASE at a folder Crate may write to.",
        )
    return Check(
        "database", OK, f"{path} (SQLite) does not exist yet; crate run creates it there (tried in its folder)"
    )


def _open_and_close(target: str | Path, what_to_do: str) -> None:
    """Open (and migrate, as ``crate run`` would) the database and close it; a refusal is one sentence."""
    from bot.store import connect_database

    async def open_and_close() -> None:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            db = await connect_database(target)
        await db.close()

    try:
        asyncio.run(open_and_close())
    except TimeoutError as error:
        shown = dburl.shown(target)
        raise CrateError(f"{shown} gave no answer within {CONNECT_TIMEOUT:g} s; {what_to_do}.") from error
    except CrateError as error:
        message = " ".join(error.user_message.split())
        raise CrateError(message if message.endswith(".") else f"{message}; {what_to_do}.") from error


def check_queue(settings: Any) -> Check:
    if settings.queue != "postgres":
        return Check("queue", OK, "analysis runs in this process's own workers (CRATE_QUEUE=pool)")
    url = settings.database_url
    tables = asyncio.run(_queue_tables(url))
    shown = dburl.shown(url)
    if not tables:
        return Check(
            "queue",
            WARN,
            f"{shown} reachable, procrastinate's tables not created yet: crate run or crate worker creates them",
        )
    return Check("queue", OK, f"procrastinate's tables ready on {shown} (CRATE_QUEUE=postgres)")


async def _queue_tables(url: str) -> bool:
    from bot.jobs.queue import make_app, unreachable

    reason = await unreachable(url)
    if reason is not None:
        raise CrateError(f"the queue's database {dburl.shown(url)} cannot be reached: {reason}")
    app = make_app(url)
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            await app.open_async()
            rows = await app.connector.execute_query_all_async("SELECT to_regclass('procrastinate_jobs') AS t")
    except (OSError, TimeoutError) as error:
        raise CrateError(f"the queue's database {dburl.shown(url)} did not answer ({type(error).__name__}).") from error
    except Exception as error:  # psycopg's and procrastinate's errors
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise CrateError(f"the queue's database {dburl.shown(url)} cannot be used: {reason}") from error
    finally:
        with contextlib.suppress(Exception):
            await app.close_async()
    return rows[0]["t"] is not None


def check_disk(settings: Any) -> Check:
    places: list[tuple[str, Path]] = []
    if not dburl.is_database_url(settings.database_target):
        places.append(("database", Path(settings.database_path).resolve().parent))
    places.append(("scratch files", Path(tempfile.gettempdir())))
    seen: dict[int, tuple[str, Path, int]] = {}
    for role, folder in places:
        existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("/"))
        device = os.stat(existing).st_dev
        if device in seen:
            role_before, folder_before, free = seen[device]
            seen[device] = (f"{role_before} and {role}", folder_before, free)
            continue
        seen[device] = (role, existing, shutil.disk_usage(existing).free)
    parts = [f"{free / 1e9:.1f} GB in {folder} ({role})" for role, folder, free in seen.values()]
    low = [(role, folder) for role, folder, free in seen.values() if free < LOW_DISK_BYTES]
    if low:
        where = ", ".join(f"{folder} ({role})" for role, folder in low)
        return Check("free disk", WARN, f"{'; '.join(parts)}: under 1 GB in {where}; free some space.")
    return Check("free disk", OK, "; ".join(parts))
