"""Playing a session: the guild's voice player wired to the session's queue, its controls
(pause, resume, volume, shuffle), and the now-playing message with 👍 / 👎 / ⏯ / ⏭ / 🔀 that is
edited in place as a card (:mod:`cogs.layouts`; text sessions post each link), with a progress bar kept by one task per voice
connection, at most one edit every :data:`PROGRESS_EVERY` seconds (Discord rate-limits edits).

A voice connection belongs to a guild, so the players are keyed by guild (``self.voices``).
Disconnected from outside, the session keeps the track that was cut short as its now-playing
entry and carries on in text; a member joining its voice channel, or ``/session start``, brings
it back into voice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil

import discord
from discord.ext import commands

from bot.app.sessions import ControlResult, NoSession, NotInVoice
from bot.catalog import DISLIKE, LIKE
from bot.format import format_duration, literal
from bot.i18n import N_, _
from bot.store.sessions import QueueEntry, Session
from cogs import replies
from cogs.caller import guild_id_of, is_dj
from cogs.client import CrateBot
from cogs.feedback import RateButton
from cogs.layouts import card
from cogs.render import MENTIONS, now_playing_embed
from cogs.sessions.base import SessionsBase, channel_to_post
from cogs.sessions.player import GuildVoice, SessionPlayer, connect_voice, human_listeners, volume_factor
from cogs.soundmap import MapButton

log = logging.getLogger(__name__)

UNPLAYABLE_IN_A_ROW = 10  # then the player rests; /session next or /session add wakes it
#: Seconds between two progress edits of a now-playing message (track changes edit at once).
PROGRESS_EVERY = 10.0
#: Seconds to let discord.py finish leaving before an idle player's lost connection is handled.
GONE_GRACE = 1.0


# ------------------------------------------------------------------ the now-playing buttons


def now_playing_view(session: Session, entry: QueueEntry | None) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    if entry is not None:
        view.add_item(RateButton(entry.track_id, LIKE, label=_("Like")))
        view.add_item(RateButton(entry.track_id, DISLIKE, label=_("Dislike")))
    view.add_item(PauseButton(session.id))
    view.add_item(SkipButton(session.id))
    view.add_item(ShuffleButton(session.id))
    if entry is not None:  # where the playing track sits on the server's map (a row of its own)
        view.add_item(MapButton(entry.track_id))
    return view


class SkipButton(replies.IdButton, kind="skip", emoji="⏭", label=N_("Next"), style=discord.ButtonStyle.primary):
    """⏭ on the now-playing message: the host moves on, anyone else votes."""

    async def answer(self, interaction: discord.Interaction[CrateBot]) -> None:
        cog = SessionsBase.of(interaction.client)
        await replies.defer(interaction, ephemeral=True)  # answer first: picking and editing can wait
        session = await cog.service.by_id(guild_id_of(interaction), self.target_id)
        text = await cog.move_on(session, interaction.user.id, interaction.guild, dj=await is_dj(interaction))
        await replies.send(interaction, content=text, ephemeral=True)


class PauseButton(replies.IdButton, kind="pause", emoji="⏯", label=N_("Pause/Resume")):
    """⏯ on the now-playing message: pause, or resume when paused (the host at once, others vote)."""

    async def answer(self, interaction: discord.Interaction[CrateBot]) -> None:
        cog = SessionsBase.of(interaction.client)
        await replies.defer(interaction, ephemeral=True)
        session = await cog.service.by_id(guild_id_of(interaction), self.target_id)
        voice = cog._voice(session)
        resume = voice is not None and voice.player.paused
        text = await cog.pause_or_resume(session, interaction.user.id, dj=await is_dj(interaction), resume=resume)
        await replies.send(interaction, content=text, ephemeral=True)


class ShuffleButton(replies.IdButton, kind="shuffle", emoji="🔀", label=N_("Shuffle")):
    """🔀 on the now-playing message: shuffle Crate's upcoming picks (the host at once, others vote)."""

    async def answer(self, interaction: discord.Interaction[CrateBot]) -> None:
        cog = SessionsBase.of(interaction.client)
        await replies.defer(interaction, ephemeral=True)
        session = await cog.service.by_id(guild_id_of(interaction), self.target_id)
        text = await cog.shuffle_upcoming(session, interaction.user.id, interaction.guild, dj=await is_dj(interaction))
        await replies.send(interaction, content=text, ephemeral=True)


#: What a vote is for, in the sentence that counts it.
VOTES: dict[str, str] = {
    "pause": N_("🗳 Vote counted: {votes} of {needed} needed to pause."),
    "resume": N_("🗳 Vote counted: {votes} of {needed} needed to resume."),
    "shuffle": N_("🗳 Vote counted: {votes} of {needed} needed to shuffle."),
}


def vote_text(result: ControlResult, what: str) -> str:
    return _(VOTES[what]).format(votes=result.votes, needed=result.needed)


# ------------------------------------------------------------------ the mixin


class SessionPlayback(SessionsBase):
    # -- listeners ------------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        """Joining a session's voice channel counts as joining the session, and brings a session
        that fell back to text back into voice. Crate itself leaving voice (a moderator, a deleted
        channel) while its player was idle is handled here (a playing player notices at once)."""
        channel = after.channel  # discord.py updates ``after`` in place when the member moves again
        if self.bot.user is not None and member.id == self.bot.user.id:
            if channel is None:
                await self._maybe_gone(member.guild)
            elif before.channel is not None and before.channel.id != channel.id:
                await self._moved(member.guild, channel.id)
            return
        if member.bot or channel is None or (before.channel and before.channel.id == channel.id):
            return
        for session in await self.service.open_in_guild(member.guild.id):
            if session.voice_channel_id == channel.id:
                await self.service.join(session, member.id)
                idle = self._voice(session) is None and member.guild.voice_client is None
                if idle and await self.join_voice(session, channel):
                    with replies.server_language(member.guild):
                        said = _("🔊 Back in {channel}: this session plays in voice again.")
                        await self._say(session, said.format(channel=channel.mention))

    async def _moved(self, guild: discord.Guild, channel_id: int) -> None:
        """A moderator moved Crate to another voice channel: the session now plays there (joining
        that channel joins the session; a restart rejoins it)."""
        voice = self.voices.get(guild.id)
        if voice is None:
            return
        try:
            session = await self.service.by_id(guild.id, voice.session_id)
        except NoSession:  # it ended meanwhile
            return
        await self.service.set_voice_channel(session, channel_id)

    async def _maybe_gone(self, guild: discord.Guild) -> None:
        voice = self.voices.get(guild.id)
        if voice is None or voice.player.stopped:
            return
        await asyncio.sleep(GONE_GRACE)  # discord.py leaves in a task of its own
        if self.voices.get(guild.id) is voice and guild.voice_client is not voice.player.voice:
            await voice.player.connection_lost()

    # -- the now-playing message ----------------------------------------------------------------

    async def _embed(self, session: Session, view, names) -> discord.Embed:
        """The now-playing embed: in voice with the track's progress, pause and volume."""
        host = (await self.bot.crate.members.display_names(session.guild_id)).get(session.host_id)
        voice = self._voice(session)
        progress, paused, volume = None, False, None
        if voice is not None:
            volume = await self.service.volume(session.guild_id)
            paused = voice.player.paused
            if view.now_playing is not None and voice.player.current is not None:
                track = await self.service.track(session.guild_id, view.now_playing.track_id)
                progress = (voice.player.elapsed, float(track.duration or 0.0))
        return now_playing_embed(
            session, view.now_playing, view.upcoming, names, voice=voice is not None, host=host,
            progress=progress, paused=paused, volume=volume,
        )  # fmt: skip

    async def _post_now_playing(self, session: Session, channel, names) -> None:
        view = await self.service.queue_view(session)
        with replies.server_language(channel.guild):  # the board is everyone's: the server's language
            board = card(await self._embed(session, view, names), now_playing_view(session, view.now_playing))
        message = await channel.send(view=board)
        await self.service.set_now_playing_message(session, message.id)
        if view.now_playing is not None and self._voice(session) is None:
            await self._announce(session, channel, view.now_playing)

    async def _refresh_now_playing(self, session: Session, guild, *, announce: bool = False) -> None:
        view = await self.service.queue_view(session)
        session = view.session
        channel = channel_to_post(guild, session.channel_id)
        if channel is None or session.now_playing_message_id is None:
            return
        with contextlib.suppress(discord.HTTPException), replies.server_language(guild):
            board = card(await self._embed(session, view, MENTIONS), now_playing_view(session, view.now_playing))
            # content and embeds cleared: a board posted as an embed (before cards) becomes a card
            await channel.get_partial_message(session.now_playing_message_id).edit(content=None, embed=None, view=board)
        if announce and view.now_playing is not None and self._voice(session) is None:
            await self._announce(session, channel, view.now_playing)

    async def _announce(self, session: Session, channel, entry: QueueEntry) -> None:
        """Text sessions: post the next track's link so everyone can play it."""
        track = await self.service.track(session.guild_id, entry.track_id)
        with replies.server_language(channel.guild):
            where = await self.bot.crate.sharing.source_url(track) or _("(a local file: not shareable)")
            said = _("▶ Now playing **{title}** · {length} — {where}")
            await channel.send(
                said.format(title=literal(track.title, 80), length=format_duration(track.duration), where=where)
            )

    # -- voice ----------------------------------------------------------------------------------

    def _voice(self, session: Session) -> GuildVoice | None:
        """The guild's voice connection, if it plays for ``session``."""
        voice = self.voices.get(session.guild_id)
        return voice if voice is not None and voice.session_id == session.id else None

    async def _idle_timeout(self, session: Session) -> float | None:
        """The server's voice idle timeout (/settings); None: it stays in voice (24/7)."""
        return (await self.bot.crate.server_settings.get(session.guild_id)).idle_timeout

    def _start_player(self, session: Session, voice_client, idle_timeout: float | None, volume: int = 100) -> None:
        async def next_track() -> str | None:
            return await self._next_file(session)

        async def on_track_start(path) -> None:
            guild = self.bot.get_guild(session.guild_id)
            await self._refresh_now_playing(session, guild)

        async def disconnected() -> None:
            await self._voice_lost(session, guild_voice)

        player = SessionPlayer(
            voice_client, asyncio.get_running_loop(), next_track, on_track_start,
            volume=volume_factor(volume), on_disconnected=disconnected,
        )  # fmt: skip
        guild_voice = self.voices[session.guild_id] = GuildVoice(session.id, player)
        guild_voice.progress = asyncio.create_task(self._keep_progress(session, guild_voice), name="crate-progress")
        self._watch_idle(session, player, idle_timeout)

    async def _keep_progress(self, session: Session, voice: GuildVoice) -> None:
        """The progress bar: edit the now-playing message every PROGRESS_EVERY s while a track
        plays (not while paused); ends with the voice connection (``GuildVoice.close``)."""
        while self.voices.get(session.guild_id) is voice:
            await asyncio.sleep(PROGRESS_EVERY)
            if voice.player.current is None or voice.player.paused or self.voices.get(session.guild_id) is not voice:
                continue
            try:
                await self._refresh_now_playing(session, self.bot.get_guild(session.guild_id))
            except NoSession:
                return
            except Exception:
                log.exception("updating the now-playing progress failed")

    def _watch_idle(self, session: Session, player: SessionPlayer, idle_timeout: float | None) -> None:
        """Leave voice after ``idle_timeout`` seconds nobody listens; None: stay (24/7)."""
        if idle_timeout is None:
            player.stop_watching_idle()
            return

        async def left_idle() -> None:
            await self._voice_left(session)

        # the channel it is in now: a moderator may have moved it
        player.watch_idle(lambda: human_listeners(player.voice.channel), idle_timeout, left_idle)

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
        channel = channel_to_post(guild, session.channel_id)
        if channel is not None:
            with contextlib.suppress(discord.HTTPException), replies.server_language(guild):
                await channel.send(
                    _(
                        "🔇 Nobody was listening in voice, so I left: this session carries on in text "
                        "(I'll post each track's link; `/session next` moves on)."
                    )
                )
        await self._refresh_now_playing(session, guild)

    async def _say(self, session: Session, text: str) -> None:
        guild = self.bot.get_guild(session.guild_id)
        channel = channel_to_post(guild, session.channel_id)
        if channel is not None:
            with contextlib.suppress(discord.HTTPException):
                await channel.send(text)

    async def _voice_lost(self, session: Session, voice: GuildVoice) -> None:
        """Disconnected from outside: leave cleanly, keep the track that was cut short (it stays
        the session's now-playing entry, heard from its start when voice comes back), say so, and
        carry on in text (its link is posted)."""
        if self.voices.get(session.guild_id) is not voice:
            return  # handled already, or a newer connection
        del self.voices[session.guild_id]
        await voice.close()
        try:
            session = await self.service.by_id(session.guild_id, session.id)
        except NoSession:
            return
        kept = await self.service.now_playing(session)
        with replies.server_language(self.bot.get_guild(session.guild_id)):
            if kept is not None:
                said = _(
                    "🔌 I was disconnected from voice, so this session carries on in text: **{title}** is kept and "
                    "I'll post each track's link. Join its voice channel or use `/session start` to bring it back "
                    "into voice."
                ).format(title=literal(kept.title, 80))
            else:
                said = _(
                    "🔌 I was disconnected from voice, so this session carries on in text: I'll post each "
                    "track's link. Join its voice channel or use `/session start` to bring it back into voice."
                )
        await self._say(session, said)
        await self._refresh_now_playing(session, self.bot.get_guild(session.guild_id), announce=True)

    async def join_voice(self, session: Session, channel) -> bool:
        """Bring a session into voice in ``channel`` (``/session start`` again, a member joining
        its voice channel): the kept track plays from its start. False if it can't join."""
        voice_client = await connect_voice(channel)
        if voice_client is None:
            return False
        if session.voice_channel_id != channel.id:
            session = await self.service.set_voice_channel(session, channel.id)
        self._start_player(
            session, voice_client, await self._idle_timeout(session), await self.service.volume(session.guild_id)
        )
        if await self.service.now_playing(session) is None:
            await self.service.start_playing(session)
        await self._kick_player(session)
        await self._refresh_now_playing(session, channel.guild)
        return True

    # -- the controls ---------------------------------------------------------------------------

    async def pause_or_resume(self, session: Session, user_id: int, *, dj: bool, resume: bool) -> str:
        """/session pause, /session resume and ⏯: returns the sentence for the member who asked."""
        voice = self._voice(session)
        if voice is None:
            raise NotInVoice(detail=f"session {session.id}")
        player = voice.player
        if resume and not player.paused:
            return (
                _("▶ It isn't paused: the music is playing.") if player.current else _("Nothing is playing right now.")
            )
        if not resume and player.current is None:
            return _("Nothing is playing right now, so there is nothing to pause.")
        if not resume and player.paused:
            return _("⏸ It's already paused: `/session resume` goes on.")
        result = await self.service.pause(session, user_id, dj=dj, resume=resume)
        if not result.done:
            return vote_text(result, "resume" if resume else "pause")
        done = player.resume() if resume else player.pause()
        guild = self.bot.get_guild(session.guild_id)
        await self._refresh_now_playing(session, guild)
        if not done:  # the track ended meanwhile
            return _("Nothing is playing right now.")
        if resume:
            said = _("▶ Resumed by vote ({votes}/{needed}).") if result.votes else _("▶ Resumed.")
        elif result.votes:
            said = _("⏸ Paused by vote ({votes}/{needed}): `/session resume` goes on.")
        else:
            said = _("⏸ Paused: `/session resume` goes on.")
        return said.format(votes=result.votes, needed=result.needed)

    async def set_volume(self, session: Session, user_id: int, level: int, *, dj: bool) -> str:
        """/session volume: the server's level, applied to the track playing at once."""
        level = await self.service.set_volume(session, user_id, level, dj=dj)
        voice = self._voice(session)
        if voice is not None:
            voice.player.set_volume(volume_factor(level))
            await self._refresh_now_playing(session, self.bot.get_guild(session.guild_id))
            return _("🔊 Volume {level} % (remembered for this server's sessions).").format(level=level)
        return _("🔊 Volume {level} %, remembered for when this server's sessions play in voice.").format(level=level)

    async def shuffle_upcoming(self, session: Session, user_id: int, guild, *, dj: bool) -> str:
        """/session shuffle and 🔀: returns the sentence for the member who asked."""
        result = await self.service.shuffle(session, user_id, dj=dj)
        if not result.done:
            return vote_text(result, "shuffle")
        await self._refresh_now_playing(session, guild)
        if result.votes:
            return _(
                "🔀 Shuffled Crate's upcoming picks by vote ({votes}/{needed}); members' own tracks keep their places."
            ).format(votes=result.votes, needed=result.needed)
        return _("🔀 Shuffled Crate's upcoming picks; members' own tracks keep their places.")

    async def _kick_player(self, session: Session) -> None:
        voice = self._voice(session)
        if voice is not None:
            await voice.player.start()

    async def _next_file(self, session: Session) -> str | None:
        """The player wants a file: if the entry it played is still current, it ended naturally.

        An entry that cannot be fetched (a track indexed from a local folder, a dead link) is
        recorded as skipped and passed over with a note in the channel; only an empty queue ends
        playback. If Crate left voice while a track was downloading (nobody listening, the session
        ended), its download folder went with it: that says nothing about the track, which stays
        where it is in the queue.
        """
        voice = self._voice(session)
        current = await self.service.now_playing(session)
        if voice is not None and current is not None and voice.playing_entry == current.id:
            current = await self.service.track_finished(session, current.id)
        for _attempt in range(UNPLAYABLE_IN_A_ROW):
            voice = self._voice(session)
            directory = voice.directory if voice is not None else None
            if current is None or voice is None or directory is None:
                return None
            voice.playing_entry = current.id
            track = await self.service.track(session.guild_id, current.track_id)
            try:
                path = await self.bot.crate.sharing.fetch_for_playback(track, directory)
            except Exception:
                if self._voice(session) is not voice:
                    shutil.rmtree(directory, ignore_errors=True)
                    return None
                log.exception("could not fetch track %s for playback", track.id)
                path = None
            if self._voice(session) is not voice:
                shutil.rmtree(directory, ignore_errors=True)  # the download made the closed folder again
                return None
            if path:
                return str(path)
            await self._note_unplayable(session, track)
            current = await self.service.track_finished(session, current.id, unplayable=True)
        return None

    async def _note_unplayable(self, session: Session, track) -> None:
        guild = self.bot.get_guild(session.guild_id)
        channel = channel_to_post(guild, session.channel_id)
        if channel is not None:
            with contextlib.suppress(discord.HTTPException), replies.server_language(guild):
                await channel.send(
                    _(
                        "⚠️ I can't play **{title}** in voice (its audio isn't reachable any more), so I'm moving on."
                    ).format(title=literal(track.title, 80))
                )

    async def _stop_voice(self, session: Session) -> None:
        voice = self._voice(session)
        if voice is not None:
            del self.voices[session.guild_id]
            await voice.close()
