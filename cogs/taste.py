"""/taste member: and the "Compare taste" member menu: the taste match between two members, with
its evidence. Only the member who asks sees it, unless they ask for it in public.

The answer is a card (:mod:`cogs.layouts`) with the picture of the match inside it: both
members' liking of the families they share and where they differ (``bot.present.charts``)."""

from __future__ import annotations

import asyncio
import io

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.compare import FamilyAffinity, TasteComparison
from bot.errors import CrateError
from bot.format import liking, literal
from bot.genres import label
from bot.i18n import N_, _
from bot.present.charts import match_chart
from bot.present.describe import bar, short_genre, track_line
from bot.present.reasons import reason_text
from bot.recommend.group import match_text
from cogs import replies
from cogs.caller import guild_id_of
from cogs.client import CrateBot
from cogs.layouts import card
from cogs.render import MENTIONS

TASTE_COLOUR = 0x1DB954
CHART = "taste.png"


class ThatsYou(CrateError):
    user_message = N_("That's you! Pick another member to compare your taste with.")


class NoTasteOfItsOwn(CrateError):
    user_message = N_("Bots don't rate music, so there's no taste to compare with. Pick a member.")


def _family_line(row: FamilyAffinity) -> str:
    return _("{family}: you {mine}, them {theirs}").format(
        family=literal(label(row.family)), mine=liking(row.mine), theirs=liking(row.theirs)
    )


def taste_embed(comparison: TasteComparison, mine: str, theirs: str) -> discord.Embed:
    """``mine``/``theirs``: the two display names (titles can't render mentions)."""
    title = _("Taste match: {mine} & {theirs}").format(mine=literal(mine, 80), theirs=literal(theirs, 80))
    embed = discord.Embed(title=title, colour=TASTE_COLOUR)
    if comparison.match is None:
        missing = [MENTIONS[u] for u in comparison.without_ratings]
        if len(missing) >= 2:
            said = _("Not enough ratings yet: {first} and {second} have nothing rated here.").format(
                first=missing[0], second=missing[1]
            )
        elif missing:
            said = _("Not enough ratings yet: {member} has nothing rated here.").format(member=missing[0])
        else:
            said = _("Not enough ratings yet: one of you has nothing rated here.")
        embed.description = said + " " + _("Rate tracks with 👍 / 👎 and ask again.")
    else:
        embed.description = f"**{match_text(comparison.match)}** `{bar(comparison.match)}`"
    both = "\n".join(f"• {track_line(t)}" for t in comparison.both_liked)
    embed.add_field(name=_("You both liked"), value=both or _("Nothing in common yet."), inline=False)
    if comparison.shared:
        embed.add_field(
            name=_("Families you share"), value="\n".join(_family_line(r) for r in comparison.shared), inline=False
        )
    if comparison.different:
        embed.add_field(
            name=_("Where you differ"), value="\n".join(_family_line(r) for r in comparison.different), inline=False
        )
    if comparison.picks:
        embed.add_field(
            name=_("For both of you"),
            value="\n".join(
                f"{i}. **{literal(p.title, 70)}** · {literal(short_genre(p.top_genre))}\n└ {reason_text(p.reason, MENTIONS, markdown=True)}"
                for i, p in enumerate(comparison.picks, 1)
            ),
            inline=False,
        )
    return embed


async def compare_with(interaction: discord.Interaction[CrateBot], member: discord.Member, *, public: bool) -> None:
    """The shared part of /taste and the member menu: check, defer, compare, answer."""
    if member.bot:
        raise NoTasteOfItsOwn(detail=f"member {member.id} is a bot")
    if member.id == interaction.user.id:
        raise ThatsYou(detail=f"member {member.id}")
    await replies.defer(interaction, ephemeral=not public)
    comparison = await interaction.client.crate.taste.compare(guild_id_of(interaction), interaction.user.id, member.id)
    embed = taste_embed(comparison, interaction.user.display_name, member.display_name)
    embed.set_thumbnail(url=member.display_avatar.url)  # in the card: beside the title, whom you match
    families = [(label(row.family), row.mine, row.theirs) for row in (*comparison.shared, *comparison.different)]
    if not families:
        await replies.send(interaction, view=card(embed), ephemeral=not public)
        return
    png = await asyncio.to_thread(match_chart, families, _("Families: you and them"))
    layout = card(embed, image=f"attachment://{CHART}", image_description=_("Both members' liking of each family"))
    chart = discord.File(io.BytesIO(png), filename=CHART)
    await replies.send(interaction, view=layout, files=[chart], ephemeral=not public)


class Taste(commands.Cog):
    def __init__(self, bot: CrateBot):
        self.bot: CrateBot = bot
        self.menu = app_commands.ContextMenu(name="Compare taste", callback=self.compare_menu)
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    @app_commands.command(name="taste", description="How well your taste matches another member's, with the evidence")
    @app_commands.describe(
        member="Whose taste to compare with yours", public="Show it to the channel (default: only you)"
    )
    @app_commands.guild_only()
    async def taste(
        self, interaction: discord.Interaction[CrateBot], member: discord.Member, public: bool = False
    ) -> None:
        await compare_with(interaction, member, public=public)

    @app_commands.guild_only()
    async def compare_menu(self, interaction: discord.Interaction[CrateBot], member: discord.Member) -> None:
        await compare_with(interaction, member, public=False)


async def setup(bot: CrateBot) -> None:
    await bot.add_cog(Taste(bot))
