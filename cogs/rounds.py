"""A cog's background round: a coroutine run again and again, a pause between, a failure logged
and retried at the next round, stopped with the cog. The Blend refresh and the monthly recap use
it; what each round does, and when something is due, is decided in ``bot/app``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Rounds:
    """Runs ``step()`` now (after ``first`` when given), then every ``every()`` seconds (asked
    again at each round, so the pause can change while it runs)."""

    def __init__(
        self,
        name: str,
        step: Callable[[], Awaitable[object]],
        every: Callable[[], float],
        *,
        first: Callable[[], Awaitable[object]] | None = None,
    ):
        self.name = name
        self.step = step
        self.every = every
        self.first = first
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        if self.first is not None:
            await self.first()
        while True:
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed; trying again at the next round", self.name)
            await asyncio.sleep(self.every())
