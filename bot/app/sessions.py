"""Group listening sessions, with no Discord in sight: :class:`SessionService`.

A session lives in one text channel of one server (the starter hosts it; an optional voice
channel plays it). Members join and leave (joining the voice channel also counts — the cog calls
:meth:`SessionService.join`), add tracks (analyzed by :meth:`bot.app.crate.Crate.share`, then
:meth:`SessionService.add_track`), and move on with :meth:`SessionService.next`: the host at once,
anyone else by a skip vote, a strict majority of the members present moving on. When the queue
runs dry Crate fills it from the server's catalog for the members present
(:func:`bot.recommend.group.pick_for_group`: never a track a present member disliked, fair
rotation between tastes). :meth:`SessionService.end` closes the session with a summary.

A **radio** session (``start(radio_seed=...)``) plays its seed first; then Crate queues one track
at a time that sounds like the last one played (a skipped track is passed over) and fits the
members present (:func:`bot.recommend.radio.pick_radio`), never repeating a track of the session.
A **DJ** (the server's DJ role, :mod:`bot.app.settings`) moves on at once and may end any
session, as the host does.

The controls of a music bot follow the same rule: the host or a DJ pauses, resumes, shuffles
and removes at once, anyone else votes (a strict majority of the members present), and the member
who added a track removes it at once; moving a track and the volume are the host's or a DJ's.
The volume is the server's (its one voice connection), remembered in its settings row.

Everything is in SQLite (:mod:`bot.store.sessions`): :meth:`SessionService.restore` after a
restart returns every open session with its queue and now-playing message id, and closes those
idle for longer than :data:`IDLE_LIMIT` with a summary — a session is never silently forgotten.

Sessions are independent: per-channel, per-guild rows, and a lock per session orders the
moves of one session (two clicks on ⏭ at once move on once).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bot.catalog import DISLIKE, LIKE, UnknownTrack
from bot.errors import CrateError
from bot.i18n import N_
from bot.reasons import RADIO_SEED
from bot.recommend.group import GroupMatch, GroupPick, GroupRecommender, group_match, pick_for_group
from bot.recommend.radio import pick_radio
from bot.recommend.service import CatalogCache
from bot.store import radio as store_radio
from bot.store import sessions as store
from bot.store import settings as store_settings
from bot.store.database import Database
from bot.store.sessions import QueueEntry, Session, SessionAlreadyOpenError
from bot.store.tracks import get_track

#: How many tracks Crate queues when the queue runs out.
FILL_COUNT = 3
#: A radio queues one track at a time, so each pick follows the track played last.
RADIO_FILL_COUNT = 1
#: When every track of the catalog has been in the session, tracks may come back, except the
#: ones queued or among this many most recently played.
REPEAT_GAP = 5
#: restore() closes open sessions with no activity for this long (seconds) instead of resuming.
IDLE_LIMIT = 6 * 3600.0
#: A server's voice volume, in per cent, until its host or a DJ sets one (/session volume).
DEFAULT_VOLUME = 100
MAX_VOLUME = 200


# -- errors -------------------------------------------------------------------------------------


class SessionError(CrateError):
    user_message = N_("Something went wrong with the listening session.")


class NoSession(SessionError):
    user_message = N_("There's no listening session in this channel — start one with /session start.")


class SessionAlreadyOpen(SessionError):
    user_message = N_(
        "There's already a listening session in this channel — join it with /session join, or end it with /session end."
    )


class SessionEnded(NoSession):
    user_message = N_("That listening session has ended — start a new one with /session start.")


class NotInSession(SessionError):
    user_message = N_("You're not in this listening session — join it with /session join.")


class NotHost(SessionError):
    user_message = N_("Only the session's host (or a member with the server's DJ role) can do that.")


class AlreadyVoted(SessionError):
    user_message = N_("You've already voted to skip this track.")


class AlreadyVotedFor(SessionError):
    user_message = N_("You've already voted for that.")


class NotInVoice(SessionError):
    user_message = N_(
        "This session plays in text (I post each track's link), so there is nothing to pause or resume"
        " and no volume to set: start voice again with /session start in a voice channel."
    )


class NoSuchPosition(SessionError):
    user_message = N_("There's no track at that place in the queue: see /session queue for what comes next.")


class NothingToShuffle(SessionError):
    user_message = N_("There are fewer than two of Crate's picks coming up, so there is nothing to shuffle.")


# -- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueView:
    """A session as it stands: what plays, what comes next, who is here (also what a restart resumes)."""

    session: Session
    now_playing: QueueEntry | None
    upcoming: tuple[QueueEntry, ...]
    present: tuple[int, ...]


@dataclass(frozen=True)
class NextResult:
    """What a /session next (or ⏭) did."""

    moved: bool  # the session moved on to the next track
    votes: int  # skip votes for the track that was playing (members present)
    needed: int  # votes needed to move on: a strict majority of the members present
    skipped: QueueEntry | None = None  # the track that was playing, when moved
    now_playing: QueueEntry | None = None  # what plays now (None: the catalog ran out)
    by_host: bool = False
    filled: tuple[QueueEntry, ...] = ()  # entries Crate queued to keep the music going


@dataclass(frozen=True)
class ControlResult:
    """What a control (pause, resume, shuffle, remove) did: done, or one more vote counted."""

    done: bool
    votes: int = 0  # votes for it by members present (0: done by the host, a DJ or the track's adder)
    needed: int = 0  # a strict majority of the members present
    entry: QueueEntry | None = None  # the entry it acted on (remove)


@dataclass(frozen=True)
class LeaveResult:
    left: bool  # False: they were not present
    new_host: int | None = None  # the host left: hosting passed to this member
    empty: bool = False  # nobody is present any more


@dataclass(frozen=True)
class SessionRating:
    user_id: int
    track_id: int
    title: str
    value: int  # LIKE / DISLIKE
    rated_at: float


@dataclass(frozen=True)
class SessionSummary:
    session: Session
    played: tuple[QueueEntry, ...]  # played and skipped entries, in order
    members: tuple[int, ...]  # everyone who joined
    ratings: tuple[SessionRating, ...]  # members' ratings of session tracks during the session
    match: GroupMatch

    @property
    def duration(self) -> float:
        return (self.session.ended_at or time.time()) - self.session.started_at

    @property
    def skipped(self) -> int:
        return sum(entry.status == "skipped" for entry in self.played)

    def liked_by(self) -> dict[int, list[str]]:
        """Titles each member liked during the session."""
        out: dict[int, list[str]] = {}
        for rating in self.ratings:
            if rating.value == LIKE:
                out.setdefault(rating.user_id, []).append(rating.title)
        return out

    def disliked_by(self) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for rating in self.ratings:
            if rating.value == DISLIKE:
                out.setdefault(rating.user_id, []).append(rating.title)
        return out


@dataclass(frozen=True)
class RestoreReport:
    resumed: tuple[QueueView, ...] = ()  # each open session as it stands, to resume
    closed: tuple[SessionSummary, ...] = field(default=())  # idle too long: closed, post the summary


# -- the service --------------------------------------------------------------------------------


class SessionService:
    """Listening sessions over the database; every method is safe to call from many tasks."""

    def __init__(self, db: Database, catalogs: CatalogCache | None = None, *, clock: Callable[[], float] = time.time):
        self.db = db
        #: The servers' decoded catalogs and ratings, shared with the other use cases of a Crate.
        self.catalogs = catalogs or CatalogCache(db)
        self.clock = clock
        self._locks: dict[int, asyncio.Lock] = {}

    def _lock(self, session: Session) -> asyncio.Lock:
        return self._locks.setdefault(session.id, asyncio.Lock())

    # -- finding sessions ---------------------------------------------------------------------

    async def get(self, guild_id: int, channel_id: int) -> Session:
        """The open session of this channel; raises :class:`NoSession`."""
        session = await store.get_open_session(self.db, guild_id, channel_id)
        if session is None:
            raise NoSession(detail=f"guild {guild_id} channel {channel_id}")
        return session

    async def by_id(self, guild_id: int, session_id: int) -> Session:
        """An open session by id (buttons carry it); raises :class:`SessionEnded` if it closed."""
        session = await store.get_session(self.db, guild_id, session_id)
        if session is None or not session.is_open:
            raise SessionEnded(detail=f"guild {guild_id} session {session_id}")
        return session

    async def _fresh(self, session: Session) -> Session:
        return await self.by_id(session.guild_id, session.id)

    # -- starting, joining, leaving -------------------------------------------------------------

    async def start(
        self,
        guild_id: int,
        channel_id: int,
        host_id: int,
        voice_channel_id: int | None = None,
        *,
        radio_seed: int | None = None,
        first_tracks: Sequence[int] = (),
        reason: str = "",
    ) -> Session:
        """Open a session in this channel, hosted (and joined) by ``host_id``.

        With ``radio_seed`` it is a radio that starts with that track; ``first_tracks`` (a
        playlist) are queued first, credited to the host, with ``reason``.
        """
        if radio_seed is not None:
            await self.track(guild_id, radio_seed)  # an unknown seed is refused before anything opens
        try:
            session = await store.open_session(
                self.db, guild_id, channel_id, host_id, voice_channel_id=voice_channel_id, now=self.clock()
            )
        except SessionAlreadyOpenError as error:
            raise SessionAlreadyOpen(detail=error.detail) from error
        if radio_seed is not None:
            await store_radio.set_radio_seed(self.db, guild_id, session.id, radio_seed)
            await store.enqueue(
                self.db, guild_id, session.id, radio_seed, added_by=host_id, reason=RADIO_SEED, now=self.clock()
            )
        for track_id in first_tracks:
            await store.enqueue(
                self.db, guild_id, session.id, track_id, added_by=host_id, reason=reason, now=self.clock()
            )
        return session

    async def radio_seed(self, session: Session) -> int | None:
        """The seed track of a radio session; None for an ordinary one."""
        return await store_radio.radio_seed(self.db, session.guild_id, session.id)

    async def join(self, session: Session, user_id: int) -> bool:
        """The member is present (again); False if they already were.

        Crate's picks queued before they came were chosen for the others, so they are dropped and
        picked again for the whole group when the queue next runs dry (members' own tracks stay).
        """
        async with self._lock(session):
            session = await self._fresh(session)
            return await self._arrive(session, user_id, self.clock())

    async def _arrive(self, session: Session, user_id: int, now: float) -> bool:
        joined = await store.join(self.db, session.guild_id, session.id, user_id, now=now)
        if joined:
            await store.drop_crate_picks(self.db, session.guild_id, session.id)
        return joined

    async def leave(self, session: Session, user_id: int) -> LeaveResult:
        """The member leaves; if they hosted, the longest-present member hosts from now on."""
        async with self._lock(session):
            session = await self._fresh(session)
            async with self.db.transaction():
                left = await store.leave(self.db, session.guild_id, session.id, user_id, now=self.clock())
                present = await store.present_members(self.db, session.guild_id, session.id)
                new_host = None
                if left and session.host_id == user_id and present:
                    new_host = present[0]
                    await store.set_host(self.db, session.guild_id, session.id, new_host)
        return LeaveResult(left, new_host, empty=not present)

    async def open_in_guild(self, guild_id: int) -> list[Session]:
        """Every open session of a guild (e.g. to find the one playing in a voice channel)."""
        return await store.open_sessions_in_guild(self.db, guild_id)

    async def present(self, session: Session) -> list[int]:
        return await store.present_members(self.db, session.guild_id, session.id)

    # -- the queue -----------------------------------------------------------------------------

    async def add_track(self, session: Session, track_id: int, user_id: int, *, reason: str = "") -> QueueEntry:
        """Queue a member's track (already in the catalog, e.g. from Crate.share). Adding joins them."""
        return (await self.add_tracks(session, [track_id], user_id, reason=reason))[0]

    async def add_tracks(
        self, session: Session, track_ids: Sequence[int], user_id: int, *, reason: str = ""
    ) -> list[QueueEntry]:
        """Queue several of a member's tracks in order (a playlist). Adding joins them."""
        async with self._lock(session):
            session = await self._fresh(session)
            now = self.clock()
            await self._arrive(session, user_id, now)
            return [
                await store.enqueue(
                    self.db, session.guild_id, session.id, track_id, added_by=user_id, reason=reason, now=now
                )
                for track_id in track_ids
            ]

    async def add_queued(self, session: Session, tracks: Sequence[store.Queued], user_id: int) -> list[QueueEntry]:
        """Queue tracks a member asked for, each with its own reason (a song path), in order, in one
        transaction. Adding joins them; the entries are theirs, so a member joining keeps them."""
        async with self._lock(session):
            session = await self._fresh(session)
            now = self.clock()
            await self._arrive(session, user_id, now)
            return await store.enqueue_many(self.db, session.guild_id, session.id, tracks, added_by=user_id, now=now)

    async def queue_view(self, session: Session) -> QueueView:
        """What plays now, what comes next (each with its reason) and who is here."""
        g, s = session.guild_id, session.id
        return QueueView(
            session=await store.get_session(self.db, g, s) or session,
            now_playing=await store.current_entry(self.db, g, s),
            upcoming=tuple(await store.upcoming(self.db, g, s)),
            present=tuple(await store.present_members(self.db, g, s)),
        )

    async def now_playing(self, session: Session) -> QueueEntry | None:
        return await store.current_entry(self.db, session.guild_id, session.id)

    async def set_now_playing_message(self, session: Session, message_id: int | None) -> None:
        await store.set_now_playing_message(self.db, session.guild_id, session.id, message_id)

    async def fill_queue(self, session: Session, *, count: int = FILL_COUNT) -> list[QueueEntry]:
        """Queue ``count`` of Crate's picks for the members present (see bot.recommend.group)."""
        async with self._lock(session):
            session = await self._fresh(session)
            return await self._fill(session, count)

    async def _fill(
        self,
        session: Session,
        count: int,
        *,
        passed_over: int | None = None,
        present: Sequence[int] | None = None,
    ) -> list[QueueEntry]:
        """Queue Crate's picks for ``present`` (default: read); ``passed_over`` is an entry being
        skipped (a radio does not follow it)."""
        g, s = session.guild_id, session.id
        if present is None:
            present = await store.present_members(self.db, g, s)
        catalog, ratings = await self.catalogs.catalog_and_ratings(g)
        entries = await store.queue_of(self.db, g, s)
        exclude = {e.track_id for e in entries}
        now = self.clock()
        seed = await store_radio.radio_seed(self.db, g, s)
        if seed is not None:
            heard = [e for e in entries if e.status in ("played", "playing") and e.id != passed_over]
            previous = heard[-1].track_id if heard else seed

            def radio() -> list[GroupPick]:
                return pick_radio(
                    catalog, ratings, present, seed_track_id=seed, previous_track_id=previous,
                    exclude_track_ids=exclude, count=RADIO_FILL_COUNT, now=now,
                )  # fmt: skip

            return await self._enqueue_picks(session, await asyncio.to_thread(radio), now)
        since = await store.picks_since_served(self.db, g, s)

        def pick(excluded: set[int]):
            return pick_for_group(
                catalog, ratings, present, exclude_track_ids=excluded, since_served=since,
                count=count, now=now,
            )  # fmt: skip

        picks = await asyncio.to_thread(pick, exclude)
        if not picks and entries:
            # Every track has been in the session: let older ones come back.
            played = [e for e in entries if e.status in ("played", "skipped")]
            recent = {e.track_id for e in played[-REPEAT_GAP:]}
            pending = {e.track_id for e in entries if e.status in ("queued", "playing")}
            picks = await asyncio.to_thread(pick, recent | pending)
        return await self._enqueue_picks(session, picks, now)

    async def _enqueue_picks(self, session: Session, picks: Sequence[GroupPick], now: float) -> list[QueueEntry]:
        queued = [store.Queued(p.track_id, p.reason, p.for_user_ids) for p in picks]
        return await store.enqueue_many(self.db, session.guild_id, session.id, queued, added_by=None, now=now)

    async def start_playing(self, session: Session) -> QueueEntry | None:
        """If nothing plays, start the next queued entry (filling the queue if empty); returns what plays."""
        async with self._lock(session):
            session = await self._fresh(session)
            current = await store.current_entry(self.db, session.guild_id, session.id)
            if current is not None:
                return current
            _, playing, _ = await self._advance(session, "played", None)
            return playing

    async def _advance(
        self,
        session: Session,
        outcome: str,
        expected: QueueEntry | None,
        *,
        present: Sequence[int] | None = None,
    ) -> tuple[QueueEntry | None, QueueEntry | None, tuple[QueueEntry, ...]]:
        """Move on from ``expected``, the entry playing (None: nothing plays yet), filling the queue
        first if it is empty; the caller holds the session lock and read ``expected`` under it.

        Returns (finished, now playing, entries Crate queued).
        """
        g, s = session.guild_id, session.id
        filled: list[QueueEntry] = []
        if not await store.has_upcoming(self.db, g, s):
            passed_over = expected.id if expected is not None and outcome == "skipped" else None
            filled = await self._fill(session, FILL_COUNT, passed_over=passed_over, present=present)
        moved = await store.advance(
            self.db,
            g,
            s,
            outcome=outcome,  # type: ignore[arg-type]
            expected_entry_id=None if expected is None else expected.id,
            now=self.clock(),
        )
        if moved is None:  # pragma: no cover - the lock makes this impossible
            return None, None, tuple(filled)
        finished, playing = moved
        return finished, playing, tuple(filled)

    async def next(
        self,
        session: Session,
        by_user: int,
        *,
        audible: bool = True,
        dj: bool = False,
    ) -> NextResult:
        """/session next and ⏭: the host (or a ``dj``) moves on at once; anyone else votes, and a
        strict majority of the members present moves on. Votes belong to the playing track.

        A skip is counted only when a track was cut short: by a vote, or by the host while it
        was ``audible`` (playing in voice). In a text session the host moving on is just that."""
        async with self._lock(session):
            session = await self._fresh(session)
            g, s = session.guild_id, session.id
            present = await store.present_members(self.db, g, s)
            is_host = by_user == session.host_id or dj
            if by_user not in present and not dj:
                raise NotInSession(detail=f"user {by_user} session {s}")
            needed = len(present) // 2 + 1
            current = await store.current_entry(self.db, g, s)
            if current is None:
                # Nothing playing yet: anyone present may get the music going.
                _, playing, filled = await self._advance(session, "played", None, present=present)
                return NextResult(True, 0, needed, None, playing, is_host, filled)
            votes = 0  # the host (or a DJ) moves on without counting votes
            if not is_host:
                if not await store.add_skip_vote(self.db, g, s, current.id, by_user, now=self.clock()):
                    raise AlreadyVoted(detail=f"user {by_user} entry {current.id}")
                votes = await store.count_skip_votes(self.db, g, s, current.id)
                if votes < needed:
                    return NextResult(False, votes, needed)
            status = "skipped" if audible or not is_host else "played"
            skipped, playing, filled = await self._advance(session, status, current, present=present)
            return NextResult(True, votes, needed, skipped, playing, is_host, filled)

    async def track_finished(self, session: Session, entry_id: int, *, unplayable: bool = False) -> QueueEntry | None:
        """The player finished ``entry_id``: mark it played (``skipped`` when it could not be
        fetched or played at all) and start the next (filling if needed).

        Returns what plays now; does nothing (returns the current entry) if ``entry_id`` is no
        longer the one playing — a skip got there first.
        """
        async with self._lock(session):
            session = await self._fresh(session)
            current = await store.current_entry(self.db, session.guild_id, session.id)
            if current is None or current.id != entry_id:  # a skip got there first
                return current
            _, playing, _ = await self._advance(session, "skipped" if unplayable else "played", current)
            return playing

    # -- the controls ----------------------------------------------------------------------------

    async def _decide(
        self, session: Session, user_id: int, action: str, target: int, *, dj: bool, at_once: bool = False
    ) -> ControlResult:
        """The host, a DJ (or ``at_once``) acts; anyone else present votes, and a strict majority
        of the members present acts. The caller holds the session lock. Done: its votes go."""
        g, s = session.guild_id, session.id
        present = await store.present_members(self.db, g, s)
        needed = len(present) // 2 + 1
        if at_once or dj or user_id == session.host_id:
            await store.clear_votes(self.db, g, s, action)
            return ControlResult(True, 0, needed)
        if user_id not in present:
            raise NotInSession(detail=f"user {user_id} session {s}")
        if not await store.add_vote(self.db, g, s, action, target, user_id, now=self.clock()):
            raise AlreadyVotedFor(detail=f"user {user_id} {action} {target}")
        votes = await store.count_votes(self.db, g, s, action, target)
        if votes < needed:
            return ControlResult(False, votes, needed)
        await store.clear_votes(self.db, g, s, action)
        return ControlResult(True, votes, needed)

    async def pause(self, session: Session, user_id: int, *, dj: bool = False, resume: bool = False) -> ControlResult:
        """/session pause (and ``resume``): may the player be paused (resumed) now? The voice
        player does it; votes belong to the playing track."""
        async with self._lock(session):
            session = await self._fresh(session)
            current = await store.current_entry(self.db, session.guild_id, session.id)
            action = "resume" if resume else "pause"
            return await self._decide(session, user_id, action, current.id if current else 0, dj=dj)

    async def _upcoming_at(self, session: Session, position: int) -> tuple[list[QueueEntry], QueueEntry]:
        """The queued entries, and the one at ``position`` (1: the next to play)."""
        upcoming = await store.upcoming(self.db, session.guild_id, session.id)
        if not 1 <= position <= len(upcoming):
            raise NoSuchPosition(detail=f"position {position} of {len(upcoming)}")
        return upcoming, upcoming[position - 1]

    async def remove(self, session: Session, user_id: int, position: int, *, dj: bool = False) -> ControlResult:
        """/session remove: take the track at ``position`` (1: next) out of the queue. Its adder,
        the host or a DJ at once; anyone else votes."""
        async with self._lock(session):
            session = await self._fresh(session)
            _, entry = await self._upcoming_at(session, position)
            own = entry.added_by is not None and entry.added_by == user_id
            result = await self._decide(session, user_id, f"remove:{entry.id}", entry.id, dj=dj, at_once=own)
            if result.done:
                await store.remove_entry(self.db, session.guild_id, session.id, entry.id)
            return ControlResult(result.done, result.votes, result.needed, entry)

    async def move(self, session: Session, user_id: int, position: int, to: int, *, dj: bool = False) -> QueueEntry:
        """/session move: the host or a DJ moves the track at ``position`` to ``to`` (1: next)."""
        async with self._lock(session):
            session = await self._fresh(session)
            if user_id != session.host_id and not dj:
                raise NotHost(detail=f"user {user_id} session {session.id}")
            upcoming, entry = await self._upcoming_at(session, position)
            if not 1 <= to <= len(upcoming):
                raise NoSuchPosition(detail=f"to {to} of {len(upcoming)}")
            order = [e.id for e in upcoming if e.id != entry.id]
            order.insert(to - 1, entry.id)
            await store.reorder_upcoming(self.db, session.guild_id, session.id, order)
            return entry

    async def shuffle(
        self, session: Session, user_id: int, *, dj: bool = False, rng: random.Random | None = None
    ) -> ControlResult:
        """/session shuffle: Crate's upcoming picks change places among themselves; members' own
        additions keep their places. The host or a DJ at once; anyone else votes."""
        async with self._lock(session):
            session = await self._fresh(session)
            upcoming = await store.upcoming(self.db, session.guild_id, session.id)
            picks = [e.id for e in upcoming if e.picked_by_crate]
            if len(picks) < 2:
                raise NothingToShuffle(detail=f"{len(picks)} picks")
            result = await self._decide(session, user_id, "shuffle", 0, dj=dj)
            if result.done:
                shuffled = list(picks)
                (rng or random.Random()).shuffle(shuffled)
                mixed = iter(shuffled)
                order = [next(mixed) if e.picked_by_crate else e.id for e in upcoming]
                await store.reorder_upcoming(self.db, session.guild_id, session.id, order)
            return result

    async def volume(self, guild_id: int) -> int:
        """The server's voice volume in per cent (100: Crate's default level)."""
        stored = await store_settings.voice_volume(self.db, guild_id)
        return DEFAULT_VOLUME if stored is None else int(stored)

    async def set_volume(self, session: Session, user_id: int, level: int, *, dj: bool = False) -> int:
        """/session volume: the host or a DJ sets the server's voice volume (0-200 %), remembered
        for its next sessions too."""
        session = await self._fresh(session)
        if user_id != session.host_id and not dj:
            raise NotHost(detail=f"user {user_id} session {session.id}")
        level = max(0, min(MAX_VOLUME, int(level)))
        await store_settings.save_voice_volume(self.db, session.guild_id, level, now=self.clock())
        return level

    async def set_voice_channel(self, session: Session, voice_channel_id: int | None) -> Session:
        """The session plays in this voice channel from now on (started again in voice)."""
        await store.set_voice_channel(self.db, session.guild_id, session.id, voice_channel_id)
        return await self._fresh(session)

    # -- ending, taste match, restore -------------------------------------------------------------

    async def taste_match(self, guild_id: int, user_ids: Sequence[int]) -> GroupMatch:
        """Pairwise and group taste match of these members in this server."""
        catalog, ratings = await self.catalogs.catalog_and_ratings(guild_id)
        recommender = GroupRecommender(catalog, ratings, now=self.clock())
        return group_match([recommender.profile(u) for u in dict.fromkeys(user_ids)], catalog)

    async def end(self, session: Session, by_user: int | None = None, *, dj: bool = False) -> SessionSummary:
        """Close the session and sum it up. The host or a ``dj`` ends it, or anyone present when
        the host has left; ``by_user=None`` (Crate itself, e.g. after a restart) always may."""
        async with self._lock(session):
            session = await self._fresh(session)
            g, s = session.guild_id, session.id
            if by_user is not None and by_user != session.host_id and not dj:
                present = await store.present_members(self.db, g, s)
                if session.host_id in present or by_user not in present:
                    raise NotHost(detail=f"user {by_user} session {s}")
            await store.close_session(self.db, g, s, now=self.clock())
        self._locks.pop(session.id, None)
        return await self.summary(session)

    async def summary(self, session: Session) -> SessionSummary:
        """What happened in a session (open or closed): tracks, who liked what, the taste match."""
        g, s = session.guild_id, session.id
        session = await store.get_session(self.db, g, s) or session
        start, stop = session.started_at, session.ended_at if session.ended_at is not None else self.clock()
        entries = await store.queue_of(self.db, g, s, statuses=("played", "skipped", "playing"))
        entries.sort(key=lambda e: (e.started_at or 0.0, e.position))
        members = tuple(m.user_id for m in await store.members(self.db, g, s))
        rows = await store.session_ratings(self.db, g, s, start, stop)
        ratings = tuple(SessionRating(*row) for row in rows)
        match = await self.taste_match(g, members)
        return SessionSummary(session, tuple(entries), members, ratings, match)

    async def restore(
        self, *, idle_limit: float = IDLE_LIMIT, owns: Callable[[int], bool] | None = None
    ) -> RestoreReport:
        """After a restart: every open session of every guild (of those ``owns`` accepts: a
        sharded process restores only its own shards' guilds, whose voice it keeps), to resume
        (with its queue and now-playing message id), except those idle longer than
        ``idle_limit``, which are closed and returned as summaries so the cog can say so in
        their channel."""
        resumed, closed = [], []
        for session, stale in await self._open_sessions(idle_limit, owns):
            if stale:
                closed.append(await self.end(session))
            else:
                resumed.append(await self.queue_view(session))
        return RestoreReport(tuple(resumed), tuple(closed))

    async def close_stale(self, *, idle_limit: float = IDLE_LIMIT) -> list[SessionSummary]:
        """The periodic sweep (one process does it for every guild): close the open sessions
        idle for longer than ``idle_limit``; their summaries, to post in their channels."""
        return [await self.end(session) for session, stale in await self._open_sessions(idle_limit, None) if stale]

    async def _open_sessions(self, idle_limit: float, owns: Callable[[int], bool] | None) -> list[tuple[Session, bool]]:
        """Open sessions (of the guilds ``owns`` accepts), each with whether it is stale."""
        now = self.clock()
        found = []
        for session in await store.open_sessions(self.db):
            if owns is not None and not owns(session.guild_id):
                continue
            last = await store.last_activity(self.db, session.guild_id, session.id) or session.started_at
            found.append((session, now - last > idle_limit))
        return found

    async def track(self, guild_id: int, track_id: int):
        """The catalog track of an entry (for playback: its source_url / title)."""
        track = await get_track(self.db, guild_id, track_id)
        if track is None:
            raise UnknownTrack(detail=f"guild {guild_id} track {track_id}")
        return track


__all__ = [
    "AlreadyVoted",
    "AlreadyVotedFor",
    "ControlResult",
    "LeaveResult",
    "NextResult",
    "NoSession",
    "NoSuchPosition",
    "NotHost",
    "NotInSession",
    "NotInVoice",
    "NothingToShuffle",
    "QueueView",
    "RestoreReport",
    "SessionAlreadyOpen",
    "SessionEnded",
    "SessionError",
    "SessionRating",
    "SessionService",
    "SessionSummary",
]
