"""/profile (a taste summary with a chart) and /forget (after a confirm button). Both ephemeral."""

from __future__ import annotations

import asyncio
import io
import re
from typing import Any, Self

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.members import FORGET_WHAT, forget_done
from bot.app.taste import TasteSummary
from bot.format import literal
from bot.genres import display_name, label
from bot.i18n import _
from bot.present.charts import taste_chart
from bot.present.describe import track_line
from cogs import replies
from cogs.caller import guild_id_of
from cogs.client import CrateBot

CHART_NAME = "taste.png"


def profile_embed(summary: TasteSummary, name: str) -> discord.Embed:
    embed = discord.Embed(title=_("{name}'s taste").format(name=literal(name, 100)), colour=0x1DB954)
    embed.add_field(name=_("Likes"), value=str(summary.likes))
    embed.add_field(name=_("Dislikes"), value=str(summary.dislikes))
    embed.add_field(name=_("Shared"), value=str(summary.shares))
    if summary.genres:
        unsure = ", " + _("unsure")
        embed.add_field(
            name=_("Top genres"),
            value=summary.headline.capitalize()
            + ": "
            + ", ".join(
                f"{literal(label(g))} ({a:.0%}{unsure if g in summary.unsure else ''})" for g, a in summary.genres
            ),
            inline=False,
        )
        embed.set_image(url=f"attachment://{CHART_NAME}")
    if summary.favourites:
        embed.add_field(
            name=_("Most-liked tracks"),
            value="\n".join(f"{i}. {track_line(t)}" for i, t in enumerate(summary.favourites, 1)),
            inline=False,
        )
    if summary.is_empty:
        embed.description = _("Nothing yet: share music with `/genre` and rate it with 👍 / 👎.")
    return embed


class ForgetButton(
    replies.AnswersErrors, discord.ui.DynamicItem[discord.ui.Button], template=r"crate:forget:(?P<user>\d+)"
):
    """The confirmation for /forget: only the member who asked may press it."""

    def __init__(self, user_id: int):
        super().__init__(
            discord.ui.Button(
                label=_("Yes, forget me"), style=discord.ButtonStyle.danger, custom_id=f"crate:forget:{user_id}"
            )
        )
        self.user_id = user_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> Self:
        return cls(int(match["user"]))

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        replies.speak_like(interaction)
        if interaction.user.id != self.user_id:
            await replies.send(interaction, content=_("Only the member who asked can confirm this."), ephemeral=True)
            return False
        return True

    async def answer(self, interaction: discord.Interaction[CrateBot]) -> None:
        await interaction.response.defer()  # acknowledge before writing; the confirm message is edited after
        report = await interaction.client.crate.members.forget(guild_id_of(interaction), self.user_id)
        await interaction.edit_original_response(
            content=_("Done. {report}").format(report=forget_done(report)),
            view=None,
        )


class Profile(commands.Cog):
    def __init__(self, bot: CrateBot):
        self.bot: CrateBot = bot

    @app_commands.command(name="profile", description="A summary of your taste (or another member's)")
    @app_commands.describe(member="Whose taste to show (default: yours)")
    @app_commands.guild_only()
    async def profile(self, interaction: discord.Interaction[CrateBot], member: discord.Member | None = None) -> None:
        whose: discord.Member | discord.User = member or interaction.user
        await interaction.response.defer(ephemeral=True, thinking=True)
        summary = await self.bot.crate.taste.profile(guild_id_of(interaction), whose.id, viewer_id=interaction.user.id)
        embed = profile_embed(summary, whose.display_name)
        files = []
        if summary.genres:
            unsure = " (" + _("unsure") + ")"
            shown = [(display_name(g) + (unsure if g in summary.unsure else ""), a) for g, a in summary.genres]
            title = _("{name}'s genres").format(name=whose.display_name)
            png = await asyncio.to_thread(taste_chart, shown, title)
            files.append(discord.File(fp=io.BytesIO(png), filename=CHART_NAME))
        await interaction.followup.send(embed=embed, files=files, ephemeral=True)

    @app_commands.command(name="forget", description="Delete everything Crate stores about you in this server")
    @app_commands.guild_only()
    async def forget(self, interaction: discord.Interaction[CrateBot]) -> None:
        view = discord.ui.View(timeout=None)
        view.add_item(ForgetButton(interaction.user.id))
        await interaction.response.send_message(
            _(FORGET_WHAT) + "\n" + _("Are you sure?"),
            view=view,
            ephemeral=True,
        )


async def setup(bot: CrateBot) -> None:
    bot.add_dynamic_items(ForgetButton)
    await bot.add_cog(Profile(bot))
