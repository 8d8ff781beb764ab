"""Group listening sessions: ``sessions``, ``session_members``, ``session_queue``,
``session_served``, ``session_skip_votes`` (schema in ``migrations/0002_sessions.sql``) and
``session_votes`` (votes on the other controls, ``0010_voice_controls.sql``).

Every function takes the guild id and filters on it, so one guild's session ids never reach
another guild's rows. One open session per text channel is enforced by a partial unique index;
:func:`open_session` turns that conflict into :class:`SessionAlreadyOpenError`.

Queue entries move ``queued -> playing -> played | skipped``; at most one entry of a session is
``playing`` (a partial unique index). :func:`advance` does that move atomically.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import functools
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from bot.i18n import N_
from bot.reasons import Reason
from bot.store.database import Database, Dialect, fits_integer, is_unique_violation, unknown_track_on_foreign_key
from bot.store.errors import StoreError

#: ``host_id`` of a closed session whose host was forgotten (``host_id`` is NOT NULL; 0 is no member).
NO_HOST = 0

SessionStatus = Literal["open", "closed"]
EntryStatus = Literal["queued", "playing", "played", "skipped"]


class SessionAlreadyOpenError(StoreError):
    """This channel already has an open session (the partial unique index refused another)."""

    user_message = N_("There's already a listening session in this channel.")


@dataclass(frozen=True)
class Session:
    id: int
    guild_id: int
    channel_id: int
    host_id: int
    voice_channel_id: int | None
    status: SessionStatus
    started_at: float
    ended_at: float | None
    now_playing_message_id: int | None

    @property
    def is_open(self) -> bool:
        return self.status == "open"


@dataclass(frozen=True)
class SessionMember:
    guild_id: int
    session_id: int
    user_id: int
    joined_at: float
    left_at: float | None  # None while present

    @property
    def present(self) -> bool:
        return self.left_at is None


@dataclass(frozen=True)
class QueueEntry:
    id: int
    guild_id: int
    session_id: int
    position: int
    track_id: int
    title: str
    top_genre: str | None
    added_by: int | None  # None: Crate picked it, or the member who added it was forgotten
    #: Why it is here: Crate's reason as data, or a sentence of the app's ("the radio's seed").
    reason: Reason | str
    status: EntryStatus
    queued_at: float
    started_at: float | None
    ended_at: float | None
    #: The members this entry was for (fairness): whom Crate's pick suited, or who added it.
    for_user_ids: tuple[int, ...] = ()
    #: Crate chose this entry for the group (not a member).
    picked_by_crate: bool = False


_SESSION = "id, guild_id, channel_id, host_id, voice_channel_id, status, started_at, ended_at, now_playing_message_id"


@functools.cache
def _entry_columns(dialect: Dialect) -> str:
    served = dialect.json_array(
        "user_id",
        "session_served s WHERE s.guild_id = q.guild_id AND s.session_id = q.session_id AND s.entry_id = q.id",
    )
    return (
        "q.id, q.guild_id, q.session_id, q.position, q.track_id, t.title, t.top_genre, q.added_by,"
        f" q.reason, q.status, q.queued_at, q.started_at, q.ended_at, {served}, q.picked_by_crate"
    )


_ENTRY_FROM = "session_queue q JOIN tracks t ON t.guild_id = q.guild_id AND t.id = q.track_id"


def _session(row: Sequence) -> Session:
    return Session(*row)


def _entry(row: Sequence) -> QueueEntry:
    served = tuple(int(u) for u in json.loads(row[13] or "[]"))
    entry = QueueEntry(*row[:13], for_user_ids=served, picked_by_crate=bool(row[14]))  # type: ignore[misc]
    return dataclasses.replace(entry, reason=_reason(row[8]))


_REASON_JSON = '{"kind":'


def _reason(stored: str | None) -> Reason | str:
    """A reason column: Crate's reason as JSON, or a sentence as it is."""
    text = stored or ""
    if text.startswith(_REASON_JSON):
        with contextlib.suppress(ValueError, KeyError, TypeError):
            return Reason.from_json(text)
    return text


def _now(now: float | None) -> float:
    return time.time() if now is None else float(now)


# -- sessions -----------------------------------------------------------------------------------


async def open_session(
    db: Database,
    guild_id: int,
    channel_id: int,
    host_id: int,
    *,
    voice_channel_id: int | None = None,
    now: float | None = None,
) -> Session:
    """Open a session in this channel with the host as its first present member.

    Raises :class:`SessionAlreadyOpenError` if the channel already has an open session.
    """
    started = _now(now)
    try:
        async with db.transaction():
            session_id = await db.insert(
                "INSERT INTO sessions (guild_id, channel_id, host_id, voice_channel_id, status, started_at)"
                " VALUES (?, ?, ?, ?, 'open', ?)",
                (guild_id, channel_id, host_id, voice_channel_id, started),
            )
            await join(db, guild_id, session_id, host_id, now=started)
    except Exception as error:
        if is_unique_violation(error):
            raise SessionAlreadyOpenError(detail=f"guild {guild_id} channel {channel_id}") from error
        raise
    return Session(session_id, guild_id, channel_id, host_id, voice_channel_id, "open", started, None, None)


async def get_session(db: Database, guild_id: int, session_id: int) -> Session | None:
    if not fits_integer(session_id):
        return None
    row = await db.fetch_one(f"SELECT {_SESSION} FROM sessions WHERE guild_id = ? AND id = ?", (guild_id, session_id))
    return None if row is None else _session(row)


async def get_open_session(db: Database, guild_id: int, channel_id: int) -> Session | None:
    """The open session of this text channel, or None."""
    row = await db.fetch_one(
        f"SELECT {_SESSION} FROM sessions WHERE guild_id = ? AND channel_id = ? AND status = 'open'",
        (guild_id, channel_id),
    )
    return None if row is None else _session(row)


async def open_sessions_in_guild(db: Database, guild_id: int) -> list[Session]:
    rows = await db.fetch_all(
        f"SELECT {_SESSION} FROM sessions WHERE guild_id = ? AND status = 'open' ORDER BY id", (guild_id,)
    )
    return [_session(row) for row in rows]


async def open_sessions(db: Database) -> list[Session]:
    """Every open session of every guild (to resume them after a restart), oldest first."""
    rows = await db.fetch_all(f"SELECT {_SESSION} FROM sessions WHERE status = 'open' ORDER BY id")
    return [_session(row) for row in rows]


async def close_session(db: Database, guild_id: int, session_id: int, *, now: float | None = None) -> bool:
    """Close an open session: its playing entry counts as played, its queued ones stay queued.

    Returns False if the session was not open.
    """
    ended = _now(now)
    async with db.transaction():
        changed = await db.execute(
            "UPDATE sessions SET status = 'closed', ended_at = ? WHERE guild_id = ? AND id = ? AND status = 'open'",
            (ended, guild_id, session_id),
        )
        if not changed:
            return False
        await db.execute(
            "UPDATE session_queue SET status = 'played', ended_at = ?"
            " WHERE guild_id = ? AND session_id = ? AND status = 'playing'",
            (ended, guild_id, session_id),
        )
        await db.execute(
            "UPDATE session_members SET left_at = ? WHERE guild_id = ? AND session_id = ? AND left_at IS NULL",
            (ended, guild_id, session_id),
        )
    return True


async def set_host(db: Database, guild_id: int, session_id: int, host_id: int) -> None:
    await db.execute("UPDATE sessions SET host_id = ? WHERE guild_id = ? AND id = ?", (host_id, guild_id, session_id))


async def set_now_playing_message(db: Database, guild_id: int, session_id: int, message_id: int | None) -> None:
    """Remember the message that shows what's playing (edited in place; found again after a restart)."""
    await db.execute(
        "UPDATE sessions SET now_playing_message_id = ? WHERE guild_id = ? AND id = ?",
        (message_id, guild_id, session_id),
    )


async def last_activity(db: Database, guild_id: int, session_id: int) -> float | None:
    """When anything last happened in the session: start, a join or leave, a track queued or started."""
    greatest = db.dialect.greatest
    return await db.fetch_value(
        "SELECT max(t) FROM ("
        " SELECT started_at AS t FROM sessions WHERE guild_id = ?1 AND id = ?2"
        f" UNION ALL SELECT {greatest}(joined_at, coalesce(left_at, 0)) FROM session_members"
        "  WHERE guild_id = ?1 AND session_id = ?2"
        f" UNION ALL SELECT {greatest}(queued_at, coalesce(started_at, 0), coalesce(ended_at, 0)) FROM session_queue"
        "  WHERE guild_id = ?1 AND session_id = ?2) AS activity",
        (guild_id, session_id),
    )


# -- members ------------------------------------------------------------------------------------


async def join(db: Database, guild_id: int, session_id: int, user_id: int, *, now: float | None = None) -> bool:
    """Mark the member present; returns False if they already were."""
    joined = _now(now)
    async with db.transaction():
        present = await db.fetch_value(
            "SELECT left_at IS NULL FROM session_members WHERE guild_id = ? AND session_id = ? AND user_id = ?",
            (guild_id, session_id, user_id),
        )
        if present:
            return False
        await db.execute(
            "INSERT INTO session_members (guild_id, session_id, user_id, joined_at, left_at) VALUES (?, ?, ?, ?, NULL)"
            " ON CONFLICT (guild_id, session_id, user_id) DO UPDATE SET joined_at = excluded.joined_at, left_at = NULL",
            (guild_id, session_id, user_id, joined),
        )
    return True


async def leave(db: Database, guild_id: int, session_id: int, user_id: int, *, now: float | None = None) -> bool:
    """Mark the member gone; returns False if they were not present."""
    changed = await db.execute(
        "UPDATE session_members SET left_at = ?"
        " WHERE guild_id = ? AND session_id = ? AND user_id = ? AND left_at IS NULL",
        (_now(now), guild_id, session_id, user_id),
    )
    return changed > 0


async def drop_crate_picks(db: Database, guild_id: int, session_id: int) -> int:
    """Remove Crate's picks that have not started playing; returns how many. Members' own
    entries stay. (Their votes and fairness records go with them: ON DELETE CASCADE.)"""
    return await db.execute(
        "DELETE FROM session_queue WHERE guild_id = ? AND session_id = ? AND status = 'queued' AND picked_by_crate = 1",
        (guild_id, session_id),
    )


async def members(db: Database, guild_id: int, session_id: int) -> list[SessionMember]:
    """Everyone who ever joined the session, in order of (latest) joining."""
    rows = await db.fetch_all(
        "SELECT guild_id, session_id, user_id, joined_at, left_at FROM session_members"
        " WHERE guild_id = ? AND session_id = ? ORDER BY joined_at, user_id",
        (guild_id, session_id),
    )
    return [SessionMember(*row) for row in rows]


async def present_members(db: Database, guild_id: int, session_id: int) -> list[int]:
    """User ids of the members present now, longest present first."""
    rows = await db.fetch_rows(
        "SELECT user_id FROM session_members WHERE guild_id = ? AND session_id = ? AND left_at IS NULL"
        " ORDER BY joined_at, user_id",
        (guild_id, session_id),
    )
    return [row[0] for row in rows]


# -- the queue ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Queued:
    """One track to append to a session's queue (:func:`enqueue_many`)."""

    track_id: int
    reason: Reason | str = ""
    #: The members the entry serves (fairness); a member's own addition serves them.
    for_user_ids: tuple[int, ...] = ()


async def enqueue(
    db: Database,
    guild_id: int,
    session_id: int,
    track_id: int,
    *,
    added_by: int | None,
    reason: Reason | str = "",
    for_user_ids: Iterable[int] = (),
    now: float | None = None,
) -> QueueEntry:
    """Append a track to the session's queue (after every existing entry); see :func:`enqueue_many`."""
    (entry,) = await enqueue_many(
        db, guild_id, session_id, [Queued(track_id, reason, tuple(for_user_ids))], added_by=added_by, now=now
    )
    return entry


async def enqueue_many(
    db: Database,
    guild_id: int,
    session_id: int,
    tracks: Sequence[Queued],
    *,
    added_by: int | None,
    now: float | None = None,
) -> list[QueueEntry]:
    """Append tracks to the session's queue, in order, after every existing entry, in one transaction.

    ``added_by=None`` is Crate's own pick and is stored as such (``picked_by_crate``), so that
    forgetting a member later never turns their entries into Crate's picks. Raises
    :class:`UnknownTrack` if a track is not in this guild.
    """
    if not tracks:
        return []
    queued = _now(now)
    ids = []
    with unknown_track_on_foreign_key(f"guild {guild_id}: a track or session {session_id} is unknown"):
        async with db.transaction():
            first = await db.fetch_value(
                "SELECT coalesce(max(position), 0) + 1 FROM session_queue WHERE guild_id = ? AND session_id = ?",
                (guild_id, session_id),
            )
            served = []
            for offset, track in enumerate(tracks):
                entry_id = await db.insert(
                    "INSERT INTO session_queue (guild_id, session_id, position, track_id, added_by, picked_by_crate,"
                    " reason, status, queued_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?)",
                    (
                        guild_id,
                        session_id,
                        first + offset,
                        track.track_id,
                        added_by,
                        int(added_by is None),
                        track.reason.to_json() if isinstance(track.reason, Reason) else track.reason,
                        queued,
                    ),
                )
                ids.append(entry_id)
                users = {int(u) for u in track.for_user_ids} | ({added_by} if added_by is not None else set())
                served += [(guild_id, session_id, entry_id, user) for user in sorted(users)]
            await db.execute_many(
                "INSERT INTO session_served (guild_id, session_id, entry_id, user_id) VALUES (?, ?, ?, ?)", served
            )
    entries = await _entries(db, guild_id, session_id, ids)
    return [entries[i] for i in ids]


async def has_upcoming(db: Database, guild_id: int, session_id: int) -> bool:
    """Whether any entry is still to play."""
    row = await db.fetch_one(
        "SELECT 1 FROM session_queue WHERE guild_id = ? AND session_id = ? AND status = 'queued' LIMIT 1",
        (guild_id, session_id),
    )
    return row is not None


async def get_entry(db: Database, guild_id: int, session_id: int, entry_id: int) -> QueueEntry | None:
    row = await db.fetch_one(
        f"SELECT {_entry_columns(db.dialect)} FROM {_ENTRY_FROM} WHERE q.guild_id = ? AND q.session_id = ? AND q.id = ?",
        (guild_id, session_id, entry_id),
    )
    return None if row is None else _entry(row)


async def queue_of(
    db: Database, guild_id: int, session_id: int, *, statuses: Iterable[EntryStatus] | None = None
) -> list[QueueEntry]:
    """The session's entries in position order (all of them, or those with one of ``statuses``)."""
    sql = f"SELECT {_entry_columns(db.dialect)} FROM {_ENTRY_FROM} WHERE q.guild_id = ? AND q.session_id = ?"
    params: list = [guild_id, session_id]
    if statuses is not None:
        wanted = list(statuses)
        sql += f" AND q.status IN ({', '.join('?' * len(wanted))})"
        params += wanted
    rows = await db.fetch_all(sql + " ORDER BY q.position", params)
    return [_entry(row) for row in rows]


async def upcoming(db: Database, guild_id: int, session_id: int) -> list[QueueEntry]:
    """The entries still to play, next first."""
    return await queue_of(db, guild_id, session_id, statuses=("queued",))


async def current_entry(db: Database, guild_id: int, session_id: int) -> QueueEntry | None:
    """The entry playing now, or None."""
    row = await db.fetch_one(
        f"SELECT {_entry_columns(db.dialect)} FROM {_ENTRY_FROM} WHERE q.guild_id = ? AND q.session_id = ? AND q.status = 'playing'",
        (guild_id, session_id),
    )
    return None if row is None else _entry(row)


async def advance(
    db: Database,
    guild_id: int,
    session_id: int,
    *,
    outcome: Literal["played", "skipped"] = "played",
    expected_entry_id: int | None = None,
    now: float | None = None,
) -> tuple[QueueEntry | None, QueueEntry | None] | None:
    """Finish the playing entry (as ``outcome``) and start the next queued one, atomically.

    With ``expected_entry_id``, only moves on if that entry is the one playing (so a track ending
    and a skip vote landing at once move on once, not twice); returns None when it isn't.
    Otherwise returns ``(finished entry or None, new playing entry or None)``.
    """
    moment = _now(now)
    where = "guild_id = ? AND session_id = ?"
    async with db.transaction():
        current = expected_entry_id
        if current is None:
            current = await db.fetch_value(
                f"SELECT id FROM session_queue WHERE {where} AND status = 'playing'", (guild_id, session_id)
            )
        if current is not None:
            finished = await db.execute(
                f"UPDATE session_queue SET status = ?, ended_at = ? WHERE {where} AND id = ? AND status = 'playing'",
                (outcome, moment, guild_id, session_id, current),
            )
            if not finished:  # not the entry playing (any more): a skip or the track's end got there first
                return None
        following = await db.fetch_value(
            f"SELECT id FROM session_queue WHERE {where} AND status = 'queued' ORDER BY position LIMIT 1",
            (guild_id, session_id),
        )
        if following is not None:
            await db.execute(
                f"UPDATE session_queue SET status = 'playing', started_at = ? WHERE {where} AND id = ?",
                (moment, guild_id, session_id, following),
            )
        entries = await _entries(db, guild_id, session_id, [i for i in (current, following) if i is not None])
    return entries.get(current) if current is not None else None, entries.get(
        following
    ) if following is not None else None


async def _entries(db: Database, guild_id: int, session_id: int, entry_ids: Sequence[int]) -> dict[int, QueueEntry]:
    """These entries of the session, by id (one query)."""
    if not entry_ids:
        return {}
    rows = await db.fetch_all(
        f"SELECT {_entry_columns(db.dialect)} FROM {_ENTRY_FROM} WHERE q.guild_id = ? AND q.session_id = ?"
        f" AND q.id IN ({db.dialect.id_list()})",
        (guild_id, session_id, json.dumps([int(i) for i in entry_ids])),
    )
    return {entry.id: entry for entry in map(_entry, rows)}


async def picks_since_served(db: Database, guild_id: int, session_id: int) -> dict[int, int]:
    """For each member ever served here: how many (not skipped) entries came after their latest one.

    0 means the newest entry was for them; members never served are absent. This is the
    fairness clock of :func:`bot.recommend.group.pick_for_group`.
    """
    rows = await db.fetch_rows(
        "SELECT s.user_id, max(q.position) FROM session_served s"
        " JOIN session_queue q ON q.guild_id = s.guild_id AND q.session_id = s.session_id AND q.id = s.entry_id"
        " WHERE s.guild_id = ? AND s.session_id = ? AND q.status != 'skipped' GROUP BY s.user_id",
        (guild_id, session_id),
    )
    if not rows:
        return {}
    positions = [
        row[0]
        for row in await db.fetch_rows(
            "SELECT position FROM session_queue WHERE guild_id = ? AND session_id = ? AND status != 'skipped'"
            " ORDER BY position",
            (guild_id, session_id),
        )
    ]
    return {user: len(positions) - bisect.bisect_right(positions, last) for user, last in rows}


async def remove_entry(db: Database, guild_id: int, session_id: int, entry_id: int) -> bool:
    """Take a queued entry out of the queue (its votes and fairness records go with it); False if
    it is not queued (any more)."""
    removed = await db.execute(
        "DELETE FROM session_queue WHERE guild_id = ? AND session_id = ? AND id = ? AND status = 'queued'",
        (guild_id, session_id, entry_id),
    )
    return removed > 0


async def reorder_upcoming(db: Database, guild_id: int, session_id: int, entry_ids: Sequence[int]) -> bool:
    """Put the queued entries in the order of ``entry_ids`` (all of them, each once), in the
    positions they hold now, in one transaction; False (nothing changed) if ``entry_ids`` is not
    exactly the queued entries (the queue moved meanwhile)."""
    async with db.transaction():
        rows = await db.fetch_rows(
            "SELECT id, position FROM session_queue WHERE guild_id = ? AND session_id = ? AND status = 'queued'"
            " ORDER BY position",
            (guild_id, session_id),
        )
        if sorted(row[0] for row in rows) != sorted(entry_ids) or len(set(entry_ids)) != len(entry_ids):
            return False
        slots = [row[1] for row in rows]
        moves = [(slot, entry_id) for slot, entry_id in zip(slots, entry_ids, strict=True)]
        # Two steps, so the unique (session, position) never sees two entries in one place.
        await db.execute_many(
            "UPDATE session_queue SET position = ? WHERE guild_id = ? AND session_id = ? AND id = ?",
            [(max(slots) + 1 + i, guild_id, session_id, entry_id) for i, (_, entry_id) in enumerate(moves)],
        )
        await db.execute_many(
            "UPDATE session_queue SET position = ? WHERE guild_id = ? AND session_id = ? AND id = ?",
            [(slot, guild_id, session_id, entry_id) for slot, entry_id in moves],
        )
    return True


async def set_voice_channel(db: Database, guild_id: int, session_id: int, voice_channel_id: int | None) -> None:
    """Where the session plays in voice (it was started again in another voice channel)."""
    await db.execute(
        "UPDATE sessions SET voice_channel_id = ? WHERE guild_id = ? AND id = ?",
        (voice_channel_id, guild_id, session_id),
    )


# -- votes on the other controls ----------------------------------------------------------------


async def add_vote(
    db: Database, guild_id: int, session_id: int, action: str, target: int, user_id: int, *, now: float | None = None
) -> bool:
    """Record a member's vote for ``action`` on ``target``; False if they had already voted."""
    changed = await db.execute(
        "INSERT INTO session_votes (guild_id, session_id, action, target, user_id, voted_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (guild_id, session_id, action, target, user_id, _now(now)),
    )
    return changed > 0


async def count_votes(db: Database, guild_id: int, session_id: int, action: str, target: int) -> int:
    """Votes for ``action`` on ``target`` by members still present."""
    value = await db.fetch_value(
        "SELECT count(*) FROM session_votes v JOIN session_members m ON m.guild_id = v.guild_id"
        " AND m.session_id = v.session_id AND m.user_id = v.user_id AND m.left_at IS NULL"
        " WHERE v.guild_id = ? AND v.session_id = ? AND v.action = ? AND v.target = ?",
        (guild_id, session_id, action, target),
    )
    return int(value or 0)


async def clear_votes(db: Database, guild_id: int, session_id: int, action: str) -> None:
    """Forget the votes for ``action`` (it was done)."""
    await db.execute(
        "DELETE FROM session_votes WHERE guild_id = ? AND session_id = ? AND action = ?",
        (guild_id, session_id, action),
    )


# -- skip votes ---------------------------------------------------------------------------------


async def add_skip_vote(
    db: Database, guild_id: int, session_id: int, entry_id: int, user_id: int, *, now: float | None = None
) -> bool:
    """Record a vote to skip this entry; False if the member had already voted."""
    changed = await db.execute(
        "INSERT INTO session_skip_votes (guild_id, session_id, entry_id, user_id, voted_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (guild_id, session_id, entry_id, user_id, _now(now)),
    )
    return changed > 0


async def skip_voters(
    db: Database, guild_id: int, session_id: int, entry_id: int, *, present_only: bool = True
) -> list[int]:
    """Who voted to skip this entry (by default only those still present)."""
    sql = "SELECT v.user_id FROM session_skip_votes v"
    if present_only:
        sql += (
            " JOIN session_members m ON m.guild_id = v.guild_id AND m.session_id = v.session_id"
            " AND m.user_id = v.user_id AND m.left_at IS NULL"
        )
    sql += " WHERE v.guild_id = ? AND v.session_id = ? AND v.entry_id = ? ORDER BY v.voted_at, v.user_id"
    return [row[0] for row in await db.fetch_rows(sql, (guild_id, session_id, entry_id))]


async def count_skip_votes(db: Database, guild_id: int, session_id: int, entry_id: int) -> int:
    """Votes to skip this entry by members still present."""
    return len(await skip_voters(db, guild_id, session_id, entry_id))


# -- privacy ------------------------------------------------------------------------------------


async def forget_member_sessions(db: Database, guild_id: int, user_id: int) -> int:
    """Remove a member from every session of the guild (for /forget); returns rows removed.

    Their memberships, votes and fairness records go; entries they added stay but are no longer
    attributed to them. An open session they host is handed to the member present longest, or,
    with nobody else present, closed; closed ones forget them as host (:data:`NO_HOST`). No row
    keeps their id.
    """
    async with db.transaction():
        hosted = await db.fetch_rows(
            "SELECT id FROM sessions WHERE guild_id = ? AND host_id = ? AND status = 'open'", (guild_id, user_id)
        )
        for (session_id,) in hosted:
            heir = await db.fetch_value(
                "SELECT user_id FROM session_members WHERE guild_id = ? AND session_id = ? AND left_at IS NULL"
                " AND user_id <> ? ORDER BY joined_at, user_id LIMIT 1",
                (guild_id, session_id, user_id),
            )
            if heir is None:
                await close_session(db, guild_id, session_id)
            else:
                await set_host(db, guild_id, session_id, int(heir))
        removed = await db.execute(
            "DELETE FROM session_members WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
        )
        removed += await db.execute(
            "DELETE FROM session_skip_votes WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
        )
        removed += await db.execute(
            "DELETE FROM session_served WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
        )
        removed += await db.execute("DELETE FROM session_votes WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))
        await db.execute(
            "UPDATE session_queue SET added_by = NULL WHERE guild_id = ? AND added_by = ?", (guild_id, user_id)
        )
        await db.execute(
            "UPDATE sessions SET host_id = ? WHERE guild_id = ? AND host_id = ?",
            (NO_HOST, guild_id, user_id),
        )
    return removed


async def session_ratings(db: Database, guild_id: int, session_id: int, start: float, stop: float) -> list[tuple]:
    """Ratings given between ``start`` and ``stop`` by the session's members to tracks of its queue, as
    ``(user_id, track_id, title, value, rated_at)`` rows in the order they were given."""
    return await db.fetch_rows(
        "SELECT r.user_id, r.track_id, t.title, r.value, r.rated_at FROM ratings r"
        " JOIN tracks t ON t.guild_id = r.guild_id AND t.id = r.track_id"
        " WHERE r.guild_id = ? AND r.rated_at BETWEEN ? AND ?"
        " AND r.user_id IN (SELECT user_id FROM session_members WHERE guild_id = ? AND session_id = ?)"
        " AND r.track_id IN (SELECT track_id FROM session_queue WHERE guild_id = ? AND session_id = ?)"
        " ORDER BY r.rated_at, r.user_id",
        (guild_id, start, stop, guild_id, session_id, guild_id, session_id),
    )
