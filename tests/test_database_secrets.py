"""No database password reaches a terminal or a log (issue 24, point 1).

``crate run``, ``crate worker``, ``crate migrate-db`` and ``crate doctor`` run as real processes over every form a
reviewer wrote the URL in (an unencoded ``#`` or ``?`` in the password, ``?password=``, several
hosts, a port that is not a number, an IPv6 host, an ``@`` or ``/`` misplaced) and with the
password given by ``PGPASSWORD`` or a ``.pgpass`` file, against a real PostgreSQL server (which
trusts 127.0.0.1, so a password it is given changes nothing) or against closed ports. Each form
either works or is refused in one line, never with a traceback, and the password appears in
none of stdout, stderr and the log lines (which go to stderr). ``crate doctor`` says, on its
database line, that it opened the database or why not, without the password either.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.store import open_database

ROOT = Path(__file__).resolve().parents[1]
CRATE = str(Path(sys.executable).parent / "crate")
SECRET = "Sw0rdf1sh"

#: name -> (URL with {port} and {db}, extra environment, what Crate does with it)
FORMS: dict[str, tuple[str, dict[str, str], str]] = {
    "hash": (f"postgresql://crate:{SECRET}#x@127.0.0.1:{{port}}/{{db}}", {}, "works"),
    "question": (f"postgresql://crate:{SECRET}?x@127.0.0.1:{{port}}/{{db}}", {}, "works"),
    "query": (f"postgresql://crate@127.0.0.1:{{port}}/{{db}}?password={SECRET}", {}, "works"),
    "multi-host": (f"postgresql://crate:{SECRET}@127.0.0.1:9,127.0.0.1:{{port}}/{{db}}", {}, "works"),
    "encoded": (f"postgresql://crate:{SECRET}%23%40@127.0.0.1:{{port}}/{{db}}", {}, "works"),
    "PGPASSWORD": ("postgresql://crate@127.0.0.1:{port}/{db}", {"PGPASSWORD": SECRET}, "works"),
    "pgpass": ("postgresql://crate@127.0.0.1:{port}/{db}", {"PGPASSFILE": "{pgpass}"}, "works"),
    "port-word": (f"postgresql://crate:{SECRET}@127.0.0.1:abc/{{db}}", {}, "refused"),
    "slash": (f"postgresql://crate:{SECRET}/x@127.0.0.1:{{port}}/{{db}}", {}, "refused"),
    "at": (f"postgresql://crate:{SECRET}@x@127.0.0.1:{{port}}/{{db}}", {}, "refused"),
    "ipv6-closed": (f"postgresql://crate:{SECRET}@[::1]:9/{{db}}", {}, "refused"),
    "hash-closed": (f"postgresql://crate:{SECRET}#x@127.0.0.1:9/{{db}}", {}, "refused"),
    "query-closed": (f"postgresql://crate@127.0.0.1:9/{{db}}?password={SECRET}", {}, "refused"),
}


def environment(url: str, extra: dict[str, str]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PG", "CRATE_"))}
    return {
        **env,
        **extra,
        "CRATE_DATABASE_URL": url,
        "CRATE_QUEUE": "postgres",
        "CRATE_WORKERS": "1",
        "DISCORD_TOKEN": "crate.test.token",
        # never Discord itself: `crate run` ends on this closed port once its database is open
        "DISCORD_API_BASE": "http://127.0.0.1:9/api/v10",
        "DISCORD_GATEWAY_URL": "ws://127.0.0.1:9/gateway",
    }


def run(command: list[str], env: dict[str, str]) -> tuple[int, str, float]:
    started = time.monotonic()
    done = subprocess.run([CRATE, *command], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def run_worker(env: dict[str, str]) -> tuple[int, str, float]:
    """``crate worker`` until it is ready (then SIGTERM) or it ends by itself."""
    started = time.monotonic()
    worker = subprocess.Popen(
        [CRATE, "worker"], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines = []
    assert worker.stdout is not None
    for line in worker.stdout:
        lines.append(line)
        if "crate worker ready" in line:
            worker.send_signal(signal.SIGTERM)
    code = worker.wait(timeout=60)
    return code, "".join(lines), time.monotonic() - started


def refusals(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("crate: ")]


@pytest.fixture(scope="module")
def empty_sqlite(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("source") / "crate.sqlite3"

    async def make() -> None:
        async with open_database(path):
            pass

    asyncio.run(make())
    return path


@pytest.mark.parametrize("form", FORMS)
def test_no_command_shows_the_password(form, postgres_server, empty_sqlite, tmp_path):
    template, extra, expected = FORMS[form]
    url = postgres_server.create_database("secrets")
    try:
        pgpass = tmp_path / ".pgpass"
        pgpass.write_text(f"*:*:*:*:{SECRET}\n")
        pgpass.chmod(0o600)
        target = template.format(port=postgres_server.port, db=url.rsplit("/", 1)[1])
        env = environment(target, {key: value.format(pgpass=pgpass) for key, value in extra.items()})

        migrated = run(["migrate-db", "--from", str(empty_sqlite), "--to", target], env)
        ran = run(["run"], env)
        worked = run_worker(env)
        doctored = run(["doctor"], env)
    finally:
        postgres_server.drop_database(url)

    every = {"migrate-db": migrated, "run": ran, "worker": worked, "doctor": doctored}
    for name, (_code, output, _seconds) in every.items():
        assert SECRET not in output, f"crate {name} showed the password:\n{output}"
        assert "Traceback" not in output, f"crate {name}:\n{output}"
    if expected == "works":
        assert migrated[0] == 0 and "Copied 0 rows" in migrated[1], migrated[1]
        # the database opened; what stops `crate run` is the closed Discord port, in one line
        assert ran[0] == 2 and refusals(ran[1]) == [r for r in refusals(ran[1]) if "reach Discord" in r], ran[1]
        assert len(refusals(ran[1])) == 1, ran[1]
        assert worked[0] == 0 and "crate worker ready" in worked[1], worked[1]
        assert any(line.startswith("✓ database") for line in doctored[1].splitlines()), doctored[1]
    else:
        said = [line for line in doctored[1].splitlines() if line.startswith(("✗ database", "✗ settings"))]
        assert doctored[0] == 1 and len(said) == 1, doctored[1]  # the one line says why
        assert "psycopg.pool" not in doctored[1]  # one connection tried, not the pool's logged retries
        for name, (code, output, seconds) in {"migrate-db": migrated, "run": ran, "worker": worked}.items():
            assert code == 2 and len(refusals(output)) == 1, f"crate {name}:\n{output}"
            assert seconds < 10, f"crate {name} took {seconds:.1f} s to refuse"
