"""The analysis queue's own table: a job's audio on the way in, its outcome on the way out.

The job queue itself is procrastinate's (its ``procrastinate_jobs`` table, its schema, its
``FOR UPDATE SKIP LOCKED`` fetching); a procrastinate job's arguments are JSON, so the audio
(up to ``CRATE_MAX_INPUT_BYTES``) travels beside it, in ``crate_analysis_jobs``, to a worker
on any host. The worker writes the pickled outcome into the same row and ``NOTIFY``s
:data:`DONE_CHANNEL` with the row id in the same transaction, which wakes the waiting bot
process at once. These functions run on a procrastinate connector (PostgreSQL only: the
SQLite store never sees them).

A row names its owner, the bot process waiting for it, which holds the advisory lock
(:data:`OWNER_LOCK`, owner) on its LISTEN connection for as long as it lives: when the process
dies (SIGKILL, OOM, power loss) PostgreSQL drops its connection and the lock, and :func:`sweep`
finds the rows nobody waits for. A row also keeps how to reach the member who asked (the
interaction's application id and token, valid 15 minutes), so that a bot process sweeping it
can tell them to share again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DONE_CHANNEL = "crate_analysis_done"

#: The first key of the owners' advisory locks ("Crat"); the second is the owner's number.
OWNER_LOCK = 0x43726174

SCHEMA = """
CREATE TABLE IF NOT EXISTS crate_analysis_jobs (
    id bigserial PRIMARY KEY,
    audio bytea,
    outcome bytea,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE crate_analysis_jobs ADD COLUMN IF NOT EXISTS owner bigint;
ALTER TABLE crate_analysis_jobs ADD COLUMN IF NOT EXISTS application_id bigint;
ALTER TABLE crate_analysis_jobs ADD COLUMN IF NOT EXISTS token text;
ALTER TABLE crate_analysis_jobs ADD COLUMN IF NOT EXISTS asked_at double precision;
ALTER TABLE crate_analysis_jobs ADD COLUMN IF NOT EXISTS language text
"""


@dataclass(frozen=True)
class Swept:
    """A row :func:`sweep` removed, with how to reach the member who waited for it (if known)."""

    row_id: int
    application_id: int | None
    token: str | None
    asked_at: float | None
    language: str | None = None  # the catalog the member was spoken to in (bot.i18n), None: unknown


async def create_table(connector: Any) -> None:
    for statement in SCHEMA.split(";"):  # one statement a query (the extended protocol takes no more)
        await connector.execute_query_async(statement)


async def hold_owner(connection: Any, owner: int) -> None:
    """Take the owner's lock on ``connection`` (a psycopg connection kept open while the owner lives)."""
    await connection.execute("SELECT pg_advisory_lock(%s, %s)", (OWNER_LOCK, owner))


async def put_input(
    connector: Any,
    audio: bytes,
    *,
    owner: int | None = None,
    asked: tuple[int, str, float] | None = None,
    language: str | None = None,
) -> int:
    """Store a job's audio for ``owner``, and who ``asked`` (application id, interaction token, when)
    in which ``language``; its row id goes into the job's arguments."""
    application_id, token, asked_at = asked or (None, None, None)
    row = await connector.execute_query_one_async(
        "INSERT INTO crate_analysis_jobs (audio, owner, application_id, token, asked_at, language) "
        "VALUES (%(audio)s, %(owner)s, %(application_id)s, %(token)s, %(asked_at)s, %(language)s) RETURNING id",
        audio=audio,
        owner=owner,
        application_id=application_id,
        token=token,
        asked_at=asked_at,
        language=language,
    )
    return int(row["id"])


async def exists(connector: Any, row_id: int) -> bool:
    """Whether the row is still there (a sweep removes the rows of a process it believed dead)."""
    rows = await connector.execute_query_all_async("SELECT 1 FROM crate_analysis_jobs WHERE id = %(id)s", id=row_id)
    return bool(rows)


async def sweep(connector: Any, *, older_than: float, orphans: bool) -> list[Swept]:
    """Remove the rows created more than ``older_than`` seconds ago and, with ``orphans``, the rows
    whose owner no longer holds its lock (its process died); returns what was removed."""
    rows = await connector.execute_query_all_async(
        "DELETE FROM crate_analysis_jobs j WHERE j.created_at < now() - make_interval(secs => %(age)s) "
        "OR (%(orphans)s AND j.owner IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_locks l "
        "WHERE l.locktype = 'advisory' AND l.classid::bigint = %(lock)s AND l.objid::bigint = j.owner "
        "AND l.objsubid = 2 "
        "AND l.granted)) RETURNING id, application_id, token, asked_at, language",
        age=float(older_than),
        orphans=orphans,
        lock=OWNER_LOCK,
    )
    return [Swept(int(r["id"]), r["application_id"], r["token"], r["asked_at"], r["language"]) for r in rows]


async def jobs_of(connector: Any, queue: str, row_ids: list[int]) -> list[int]:
    """The procrastinate jobs of ``queue`` not yet finished that name one of ``row_ids``."""
    if not row_ids:
        return []
    rows = await connector.execute_query_all_async(
        "SELECT id FROM procrastinate_jobs WHERE queue_name = %(queue)s AND status IN ('todo', 'doing') "
        "AND (args->>'row_id')::bigint = ANY(%(rows)s)",
        queue=queue,
        rows=row_ids,
    )
    return [int(r["id"]) for r in rows]


async def input_of(connector: Any, row_id: int) -> bytes | None:
    """The audio to analyze (None: the job was cancelled and its row discarded)."""
    rows = await connector.execute_query_all_async(
        "SELECT audio FROM crate_analysis_jobs WHERE id = %(id)s AND outcome IS NULL", id=row_id
    )
    return None if not rows or rows[0]["audio"] is None else bytes(rows[0]["audio"])


async def put_outcome(connector: Any, row_id: int, outcome: bytes) -> None:
    """Record the outcome (the audio is dropped) and wake whoever waits for it, in one statement."""
    await connector.execute_query_async(
        "WITH done AS (UPDATE crate_analysis_jobs SET outcome = %(outcome)s, audio = NULL "
        "WHERE id = %(id)s RETURNING id) "
        f"SELECT pg_notify('{DONE_CHANNEL}', id::text) FROM done",
        outcome=outcome,
        id=row_id,
    )


async def take_outcome(connector: Any, row_id: int) -> bytes | None:
    """The outcome, once written (the row is deleted then); None while the job runs."""
    rows = await connector.execute_query_all_async(
        "DELETE FROM crate_analysis_jobs WHERE id = %(id)s AND outcome IS NOT NULL RETURNING outcome", id=row_id
    )
    return bytes(rows[0]["outcome"]) if rows else None


async def discard(connector: Any, row_id: int) -> None:
    """Nobody waits any more (cancelled, timed out): a worker that picks the job up skips it."""
    await connector.execute_query_async("DELETE FROM crate_analysis_jobs WHERE id = %(id)s", id=row_id)


async def waiting_jobs(connector: Any, queue: str) -> int:
    """Jobs of ``queue`` not yet taken by a worker (every bot process's, all together)."""
    row = await connector.execute_query_one_async(
        "SELECT count(*) AS n FROM procrastinate_jobs WHERE queue_name = %(queue)s AND status = 'todo'", queue=queue
    )
    return int(row["n"])
