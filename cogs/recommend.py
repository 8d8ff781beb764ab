"""/recommend, "More like this", and the cold-start genre picker."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Self

import discord
from discord import app_commands
from discord.ext import commands

from bot.catalog import DISLIKE, LIKE
from bot.format import literal
from bot.genres import display_name, label
from bot.i18n import N_, _
from bot.present.describe import short_genre
from bot.present.reasons import reason_text
from bot.recommend.rank import Recommendation
from cogs import replies
from cogs.caller import guild_id_of
from cogs.client import CrateBot
from cogs.feedback import RateButton
from cogs.render import MENTIONS
from cogs.soundmap import MapButton

#: Five picks, each with its row of buttons (👍, 👎, 📍, more like this): 33 of a card's 40 components.
MAX_PICKS = 5
PICKS_COLOUR = 0x1DB954

EMPTY_CATALOG = N_(
    "This server's catalog is empty, so I have nothing to recommend yet. Share songs with "
    "`/genre` (attach a file or paste a link) — every song shared joins the catalog. A server "
    "admin can also index a music folder with `crate index DIR`."
)


def pick_line(number: int, pick: Recommendation) -> str:
    return (
        f"**{number}. {literal(pick.title, 80)}** · {literal(short_genre(pick.top_genre))}\n"
        f"└ {reason_text(pick.reason, MENTIONS, markdown=True)}"
    )


def picks_card(
    picks: Sequence[Recommendation],
    *,
    title: str,
    note: str | None = None,
    select: discord.ui.Item[Any] | None = None,
) -> discord.ui.LayoutView:
    """The picks as one card: each pick's line with its own row under it (👍, 👎, 📍 where it sits
    on the server's map, 🔁 More like this), the note, and ``select`` (the cold start's genre picker) in the last row."""
    card: discord.ui.Container[Any] = discord.ui.Container(accent_colour=PICKS_COLOUR)
    card.add_item(discord.ui.TextDisplay(f"### {title}"))
    if not picks:
        card.add_item(discord.ui.TextDisplay(_("Nothing new to suggest.")))
    for number, pick in enumerate(picks[:MAX_PICKS], 1):
        card.add_item(discord.ui.TextDisplay(pick_line(number, pick)))
        card.add_item(
            discord.ui.ActionRow(
                RateButton(pick.track_id, LIKE, label=str(number)),
                RateButton(pick.track_id, DISLIKE, label=str(number)),
                MapButton(pick.track_id, label=str(number)),
                MoreLikeButton(pick.track_id, label=_("More like {number}").format(number=number)),
            )
        )
    card.add_item(discord.ui.TextDisplay("-# " + (note or _("Rate picks with 👍/👎 — I learn from every rating."))))
    if select is not None:
        card.add_item(discord.ui.ActionRow(select))
    layout = discord.ui.LayoutView(timeout=None)
    layout.add_item(card)
    return layout


class MoreLikeButton(
    replies.AnswersErrors, discord.ui.DynamicItem[discord.ui.Button], template=r"crate:more:(?P<track>\d+)"
):
    """ "More like this": picks seeded by one track, for whoever clicks (only they see them)."""

    def __init__(self, track_id: int, *, label: str | None = None):
        super().__init__(
            discord.ui.Button(
                label=label or _("More like this"),
                emoji="🔁",
                style=discord.ButtonStyle.primary,
                custom_id=f"crate:more:{track_id}",
            )
        )
        self.track_id = track_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> Self:
        return cls(int(match["track"]), label=item.label if isinstance(item, discord.ui.Button) else None)

    async def answer(self, interaction: discord.Interaction[CrateBot]) -> None:
        crate = interaction.client.crate
        seed = await crate.library.track(guild_id_of(interaction), self.track_id)
        picks = await crate.recommendations.more_like(
            guild_id_of(interaction),
            interaction.user.id,
            self.track_id,
            count=MAX_PICKS,
        )
        note = _("That's all I have that sounds like it.") if len(picks) < MAX_PICKS else None
        title = _("More like “{title}”").format(title=literal(seed.title, 60))
        layout = picks_card(picks, title=title, note=note)
        await replies.send(interaction, view=layout, ephemeral=True)


class StartGenresSelect(replies.AnswersErrors, discord.ui.DynamicItem[discord.ui.Select], template=r"crate:start"):
    """Cold start: a member with no ratings picks genres to begin from."""

    def __init__(self, genres: Sequence[str] = ()):
        options = [discord.SelectOption(label=display_name(g), value=g) for g in list(genres)[:25]]
        super().__init__(
            discord.ui.Select(
                custom_id="crate:start",
                placeholder=_("Pick genres you like to get started"),
                min_values=1,
                max_values=max(1, len(options)),
                options=options or [discord.SelectOption(label=_("surprise me"), value="*")],
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> Self:
        return cls()

    async def answer(self, interaction: discord.Interaction[CrateBot]) -> None:
        genres = [v for v in self.item.values if v != "*"]  # discord.py fills the select's state first
        picks = await interaction.client.crate.recommendations.starter_picks(
            guild_id_of(interaction),
            interaction.user.id,
            genres,
            count=MAX_PICKS,
        )
        title = (
            _("To start you off: {genres}").format(genres=literal(", ".join(label(g) for g in genres), 200))
            if genres
            else _("To start you off")
        )
        await replies.send(interaction, view=picks_card(picks, title=title), ephemeral=True)


class Recommend(commands.Cog):
    def __init__(self, bot: CrateBot):
        self.bot: CrateBot = bot

    @app_commands.command(name="recommend", description="Tracks from this server's catalog picked for you")
    @app_commands.describe(count="How many picks (1-5)", genre="Only this genre or style, e.g. jazz, chillout, 80s")
    @app_commands.guild_only()
    async def recommend(
        self,
        interaction: discord.Interaction[CrateBot],
        count: app_commands.Range[int, 1, MAX_PICKS] = MAX_PICKS,
        genre: str | None = None,
    ) -> None:
        crate = self.bot.crate
        await replies.defer(interaction)
        result = await crate.recommendations.recommend(
            guild_id_of(interaction),
            interaction.user.id,
            count=count,
            genre=genre,
        )
        if result.catalog_empty:
            await replies.send(interaction, content=_(EMPTY_CATALOG))
            return
        who = literal(interaction.user.display_name, 80)
        title = _("Picks for {member}").format(member=who) + (f" · {literal(genre, 80)}" if genre else "")
        if not result.cold_start:
            await replies.send(interaction, view=picks_card(result.recommendations, title=title))
            return
        # No likes yet: the server's favourites, plus a genre picker in the last row.
        picks = result.recommendations[: MAX_PICKS - 1]
        select = StartGenresSelect(await crate.library.genres_available(guild_id_of(interaction)))
        note = _("You haven't rated anything yet, so these are a start. Pick genres below, or rate these picks.")
        layout = picks_card(picks, title=_("Getting to know {member}").format(member=who), note=note, select=select)
        await replies.send(interaction, view=layout)

    @recommend.autocomplete("genre")
    async def genre_autocomplete(
        self, interaction: discord.Interaction[CrateBot], current: str
    ) -> list[app_commands.Choice[str]]:
        from bot.analysis import TAGS

        genres = await self.bot.crate.library.genres_available(guild_id_of(interaction))
        names = list(dict.fromkeys([*(display_name(g) for g in genres), *TAGS]))
        matches = [n for n in names if current.lower() in n.lower()]
        return [app_commands.Choice(name=n, value=n) for n in matches[:25]]


async def setup(bot: CrateBot) -> None:
    bot.add_dynamic_items(MoreLikeButton, StartGenresSelect)
    await bot.add_cog(Recommend(bot))
