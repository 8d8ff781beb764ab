""" "Analyze with Crate", the message menu: every audio attachment and link of a message, as /genre.

Discord delivers a message command's target message whole (content and attachments), so Crate
needs no message-content intent for it. The answers are the member's alone (ephemeral); the
tracks are credited to the message's author.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.crate import Crate
from bot.app.messages import (
    MessageItem,
    NoAudioInMessage,
    PostedFile,
    PostedMessage,
    analyze_message,
    audio_sources,
    summary_line,
)
from bot.app.sharing import Stage
from bot.audio.errors import PlaylistLink
from bot.format import literal
from bot.i18n import _, ngettext
from cogs import replies
from cogs.albums import album_message
from cogs.client import CrateBot
from cogs.feedback import track_view
from cogs.genre import PROGRESS
from cogs.layouts import card
from cogs.render import error_embed, track_embed


def posted_message(interaction: discord.Interaction[CrateBot], message: discord.Message) -> PostedMessage:
    """What Crate's core needs of a Discord message (credit: its author, unless a bot posted it)."""
    author = interaction.user if message.author.bot else message.author
    return PostedMessage(
        guild_id=interaction.guild_id or 0,
        channel_id=message.channel.id,
        message_id=message.id,
        author_id=author.id,
        content=message.content,
        attachments=tuple(PostedFile(a.url, a.filename, a.size, a.content_type) for a in message.attachments),
    )


async def item_message(crate: Crate, guild_id: int | None, item: MessageItem, author: str, user_id: int) -> dict:
    """The follow-up for one analyzed item: its track with the components /genre's answer has
    (:func:`~cogs.feedback.track_view`), the picker of an album or playlist link
    (:mod:`cogs.albums`, for the member who asked), or what went wrong."""
    if isinstance(item.error, PlaylistLink) and item.error.tracks:
        return album_message(item.error.tracks, user_id, queue=False)
    if item.shared is None:
        text = f"**{literal(item.label)}**: {replies.error_text(item.error or RuntimeError('no result'))}"
        return {"embed": error_embed(text)}
    track = item.shared.track
    embed = track_embed(track, shared_by=author, created=item.shared.created, heard=item.shared.heard)
    return {"view": card(embed, await track_view(crate, guild_id, track.id))}


class Analyze(commands.Cog):
    def __init__(self, bot: CrateBot):
        self.bot: CrateBot = bot
        self.menu = app_commands.ContextMenu(name="Analyze with Crate", callback=self.analyze)
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    @app_commands.guild_only()
    async def analyze(self, interaction: discord.Interaction[CrateBot], message: discord.Message) -> None:
        posted = posted_message(interaction, message)
        if not audio_sources(posted):
            raise NoAudioInMessage(detail=f"message {message.id}")  # answered at once, privately
        await replies.defer(interaction, ephemeral=True)
        count = len(audio_sources(posted))
        looking = ngettext("🎧 Looking at {count} audio item…", "🎧 Looking at {count} audio items…", count)
        await interaction.edit_original_response(content=looking.format(count=count))

        async def progress(number: int, total: int, label: str, stage: Stage) -> None:
            counter = f"{number}/{total} · " if total > 1 else ""
            await interaction.edit_original_response(content=f"{counter}{literal(label, 60)} — {_(PROGRESS[stage])}")

        with self.bot.working_on(interaction):  # told "I'm restarting" if Crate stops meanwhile
            items = await analyze_message(self.bot.crate, posted, interaction.user.id, progress)
        author = f"<@{posted.author_id}>"
        for item in items:
            answer = await item_message(self.bot.crate, interaction.guild_id, item, author, interaction.user.id)
            await interaction.followup.send(ephemeral=True, **answer)
        await interaction.edit_original_response(
            content=_("From {author}'s message: {summary}.").format(author=author, summary=summary_line(items))
        )


async def setup(bot: CrateBot) -> None:
    await bot.add_cog(Analyze(bot))
