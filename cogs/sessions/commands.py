"""The /session commands: open, join, leave, queue, move on and end a listening session.

They parse the interaction, ask ``bot.app.sessions`` and answer; playing in voice and the
now-playing message are the playback mixin's (reached through :class:`SessionsBase`).
"""

from __future__ import annotations

import contextlib

import discord
from discord import app_commands

from bot.app.sessions import NextResult, NoSession, SessionSummary
from bot.format import literal, plural
from bot.genres import short_answer
from bot.store.sessions import QueueEntry, Session
from cogs import replies
from cogs.caller import channel_id_of, guild_id_of, is_dj
from cogs.client import CrateBot
from cogs.genre import share_from_interaction
from cogs.playlist import summary_view
from cogs.render import MENTIONS, error_embed, queue_embed, summary_embed
from cogs.sessions.base import SessionsBase
from cogs.sessions.player import connect_voice
from cogs.teach import add_correction
from cogs.tracks import track_choices


class SessionCommands(SessionsBase):
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
                guild_id_of(interaction), user.id, playlist, channel_id_of(interaction), voice_channel_id=voice_id
            )
            session, playlist = played.session, played.playlist.name
        else:
            session = await self.service.start(
                guild_id_of(interaction), channel_id_of(interaction), user.id, voice_id, radio_seed=radio_seed
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
        playing = await self.service.start_playing(session)
        kind = "listening session"
        if radio_seed is not None and playing is not None:
            kind = f"radio from **{literal(playing.title, 80)}** (tracks that sound like the last one played)"
        elif playlist is not None:
            kind = f"listening session with the playlist **{literal(playlist, 80)}**"
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
        chosen = await self.bot.crate.server_settings.get(guild_id_of(interaction))
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
            session = await self.service.get(guild_id_of(interaction), channel_id_of(interaction))
        except NoSession:
            await self.open_session(interaction, None, playlist=name)
            return
        await replies.defer(interaction)
        played = await self.bot.crate.playlists.play(
            guild_id_of(interaction), interaction.user.id, name, session.channel_id
        )
        await replies.send(
            interaction,
            content=f"➕ Queued {plural(len(played.entries), 'track')} from the playlist **{literal(played.playlist.name, 80)}**.",
        )
        if await self.service.now_playing(session) is None:
            await self.service.start_playing(session)
            await self._kick_player(session)
        await self._refresh_now_playing(session, interaction.guild)

    @app_commands.command(name="join", description="Join this channel's listening session")
    @app_commands.guild_only()
    async def join(self, interaction: discord.Interaction[CrateBot]) -> None:
        session = await self.service.get(guild_id_of(interaction), channel_id_of(interaction))
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
        session = await self.service.get(guild_id_of(interaction), channel_id_of(interaction))
        result = await self.service.leave(session, interaction.user.id)
        if not result.left:
            await interaction.response.send_message("You weren't in this session.", ephemeral=True)
            return
        # Answered privately, as /session join is; what the channel needs to know (the session's
        # end, its new host) its own messages show.
        if result.empty:
            await interaction.response.send_message(
                "You left, and nobody is here any more, so the session is over.", ephemeral=True
            )
            await self._finish(session, interaction.channel, interaction.guild, by_user=None)
            return
        text = "You left the session."
        if result.new_host:
            text += f" <@{result.new_host}> hosts from now on."
        await interaction.response.send_message(text, ephemeral=True)
        if result.new_host:  # the now-playing message names the new host
            fresh = await self.service.get(guild_id_of(interaction), channel_id_of(interaction))
            await self._refresh_now_playing(fresh, interaction.guild)

    @app_commands.command(name="add", description="Queue a song (a file or a link) in this channel's session")
    @app_commands.describe(file="An audio file", url="A link to a song")
    @app_commands.guild_only()
    async def add(
        self, interaction: discord.Interaction[CrateBot], file: discord.Attachment | None = None, url: str | None = None
    ) -> None:
        await self.service.get(guild_id_of(interaction), channel_id_of(interaction))  # no session: say so first
        shared = await share_from_interaction(interaction, file, url, queue=True)
        if shared is None:
            return
        try:
            entry = await self.queue_track(interaction, shared.track.id)
        except Exception as error:
            await interaction.edit_original_response(content=None, embed=error_embed(replies.error_text(error)))
            return
        await interaction.edit_original_response(
            content=f"➕ Queued **{literal(shared.track.title, 80)}** · {short_answer(shared.track.genres, shared.track.confident)} (position {entry.position}).",
            view=await add_correction(
                discord.ui.View(timeout=None), self.bot.crate, interaction.guild_id, shared.track.id
            ),
        )

    async def queue_track(self, interaction: discord.Interaction[CrateBot], track_id: int) -> QueueEntry:
        """Queue a shared track in this channel's session, added by the member; start playing if
        nothing plays (``/session add``, and each track picked from an album it was given)."""
        session = await self.service.get(guild_id_of(interaction), channel_id_of(interaction))
        entry = await self.service.add_track(session, track_id, interaction.user.id)
        if await self.service.now_playing(session) is None:
            await self.service.start_playing(session)
            await self._kick_player(session)
        await self._refresh_now_playing(session, interaction.guild)
        return entry

    @app_commands.command(name="queue", description="What is playing, what comes next, and why")
    @app_commands.guild_only()
    async def queue(self, interaction: discord.Interaction[CrateBot]) -> None:
        await replies.defer(interaction)  # answer first: the queue and the taste match take a moment
        session = await self.service.get(guild_id_of(interaction), channel_id_of(interaction))
        view = await self.service.queue_view(session)
        names = MENTIONS
        match = await self.service.taste_match(guild_id_of(interaction), view.present)
        await replies.send(interaction, embed=queue_embed(view, match, names))

    @app_commands.command(name="next", description="Move on: the host skips at once, others vote")
    @app_commands.guild_only()
    async def next(self, interaction: discord.Interaction[CrateBot]) -> None:
        await replies.defer(interaction)  # answer first: picking for the group can take a moment
        session = await self.service.get(guild_id_of(interaction), channel_id_of(interaction))
        text = await self.move_on(session, interaction.user.id, interaction.guild, dj=await is_dj(interaction))
        await replies.send(interaction, content=text)

    @app_commands.command(name="end", description="End this channel's session with a summary")
    @app_commands.guild_only()
    async def end(self, interaction: discord.Interaction[CrateBot]) -> None:
        session = await self.service.get(guild_id_of(interaction), channel_id_of(interaction))
        await replies.defer(interaction)
        summary = await self._finish(
            session, interaction.channel, interaction.guild, by_user=interaction.user.id, post=False,
            dj=await is_dj(interaction),
        )  # fmt: skip
        await replies.send(interaction, embed=summary_embed(summary, MENTIONS), view=summary_view(session.id))

    # -- moving through the queue ---------------------------------------------------------------

    async def move_on(self, session: Session, user_id: int, guild: discord.Guild | None, *, dj: bool = False) -> str:
        """/session next and ⏭: returns the sentence for the member who asked."""
        voice = self._voice(session)
        player = voice.player if voice is not None else None
        result: NextResult = await self.service.next(session, user_id, audible=player is not None, dj=dj)
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
        return f"⏭ {how} Now playing **{literal(result.now_playing.title, 80)}**."

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
