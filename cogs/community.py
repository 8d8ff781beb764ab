"""/charts (the server's most-liked tracks, families, styles and sharers, with a chart) and /who
(who likes a track, also the 👥 button under every track)."""

from __future__ import annotations

import asyncio
import io

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.community import PERIOD_WORDS, ServerCharts, WhoLikes
from bot.format import clip, literal
from bot.genres import label
from bot.i18n import N_, _, ngettext
from bot.present.charts import server_chart
from bot.present.describe import track_line
from cogs import replies
from cogs.caller import guild_id_of
from cogs.client import CrateBot
from cogs.render import MENTIONS, colour_of
from cogs.tracks import track_choices

CHART_NAME = "charts.png"
CHARTS_COLOUR = 0x1DB954


def charts_embed(charts: ServerCharts, server: str) -> discord.Embed:
    when = _(PERIOD_WORDS[charts.period])
    title = _("{server}'s charts {when}").format(server=literal(server, 100), when=when)
    embed = discord.Embed(title=clip(title, 256), colour=CHARTS_COLOUR)
    if charts.is_empty:
        embed.description = _(
            "Nothing liked or shared {when} yet: share music with `/genre` and rate it with 👍 / 👎."
        ).format(when=when)
        return embed
    if charts.tracks:
        embed.add_field(
            name=_("Most-liked tracks"),
            value="\n".join(
                f"{i}. {track_line(c.track)} · 👍 {c.likes}" + (f" 👎 {c.dislikes}" if c.dislikes else "")
                for i, c in enumerate(charts.tracks, 1)
            ),
            inline=False,
        )
        embed.set_image(url=f"attachment://{CHART_NAME}")
    if charts.families:
        embed.add_field(
            name=_("Top families (share of likes)"),
            value=" · ".join(f"{literal(label(f))} {share:.0%}" for f, share in charts.families),
            inline=False,
        )
    if charts.styles:
        embed.add_field(name=_("Styles"), value=", ".join(t for t, __ in charts.styles), inline=False)
    if charts.sharers:
        embed.add_field(
            name=_("Top sharers"),
            value="\n".join(
                f"{i}. {MENTIONS[u]} · " + ngettext("{count} track", "{count} tracks", n).format(count=n)
                for i, (u, n) in enumerate(charts.sharers, 1)
            ),
            inline=False,
        )
    embed.set_footer(
        text=ngettext("{count} like given {when}", "{count} likes given {when}", charts.likes).format(
            count=charts.likes, when=when
        )
    )
    return embed


def chart_png(charts: ServerCharts, server: str) -> bytes:
    tracks = [(f"{i}. {clip(c.track.title, 28)}", c.likes) for i, c in enumerate(charts.tracks, 1)]
    return server_chart(tracks, list(charts.families), f"{server} · {_(PERIOD_WORDS[charts.period])}")


def who_embed(who: WhoLikes) -> discord.Embed:
    embed = discord.Embed(
        title=_("Who likes “{title}”").format(title=literal(who.track.title, 100)),
        colour=colour_of(who.track.top_genre),
    )
    embed.description = track_line(who.track)
    likers = " ".join(MENTIONS[u] for u in who.likers[:20]) or _("Nobody yet.")
    if len(who.likers) > 20:
        likers += " " + _("and {count} more").format(count=len(who.likers) - 20)
    embed.add_field(name=_("Liked by ({count})").format(count=len(who.likers)), value=likers, inline=False)
    fits = "\n".join(
        f"{MENTIONS[u]} · " + _("fits their taste {share}").format(share=f"{fit:.0%}") for u, fit in who.fits
    )
    embed.add_field(
        name=_("Whose taste it fits best"), value=fits or _("Nobody else has rated enough yet."), inline=False
    )
    if who.dislikers:
        embed.set_footer(
            text=ngettext("{count} member disliked it", "{count} members disliked it", who.dislikers).format(
                count=who.dislikers
            )
        )
    return embed


class WhoLikesButton(replies.IdButton, kind="who", emoji="👥", label=N_("Who likes this")):
    """👥 Who likes this, under a track: only the member who clicks sees the answer."""

    async def answer(self, interaction: discord.Interaction[CrateBot]) -> None:
        await replies.defer(interaction, ephemeral=True)
        who = await interaction.client.crate.community.who_likes(guild_id_of(interaction), self.target_id)
        await replies.send(interaction, embed=who_embed(who), ephemeral=True)


#: /charts' periods. "all" is shown as "all time": a choice's name is translated by itself, and
#: /settings' reset:all means every setting ("alle", not "gesamte Zeit").
PERIODS = [
    app_commands.Choice(name="week", value="week"),
    app_commands.Choice(name="month", value="month"),
    app_commands.Choice(name="all time", value="all"),
]


class Community(commands.Cog):
    def __init__(self, bot: CrateBot):
        self.bot: CrateBot = bot

    @app_commands.command(name="charts", description="This server's most-liked tracks, families, styles and sharers")
    @app_commands.describe(period="Which ratings and shares count (default: all time)")
    @app_commands.choices(period=PERIODS)
    @app_commands.guild_only()
    async def charts(self, interaction: discord.Interaction[CrateBot], period: str = "all") -> None:
        await replies.defer(interaction)
        charts = await self.bot.crate.community.charts(guild_id_of(interaction), period)
        server = interaction.guild.name if interaction.guild else _("This server")
        files = []
        if charts.tracks:
            png = await asyncio.to_thread(chart_png, charts, server)
            files.append(discord.File(fp=io.BytesIO(png), filename=CHART_NAME))
        await replies.send(interaction, embed=charts_embed(charts, server), files=files)

    @app_commands.command(name="who", description="Who in this server likes a track, and whose taste it fits")
    @app_commands.describe(track="A track from this server's catalog")
    @app_commands.guild_only()
    async def who(self, interaction: discord.Interaction[CrateBot], track: int) -> None:
        await replies.defer(interaction)
        who = await self.bot.crate.community.who_likes(guild_id_of(interaction), track)
        await replies.send(interaction, embed=who_embed(who))

    @who.autocomplete("track")
    async def track_autocomplete(
        self, interaction: discord.Interaction[CrateBot], current: str
    ) -> list[app_commands.Choice[int]]:
        return await track_choices(interaction, current)


async def setup(bot: CrateBot) -> None:
    bot.add_dynamic_items(WhoLikesButton)
    await bot.add_cog(Community(bot))
