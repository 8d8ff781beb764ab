"""A database Crate can't use is refused at start (issue 11, section 3).

Real parts: real SQLite files made unusable the ways they are in the wild — an immutable file
(``chattr +i``), a file opened read-only (SQLite's ``immutable=1`` URI, the read-only-mount
case), a file with damaged pages — and the real ``crate run`` process.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.store import StoreError, connect_database, open_database

ROOT = Path(__file__).resolve().parents[1]


async def make_database(path: Path) -> Path:
    async with open_database(path):
        pass
    with sqlite3.connect(path) as raw:  # some pages of data beyond the schema
        raw.execute("CREATE TABLE filler (id INTEGER PRIMARY KEY, data BLOB)")
        raw.executemany("INSERT INTO filler (data) VALUES (?)", [(os.urandom(1500),) for _ in range(300)])
        raw.execute("CREATE INDEX filler_data ON filler (data)")
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def immutable(tmp_path):
    """A path whose file ``chattr +i`` made immutable (even root cannot write it); undone after."""
    made: list[Path] = []

    def make(path: Path) -> Path:
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
        if done.returncode != 0:
            pytest.skip(f"chattr +i is not possible here: {done.stderr.decode().strip()}")
        made.append(path)
        return path

    yield make
    for path in made:
        subprocess.run(["chattr", "-i", str(path)], check=False)


async def test_an_immutable_database_is_refused_at_start(tmp_path, immutable):
    path = immutable(await make_database(tmp_path / "crate.sqlite3"))
    with pytest.raises(StoreError, match="cannot write to its database") as refused:
        await connect_database(path)
    assert "\n" not in refused.value.user_message


async def test_a_read_only_database_is_refused_at_start(tmp_path):
    path = await make_database(tmp_path / "crate.sqlite3")
    # What a read-only mount gives SQLite: a file it can read but never write.
    with pytest.raises(StoreError, match="cannot write to its database"):
        await connect_database(f"file:{path}?immutable=1")


async def test_a_partly_corrupt_database_is_refused_at_start(tmp_path):
    path = await make_database(tmp_path / "crate.sqlite3")
    with sqlite3.connect(path) as raw:
        page_size = raw.execute("PRAGMA page_size").fetchone()[0]
        pages = raw.execute("PRAGMA page_count").fetchone()[0]
    assert pages > 40
    with open(path, "r+b") as file:  # the header and schema stay readable; data pages are garbage
        file.seek(page_size * (pages // 2))
        file.write(os.urandom(page_size * 4))
    with pytest.raises(StoreError, match="damaged|malformed") as refused:
        await connect_database(path)
    assert "\n" not in refused.value.user_message


async def test_a_healthy_database_still_opens(tmp_path):
    path = await make_database(tmp_path / "crate.sqlite3")
    async with open_database(path) as db:
        assert await db.fetch_value("SELECT count(*) FROM filler") == 300


def crate_run(database: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "CRATE_DATABASE": str(database),
        "DISCORD_TOKEN": "crate.test.token",
        # Never Discord itself: if the check let the bot through, it would fail on a closed port.
        "DISCORD_API_BASE": "http://127.0.0.1:9/api/v10",
        "DISCORD_GATEWAY_URL": "ws://127.0.0.1:9/gateway",
        "CRATE_WORKERS": "1",
    }
    crate = shutil.which("crate", path=str(Path(sys.executable).parent)) or "crate"
    return subprocess.run([crate, "run"], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.mark.parametrize("damage", ["immutable", "corrupt"])
async def test_crate_run_refuses_an_unusable_database_in_one_line(tmp_path, immutable, damage):
    path = await make_database(tmp_path / "crate.sqlite3")
    if damage == "immutable":
        immutable(path)
    else:
        with open(path, "r+b") as file:
            file.seek(4096 * 20)
            file.write(os.urandom(4096 * 8))
    done = crate_run(path)
    assert done.returncode != 0
    refusals = [line for line in done.stderr.splitlines() if line.startswith("crate: ")]
    assert len(refusals) == 1, done.stderr
    assert str(path) in refusals[0]
    assert "Traceback" not in done.stderr


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections and never answers (a firewall's black hole, a hung server)."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield server.getsockname()[1]
    server.close()


@pytest.mark.parametrize("bad", ["closed port", "silent server", "no such database", "unknown host", "no URL"])
def test_crate_worker_refuses_a_bad_database_in_one_line_within_ten_seconds(bad, silent_server, postgres_server):
    import time

    url = {
        "closed port": "postgresql://crate@127.0.0.1:9/crate",
        "silent server": f"postgresql://crate@127.0.0.1:{silent_server}/crate",
        "no such database": f"postgresql://crate@127.0.0.1:{postgres_server.port}/no_such_database",
        "unknown host": "postgresql://crate@crate-db.invalid/crate",
        "no URL": "",
    }[bad]
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("PG", "CRATE_"))},
        "CRATE_DATABASE_URL": url,
        "CRATE_QUEUE": "postgres" if url else "pool",
        "CRATE_WORKERS": "1",
    }
    crate = shutil.which("crate", path=str(Path(sys.executable).parent)) or "crate"
    started = time.monotonic()
    done = subprocess.run([crate, "worker"], env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)
    seconds = time.monotonic() - started
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert len(output.strip().splitlines()) <= 3 and "Traceback" not in output, output
    assert len([line for line in output.splitlines() if line.startswith("crate: ")]) == 1, output
    assert seconds < 10, f"refused after {seconds:.1f} s"
