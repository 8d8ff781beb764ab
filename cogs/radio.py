"""📻 "Start radio" under a track: a radio session seeded by it (the Sessions cog opens it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from cogs import replies
from cogs.client import CrateBot

if TYPE_CHECKING:
    from cogs.session import Sessions


class RadioButton(replies.IdButton, kind="radio", emoji="📻", label="Start radio"):
    """📻 under a track: a radio session seeded by it, in this channel, hosted by whoever clicks."""

    async def answer(self, interaction: discord.Interaction[CrateBot]) -> None:
        cog: Sessions = interaction.client.get_cog("Sessions")  # type: ignore[assignment]
        await cog.open_session(interaction, None, radio_seed=self.target_id)
