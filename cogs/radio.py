"""📻 "Start radio" under a track: a radio session seeded by it (the Sessions cog opens it)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import discord

from cogs import replies
from cogs.client import CrateBot

if TYPE_CHECKING:
    from cogs.session import Sessions


class RadioButton(
    replies.AnswersErrors, discord.ui.DynamicItem[discord.ui.Button], template=r"crate:radio:(?P<track>\d+)"
):
    """📻 under a track: a radio session seeded by it, in this channel, hosted by whoever clicks."""

    def __init__(self, track_id: int):
        super().__init__(
            discord.ui.Button(
                emoji="📻",
                label="Start radio",
                style=discord.ButtonStyle.secondary,
                custom_id=f"crate:radio:{track_id}",
            )
        )
        self.track_id = track_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[CrateBot], item: discord.ui.Button, match: re.Match[str]
    ):
        return cls(int(match["track"]))

    async def answer(self, interaction: discord.Interaction[CrateBot]) -> None:
        cog: Sessions = interaction.client.get_cog("Sessions")  # type: ignore[assignment]
        await cog.open_session(interaction, None, radio_seed=self.track_id)
