"""📻 "Start radio" under a track: a radio session seeded by it (the Sessions cog opens it)."""

from __future__ import annotations

import discord

from bot.i18n import N_
from cogs import replies
from cogs.client import CrateBot


class RadioButton(replies.IdButton, kind="radio", emoji="📻", label=N_("Start radio")):
    """📻 under a track: a radio session seeded by it, in this channel, hosted by whoever clicks."""

    async def answer(self, interaction: discord.Interaction[CrateBot]) -> None:
        sessions = interaction.client.sessions
        if sessions is not None:  # loaded with the other cogs; absent only in a partial test bot
            await sessions.open_session(interaction, None, radio_seed=self.target_id)
