"""Playing a session: the guild's voice player wired to the session's queue, and the
now-playing message with 👍 / 👎 / ⏭ that is edited in place (text sessions post each link).

A voice connection belongs to a guild, so the players are keyed by guild (``self.voices``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import discord
from discord.ext import commands

from bot.app.sessions import NoSession
from bot.catalog import DISLIKE, LIKE
from bot.format import format_duration, literal
from bot.store.sessions import QueueEntry, Session
from cogs import replies
from cogs.caller import guild_id_of, is_dj
from cogs.client import CrateBot
from cogs.feedback import RateButton
from cogs.render import MENTIONS, now_playing_embed
from cogs.sessions.base import SessionsBase
from cogs.sessions.player import GuildVoice, SessionPlayer, human_listeners

log = logging.getLogger(__name__)

UNPLAYABLE_IN_A_ROW = 10  # then the player rests; /session next or /session add wakes it


# ------------------------------------------------------------------ the now-playing buttons


def now_playing_view(session: Session, entry: QueueEntry | None) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    if entry is not None:
        view.add_item(RateButton(entry.track_id, LIKE, label="Like"))
        view.add_item(RateButton(entry.track_id, DISLIKE, label="Dislike"))
    view.add_item(SkipButton(session.id))
    return view


class SkipButton(replies.IdButton, kind="skip", emoji="⏭", label="Next", style=discord.ButtonStyle.primary):
    """⏭ on the now-playing message: the host moves on, anyone else votes."""

    async def answer(self, interaction: discord.Interaction[CrateBot]) -> None:
        cog = SessionsBase.of(interaction.client)
        await replies.defer(interaction, ephemeral=True)  # answer first: picking and editing can wait
        session = await cog.service.by_id(guild_id_of(interaction), self.target_id)
        text = await cog.move_on(session, interaction.user.id, interaction.guild, dj=await is_dj(interaction))
        await replies.send(interaction, content=text, ephemeral=True)


# ------------------------------------------------------------------ the mixin


class SessionPlayback(SessionsBase):
    # -- listeners ------------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        """Joining a session's voice channel counts as joining the session."""
        if member.bot or after.channel is None or (before.channel and before.channel.id == after.channel.id):
            return
        for session in await self.service.open_in_guild(member.guild.id):
            if session.voice_channel_id == after.channel.id:
                await self.service.join(session, member.id)

    # -- the now-playing message ----------------------------------------------------------------

    async def _post_now_playing(self, session: Session, channel, names) -> None:
        view = await self.service.queue_view(session)
        host = (await self.bot.crate.members.display_names(session.guild_id)).get(session.host_id)
        message = await channel.send(
            embed=now_playing_embed(
                session, view.now_playing, view.upcoming, names, voice=self._voice(session) is not None, host=host
            ),
            view=now_playing_view(session, view.now_playing),
        )
        await self.service.set_now_playing_message(session, message.id)
        if view.now_playing is not None and self._voice(session) is None:
            await self._announce(session, channel, view.now_playing)

    async def _refresh_now_playing(self, session: Session, guild, *, announce: bool = False) -> None:
        view = await self.service.queue_view(session)
        session = view.session
        channel = guild.get_channel(session.channel_id) if guild else None
        if channel is None or session.now_playing_message_id is None:
            return
        names = MENTIONS
        host = (await self.bot.crate.members.display_names(session.guild_id)).get(session.host_id)
        with contextlib.suppress(discord.HTTPException):
            await channel.get_partial_message(session.now_playing_message_id).edit(
                embed=now_playing_embed(
                    session, view.now_playing, view.upcoming, names, voice=self._voice(session) is not None, host=host
                ),
                view=now_playing_view(session, view.now_playing),
            )
        if announce and view.now_playing is not None and self._voice(session) is None:
            await self._announce(session, channel, view.now_playing)

    async def _announce(self, session: Session, channel, entry: QueueEntry) -> None:
        """Text sessions: post the next track's link so everyone can play it."""
        track = await self.service.track(session.guild_id, entry.track_id)
        where = await self.bot.crate.sharing.source_url(track) or "(a local file: not shareable)"
        await channel.send(
            f"▶ Now playing **{literal(track.title, 80)}** · {format_duration(track.duration)} — {where}"
        )

    # -- voice ----------------------------------------------------------------------------------

    def _voice(self, session: Session) -> GuildVoice | None:
        """The guild's voice connection, if it plays for ``session``."""
        voice = self.voices.get(session.guild_id)
        return voice if voice is not None and voice.session_id == session.id else None

    async def _idle_timeout(self, session: Session) -> float | None:
        """The server's voice idle timeout (/settings); None: it stays in voice (24/7)."""
        return (await self.bot.crate.server_settings.get(session.guild_id)).idle_timeout

    def _start_player(self, session: Session, voice_client, idle_timeout: float | None) -> None:
        async def next_track() -> str | None:
            return await self._next_file(session)

        async def on_track_start(path) -> None:
            guild = self.bot.get_guild(session.guild_id)
            await self._refresh_now_playing(session, guild)

        player = SessionPlayer(voice_client, asyncio.get_running_loop(), next_track, on_track_start)
        self.voices[session.guild_id] = GuildVoice(session.id, player)
        self._watch_idle(session, player, idle_timeout)

    def _watch_idle(self, session: Session, player: SessionPlayer, idle_timeout: float | None) -> None:
        """Leave voice after ``idle_timeout`` seconds nobody listens; None: stay (24/7)."""
        if idle_timeout is None:
            player.stop_watching_idle()
            return
        channel = player.voice.channel

        async def left_idle() -> None:
            await self._voice_left(session)

        player.watch_idle(lambda: human_listeners(channel), idle_timeout, left_idle)

    async def voice_settings_changed(self, guild_id: int) -> None:
        """/settings changed the voice idle timeout or 24/7: apply it to the player in voice now."""
        voice = self.voices.get(guild_id)
        if voice is None:
            return
        try:
            session = await self.service.by_id(guild_id, voice.session_id)
        except NoSession:  # it ended meanwhile
            return
        self._watch_idle(session, voice.player, await self._idle_timeout(session))

    async def _voice_left(self, session: Session) -> None:
        """The idle watcher left voice: the session carries on in text, and says so."""
        await self._stop_voice(session)
        guild = self.bot.get_guild(session.guild_id)
        channel = guild.get_channel(session.channel_id) if guild else None
        if channel is not None:
            with contextlib.suppress(discord.HTTPException):
                await channel.send(
                    "🔇 Nobody was listening in voice, so I left: this session carries on in text"
                    " (I'll post each track's link; `/session next` moves on)."
                )
        await self._refresh_now_playing(session, guild)

    async def _kick_player(self, session: Session) -> None:
        voice = self._voice(session)
        if voice is not None:
            await voice.player.start()

    async def _next_file(self, session: Session) -> str | None:
        """The player wants a file: if the entry it played is still current, it ended naturally.

        An entry that cannot be fetched (a track indexed from a local folder, a dead link) is
        recorded as skipped and passed over with a note in the channel; only an empty queue ends
        playback.
        """
        voice = self._voice(session)
        current = await self.service.now_playing(session)
        if voice is not None and current is not None and voice.playing_entry == current.id:
            current = await self.service.track_finished(session, current.id)
        for _ in range(UNPLAYABLE_IN_A_ROW):
            voice = self._voice(session)
            directory = voice.directory if voice is not None else None
            if current is None or voice is None or directory is None:
                return None
            voice.playing_entry = current.id
            track = await self.service.track(session.guild_id, current.track_id)
            try:
                path = await self.bot.crate.sharing.fetch_for_playback(track, directory)
            except Exception:
                log.exception("could not fetch track %s for playback", track.id)
                path = None
            if path:
                return str(path)
            await self._note_unplayable(session, track)
            current = await self.service.track_finished(session, current.id, unplayable=True)
        return None

    async def _note_unplayable(self, session: Session, track) -> None:
        guild = self.bot.get_guild(session.guild_id)
        channel = guild.get_channel(session.channel_id) if guild else None
        if channel is not None:
            with contextlib.suppress(discord.HTTPException):
                await channel.send(
                    f"⚠️ I can't play **{literal(track.title, 80)}** in voice"
                    " (its audio isn't reachable any more), so I'm moving on."
                )

    async def _stop_voice(self, session: Session) -> None:
        voice = self._voice(session)
        if voice is not None:
            del self.voices[session.guild_id]
            await voice.close()
