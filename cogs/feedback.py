"""/like and /dislike, the 👍 / 👎 buttons under every track, and a track message's components.

:func:`track_view` is what every answer about one track carries (``/genre``, "Analyze with
Crate"): the rating buttons, 👥, 📻 Start radio, 📍 Where is this? and the "Not right?" select.
"""

from __future__ import annotations

import re
from typing import Any, Self

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.crate import Crate
from bot.app.library import RatedTrack
from bot.catalog import DISLIKE, LIKE
from bot.i18n import _
from bot.present.describe import track_line
from cogs import replies
from cogs.caller import guild_id_of
from cogs.client import CrateBot
from cogs.community import WhoLikesButton
from cogs.radio import RadioButton
from cogs.soundmap import MapButton
from cogs.teach import add_correction
from cogs.tracks import track_choices


def rated_message(rated: RatedTrack) -> str:
    said = _("👍 You liked {track}.") if rated.value == LIKE else _("👎 You disliked {track}.")
    text = said.format(track=track_line(rated.track))
    if rated.previous is not None and rated.previous != rated.value:
        text += " " + _("(That replaces your earlier rating.)")
    return text + " " + _("I'll use it for your recommendations.")


class RateButton(
    replies.AnswersErrors,
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"crate:rate:(?P<track>\d+):(?P<value>up|down)",
):
    """👍 / 👎 under a track: anyone may click, and rates it for themselves."""

    def __init__(self, track_id: int, value: int, *, label: str | None = None):
        liked = value == LIKE
        super().__init__(
            discord.ui.Button(
                emoji="👍" if liked else "👎",
                label=label,
                style=discord.ButtonStyle.success if liked else discord.ButtonStyle.secondary,
                custom_id=f"crate:rate:{track_id}:{'up' if liked else 'down'}",
            )
        )
        self.track_id = track_id
        self.value = value

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> Self:
        label = item.label if isinstance(item, discord.ui.Button) else None
        return cls(int(match["track"]), LIKE if match["value"] == "up" else DISLIKE, label=label)

    async def answer(self, interaction: discord.Interaction[CrateBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)  # acknowledge before writing
        rated = await interaction.client.crate.library.rate(
            guild_id_of(interaction), interaction.user.id, self.value, self.track_id
        )
        await replies.send(interaction, content=rated_message(rated), ephemeral=True)


def rating_buttons(track_id: int, view: discord.ui.View | None = None, *, prefix: str = "") -> discord.ui.View:
    """A persistent view (or ``view``) with 👍 Like / 👎 Dislike / 👥 Who likes this for one track."""
    view = view or discord.ui.View(timeout=None)
    view.add_item(RateButton(track_id, LIKE, label=prefix + _("Like")))
    view.add_item(RateButton(track_id, DISLIKE, label=prefix + _("Dislike")))
    view.add_item(WhoLikesButton(track_id))
    return view


async def track_view(crate: Crate, guild_id: int | None, track_id: int) -> discord.ui.View:
    """The components of a message about one track: 👍 / 👎 / 👥, 📻 Start radio, 📍 Where is
    this?, and "Not right?" (offering this server's own genres)."""
    view = rating_buttons(track_id)
    view.add_item(RadioButton(track_id))
    view.add_item(MapButton(track_id))
    return await add_correction(view, crate, guild_id, track_id)


class Feedback(commands.Cog):
    def __init__(self, bot: CrateBot):
        self.bot: CrateBot = bot

    async def _rate(self, interaction: discord.Interaction[CrateBot], value: int, track: int | None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)  # acknowledge before writing
        rated = await self.bot.crate.library.rate(guild_id_of(interaction), interaction.user.id, value, track)
        await interaction.followup.send(rated_message(rated), ephemeral=True)

    @app_commands.command(name="like", description="Like a track: your last one, or one from this server's catalog")
    @app_commands.describe(
        track="A track from this server's catalog (default: the last one you shared or were recommended)"
    )
    @app_commands.guild_only()
    async def like(self, interaction: discord.Interaction[CrateBot], track: int | None = None) -> None:
        await self._rate(interaction, LIKE, track)

    @app_commands.command(
        name="dislike", description="Dislike a track: your last one, or one from this server's catalog"
    )
    @app_commands.describe(
        track="A track from this server's catalog (default: the last one you shared or were recommended)"
    )
    @app_commands.guild_only()
    async def dislike(self, interaction: discord.Interaction[CrateBot], track: int | None = None) -> None:
        await self._rate(interaction, DISLIKE, track)

    @like.autocomplete("track")
    @dislike.autocomplete("track")
    async def track_autocomplete(
        self, interaction: discord.Interaction[CrateBot], current: str
    ) -> list[app_commands.Choice[int]]:
        return await track_choices(interaction, current)


async def setup(bot: CrateBot) -> None:
    bot.add_dynamic_items(RateButton)
    await bot.add_cog(Feedback(bot))
