"""The state the Sessions mixins share and the methods they call on one another, typed once.

Each mixin (commands, playback, tasks) subclasses :class:`SessionsBase`, so a type checker sees
every cross-mixin call; the abstract methods are implemented by the mixin that owns them, and
the composed cog (``cogs.sessions.Sessions``) cannot be built until all of them are.
"""

from __future__ import annotations

import asyncio
from abc import ABCMeta, abstractmethod
from typing import Self

import discord
from discord.ext import commands

from bot.app.sessions import SessionService, SessionSummary
from bot.store.sessions import Session
from cogs.client import CrateBot
from cogs.sessions.player import GuildVoice

#: The cog's name, as ``bot.get_cog`` knows it.
COG_NAME = "Sessions"

#: A server's channel that holds messages: a text channel, a thread, or the chat of a voice or
#: stage channel.
PostChannel = discord.TextChannel | discord.Thread | discord.VoiceChannel | discord.StageChannel


def channel_to_post(guild: discord.Guild | None, channel_id: int) -> PostChannel | None:
    """The channel or thread ``channel_id`` of ``guild`` for Crate to post in; None when there is
    none: Crate is not in that server (another shard's, or it left), the channel is gone (or the
    thread archived), or it holds no messages (a forum or a category)."""
    channel = guild.get_channel_or_thread(channel_id) if guild is not None else None
    return channel if isinstance(channel, discord.abc.Messageable) else None


class CompositeMetaClass(commands.CogMeta, ABCMeta):
    """discord.py builds cogs with ``CogMeta``, abstract bases need ``ABCMeta``: the mixins need both."""


class SessionsBase(commands.Cog, metaclass=CompositeMetaClass):
    """What every part of the Sessions cog may rely on: the bot, each guild's voice connection,
    the background tasks, and the session service."""

    def __init__(self, bot: CrateBot):
        self.bot: CrateBot = bot
        self.voices: dict[int, GuildVoice] = {}  # guild id -> its one voice connection
        self._restore_task: asyncio.Task[None] | None = None
        self._sweep_task: asyncio.Task[None] | None = None

    @classmethod
    def of(cls, bot: CrateBot) -> Self:
        """The loaded session cog of ``bot`` (its buttons reach it through this)."""
        cog = bot.get_cog(COG_NAME)
        if not isinstance(cog, cls):
            raise RuntimeError("the Sessions cog is not loaded")
        return cog

    @property
    def service(self) -> SessionService:
        """``Crate`` owns the session service, as it owns the others (``crate run --sync-global``
        runs without a Crate, and never calls this)."""
        return self.bot.crate.sessions

    # -- commands (cogs.sessions.commands) -----------------------------------------------------

    @abstractmethod
    async def move_on(self, session: Session, user_id: int, guild: discord.Guild | None, *, dj: bool = False) -> str:
        """/session next and ⏭: returns the sentence for the member who asked."""

    # -- playback (cogs.sessions.playback) -----------------------------------------------------

    @abstractmethod
    async def _post_now_playing(self, session: Session, channel, names) -> None: ...

    @abstractmethod
    async def _refresh_now_playing(self, session: Session, guild, *, announce: bool = False) -> None: ...

    @abstractmethod
    def _voice(self, session: Session) -> GuildVoice | None:
        """The guild's voice connection, if it plays for ``session``."""

    @abstractmethod
    async def _idle_timeout(self, session: Session) -> float | None:
        """The server's voice idle timeout (/settings); None: it stays in voice (24/7)."""

    @abstractmethod
    def _start_player(
        self, session: Session, voice_client: discord.VoiceClient, idle_timeout: float | None, volume: int = 100
    ) -> None:
        """Play ``session`` through ``voice_client``, the guild's one voice connection, at
        ``volume`` per cent."""

    @abstractmethod
    async def join_voice(self, session: Session, channel) -> bool:
        """Bring a text session (back) into voice in ``channel``; False if it can't join."""

    @abstractmethod
    async def pause_or_resume(self, session: Session, user_id: int, *, dj: bool, resume: bool) -> str:
        """/session pause, /session resume and ⏯: returns the sentence for the member who asked."""

    @abstractmethod
    async def set_volume(self, session: Session, user_id: int, level: int, *, dj: bool) -> str:
        """/session volume: returns the sentence for the member who asked."""

    @abstractmethod
    async def shuffle_upcoming(self, session: Session, user_id: int, guild, *, dj: bool) -> str:
        """/session shuffle and 🔀: returns the sentence for the member who asked."""

    @abstractmethod
    async def _kick_player(self, session: Session) -> None: ...

    @abstractmethod
    async def _stop_voice(self, session: Session) -> None: ...

    # -- tasks (cogs.sessions.tasks) -----------------------------------------------------------

    @abstractmethod
    async def _restore(self) -> None:
        """Open sessions survive a restart: resume them (text) or close them with a message."""

    @abstractmethod
    async def _sweep(self) -> None:
        """Close sessions idle for hours, every CRATE_SWEEP_INTERVAL."""

    @abstractmethod
    async def _announce_closed(self, summary: SessionSummary) -> None: ...
