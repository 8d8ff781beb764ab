"""/session: listen together. A shared queue picked for everyone present, a now-playing message
with 👍 / 👎 / ⏭ that is edited in place, and voice playback when Crate may join the channel.
A radio (``/session start seed:``, or "Start radio" under a track) keeps its queue filled with
tracks that sound like the last one played; ``/playlist play`` opens a session through here too.

The session logic (queue, votes, group picks, taste match, restore) is ``bot.app.sessions``; this cog
parses interactions, keeps each guild's voice connection (``cogs.voice.GuildVoice``) and sends what
``cogs.render`` draws.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.sessions import NextResult, NoSession, SessionService, SessionSummary
from bot.catalog import DISLIKE, LIKE
from bot.format import clip, format_duration, plural
from bot.genres import short_answer
from bot.store.sessions import QueueEntry, Session
from cogs import replies
from cogs.caller import is_dj
from cogs.client import CrateBot
from cogs.feedback import RateButton
from cogs.genre import share_from_interaction
from cogs.playlist import summary_view
from cogs.radio import RadioButton
from cogs.render import MENTIONS, error_embed, now_playing_embed, queue_embed, summary_embed
from cogs.teach import add_correction
from cogs.tracks import track_choices
from cogs.voice import GuildVoice, SessionPlayer, connect_voice, human_listeners

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


# ------------------------------------------------------------------ the ⏭ button


class SkipButton(replies.IdButton, kind="skip", emoji="⏭", label="Next", style=discord.ButtonStyle.primary):
    """⏭ on the now-playing message: the host moves on, anyone else votes."""

    async def answer(self, interaction: discord.Interaction[CrateBot]) -> None:
        cog = Sessions.of(interaction.client)
        await replies.defer(interaction, ephemeral=True)  # answer first: picking and editing can wait
        session = await cog.service.by_id(interaction.guild_id, self.target_id)
        text = await cog.move_on(session, interaction.user.id, interaction.guild, dj=await is_dj(interaction))
        await replies.send(interaction, content=text, ephemeral=True)


# ------------------------------------------------------------------ the cog


class Sessions(
    commands.GroupCog, group_name="session", group_description="Listen together: a shared queue for everyone present"
):
    def __init__(self, bot: CrateBot):
        self.bot = bot
        self.voices: dict[int, GuildVoice] = {}  # guild id -> its one voice connection
        self._restore_task: asyncio.Task | None = None
        self._sweep_task: asyncio.Task | None = None

    @classmethod
    def of(cls, bot: CrateBot) -> Sessions:
        """The loaded session cog of ``bot`` (its buttons reach it through this)."""
        cog = bot.get_cog(cls.__cog_name__)
        if not isinstance(cog, cls):
            raise RuntimeError("the Sessions cog is not loaded")
        return cog

    @property
    def service(self) -> SessionService:
        """``Crate`` owns the session service, as it owns the others (``crate run --sync-global``
        runs without a Crate, and never calls this)."""
        return self.bot.crate.sessions

    async def cog_load(self) -> None:
        self.bot.sessions = self
        if self.bot.crate is not None:
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

    # -- commands ------------------------------------------------------------------------------

    @app_commands.command(name="start", description="Open a listening session in this channel (you host)")
    @app_commands.describe(
        voice_channel="Where to play (default: the voice channel you are in; none: text only)",
        seed="Make it a radio: start from this track, then tracks that sound like the last one played",
    )
    @app_commands.guild_only()
    async def start(
        self,
        interaction: discord.Interaction[CrateBot],
        voice_channel: discord.VoiceChannel | None = None,
        seed: int | None = None,
    ) -> None:
        await self.open_session(interaction, voice_channel, radio_seed=seed)

    @start.autocomplete("seed")
    async def seed_autocomplete(
        self, interaction: discord.Interaction[CrateBot], current: str
    ) -> list[app_commands.Choice[int]]:
        return await track_choices(interaction, current)

    async def open_session(
        self,
        interaction: discord.Interaction[CrateBot],
        voice_channel: discord.VoiceChannel | None,
        *,
        radio_seed: int | None = None,
        playlist: str | None = None,
    ) -> None:
        """/session start, "Start radio" and /playlist play without a session: open one here
        (the member hosts), join voice when possible, post the now-playing message."""
        user = interaction.user
        voice_channel = voice_channel or getattr(getattr(user, "voice", None), "channel", None)
        voice_id = voice_channel.id if voice_channel else None
        if playlist is not None:
            await replies.defer(interaction)  # a playlist is read before the session opens
            played = await self.bot.crate.playlists.play(
                interaction.guild_id, user.id, playlist, interaction.channel_id, voice_channel_id=voice_id
            )
            session, playlist = played.session, played.playlist.name
        else:
            session = await self.service.start(
                interaction.guild_id, interaction.channel_id, user.id, voice_id, radio_seed=radio_seed
            )
            await replies.defer(interaction)
        names = MENTIONS
        voice_note = "Text session: I'll post each track's link."
        if voice_channel is not None and interaction.guild.voice_client is not None:
            voice_note = (
                "Another session in this server is already playing in voice (one voice connection"
                " per server), so this one is a text session: I'll post each track's link."
            )
        elif voice_channel is not None:
            voice = await connect_voice(voice_channel)
            if voice is not None:
                self._start_player(session, voice, await self._idle_timeout(session))
                voice_note = f"Playing in {voice_channel.mention}."
            else:
                voice_note = (
                    f"I can't play in {voice_channel.mention}, so this is a text session: I'll post each track's link."
                )
        playing = await self.service.start_playing(session, names=names)
        kind = "listening session"
        if radio_seed is not None and playing is not None:
            kind = f"radio from **{clip(playing.title, 80)}** (tracks that sound like the last one played)"
        elif playlist is not None:
            kind = f"listening session with the playlist **{clip(playlist, 80)}**"
        await replies.send(
            interaction,
            content=f"🎧 {user.mention} started a {kind} here. {voice_note}\n"
            "Join with `/session join`, queue music with `/session add`, see what's next with `/session queue`.",
        )
        await self._announce_start(interaction, kind)
        await self._post_now_playing(session, interaction.channel, names)
        await self._kick_player(session)

    async def _announce_start(self, interaction: discord.Interaction[CrateBot], kind: str) -> None:
        """Also say so in the server's announcement channel (/settings announcements:), if it has one."""
        chosen = await self.bot.crate.server_settings.get(interaction.guild_id)
        channel_id = chosen.announce_channel_id
        if channel_id is None or channel_id == interaction.channel_id or interaction.guild is None:
            return
        channel = interaction.guild.get_channel(channel_id)
        if channel is None:
            return
        with contextlib.suppress(discord.HTTPException):
            await channel.send(f"🎧 {interaction.user.mention} started a {kind} in <#{interaction.channel_id}>.")

    async def play_playlist(self, interaction: discord.Interaction[CrateBot], name: str) -> None:
        """/playlist play: queue it in this channel's session, or open a session for it."""
        try:
            session = await self.service.get(interaction.guild_id, interaction.channel_id)
        except NoSession:
            await self.open_session(interaction, None, playlist=name)
            return
        await replies.defer(interaction)
        played = await self.bot.crate.playlists.play(
            interaction.guild_id, interaction.user.id, name, session.channel_id
        )
        await replies.send(
            interaction,
            content=f"➕ Queued {plural(len(played.entries), 'track')} from the playlist **{clip(played.playlist.name, 80)}**.",
        )
        if await self.service.now_playing(session) is None:
            await self.service.start_playing(session, names=MENTIONS)
            await self._kick_player(session)
        await self._refresh_now_playing(session, interaction.guild)

    @app_commands.command(name="join", description="Join this channel's listening session")
    @app_commands.guild_only()
    async def join(self, interaction: discord.Interaction[CrateBot]) -> None:
        session = await self.service.get(interaction.guild_id, interaction.channel_id)
        joined = await self.service.join(session, interaction.user.id)
        text = (
            "You joined the session: picks now take your taste into account."
            if joined
            else "You're already in this session."
        )
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name="leave", description="Leave this channel's listening session")
    @app_commands.guild_only()
    async def leave(self, interaction: discord.Interaction[CrateBot]) -> None:
        session = await self.service.get(interaction.guild_id, interaction.channel_id)
        result = await self.service.leave(session, interaction.user.id)
        if not result.left:
            await interaction.response.send_message("You weren't in this session.", ephemeral=True)
            return
        if result.empty:
            await interaction.response.send_message("You left, and nobody is here any more, so the session is over.")
            await self._finish(session, interaction.channel, interaction.guild, by_user=None)
            return
        text = "You left the session."
        if result.new_host:
            text += f" <@{result.new_host}> hosts from now on."
        await interaction.response.send_message(text)

    @app_commands.command(name="add", description="Queue a song (a file or a link) in this channel's session")
    @app_commands.describe(file="An audio file", url="A link to a song")
    @app_commands.guild_only()
    async def add(
        self, interaction: discord.Interaction[CrateBot], file: discord.Attachment | None = None, url: str | None = None
    ) -> None:
        session = await self.service.get(interaction.guild_id, interaction.channel_id)
        shared = await share_from_interaction(interaction, file, url)
        if shared is None:
            return
        try:
            entry = await self.service.add_track(session, shared.track.id, interaction.user.id)
        except Exception as error:
            await interaction.edit_original_response(content=None, embed=error_embed(replies.error_text(error)))
            return
        await interaction.edit_original_response(
            content=f"➕ Queued **{clip(shared.track.title, 80)}** · {short_answer(shared.track.genres, shared.track.confident)} (position {entry.position}).",
            view=await add_correction(
                discord.ui.View(timeout=None), self.bot.crate, interaction.guild_id, shared.track.id
            ),
        )
        if await self.service.now_playing(session) is None:
            await self.service.start_playing(session, names=MENTIONS)
            await self._kick_player(session)
        await self._refresh_now_playing(session, interaction.guild)

    @app_commands.command(name="queue", description="What is playing, what comes next, and why")
    @app_commands.guild_only()
    async def queue(self, interaction: discord.Interaction[CrateBot]) -> None:
        await replies.defer(interaction)  # answer first: the queue and the taste match take a moment
        session = await self.service.get(interaction.guild_id, interaction.channel_id)
        view = await self.service.queue_view(session)
        names = MENTIONS
        match = await self.service.taste_match(interaction.guild_id, view.present)
        await replies.send(interaction, embed=queue_embed(view, match, names))

    @app_commands.command(name="next", description="Move on: the host skips at once, others vote")
    @app_commands.guild_only()
    async def next(self, interaction: discord.Interaction[CrateBot]) -> None:
        await replies.defer(interaction)  # answer first: picking for the group can take a moment
        session = await self.service.get(interaction.guild_id, interaction.channel_id)
        text = await self.move_on(session, interaction.user.id, interaction.guild, dj=await is_dj(interaction))
        await replies.send(interaction, content=text)

    @app_commands.command(name="end", description="End this channel's session with a summary")
    @app_commands.guild_only()
    async def end(self, interaction: discord.Interaction[CrateBot]) -> None:
        session = await self.service.get(interaction.guild_id, interaction.channel_id)
        await replies.defer(interaction)
        summary = await self._finish(
            session, interaction.channel, interaction.guild, by_user=interaction.user.id, post=False,
            dj=await is_dj(interaction),
        )  # fmt: skip
        await replies.send(interaction, embed=summary_embed(summary, MENTIONS), view=summary_view(session.id))

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

    # -- moving through the queue ---------------------------------------------------------------

    async def move_on(self, session: Session, user_id: int, guild: discord.Guild | None, *, dj: bool = False) -> str:
        """/session next and ⏭: returns the sentence for the member who asked."""
        voice = self._voice(session)
        player = voice.player if voice is not None else None
        result: NextResult = await self.service.next(
            session, user_id, names=MENTIONS, audible=player is not None, dj=dj
        )
        if not result.moved:
            return f"⏭ Vote counted: {result.votes} of {result.needed} needed to move on."
        await self._refresh_now_playing(session, guild, announce=True)
        if player is not None:
            await player.skip()
        if result.now_playing is None and result.skipped is None:
            return (
                "Nothing is playing, and the catalog has nothing for this group yet: queue music with"
                " `/session add`, or share songs with `/genre`."
            )
        if result.now_playing is None:
            return "⏹ That was the last track: the catalog has nothing more for this group."
        mover = "The host" if user_id == session.host_id else "A DJ"
        how = f"{mover} moved on." if result.by_host else f"Skipped by vote ({result.votes}/{result.needed})."
        return f"⏭ {how} Now playing **{clip(result.now_playing.title, 80)}**."

    async def _finish(
        self, session: Session, channel, guild, *, by_user: int | None, post: bool = True, dj: bool = False
    ) -> SessionSummary:
        summary = await self.service.end(session, by_user, dj=dj)
        await self._stop_voice(session)
        names = MENTIONS
        if session.now_playing_message_id and channel is not None:
            with contextlib.suppress(discord.HTTPException):
                await channel.get_partial_message(session.now_playing_message_id).edit(
                    content="This session has ended.", embed=None, view=None
                )
        if post and channel is not None:
            await channel.send(embed=summary_embed(summary, names), view=summary_view(session.id))
        return summary

    # -- the now-playing message ----------------------------------------------------------------

    async def _post_now_playing(self, session: Session, channel, names) -> None:
        view = await self.service.queue_view(session)
        host = (await self.bot.crate.display_names(session.guild_id)).get(session.host_id)
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
        host = (await self.bot.crate.display_names(session.guild_id)).get(session.host_id)
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
        where = await self.bot.crate.source_url(track) or "(a local file: not shareable)"
        await channel.send(f"▶ Now playing **{clip(track.title, 80)}** · {format_duration(track.duration)} — {where}")

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
            current = await self.service.track_finished(session, current.id, names=MENTIONS)
        for _ in range(UNPLAYABLE_IN_A_ROW):
            voice = self._voice(session)
            directory = voice.directory if voice is not None else None
            if current is None or voice is None or directory is None:
                return None
            voice.playing_entry = current.id
            track = await self.service.track(session.guild_id, current.track_id)
            try:
                path = await self.bot.crate.fetch_for_playback(track, directory)
            except Exception:
                log.exception("could not fetch track %s for playback", track.id)
                path = None
            if path:
                return str(path)
            await self._note_unplayable(session, track)
            current = await self.service.track_finished(session, current.id, names=MENTIONS, unplayable=True)
        return None

    async def _note_unplayable(self, session: Session, track) -> None:
        guild = self.bot.get_guild(session.guild_id)
        channel = guild.get_channel(session.channel_id) if guild else None
        if channel is not None:
            with contextlib.suppress(discord.HTTPException):
                await channel.send(
                    f"⚠️ I can't play **{clip(track.title, 80)}** in voice"
                    " (its audio isn't reachable any more), so I'm moving on."
                )

    async def _stop_voice(self, session: Session) -> None:
        voice = self._voice(session)
        if voice is not None:
            del self.voices[session.guild_id]
            await voice.close()

    # -- restart --------------------------------------------------------------------------------

    async def _restore(self) -> None:
        """Open sessions survive a restart: resume them (text) or close them with a message."""
        await self.bot.wait_until_ready()
        report = await self.service.restore(owns=self.bot.settings.shards.owns)
        for restored in report.resumed:
            session = restored.session
            guild = self.bot.get_guild(session.guild_id)
            channel = guild.get_channel(session.channel_id) if guild else None
            if channel is None:
                continue
            voice_channel = guild.get_channel(session.voice_channel_id) if session.voice_channel_id else None
            voice = await connect_voice(voice_channel) if voice_channel is not None else None
            if voice is not None:
                self._start_player(session, voice, await self._idle_timeout(session))
            await self._refresh_now_playing(session, guild)
            where = f"playing in {voice_channel.mention}" if voice is not None else "in text; `/session next` moves on"
            with contextlib.suppress(discord.HTTPException):
                await channel.send(f"🔄 I restarted: this listening session carries on ({where}).")
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
        channel = self.bot.get_partial_messageable(summary.session.channel_id, guild_id=summary.session.guild_id)
        if summary.session.now_playing_message_id:
            with contextlib.suppress(discord.HTTPException):  # no live-looking buttons on it any more
                await channel.get_partial_message(summary.session.now_playing_message_id).edit(
                    content="This session has ended.", embed=None, view=None
                )
        with contextlib.suppress(discord.HTTPException):
            await channel.send(
                content="This session was closed while I was away for a long time.",
                embed=summary_embed(summary, MENTIONS),
                view=summary_view(summary.session.id),
            )


async def setup(bot: CrateBot) -> None:
    bot.add_dynamic_items(SkipButton, RadioButton)
    await bot.add_cog(Sessions(bot))
