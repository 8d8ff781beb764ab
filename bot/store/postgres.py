"""Crate's database on PostgreSQL (``CRATE_DATABASE_URL=postgresql://…``), through asyncpg.

The same behaviour as the SQLite :class:`~bot.store.database.Database` it subclasses, so the
store modules and their callers do not change:

* **One connection, one writer path.** The same :class:`asyncio.Lock` orders whole operations
  of this process, and every transaction starts with ``pg_advisory_xact_lock``: one write
  transaction at a time across *all* processes using the database, as SQLite's
  ``BEGIN IMMEDIATE`` gives. Read-then-write transactions (dedup on add, the next queue
  position) therefore cannot race another bot process. Lone statements autocommit, as on SQLite.
* **Busy is typed.** Waiting for a lock is bounded by ``lock_timeout`` (the same
  :data:`~bot.store.database.BUSY_TIMEOUT_MS`); a lock timeout, deadlock, serialization failure
  or "too many connections" raises :class:`~bot.store.errors.DatabaseBusy`; so does a connection
  the server dropped (a restart, a failover), and the next statement outside a transaction
  reconnects.
* **Migrations.** ``migrations/postgresql/NNNN_name.sql`` are the PostgreSQL twins of the SQLite
  files (same numbers, same names, equivalent schema: tests/test_store_dialects.py); the applied
  version is kept in the one-row table ``crate_schema_version`` (SQLite's ``user_version``).
* **Refused at start.** An unreachable server or a database Crate cannot write to (a read-only
  role, ``default_transaction_read_only``, a hot standby) raises
  :class:`~bot.store.errors.StoreError` with one sentence before the bot reports ready.

SQL: the store writes SQLite-flavoured statements with ``?`` (or ``?N``) placeholders;
:func:`postgres_sql` turns them into ``$N``. What the dialects spell differently comes from
:data:`~bot.store.database.POSTGRESQL`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import asyncpg

from bot import database_url as dburl
from bot.store.database import (
    BUSY_TIMEOUT_MS,
    POSTGRESQL,
    Database,
    Migration,
    Params,
    check_migrations,
    has_code,
    load_migrations,
)
from bot.store.errors import DatabaseBusy, StoreError

log = logging.getLogger(__name__)

#: The advisory lock every write transaction holds (an arbitrary constant: "Crate" in ASCII).
WRITER_LOCK_KEY = 0x4372617465

#: SQLSTATEs that mean "someone else holds what we need; try again": lock_not_available,
#: deadlock_detected, serialization_failure, too_many_connections, cannot_connect_now.
BUSY_SQLSTATES = frozenset({"55P03", "40P01", "40001", "53300", "57P03"})

_VERSION_TABLE = "crate_schema_version"

T = TypeVar("T")


#: The NOTIFY channel on which processes say that a guild's catalog changed (payload: the guild id).
CATALOG_CHANNEL = "crate_catalog"


@functools.lru_cache(maxsize=2048)
def postgres_sql(sql: str) -> str:
    """``?`` placeholders become ``$1, $2, …`` and ``?N`` becomes ``$N`` (not inside string literals)."""
    out: list[str] = []
    count = 0
    i = 0
    in_string = False
    while i < len(sql):
        char = sql[i]
        if in_string:
            in_string = char != "'"
            out.append(char)
            i += 1
            continue
        if char == "'":
            in_string = True
        elif char == "?":
            j = i + 1
            while j < len(sql) and sql[j].isdigit():
                j += 1
            if j > i + 1:
                out.append("$" + sql[i + 1 : j])
            else:
                count += 1
                out.append(f"${count}")
            i = j
            continue
        out.append(char)
        i += 1
    return "".join(out)


def _rowcount(status: str) -> int:
    """The row count of a command tag (``UPDATE 3``, ``INSERT 0 1``, ``DELETE 0``); 0 if none."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


@contextmanager
def _busy_is_typed() -> Iterator[None]:
    """Waiting too long for a lock, and a connection the server dropped (restart, failover), become
    :class:`DatabaseBusy`: the member is asked to try again, and the next statement reconnects."""
    try:
        yield
    except (asyncpg.PostgresConnectionError, ConnectionError) as error:  # before PostgresError: a subclass
        raise DatabaseBusy(detail=f"lost the connection to PostgreSQL: {error}") from error
    except asyncpg.PostgresError as error:
        if getattr(error, "sqlstate", None) in BUSY_SQLSTATES:
            raise DatabaseBusy(detail=str(error)) from error
        raise


async def _connect(url: str) -> Any:
    return await asyncpg.connect(
        dburl.asyncpg_dsn(url),  # as libpq reads it: asyncpg alone would split it with urllib
        timeout=BUSY_TIMEOUT_MS / 1000 * 2,
        server_settings={"lock_timeout": str(BUSY_TIMEOUT_MS), "application_name": "crate"},
    )


class PostgresDatabase(Database):
    """One asyncpg connection with the same writer path, migrations and refusals as SQLite's."""

    dialect = POSTGRESQL
    driver_errors = (asyncpg.PostgresError, asyncpg.InterfaceError)

    def __init__(self, connection: Any, path: str, url: str):
        super().__init__(connection, path)
        self._url = url

    @classmethod
    async def connect(cls, path: Any, *, migrations: Sequence[Migration] | None = None) -> Database:
        url = str(path)
        shown = dburl.shown(url)
        try:
            connection = await _connect(url)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError, ValueError) as error:
            raise StoreError(f"Crate could not open its database at {shown}: {error}", detail=repr(error)) from error
        db = cls(connection, shown, url)
        try:
            await db._check_writable()
            await db._migrate(load_migrations("postgresql") if migrations is None else check_migrations(migrations))
        except BaseException:
            await connection.close()
            raise
        return db

    async def close(self) -> None:
        async with self._lock:
            await self._conn.close()

    async def _check_writable(self) -> None:
        """Create the version table if needed and rewrite its row, committed: refuse a database
        Crate can read but not change (read-only role or database, a standby)."""
        try:
            async with self.transaction():
                await self.execute(f"CREATE TABLE IF NOT EXISTS {_VERSION_TABLE} (version integer NOT NULL)")
                if await self.fetch_value(f"SELECT count(*) FROM {_VERSION_TABLE}") == 0:
                    await self.execute(f"INSERT INTO {_VERSION_TABLE} (version) VALUES (0)")
                else:
                    await self.execute(f"UPDATE {_VERSION_TABLE} SET version = version")
        except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise StoreError(
                f"Crate cannot write to its database at {self.path} ({error}); check that its role may "
                "create tables and write there, and that the server is not read-only.",
                detail=repr(error),
            ) from error

    async def user_version(self) -> int:
        return int(await self.fetch_value(f"SELECT max(version) FROM {_VERSION_TABLE}") or 0)

    async def _set_user_version(self, version: int) -> None:
        await self.execute(f"UPDATE {_VERSION_TABLE} SET version = ?", (version,))

    async def _apply(self, migration: Migration) -> None:
        if has_code(migration.sql):  # a placeholder of comments only is an empty query to the server
            await self._conn.execute(migration.sql)  # a whole script: the simple query protocol

    async def _check_foreign_keys(self) -> None:
        """PostgreSQL enforces foreign keys on every statement: nothing to check afterwards."""

    async def checkpoint(self) -> None:
        """Nothing to do: PostgreSQL has no WAL file beside the database to truncate."""

    async def catalog_changed(self, guild_id: int) -> None:
        """``NOTIFY crate_catalog, '<guild id>'``: delivered to the listeners when the surrounding
        transaction commits (at once outside one); several for one guild in one transaction are one."""
        await self.execute(f"SELECT pg_notify('{CATALOG_CHANNEL}', ?)", (str(int(guild_id)),))

    async def listen_catalog(self, on_change: Callable[[int], None]) -> Callable[[], Awaitable[None]] | None:
        """LISTEN on a connection of its own (the store's one connection runs transactions); a
        notification sent by this process itself is skipped (it already knows)."""
        own_pid = self._conn.get_server_pid()
        listener = await _connect(self._url)

        def received(_connection: Any, pid: int, _channel: str, payload: str) -> None:
            if pid != own_pid:
                with contextlib.suppress(ValueError):
                    on_change(int(payload))

        await listener.add_listener(CATALOG_CHANNEL, received)

        async def stop() -> None:
            with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                await listener.remove_listener(CATALOG_CHANNEL, received)
            await listener.close()

        return stop

    # -- driver hooks -----------------------------------------------------------------------

    async def _run(self, operation: Callable[[], Awaitable[T]]) -> T:
        with self._typed_errors():
            if self._in_own_transaction():
                return await operation()
            async with self._lock:
                await self._reconnect_if_dropped()
                return await operation()

    async def _reconnect_if_dropped(self) -> None:
        """Outside any transaction, a connection the server closed is replaced by a new one."""
        if self._conn.is_closed():
            log.warning("the connection to %s was closed; reconnecting", self.path)
            self._conn = await _connect(self._url)

    async def _begin(self) -> None:
        await self._reconnect_if_dropped()
        await self._conn.execute("BEGIN")
        try:
            await self._conn.execute(f"SELECT pg_advisory_xact_lock({WRITER_LOCK_KEY:d})")
        except BaseException:
            await self._conn.execute("ROLLBACK")
            raise

    async def _control(self, sql: str) -> None:
        await self._conn.execute(sql)

    def _connection_in_transaction(self) -> bool:
        return bool(self._conn.is_in_transaction())

    def _typed_errors(self) -> contextlib.AbstractContextManager[None]:
        return _busy_is_typed()

    # -- statements ---------------------------------------------------------------------------

    async def execute(self, sql: str, params: Params = ()) -> int:
        return await self._run(lambda: self._execute(sql, params))

    async def _execute(self, sql: str, params: Params) -> int:
        return _rowcount(await self._conn.execute(postgres_sql(sql), *params))

    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run one INSERT into a table with an ``id``; returns the new row's id."""
        statement = postgres_sql(sql) + " RETURNING id"
        return int(await self._run(lambda: self._conn.fetchval(statement, *params)))

    async def execute_many(self, sql: str, rows: Iterable[Params]) -> None:
        rows = [tuple(row) for row in rows]
        if rows:
            await self._run(lambda: self._conn.executemany(postgres_sql(sql), rows))

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Any]:
        """Rows that read like ``sqlite3.Row``: by position and by column name."""
        return await self._run(lambda: self._conn.fetch(postgres_sql(sql), *params))

    async def fetch_rows(self, sql: str, params: Params = ()) -> list[tuple]:
        records = await self.fetch_all(sql, params)
        return [tuple(record) for record in records]
