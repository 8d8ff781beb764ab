"""/session: listen together. A shared queue picked for everyone present, a now-playing message
with 👍 / 👎 / ⏭ that is edited in place, and voice playback when Crate may join the channel.
A radio (``/session start seed:``, or "Start radio" under a track) keeps its queue filled with
tracks that sound like the last one played; ``/playlist play`` opens a session through here too.

The session logic (queue, votes, group picks, taste match, restore) is ``bot.app.sessions``; this
cog is a package of mixins typed against ``base.SessionsBase``, in the manner of Red-DiscordBot's
Audio cog: ``commands`` (the app commands), ``playback`` (each guild's voice player and the
now-playing message), ``tasks`` (restore after a restart, the sweep); ``player`` is the voice
player itself.
"""

from __future__ import annotations

import asyncio

from discord.ext.commands import GroupCog  # not `commands`: the package has a commands module

from cogs.client import CrateBot
from cogs.radio import RadioButton
from cogs.sessions.base import COG_NAME, CompositeMetaClass
from cogs.sessions.commands import SessionCommands
from cogs.sessions.playback import PauseButton, SessionPlayback, ShuffleButton, SkipButton
from cogs.sessions.tasks import SessionTasks


class Sessions(
    SessionCommands,
    SessionPlayback,
    SessionTasks,
    GroupCog,
    metaclass=CompositeMetaClass,
    name=COG_NAME,
    group_name="session",
    group_description="Listen together: a shared queue for everyone present",
):
    """The session cog, composed of its mixins; it registers itself as ``bot.sessions``."""

    async def cog_load(self) -> None:
        self.bot.sessions = self
        if self.bot.has_crate:
            self._restore_task = asyncio.create_task(self._restore(), name="crate-session-restore")
            if self.bot.settings.shards.primary:  # one process sweeps for every shard
                self._sweep_task = asyncio.create_task(self._sweep(), name="crate-session-sweep")

    async def cog_unload(self) -> None:
        self.bot.sessions = None
        for task in (self._restore_task, self._sweep_task):
            if task:
                task.cancel()
        for voice in list(self.voices.values()):
            await voice.close()
        self.voices.clear()


async def setup(bot: CrateBot) -> None:
    bot.add_dynamic_items(SkipButton, PauseButton, ShuffleButton, RadioButton)
    await bot.add_cog(Sessions(bot))
