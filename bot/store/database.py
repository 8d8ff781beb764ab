"""Crate's database: one connection, versioned migrations, one writer path.

Usage::

    async with open_database(settings.database_target) as db:
        track, created = await tracks.add_track(db, guild_id, ...)

SQLite (a file path; the default, through aiosqlite) is implemented here; a
``postgresql://`` URL opens :class:`bot.store.postgres.PostgresDatabase`, which keeps the same
behaviour (see there). The store modules write SQLite-flavoured SQL with ``?`` placeholders; the
few constructs the two dialects spell differently come from :attr:`Database.dialect`.

Design:

* **One connection, one writer path.** Every statement runs on the single aiosqlite
  connection (one background thread). An :class:`asyncio.Lock` orders whole operations: a
  statement run outside a transaction takes the lock for that statement only, and
  ``async with db.transaction():`` holds it from ``BEGIN IMMEDIATE`` to ``COMMIT`` /
  ``ROLLBACK``. So no task's statement can slip into another task's open transaction, and no
  read sees another task's uncommitted writes. Transactions nest with SAVEPOINTs within the
  task that opened them. Do not start new tasks that use the database from inside a
  transaction and then wait for them: they would wait for the lock the transaction holds.
* **Autocommit outside transactions.** The sqlite3 connection runs with
  ``isolation_level=None``: a lone statement commits by itself; multi-statement changes must
  use :meth:`Database.transaction`.
* **Pragmas.** WAL journal (readers in other processes never block the writer),
  ``synchronous=NORMAL`` (durable across application crashes; safe with WAL),
  ``foreign_keys=ON`` and a busy timeout for other processes holding the write lock.
* **Migrations.** ``migrations/NNNN_name.sql`` files, numbered from 0001 without gaps, are
  applied in order, each in its own ``BEGIN IMMEDIATE`` transaction that also sets
  ``PRAGMA user_version`` to the file's number and checks foreign keys. A database whose
  ``user_version`` is newer than the newest file is refused with :class:`DatabaseTooNew`.
* **Refused at start, not at the first write.** ``PRAGMA quick_check`` before migrating and a
  real committed write before migrating: a partly corrupt, immutable or read-only database raises
  :class:`StoreError` with one sentence (``crate run`` prints it and exits non-zero).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from bot import database_url as dburl
from bot.catalog import UnknownTrack
from bot.store.errors import DatabaseBusy, DatabaseTooNew, MigrationError, StoreError

log = logging.getLogger(__name__)

#: How long to wait (ms) for another process that holds SQLite's write lock.
BUSY_TIMEOUT_MS = 5_000

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

#: Where each dialect's numbered migrations live (the same numbers and names in both).
MIGRATION_PACKAGES = {"sqlite": "bot.store.migrations", "postgresql": "bot.store.migrations.postgresql"}

Params = Sequence[Any]
T = TypeVar("T")


@dataclass(frozen=True)
class Migration:
    """One numbered schema change."""

    version: int
    name: str
    sql: str


def load_migrations(dialect: str = "sqlite") -> tuple[Migration, ...]:
    """The packaged migrations of ``dialect`` (``bot/store/migrations/*.sql`` for SQLite,
    ``bot/store/migrations/postgresql/*.sql`` for PostgreSQL), checked and in order."""
    package = MIGRATION_PACKAGES[dialect]
    folder = resources.files(package)
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
        elif entry.name.endswith(".sql"):
            raise MigrationError(detail=f"migration file {entry.name!r} is not named NNNN_name.sql")
    if not found:
        # e.g. a wheel built without the package data "bot.store.migrations" = ["*.sql"].
        raise MigrationError(detail=f"no migration files found in {package.replace('.', '/')} (not packaged?)")
    return check_migrations(found)


def check_migrations(migrations: Iterable[Migration]) -> tuple[Migration, ...]:
    """Sort migrations and insist they are numbered 1, 2, 3... without gaps or duplicates."""
    ordered = tuple(sorted(migrations, key=lambda m: m.version))
    versions = [m.version for m in ordered]
    if versions != list(range(1, len(ordered) + 1)):
        raise MigrationError(detail=f"migrations must be numbered 1..n without gaps, found {versions}")
    return ordered


def split_statements(script: str) -> list[str]:
    """Split an SQL script into complete statements (trigger bodies stay whole)."""
    statements: list[str] = []
    buffer = ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            statement = buffer.strip()
            if has_code(statement):
                statements.append(statement)
            buffer = ""
    if has_code(buffer.rstrip(";")):
        raise MigrationError(detail=f"incomplete SQL statement at the end of a migration: {buffer.strip()!r}")
    return statements


def has_code(sql: str) -> bool:
    lines = (line.split("--", 1)[0].strip() for line in sql.splitlines())
    return any(line and line != ";" for line in lines)


#: SQLite's INTEGER range: a larger Python int cannot even be bound as a parameter.
_INTEGER_MIN, _INTEGER_MAX = -(2**63), 2**63 - 1


def fits_integer(value: int) -> bool:
    """Whether ``value`` can be an SQLite row id (a crafted button id may carry 2**70)."""
    return _INTEGER_MIN <= value <= _INTEGER_MAX


#: Extended result code of a failed foreign key constraint.
_SQLITE_CONSTRAINT_FOREIGNKEY = 787


#: PostgreSQL's SQLSTATEs of a failed foreign key and a failed unique constraint.
_PG_FOREIGN_KEY_VIOLATION, _PG_UNIQUE_VIOLATION = "23503", "23505"


def is_foreign_key_violation(error: BaseException) -> bool:
    """Whether ``error`` is the database (SQLite or PostgreSQL) refusing a row whose foreign key
    points nowhere."""
    if getattr(error, "sqlstate", None) == _PG_FOREIGN_KEY_VIOLATION:
        return True
    if not isinstance(error, sqlite3.IntegrityError):
        return False
    code = getattr(error, "sqlite_errorcode", None)
    return code == _SQLITE_CONSTRAINT_FOREIGNKEY or "FOREIGN KEY constraint failed" in str(error)


def is_unique_violation(error: BaseException) -> bool:
    """Whether ``error`` is the database refusing a row that repeats a unique key."""
    if getattr(error, "sqlstate", None) == _PG_UNIQUE_VIOLATION:
        return True
    return isinstance(error, sqlite3.IntegrityError) and "UNIQUE" in str(error)


@contextmanager
def unknown_track_on_foreign_key(detail: str) -> Iterator[None]:
    """Turn the database refusing a row whose foreign key points nowhere into :class:`UnknownTrack`.

    The one place where "that track is not in this guild" is read from a failed constraint;
    any other integrity error passes through unchanged.
    """
    try:
        yield
    except Exception as error:
        if is_foreign_key_violation(error):
            raise UnknownTrack(detail=detail) from error
        raise


@dataclass(frozen=True)
class Dialect:
    """The few SQL constructs SQLite and PostgreSQL spell differently, for the store's queries."""

    name: str
    #: Case-insensitive (for ASCII at least) pattern match: SQLite's LIKE, PostgreSQL's ILIKE.
    like: str
    #: The largest of several values (SQLite's scalar max(a, b, ...)).
    greatest: str
    #: The environment variable that names this database, for sentences telling people what to change.
    setting: str
    #: What that variable names ("file", "database"), for the same sentences.
    target: str

    def total(self, expression: str) -> str:
        """SQLite's ``total()``: the float sum, 0.0 over no rows."""
        return f"total({expression})" if self.name == "sqlite" else f"coalesce(sum(({expression})::float8), 0.0)"

    def id_list(self, placeholder: str = "?") -> str:
        """A subquery of the integers in a JSON array parameter (``json.dumps([1, 2])``)."""
        if self.name == "sqlite":
            return f"SELECT value FROM json_each({placeholder})"
        return f"SELECT value::bigint FROM json_array_elements_text(({placeholder})::json)"

    def json_pair(self, column: str, index: int) -> str:
        """Two columns: the name (text) and the probability (float) of the ``index``-th pair of a
        JSON array of ``[name, probability]`` pairs held in the text ``column`` (NULLs past its end)."""
        if self.name == "sqlite":
            return f"json_extract({column}, '$[{index}][0]'), json_extract({column}, '$[{index}][1]')"
        return f"(({column})::json -> {index}) ->> 0, ((({column})::json -> {index}) ->> 1)::float8"

    def json_array(self, column: str, source: str) -> str:
        """A scalar subquery: ``column`` of ``source`` (``table alias WHERE ...``) as a JSON array text,
        in ascending order."""
        if self.name == "sqlite":
            return f"(SELECT json_group_array({column}) FROM (SELECT {column} FROM {source} ORDER BY {column}))"
        return f"(SELECT coalesce(json_agg({column} ORDER BY {column}), '[]')::text FROM {source})"


SQLITE = Dialect(name="sqlite", like="LIKE", greatest="max", setting="CRATE_DATABASE", target="file")
POSTGRESQL = Dialect(
    name="postgresql", like="ILIKE", greatest="greatest", setting="CRATE_DATABASE_URL", target="database"
)


is_database_url = dburl.is_database_url


class Database:
    """One aiosqlite connection with Crate's pragmas, migrations and the single writer path.

    The transaction bookkeeping, the writer lock and the migration loop are shared with
    :class:`bot.store.postgres.PostgresDatabase`, which overrides the driver hooks.
    """

    dialect: Dialect = SQLITE
    #: The driver's errors: a migration failing with one of these is a :class:`MigrationError`.
    driver_errors: tuple[type[BaseException], ...] = (sqlite3.Error,)

    def __init__(self, connection: Any, path: Path | str):
        self._conn = connection
        self.path = path
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task | None = None
        self._depth = 0

    # -- opening and closing ------------------------------------------------------------

    @classmethod
    async def connect(cls, path: str | Path, *, migrations: Sequence[Migration] | None = None) -> Database:
        """Open (creating if needed) and migrate the SQLite database at ``path``; call :meth:`close`.

        :func:`bot.store.connect_database` opens a ``postgresql://`` URL too.
        """
        if is_database_url(path):
            raise StoreError("A database URL is opened with bot.store.connect_database, not Database.connect.")
        try:
            if str(path) != ":memory:":
                # Fail on an unusable path here, before aiosqlite starts its worker thread: a
                # failed aiosqlite.connect() leaves that thread calling back into the loop later.
                await asyncio.to_thread(_preflight, Path(path))
            connection = await aiosqlite.connect(path, isolation_level=None)
        except (OSError, sqlite3.Error) as error:
            raise StoreError(f"Crate could not open its database at {path}: {error}", detail=repr(error)) from error
        db = cls(connection, path)
        try:
            connection.row_factory = sqlite3.Row
            try:
                await db._configure()
                await db._check_intact()
            except sqlite3.Error as error:
                raise StoreError(f"Crate could not use its database at {path}: {error}", detail=repr(error)) from error
            await db._check_writable()
            await db._migrate(load_migrations() if migrations is None else check_migrations(migrations))
        except BaseException:
            await connection.close()
            raise
        return db

    @classmethod
    @asynccontextmanager
    async def open(cls, path: str | Path, *, migrations: Sequence[Migration] | None = None) -> AsyncIterator[Database]:
        """``async with Database.open(path) as db:`` — connect, migrate, and always close."""
        db = await cls.connect(path, migrations=migrations)
        try:
            yield db
        finally:
            await db.close()

    async def close(self) -> None:
        async with self._lock:
            try:
                await self._conn.execute("PRAGMA optimize")
            except sqlite3.Error:  # pragma: no cover - best effort
                log.debug("PRAGMA optimize failed", exc_info=True)
            await self._conn.close()

    async def _configure(self) -> None:
        await self.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
        await self.execute("PRAGMA foreign_keys = ON")
        # Deleted rows (a forgotten member's titles) are overwritten, not left in free space.
        await self.execute("PRAGMA secure_delete = ON")
        mode = await self._switch_to_wal()
        if str(mode).lower() != "wal" and str(self.path) != ":memory:":
            log.warning("SQLite refused WAL mode for %s (journal_mode=%s)", self.path, mode)
        await self.execute("PRAGMA synchronous = NORMAL")
        if await self.fetch_value("PRAGMA foreign_keys") != 1:
            raise MigrationError(detail="this SQLite build cannot enforce foreign keys")

    async def _switch_to_wal(self) -> object:
        """``PRAGMA journal_mode = WAL``, retried for up to the busy timeout.

        SQLite answers the switch with "database is locked" at once, without its busy handler,
        while another connection opens the same new file: two shards started together would
        otherwise see one of them refuse to start.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BUSY_TIMEOUT_MS / 1000
        delay = 0.01
        while True:
            try:
                return await self.fetch_value("PRAGMA journal_mode = WAL")
            except DatabaseBusy:
                if loop.time() + delay > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.25)

    async def _check_intact(self) -> None:
        """``PRAGMA quick_check``: refuse a partly corrupt file at start, not at the first write.

        It reads every page once (about a second per few hundred MB), so it runs only here.
        """
        problems = [str(row[0]) for row in await self.fetch_all("PRAGMA quick_check")]
        if problems != ["ok"]:
            first = next((line.strip() for line in problems[0].splitlines() if line.strip() and "***" not in line), "?")
            raise StoreError(
                f"Crate's database at {self.path} is damaged ({first}); restore a backup or point "
                "CRATE_DATABASE at another file.",
                detail="; ".join(problems[:10]),
            )

    async def _check_writable(self) -> None:
        """A real committed write (``user_version`` set to itself): refuse a file Crate can't change.

        An immutable or read-only file opens and reads fine; without this check the bot would
        report ready and then fail every rating and ``/forget``.
        """
        try:
            async with self.transaction():
                await self.execute(f"PRAGMA user_version = {await self.user_version():d}")
        except sqlite3.Error as error:
            raise StoreError(
                f"Crate cannot write to its database at {self.path} ({error}); check that the file and "
                "its folder are writable (and not immutable or on a read-only mount).",
                detail=repr(error),
            ) from error

    async def _migrate(self, migrations: Sequence[Migration]) -> None:
        latest = migrations[-1].version if migrations else 0
        current = await self.user_version()
        if current > latest:
            raise DatabaseTooNew(
                f"Crate's database ({self.path}) has schema version {current}, but this version of "
                f"Crate only knows versions up to {latest}. Upgrade Crate, or point {self.dialect.setting} "
                f"at another {self.dialect.target}.",
                detail=f"user_version={current} latest={latest}",
            )
        for migration in migrations:
            if migration.version <= current:
                continue
            try:
                async with self.transaction():
                    # Another process may have migrated while we waited for the write lock.
                    if await self.user_version() >= migration.version:
                        continue
                    await self._apply(migration)
                    await self._set_user_version(migration.version)
                    await self._check_foreign_keys()
            except self.driver_errors as error:
                raise MigrationError(
                    detail=f"migration {migration.version:04d}_{migration.name} failed: {error}"
                ) from error
            log.info("applied database migration %04d_%s", migration.version, migration.name)
            current = migration.version

    async def _apply(self, migration: Migration) -> None:
        for statement in split_statements(migration.sql):
            await self.execute(statement)

    async def _set_user_version(self, version: int) -> None:
        await self.execute(f"PRAGMA user_version = {version:d}")

    async def _check_foreign_keys(self) -> None:
        problems = await self.fetch_all("PRAGMA foreign_key_check")
        if problems:
            raise MigrationError(detail=f"foreign key violations after migration: {[tuple(r) for r in problems[:5]]}")

    async def user_version(self) -> int:
        return int(await self.fetch_value("PRAGMA user_version"))

    # -- the writer path ----------------------------------------------------------------

    def _in_own_transaction(self) -> bool:
        return self._owner is not None and self._owner is asyncio.current_task()

    async def _run(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run one statement: directly inside our own transaction, else under the lock."""
        with self._typed_errors():
            if self._in_own_transaction():
                return await operation()
            async with self._lock:
                return await operation()

    async def checkpoint(self) -> None:
        """``PRAGMA wal_checkpoint(TRUNCATE)``: copy the WAL into the file and empty it.

        After ``/forget``, so deleted rows do not linger in the WAL. Best effort: skipped inside
        a transaction, and a checkpoint another connection blocks is logged, not raised.
        """
        if self._in_own_transaction() or str(self.path) == ":memory:":
            return
        try:
            row = await self.fetch_one("PRAGMA wal_checkpoint(TRUNCATE)")
        except (sqlite3.Error, DatabaseBusy) as error:
            log.warning("WAL checkpoint failed: %s", error)
            return
        if row is not None and row[0]:
            log.warning("WAL checkpoint of %s was blocked by another connection", self.path)

    async def catalog_changed(self, guild_id: int) -> None:
        """Tell Crate's other processes that ``guild_id``'s tracks changed (added, removed,
        relabelled), so they drop what they cache of it. One SQLite file has no such channel:
        nothing to do (a bot on SQLite is one process)."""

    async def listen_catalog(self, on_change: Callable[[int], None]) -> Callable[[], Awaitable[None]] | None:
        """Call ``on_change(guild_id)`` whenever *another* process reports :meth:`catalog_changed`;
        returns the coroutine function that stops listening (None: this database has no channel)."""
        return None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Database]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` if the block raises.

        Nested use in the same task becomes a SAVEPOINT, so functions that need atomicity
        can open a transaction whether or not their caller already has one.
        """
        if self._in_own_transaction():
            name = f"sp{self._depth}"
            self._depth += 1
            await self._control(f"SAVEPOINT {name}")
            try:
                yield self
                await self._control(f"RELEASE {name}")
            except BaseException:
                if self._connection_in_transaction():
                    await _unstoppable(self._control(f"ROLLBACK TO {name}"))
                    await _unstoppable(self._control(f"RELEASE {name}"))
                raise
            finally:
                self._depth -= 1
            return

        async with self._lock:
            with self._typed_errors():
                await self._begin()
            self._owner = asyncio.current_task()
            self._depth = 1
            try:
                yield self
                await _unstoppable(self._control("COMMIT"))
            except BaseException:
                if self._connection_in_transaction():
                    await _unstoppable(self._control("ROLLBACK"))
                raise
            finally:
                self._owner = None
                self._depth = 0

    # -- driver hooks (overridden by PostgresDatabase) ------------------------------------

    async def _begin(self) -> None:
        """Start a transaction holding the database's write lock (SQLite: one writer at a time)."""
        await self._conn.execute("BEGIN IMMEDIATE")

    async def _control(self, sql: str) -> None:
        """Run a transaction-control statement (COMMIT, SAVEPOINT ...) on the connection."""
        await self._conn.execute(sql)

    def _connection_in_transaction(self) -> bool:
        return bool(self._conn.in_transaction)

    def _typed_errors(self) -> contextlib.AbstractContextManager[None]:
        return _busy_is_typed()

    # -- statements -----------------------------------------------------------------------

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one write statement; returns the number of rows it changed."""

        async def operation() -> int:
            cursor = await self._conn.execute(sql, params)
            try:
                return cursor.rowcount
            finally:
                await cursor.close()

        return await self._run(operation)

    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run one INSERT; returns the new row's id."""

        async def operation() -> int:
            cursor = await self._conn.execute(sql, params)
            try:
                assert cursor.lastrowid is not None
                return int(cursor.lastrowid)
            finally:
                await cursor.close()

        return await self._run(operation)

    async def execute_many(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one statement for many parameter rows (wrap in a transaction for atomicity)."""
        rows = list(rows)

        async def operation() -> None:
            await self._conn.executemany(sql, rows)

        await self._run(operation)

    async def fetch_all(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        return await self._run(lambda: self._conn.execute_fetchall(sql, params))  # type: ignore[return-value, arg-type]

    async def fetch_rows(self, sql: str, params: Params = ()) -> list[tuple]:
        """Like :meth:`fetch_all` but plain tuples: faster for bulk reads of many rows."""

        async def operation() -> list[tuple]:
            cursor = await self._conn.execute(sql, params)
            try:
                cursor.row_factory = None  # type: ignore[assignment]
                return list(await cursor.fetchall())  # type: ignore[arg-type]  # plain tuples without a row factory
            finally:
                await cursor.close()

        return await self._run(operation)

    async def fetch_one(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None

    async def fetch_value(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row, or None."""
        row = await self.fetch_one(sql, params)
        return None if row is None else row[0]


@contextmanager
def _busy_is_typed() -> Iterator[None]:
    """SQLite's "database is locked" (another process kept the write lock past the busy timeout)
    becomes :class:`DatabaseBusy`, whose sentence asks the member to try again."""
    try:
        yield
    except sqlite3.OperationalError as error:
        code = getattr(error, "sqlite_errorcode", None)
        if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "database is locked" in str(error):
            raise DatabaseBusy(detail=str(error)) from error
        raise


def _preflight(path: Path) -> None:
    """Create the parent folder and check that SQLite can open (or create) the file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sqlite3.connect(path).close()


async def _unstoppable(awaitable: Awaitable[T]) -> T:
    """Finish ``awaitable`` (a COMMIT or ROLLBACK) even if our task is cancelled meanwhile."""
    future = asyncio.ensure_future(awaitable)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await future
        raise
