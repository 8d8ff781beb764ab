"""The /session commands: open, join, leave, queue, move on and end a listening session, and
the controls in voice: pause, resume, volume, remove, move and shuffle.

They parse the interaction, ask ``bot.app.sessions`` and answer; playing in voice and the
now-playing message are the playback mixin's (reached through :class:`SessionsBase`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import discord
from discord import app_commands

from bot.app.sessions import MAX_VOLUME, NextResult, NoSession, SessionAlreadyOpen, SessionSummary
from bot.format import literal
from bot.genres import short_answer
from bot.i18n import _, ngettext, speaking
from bot.recommend.songpath import PathStep
from bot.store.sessions import QueueEntry, Session
from cogs import replies
from cogs.caller import channel_id_of, guild_id_of, is_dj
from cogs.client import CrateBot
from cogs.genre import share_from_interaction
from cogs.layouts import notice
from cogs.playlist import summary_view
from cogs.render import MENTIONS, error_embed, queue_embed, summary_embed
from cogs.sessions.base import SessionsBase, channel_to_post
from cogs.sessions.player import connect_voice
from cogs.teach import add_correction
from cogs.tracks import track_choices


def path_kind(steps: Sequence[PathStep]) -> str:
    """``a song path from **A** to **B** (6 tracks)``."""
    first, last = literal(steps[0].title, 60), literal(steps[-1].title, 60)
    return ngettext(
        "a song path from **{first}** to **{last}** ({count} track)",
        "a song path from **{first}** to **{last}** ({count} tracks)",
        len(steps),
    ).format(first=first, last=last, count=len(steps))


def path_text(steps: Sequence[PathStep]) -> str:
    """The path's kind, then each step on a line."""
    lines = [path_kind(steps)] + [f"{i}. {literal(step.title, 50)}" for i, step in enumerate(steps, 1)]
    return "\n".join(lines)


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
        path: tuple[int, int, int] | None = None,
    ) -> None:
        """/session start, "Start radio", /playlist play and /path without a session: open one
        here (the member hosts), join voice when possible, post the now-playing message.
        ``path``: (from track, to track, length)."""
        user = interaction.user
        voice_channel = voice_channel or getattr(getattr(user, "voice", None), "channel", None)
        voice_id = voice_channel.id if voice_channel else None
        path_steps: Sequence[PathStep] = ()
        if playlist is not None:
            await replies.defer(interaction)  # a playlist is read before the session opens
            played = await self.bot.crate.playlists.play(
                guild_id_of(interaction), user.id, playlist, channel_id_of(interaction), voice_channel_id=voice_id
            )
            session, playlist = played.session, played.playlist.name
        elif path is not None:
            await replies.defer(interaction)  # the walk is worked out before the session opens
            walked = await self.bot.crate.paths.play(
                guild_id_of(interaction), user.id, path[0], path[1], channel_id_of(interaction),
                length=path[2], voice_channel_id=voice_id,
            )  # fmt: skip
            session, path_steps = walked.session, walked.steps
        else:
            try:
                session = await self.service.start(
                    guild_id_of(interaction), channel_id_of(interaction), user.id, voice_id, radio_seed=radio_seed
                )
            except SessionAlreadyOpen:
                if not await self._back_into_voice(interaction, voice_channel, radio_seed):
                    raise
                return
            await replies.defer(interaction)
        names = MENTIONS
        voice_note = _("Text session: I'll post each track's link.")
        if voice_channel is not None and voice_channel.guild.voice_client is not None:
            voice_note = _(
                "Another session in this server is already playing in voice (one voice connection "
                "per server), so this one is a text session: I'll post each track's link."
            )
        elif voice_channel is not None:
            voice = await connect_voice(voice_channel)
            if voice is not None:
                volume = await self.service.volume(session.guild_id)
                self._start_player(session, voice, await self._idle_timeout(session), volume)
                voice_note = _("Playing in {channel}.").format(channel=voice_channel.mention)
            else:
                voice_note = _(
                    "I can't play in {channel}, so this is a text session: I'll post each track's link."
                ).format(channel=voice_channel.mention)
        playing = await self.service.start_playing(session)

        def kind() -> str:  # said twice: here, and in the announcements channel in the server's language
            if radio_seed is not None and playing is not None:
                return _("a radio from **{title}** (tracks that sound like the last one played)").format(
                    title=literal(playing.title, 80)
                )
            if playlist is not None:
                return _("a listening session with the playlist **{name}**").format(name=literal(playlist, 80))
            if path is not None:
                return path_kind(path_steps)
            return _("a listening session")

        await replies.send(
            interaction,
            content=_("🎧 {member} started {kind} here.").format(member=user.mention, kind=kind())
            + f" {voice_note}\n"
            + _("Join with `/session join`, queue music with `/session add`, see what's next with `/session queue`."),
        )
        await self._announce_start(interaction, kind)
        await self._post_now_playing(session, interaction.channel, names)
        await self._kick_player(session)

    async def _back_into_voice(
        self, interaction: discord.Interaction[CrateBot], voice_channel: discord.VoiceChannel | None, seed: int | None
    ) -> bool:
        """/session start where a text session is open: bring it (back) into voice. False when
        that isn't what was asked (no voice channel, a radio seed, already in voice)."""
        session = await self.service.get(guild_id_of(interaction), channel_id_of(interaction))
        if voice_channel is None or seed is not None or self._voice(session) is not None:
            return False
        if voice_channel.guild.voice_client is not None:
            return False  # another session of this server is in voice
        await replies.defer(interaction)
        await self.service.join(session, interaction.user.id)
        if await self.join_voice(session, voice_channel):
            text = _("🔊 This session plays in {channel} again.").format(channel=voice_channel.mention)
        else:
            text = _("I can't play in {channel}, so this session stays in text: I'll post each track's link.").format(
                channel=voice_channel.mention
            )
        await replies.send(interaction, content=text)
        return True

    async def _announce_start(self, interaction: discord.Interaction[CrateBot], kind: Callable[[], str]) -> None:
        """Also say so in the server's announcement channel (/settings announcements:), if it has one."""
        chosen = await self.bot.crate.server_settings.get(guild_id_of(interaction))
        channel_id = chosen.announce_channel_id
        if channel_id is None or channel_id == interaction.channel_id or interaction.guild is None:
            return
        channel = channel_to_post(interaction.guild, channel_id)
        if channel is None:
            return
        with contextlib.suppress(discord.HTTPException), speaking(interaction.guild.preferred_locale):
            said = _("🎧 {member} started {kind} in {channel}.")
            await channel.send(
                said.format(member=interaction.user.mention, kind=kind(), channel=f"<#{interaction.channel_id}>")
            )

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
            content=ngettext(
                "➕ Queued {count} track from the playlist **{name}**.",
                "➕ Queued {count} tracks from the playlist **{name}**.",
                len(played.entries),
            ).format(count=len(played.entries), name=literal(played.playlist.name, 80)),
        )
        if await self.service.now_playing(session) is None:
            await self.service.start_playing(session)
            await self._kick_player(session)
        await self._refresh_now_playing(session, interaction.guild)

    async def play_path(
        self, interaction: discord.Interaction[CrateBot], from_track: int, to_track: int, length: int
    ) -> None:
        """/path: queue the walk in this channel's session, or open a session with it."""
        try:
            session = await self.service.get(guild_id_of(interaction), channel_id_of(interaction))
        except NoSession:
            await self.open_session(interaction, None, path=(from_track, to_track, length))
            return
        await replies.defer(interaction)
        walked = await self.bot.crate.paths.play(
            guild_id_of(interaction), interaction.user.id, from_track, to_track, session.channel_id, length=length
        )
        await replies.send(interaction, content=_("➕ Queued {path}").format(path=path_text(walked.steps)))
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
            _("You joined the session: picks now take your taste into account.")
            if joined
            else _("You're already in this session.")
        )
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name="leave", description="Leave this channel's listening session")
    @app_commands.guild_only()
    async def leave(self, interaction: discord.Interaction[CrateBot]) -> None:
        session = await self.service.get(guild_id_of(interaction), channel_id_of(interaction))
        result = await self.service.leave(session, interaction.user.id)
        if not result.left:
            await interaction.response.send_message(_("You weren't in this session."), ephemeral=True)
            return
        # Answered privately, as /session join is; what the channel needs to know (the session's
        # end, its new host) its own messages show.
        if result.empty:
            await interaction.response.send_message(
                _("You left, and nobody is here any more, so the session is over."), ephemeral=True
            )
            await self._finish(session, interaction.channel, interaction.guild, by_user=None)
            return
        text = _("You left the session.")
        if result.new_host:
            text += " " + _("{member} hosts from now on.").format(member=f"<@{result.new_host}>")
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
            content=_("➕ Queued **{title}** · {genre} (position {position}).").format(
                title=literal(shared.track.title, 80),
                genre=short_answer(shared.track.genres, shared.track.confident),
                position=entry.position,
            ),
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

    # -- the controls -----------------------------------------------------------------------------

    @app_commands.command(name="pause", description="Pause the music in voice: the host at once, others vote")
    @app_commands.guild_only()
    async def pause(self, interaction: discord.Interaction[CrateBot]) -> None:
        await self._pause_command(interaction, resume=False)

    @app_commands.command(name="resume", description="Resume the paused music: the host at once, others vote")
    @app_commands.guild_only()
    async def resume(self, interaction: discord.Interaction[CrateBot]) -> None:
        await self._pause_command(interaction, resume=True)

    async def _pause_command(self, interaction: discord.Interaction[CrateBot], *, resume: bool) -> None:
        session = await self.service.get(guild_id_of(interaction), channel_id_of(interaction))
        await replies.defer(interaction)
        text = await self.pause_or_resume(session, interaction.user.id, dj=await is_dj(interaction), resume=resume)
        await replies.send(interaction, content=text)

    @app_commands.command(name="volume", description="Set this server's voice volume (the host or a DJ)")
    @app_commands.describe(level="Per cent: 100 is Crate's usual level, 200 the track as it is, 0 silence")
    @app_commands.guild_only()
    async def volume(
        self, interaction: discord.Interaction[CrateBot], level: app_commands.Range[int, 0, MAX_VOLUME]
    ) -> None:
        session = await self.service.get(guild_id_of(interaction), channel_id_of(interaction))
        text = await self.set_volume(session, interaction.user.id, level, dj=await is_dj(interaction))
        await interaction.response.send_message(text)

    @app_commands.command(name="remove", description="Take a track out of the queue: yours at once, others' by vote")
    @app_commands.describe(position="Its place in the queue (1: the next track)")
    @app_commands.guild_only()
    async def remove(self, interaction: discord.Interaction[CrateBot], position: app_commands.Range[int, 1]) -> None:
        session = await self.service.get(guild_id_of(interaction), channel_id_of(interaction))
        result = await self.service.remove(session, interaction.user.id, position, dj=await is_dj(interaction))
        title = literal(result.entry.title, 80) if result.entry is not None else _("that track")
        if not result.done:
            text = _("🗳 Vote counted: {votes} of {needed} needed to remove **{title}**.").format(
                votes=result.votes, needed=result.needed, title=title
            )
        elif result.votes:
            text = _("🗑 Removed **{title}** from the queue by vote ({votes}/{needed}).").format(
                title=title, votes=result.votes, needed=result.needed
            )
        else:
            text = _("🗑 Removed **{title}** from the queue.").format(title=title)
        if result.done:
            await self._refresh_now_playing(session, interaction.guild)
        await interaction.response.send_message(text)

    @app_commands.command(name="move", description="Move a queued track to another place (the host or a DJ)")
    @app_commands.describe(position="Its place in the queue now (1: the next track)", to="Its new place")
    @app_commands.guild_only()
    async def move(
        self,
        interaction: discord.Interaction[CrateBot],
        position: app_commands.Range[int, 1],
        to: app_commands.Range[int, 1],
    ) -> None:
        session = await self.service.get(guild_id_of(interaction), channel_id_of(interaction))
        entry = await self.service.move(session, interaction.user.id, position, to, dj=await is_dj(interaction))
        await self._refresh_now_playing(session, interaction.guild)
        await interaction.response.send_message(
            _("↕ Moved **{title}** to place {place} in the queue.").format(title=literal(entry.title, 80), place=to)
        )

    @remove.autocomplete("position")
    @move.autocomplete("position")
    async def position_autocomplete(
        self, interaction: discord.Interaction[CrateBot], current: str
    ) -> list[app_commands.Choice[int]]:
        """The upcoming tracks, by place (choice names are plain text: no markdown to escape)."""
        try:
            session = await self.service.get(guild_id_of(interaction), channel_id_of(interaction))
        except NoSession:
            return []
        upcoming = (await self.service.queue_view(session)).upcoming
        wanted = current.strip().casefold()
        choices = [
            app_commands.Choice(name=f"{i}. {entry.title}"[:100], value=i)
            for i, entry in enumerate(upcoming, 1)
            if not wanted or wanted in f"{i}. {entry.title}".casefold()
        ]
        return choices[:25]

    @app_commands.command(name="shuffle", description="Shuffle Crate's upcoming picks (members' own tracks stay put)")
    @app_commands.guild_only()
    async def shuffle(self, interaction: discord.Interaction[CrateBot]) -> None:
        session = await self.service.get(guild_id_of(interaction), channel_id_of(interaction))
        await replies.defer(interaction)
        text = await self.shuffle_upcoming(session, interaction.user.id, interaction.guild, dj=await is_dj(interaction))
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
            return _("⏭ Vote counted: {votes} of {needed} needed to move on.").format(
                votes=result.votes, needed=result.needed
            )
        await self._refresh_now_playing(session, guild, announce=True)
        if player is not None:
            await player.skip()
        if result.now_playing is None and result.skipped is None:
            return _(
                "Nothing is playing, and the catalog has nothing for this group yet: queue music with "
                "`/session add`, or share songs with `/genre`."
            )
        if result.now_playing is None:
            return _("⏹ That was the last track: the catalog has nothing more for this group.")
        if not result.by_host:
            how = _("Skipped by vote ({votes}/{needed}).").format(votes=result.votes, needed=result.needed)
        elif user_id == session.host_id:
            how = _("The host moved on.")
        else:
            how = _("A DJ moved on.")
        return "⏭ " + how + " " + _("Now playing **{title}**.").format(title=literal(result.now_playing.title, 80))

    async def _finish(
        self, session: Session, channel, guild, *, by_user: int | None, post: bool = True, dj: bool = False
    ) -> SessionSummary:
        summary = await self.service.end(session, by_user, dj=dj)
        await self._stop_voice(session)
        names = MENTIONS
        if session.now_playing_message_id and channel is not None:
            with contextlib.suppress(discord.HTTPException):
                await channel.get_partial_message(session.now_playing_message_id).edit(
                    content=None, embed=None, view=notice(_("This session has ended."))
                )
        if post and channel is not None:
            await channel.send(embed=summary_embed(summary, names), view=summary_view(session.id))
        return summary
