"""The Sessions cog's background tasks: resume open sessions after a restart, per guild, and
(on the primary process) sweep sessions idle for hours."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import discord

from bot.app.sessions import SessionSummary
from bot.i18n import _
from cogs import replies
from cogs.layouts import notice
from cogs.playlist import summary_view
from cogs.render import MENTIONS, summary_embed
from cogs.sessions.base import SessionsBase, channel_to_post
from cogs.sessions.player import connect_voice

log = logging.getLogger(__name__)


class SessionTasks(SessionsBase):
    async def _restore(self) -> None:
        """Open sessions survive a restart: resume them (text) or close them with a message."""
        await self.bot.wait_until_ready()
        report = await self.service.restore(owns=self.bot.settings.shards.owns)
        for restored in report.resumed:
            session = restored.session
            guild = self.bot.get_guild(session.guild_id)
            channel = channel_to_post(guild, session.channel_id)
            if guild is None or channel is None:
                continue
            voice_channel = guild.get_channel(session.voice_channel_id) if session.voice_channel_id else None
            voice = await connect_voice(voice_channel) if voice_channel is not None else None
            if voice is not None:
                volume = await self.service.volume(session.guild_id)
                self._start_player(session, voice, await self._idle_timeout(session), volume)
            await self._refresh_now_playing(session, guild)
            with contextlib.suppress(discord.HTTPException), replies.server_language(guild):
                if voice is not None:
                    said = _("🔄 I restarted: this listening session carries on (playing in {channel}).")
                else:
                    said = _("🔄 I restarted: this listening session carries on (in text; `/session next` moves on).")
                await channel.send(said.format(channel=voice_channel.mention if voice_channel is not None else ""))
            await self._kick_player(session)
        for summary in report.closed:
            await self._announce_closed(summary)

    async def _sweep(self) -> None:
        """The primary process: every CRATE_SWEEP_INTERVAL, close sessions idle for hours, in
        every guild (a guild of another shard is written to through REST, which needs no shard)."""
        await self.bot.wait_until_ready()
        while True:
            await asyncio.sleep(self.bot.settings.sweep_interval)
            try:
                for summary in await self.service.close_stale():
                    voice = self.voices.get(summary.session.guild_id)
                    if voice is not None and voice.session_id == summary.session.id:
                        del self.voices[summary.session.guild_id]
                        await voice.close()
                    await self._announce_closed(summary)
            except Exception:
                log.exception("the stale-session sweep failed; trying again later")

    async def _announce_closed(self, summary: SessionSummary) -> None:
        with replies.server_language(self.bot.get_guild(summary.session.guild_id)):
            await self._say_closed(summary)

    async def _say_closed(self, summary: SessionSummary) -> None:
        channel = self.bot.get_partial_messageable(summary.session.channel_id, guild_id=summary.session.guild_id)
        if summary.session.now_playing_message_id:
            with contextlib.suppress(discord.HTTPException):  # no live-looking buttons on it any more
                await channel.get_partial_message(summary.session.now_playing_message_id).edit(
                    content=None, embed=None, view=notice(_("This session has ended."))
                )
        with contextlib.suppress(discord.HTTPException):
            await channel.send(
                content=_("This session was closed while I was away for a long time."),
                embed=summary_embed(summary, MENTIONS),
                view=summary_view(summary.session.id),
            )
