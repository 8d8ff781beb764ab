"""Who may have a track fetched and analyzed now: reservations, per member, per server and in all.

Sharing a track is one job from the first byte downloaded to the last feature computed, and it
is admitted once, before anything is fetched: :meth:`Admission.reserve` either refuses at once
(with a sentence for the member) or hands out a :class:`Reservation` that the caller holds,
with ``async with``, across the download *and* the analysis. It is a reservation, not a check:
nobody can slip in between "there is room" and "I take it", and a slow download holds its
member's place, never anybody else's.

Limits (all from :class:`AdmissionLimits`, read from the environment by ``bot.config``):

* ``capacity``: reservations held at once by everybody (the pool's workers plus its queue);
  beyond that, :class:`Busy`.
* per member: ``member_concurrent`` jobs running at once and ``member_queued`` more waiting their
  turn; beyond that, :class:`MemberBusy` ("you have 2 tracks being analyzed — one at a time,
  please").
* per server: ``server_concurrent`` running and ``server_queued`` waiting; beyond that,
  :class:`ServerBusy`.

A reservation that is admitted but over its member's or server's running limit waits for its
turn (first come, first served among those that may run) inside ``async with``; leaving the block
in any way (result, error, cancellation) gives the place back. Everything here runs on the event
loop and nothing in it knows about Discord.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable

from bot.config import AdmissionLimits
from bot.i18n import N_
from bot.jobs.pool import Busy  # everybody's "busy": the pool's own refusal, and admission's overall limit


class MemberBusy(Busy):
    """This member already holds as many reservations as one member may."""

    def __init__(self, held: int, **kwargs):
        super().__init__(
            N_("You have a track being analyzed — one at a time, please. Share the next one when I'm done.")
            if held == 1
            else N_("You have {held} tracks being analyzed — one at a time, please. Share the next one when I'm done."),
            values={"held": held},
            **kwargs,
        )
        self.held = held


class ServerBusy(Busy):
    """This server already holds as many reservations as one server may."""

    def __init__(self, held: int, **kwargs):
        super().__init__(
            N_("This server has {held} tracks being analyzed right now — please try again in a minute."),
            values={"held": held},
            **kwargs,
        )
        self.held = held


class Admission:
    """The reservations currently held, and the ones waiting for their turn to run."""

    def __init__(self, limits: AdmissionLimits = AdmissionLimits()):
        self.limits = limits
        self._held: Counter[tuple[int, int]] = Counter()  # (guild, member) -> reservations
        self._held_by_server: Counter[int] = Counter()
        self._running: Counter[tuple[int, int]] = Counter()
        self._running_by_server: Counter[int] = Counter()
        self._waiting: list[Reservation] = []
        self.total = 0
        #: guild -> that server's own ``member_concurrent`` (its /settings analysis limit).
        self._member_concurrent: dict[int, int] = {}

    def set_member_limit(self, guild_id: int, concurrent: int | None) -> None:
        """A server's own per-member limit of tracks analyzed at once (None: the default).

        The number a member may hold (running and waiting) grows with it: ``concurrent`` +
        ``member_queued``. Reservations already held are kept.
        """
        if concurrent is None or concurrent == self.limits.member_concurrent:
            self._member_concurrent.pop(guild_id, None)
        elif concurrent < 1:
            raise ValueError("a member limit must be at least 1")
        else:
            self._member_concurrent[guild_id] = concurrent
        self._wake()

    def member_concurrent(self, guild_id: int) -> int:
        return self._member_concurrent.get(guild_id, self.limits.member_concurrent)

    def reserve(
        self, guild_id: int, user_id: int, *, on_wait: Callable[[], Awaitable[None]] | None = None
    ) -> Reservation:
        """Take a place now, or raise :class:`MemberBusy`, :class:`ServerBusy` or :class:`Busy`.

        Use the result with ``async with``: entering waits for the job's turn (awaiting
        ``on_wait()`` first, when it has to wait: "you're in the queue"), leaving releases.
        """
        member = (guild_id, user_id)
        if self._held[member] >= self.member_concurrent(guild_id) + self.limits.member_queued:
            raise MemberBusy(self._held[member], detail=f"member {user_id} in guild {guild_id}")
        if self._held_by_server[guild_id] >= self.limits.per_server:
            raise ServerBusy(self._held_by_server[guild_id], detail=f"guild {guild_id}")
        if self.total >= self.limits.capacity:
            raise Busy(detail=f"{self.total} reservations held")
        self._held[member] += 1
        self._held_by_server[guild_id] += 1
        self.total += 1
        return Reservation(self, guild_id, user_id, on_wait)

    def held_by(self, guild_id: int, user_id: int) -> int:
        return self._held[(guild_id, user_id)]

    def running_in(self, guild_id: int) -> int:
        return self._running_by_server[guild_id]

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    # ----------------------------------------------------------------- internals

    def _may_run(self, reservation: Reservation) -> bool:
        return (
            self._running[reservation.member] < self.member_concurrent(reservation.guild_id)
            and self._running_by_server[reservation.guild_id] < self.limits.server_concurrent
        )

    def _start(self, reservation: Reservation) -> None:
        reservation.running = True
        self._running[reservation.member] += 1
        self._running_by_server[reservation.guild_id] += 1

    def _wake(self) -> None:
        """Start every waiting reservation that may run now, oldest first."""
        for reservation in list(self._waiting):
            turn = reservation.turn
            assert turn is not None  # a reservation waits on its turn
            if turn.done():  # cancelled while waiting
                self._waiting.remove(reservation)
            elif self._may_run(reservation):
                self._waiting.remove(reservation)
                self._start(reservation)
                turn.set_result(None)

    def _release(self, reservation: Reservation) -> None:
        if reservation.released:
            return
        reservation.released = True
        if reservation in self._waiting:
            self._waiting.remove(reservation)
        if reservation.running:
            reservation.running = False
            _decrement(self._running, reservation.member)
            _decrement(self._running_by_server, reservation.guild_id)
        _decrement(self._held, reservation.member)
        _decrement(self._held_by_server, reservation.guild_id)
        self.total -= 1
        self._wake()


class Reservation:
    """One member's place for one job; ``async with`` it around the download and the analysis."""

    def __init__(
        self, admission: Admission, guild_id: int, user_id: int, on_wait: Callable[[], Awaitable[None]] | None = None
    ):
        self.admission = admission
        self.on_wait = on_wait
        self.guild_id = guild_id
        self.user_id = user_id
        self.running = False
        self.released = False
        self.turn: asyncio.Future[None] | None = None

    @property
    def member(self) -> tuple[int, int]:
        return (self.guild_id, self.user_id)

    async def __aenter__(self) -> Reservation:
        admission = self.admission
        try:
            # Waiting reservations are started as soon as they may run, so one that may run now
            # overtakes nobody: whoever waits is held by their own member's or server's limit.
            if admission._may_run(self):
                admission._start(self)
                return self
            self.turn = asyncio.get_running_loop().create_future()
            admission._waiting.append(self)
            if self.on_wait is not None:
                await self.on_wait()
            await self.turn
            return self
        except BaseException:
            admission._release(self)
            raise

    async def __aexit__(self, *exc_info) -> None:
        self.release()

    def release(self) -> None:
        """Give the place back (idempotent); the next waiting job may start."""
        self.admission._release(self)


def _decrement(counter: Counter, key) -> None:
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]
