"""The analysis queue's own table: a job's audio on the way in, its outcome on the way out.

The job queue itself is procrastinate's (its ``procrastinate_jobs`` table, its schema, its
``FOR UPDATE SKIP LOCKED`` fetching); a procrastinate job's arguments are JSON, so the audio
(up to ``CRATE_MAX_INPUT_BYTES``) travels beside it, in ``crate_analysis_jobs``, to a worker
on any host. The worker writes the pickled outcome into the same row and ``NOTIFY``s
:data:`DONE_CHANNEL` with the row id in the same transaction, which wakes the waiting bot
process at once. These functions run on a procrastinate connector (PostgreSQL only: the
SQLite store never sees them).
"""

from __future__ import annotations

from typing import Any

DONE_CHANNEL = "crate_analysis_done"

SCHEMA = """
CREATE TABLE IF NOT EXISTS crate_analysis_jobs (
    id bigserial PRIMARY KEY,
    audio bytea,
    outcome bytea,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""


async def create_table(connector: Any) -> None:
    await connector.execute_query_async(SCHEMA)


async def put_input(connector: Any, audio: bytes) -> int:
    """Store a job's audio; its row id goes into the job's arguments."""
    row = await connector.execute_query_one_async(
        "INSERT INTO crate_analysis_jobs (audio) VALUES (%(audio)s) RETURNING id", audio=audio
    )
    return int(row["id"])


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
