"""``crate doctor``: one line a check, ✓/⚠/✗ with what to do, exit 1 on any ✗, never a password
nor a traceback. The command runs as a real process (no Discord token, a bare PATH without the
virtual environment, a folder of its own as the working directory), against real SQLite files
and a real PostgreSQL server (tests/postgres_server.py)."""

from __future__ import annotations

import asyncio
import datetime
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.audio.jsruntime import deno_path, deno_version
from bot.cli import doctor

CRATE = str(Path(sys.executable).parent / "crate")
SECRET = "Sw0rdf1sh"
LINE = re.compile(r"^[✓⚠✗] [^:]+: .+$")


def crate_doctor(tmp_path: Path, *args: str, **settings: str) -> tuple[int, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PG", "CRATE_", "DISCORD_"))}
    env["PATH"] = "/usr/bin:/bin"  # no virtual environment on it: Deno is found by its package
    env.update(settings)
    done = subprocess.run([CRATE, "doctor", *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout + done.stderr


def lines_of(output: str) -> dict[str, str]:
    checks = [line for line in output.splitlines() if line[:1] in "✓⚠✗"]
    for line in checks:
        assert LINE.match(line), line
    return {line[2:].split(":", 1)[0]: line for line in checks}


def test_a_good_set_up_passes_and_names_the_javascript_runtime(tmp_path):
    database = tmp_path / "data" / "crate.sqlite3"
    database.parent.mkdir()
    code, output = crate_doctor(tmp_path, CRATE_DATABASE=str(database))

    assert code == 0, output
    assert "Traceback" not in output
    checks = lines_of(output)
    runtime = deno_version(deno_path())
    assert checks["JavaScript runtime for YouTube"].startswith(
        f"✓ JavaScript runtime for YouTube: deno {runtime.version}"
    )
    for name in ("Python", "ffmpeg", "ffprobe", "libopus", "davey", "YouTube challenge scripts", "models", "database"):
        assert checks[name].startswith("✓"), checks[name]
    assert checks["Discord token"].startswith("⚠") and "DISCORD_TOKEN" in checks["Discord token"]
    assert not [line for line in checks.values() if line.startswith("✗")]
    assert output.rstrip().endswith("Crate is ready.")
    # Nothing left behind: the database that does not exist yet was tried beside it, then removed.
    assert list(database.parent.iterdir()) == []

    code, output = crate_doctor(tmp_path, "--json", CRATE_DATABASE=str(database), DISCORD_TOKEN="x.y.z")
    report = json.loads(output)
    assert code == 0 and report["ok"] is True
    by_name = {check["name"]: check for check in report["checks"]}
    assert by_name["JavaScript runtime for YouTube"]["status"] == "ok"
    assert by_name["Discord token"]["status"] == "ok"
    assert "x.y.z" not in output


def test_an_existing_database_is_opened_and_written(tmp_path):
    database = tmp_path / "crate.sqlite3"
    code, output = crate_doctor(tmp_path, CRATE_DATABASE=str(database))
    assert code == 0 and not database.exists()
    from bot.store import open_database

    async def create() -> None:
        async with open_database(database):
            pass

    asyncio.run(create())
    code, output = crate_doctor(tmp_path, CRATE_DATABASE=str(database))
    assert code == 0, output
    assert lines_of(output)["database"] == f"✓ database: {database} (SQLite) opens and is writable"


@pytest.mark.parametrize("broken", ["missing folder", "a folder", "not a database"])
def test_a_broken_database_is_one_sentence_and_exit_1(tmp_path, broken):
    if broken == "missing folder":
        database = tmp_path / "no-such-folder" / "crate.sqlite3"
    elif broken == "a folder":
        database = tmp_path / "folder"
        database.mkdir()
    else:
        database = tmp_path / "crate.sqlite3"
        database.write_bytes(os.urandom(8192))
    code, output = crate_doctor(tmp_path, CRATE_DATABASE=str(database))

    assert code == 1, output
    assert "Traceback" not in output
    line = lines_of(output)["database"]
    assert line.startswith("✗ database: ") and line.endswith("."), line
    assert str(database) in line
    assert output.rstrip().endswith("1 check failed: see the ✗ lines above.")


def with_password(url: str) -> str:
    """The test server's URL with a password (the server trusts 127.0.0.1, so it is not checked)."""
    return url.replace("postgresql://crate@", f"postgresql://crate:{SECRET}@", 1)


def test_postgresql_and_its_queue_never_show_the_password(tmp_path, postgres_url):
    url = with_password(postgres_url)
    assert SECRET in url
    code, output = crate_doctor(tmp_path, CRATE_DATABASE_URL=url, CRATE_QUEUE="postgres")
    assert code == 0, output
    assert SECRET not in output
    checks = lines_of(output)
    assert checks["database"].startswith("✓ database: postgresql://crate@127.0.0.1:")
    assert "(PostgreSQL) opens and is writable" in checks["database"]
    assert checks["queue"].startswith("⚠ queue:") and "not created yet" in checks["queue"]
    assert "free disk" in checks  # the scratch files' disk still

    from bot.jobs.queue import make_app, prepare_database

    async def prepare() -> None:
        app = make_app(postgres_url)
        await app.open_async()
        try:
            await prepare_database(app)
        finally:
            await app.close_async()

    asyncio.run(prepare())
    code, output = crate_doctor(tmp_path, "--json", CRATE_DATABASE_URL=url, CRATE_QUEUE="postgres")
    assert code == 0 and SECRET not in output
    queue = {check["name"]: check for check in json.loads(output)["checks"]}["queue"]
    assert queue["status"] == "ok" and "procrastinate's tables ready" in queue["detail"]


def test_an_unreachable_postgresql_fails_without_the_password(tmp_path):
    url = f"postgresql://crate:{SECRET}@127.0.0.1:9/crate"
    code, output = crate_doctor(tmp_path, CRATE_DATABASE_URL=url, CRATE_QUEUE="postgres")
    assert code == 1, output
    assert SECRET not in output and "Traceback" not in output
    checks = lines_of(output)
    assert checks["database"].startswith(
        "✗ database: Crate could not open its database at postgresql://crate@127.0.0.1:9/crate"
    )
    # one connection tried, its refusal on the queue's line: not the connection pool's retries, each logged
    assert checks["queue"].startswith("✗ queue: the queue's database postgresql://crate@127.0.0.1:9/crate cannot be")
    assert "Connection refused" in checks["queue"] and "psycopg" not in output


TODAY = datetime.date(2026, 12, 7)


@pytest.mark.parametrize(
    ("version", "status", "words"),
    [
        ("2026.11.23", doctor.OK, "14 days old"),
        ("2026.07.04", doctor.WARN, "156 days old"),
        ("2026.10.08.232045", doctor.OK, "60 days old"),  # a nightly build's version
        ("2026.06.09", doctor.FAIL, "older than 2026.07.04"),
        ("2024.08.06", doctor.FAIL, "security"),
        ("unknown", doctor.WARN, "age is unknown"),
    ],
)
def test_yt_dlp_age(version, status, words):
    check = doctor.check_ytdlp(version, today=TODAY)
    assert check.status == status and words in check.detail, check
    if status != doctor.OK:
        assert "pip install -U 'yt-dlp[default]'" in check.detail


def test_an_old_yt_dlp_fails_the_doctor(monkeypatch, tmp_path):
    import yt_dlp.version

    monkeypatch.setattr(yt_dlp.version, "__version__", "2026.06.09")
    monkeypatch.chdir(tmp_path)
    for name in [name for name in os.environ if name.startswith(("CRATE_", "DISCORD_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CRATE_DATABASE", str(tmp_path / "crate.sqlite3"))
    out = io.StringIO()

    assert doctor.run(out=out) == 1
    checks = lines_of(out.getvalue())
    assert checks["yt-dlp"].startswith("✗ yt-dlp: 2026.06.09 is older than 2026.07.04")
    assert [line for line in checks.values() if line.startswith("✗")] == [checks["yt-dlp"]]


def test_no_deno_is_a_failure_with_what_to_do(monkeypatch):
    import bot.audio.jsruntime

    monkeypatch.setattr(bot.audio.jsruntime, "deno_path", lambda: None)
    check = doctor.check_js_runtime()
    assert check.status == doctor.FAIL and "pip install deno" in check.detail


def test_doctor_is_a_subcommand_in_crate_help():
    done = subprocess.run([CRATE, "--help"], capture_output=True, text=True, timeout=60)
    assert "doctor" in done.stdout
