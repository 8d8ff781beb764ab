"""A real PostgreSQL server for the tests: Debian's ``postgresql`` package, a temporary cluster.

:func:`start` runs ``initdb`` into a fresh temporary folder and ``pg_ctl start`` on a free port
of 127.0.0.1 (and a unix socket in the same folder), as an unprivileged user: when the tests run
as root (a fresh CI machine) the server runs as the package's ``postgres`` user through
``runuser``, since PostgreSQL refuses to run as root. Durability is switched off (``fsync=off``):
the cluster is thrown away after the run. :meth:`PostgresServer.stop` stops it and removes the
folder.

The conftest fixtures (``postgres_server``, session-scoped, and ``postgres_url``, a fresh empty
database per test) turn :class:`PostgresUnavailable` into a *failure* with its reason: a machine
without PostgreSQL must not pass the PostgreSQL tests by skipping them. ``scripts/setup.sh``
installs the package.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

#: The superuser created by initdb; trust authentication on 127.0.0.1 and the socket only.
SUPERUSER = "crate"

#: The unprivileged account the server runs as when the tests run as root.
SERVICE_USER = "postgres"

_SETTINGS = (
    "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off "
    "-c max_connections=200 -c shared_buffers=64MB"
)


class PostgresUnavailable(RuntimeError):
    """PostgreSQL could not be found, initialised or started; the message says why."""


def find_bindir(debian_root: Path = Path("/usr/lib/postgresql")) -> Path:
    """The folder with ``initdb``/``pg_ctl``: ``$CRATE_TEST_PG_BINDIR``, pg_config, or Debian's layout."""
    candidates: list[Path] = []
    if os.environ.get("CRATE_TEST_PG_BINDIR"):
        candidates.append(Path(os.environ["CRATE_TEST_PG_BINDIR"]))
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True).stdout
            candidates.append(Path(out.strip()))
        except (OSError, subprocess.CalledProcessError):
            pass
    debian = sorted(debian_root.glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True)
    candidates.extend(debian)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    raise PostgresUnavailable(
        "PostgreSQL is not installed (no initdb/pg_ctl in pg_config --bindir or /usr/lib/postgresql/*/bin); "
        "run scripts/setup.sh, which installs Debian's postgresql package"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresServer:
    """A running throwaway cluster; :meth:`url` names a database on it."""

    bindir: Path
    root: Path
    port: int
    run_as: str | None
    _names: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run ``sql`` with psql as the superuser over TCP; returns its output (raises on error)."""
        result = subprocess.run(
            [
                str(self.bindir / "psql"),
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                self.url(database),
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed ({result.returncode}): {result.stderr.strip()}")
        return result.stdout

    def create_database(self, prefix: str = "test") -> str:
        """A new empty database (from template0, UTF-8); returns its URL."""
        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        self.psql(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def _as_service_user(self, command: list[str]) -> list[str]:
        return ["runuser", "-u", self.run_as, "--", *command] if self.run_as else command

    def stop(self) -> None:
        try:
            subprocess.run(
                self._as_service_user(
                    [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "-w", "stop"]
                ),
                capture_output=True,
                timeout=60,
            )
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start() -> PostgresServer:
    """Initialise and start a throwaway cluster; raises :class:`PostgresUnavailable` with the reason."""
    bindir = find_bindir()
    run_as: str | None = None
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            raise PostgresUnavailable("running as root and runuser is missing: cannot start PostgreSQL unprivileged")
        try:
            import pwd

            pwd.getpwnam(SERVICE_USER)
        except KeyError:
            raise PostgresUnavailable(
                f"running as root and there is no {SERVICE_USER!r} user to run PostgreSQL as "
                "(Debian's postgresql package creates it)"
            ) from None
        run_as = SERVICE_USER
    # Not under pytest's tmp_path: that folder is private to root, and the server runs as another user.
    root = Path(tempfile.mkdtemp(prefix="crate-pg-"))
    if run_as:
        shutil.chown(root, user=run_as)
    server = PostgresServer(bindir=bindir, root=root, port=free_port(), run_as=run_as)
    try:
        _run(
            server,
            [str(bindir / "initdb"), "-D", str(server.datadir), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
             "--locale=C", "--no-sync"],
            "initdb",
        )  # fmt: skip
        _run(
            server,
            [str(bindir / "pg_ctl"), "-D", str(server.datadir), "-l", str(root / "server.log"), "-w", "-t", "60",
             "-o", f"-p {server.port} -k {server.socket_dir} {_SETTINGS}", "start"],
            "pg_ctl start",
        )  # fmt: skip
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return server


def _run(server: PostgresServer, command: list[str], what: str) -> None:
    try:
        result = subprocess.run(server._as_service_user(command), capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise PostgresUnavailable(f"{what} could not run: {error}") from error
    if result.returncode != 0:
        log = server.root / "server.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise PostgresUnavailable(
            f"{what} failed ({result.returncode}): {(result.stderr or result.stdout).strip()[-2000:]} {tail}".strip()
        )
