"""/genre: share a track (attachment or link) and hear what Crate hears in it."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.sharing import SharedTrack, Source, Stage
from bot.audio.errors import PlaylistLink
from bot.i18n import N_, _
from cogs import replies
from cogs.albums import album_message
from cogs.caller import guild_id_of
from cogs.client import CrateBot
from cogs.feedback import track_view
from cogs.layouts import card
from cogs.render import error_embed, track_embed

PROGRESS = {
    Stage.WAITING: N_("⏳ In the queue — I'll start on it in a moment…"),
    Stage.DOWNLOADING: N_("⏬ Downloading…"),
    Stage.ANALYZING: N_("🎧 Listening…"),
}


ONE_SOURCE = N_("Attach one audio file **or** give one link, e.g. `/genre url:https://example.com/song.mp3`.")


async def share_from_interaction(
    interaction: discord.Interaction[CrateBot], file: discord.Attachment | None, url: str | None, *, queue: bool = False
) -> SharedTrack | None:
    """The shared part of /genre and /session add: validate, defer, show progress, analyze.

    Returns None after answering the member when there is no one track to show: something was
    wrong (they read why, privately, as every error), or the link is an album or playlist (they
    pick its tracks from a private menu, :mod:`cogs.albums`; ``queue``: to queue them too).
    """
    if url is not None and file is None:
        source = Source.link(url)
    elif file is not None and url is None:
        source = Source.attachment(
            file.url,
            filename=file.filename,
            size=file.size,
            content_type=file.content_type,
            channel_id=interaction.channel_id,  # a command upload belongs to no message
        )
    else:  # both, or neither
        await interaction.response.send_message(_(ONE_SOURCE), ephemeral=True)
        return None
    await interaction.response.defer(thinking=True)

    async def progress(stage: Stage) -> None:
        await interaction.edit_original_response(content=_(PROGRESS[stage]))

    try:
        with interaction.client.working_on(interaction):  # told "I'm restarting" if Crate stops meanwhile
            return await interaction.client.crate.sharing.share(
                guild_id_of(interaction), interaction.user.id, source, progress
            )
    except PlaylistLink as listed:
        answer = album_message(listed.tracks, interaction.user.id, queue=queue) if listed.tracks else None
        await _answer_privately(interaction, answer or {"embed": error_embed(replies.error_text(listed))})
        return None
    except Exception as error:
        await _answer_privately(interaction, {"embed": error_embed(replies.error_text(error))})
        return None


async def _answer_privately(interaction: discord.Interaction[CrateBot], message: dict) -> None:
    """Replace the public "thinking…" reply with a private one (errors are the member's own business)."""
    await interaction.delete_original_response()
    await interaction.followup.send(ephemeral=True, **message)


class Genre(commands.Cog):
    def __init__(self, bot: CrateBot):
        self.bot: CrateBot = bot

    @app_commands.command(name="genre", description="Tell the genre of a song, with the evidence")
    @app_commands.describe(file="An audio file (MP3, OGG, Opus, FLAC, WAV, M4A, WebM)", url="A link to a song")
    @app_commands.guild_only()
    async def genre(
        self, interaction: discord.Interaction[CrateBot], file: discord.Attachment | None = None, url: str | None = None
    ) -> None:
        shared = await share_from_interaction(interaction, file, url)
        if shared is None:
            return
        embed = track_embed(
            shared.track, shared_by=interaction.user.mention, created=shared.created, heard=shared.heard
        )
        view = await track_view(self.bot.crate, interaction.guild_id, shared.track.id)
        await interaction.edit_original_response(content=None, view=card(embed, view))


async def setup(bot: CrateBot) -> None:
    await bot.add_cog(Genre(bot))
