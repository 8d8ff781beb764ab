"""The member behind an interaction as a :class:`bot.caller.Caller` (their roles, Manage Server).

Discord sends the member's roles and resolved permissions with every guild interaction (no
privileged intent needed); ``bot/`` decides from the plain value.
"""

from __future__ import annotations

import discord
from discord import app_commands

from bot.caller import Caller
from cogs.client import CrateBot


def guild_id_of(interaction: discord.Interaction) -> int:
    """The server an interaction comes from: every command and button that asks is guild-only."""
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage()
    return interaction.guild_id


def channel_id_of(interaction: discord.Interaction) -> int:
    """The channel an interaction comes from (a command or a button always has one)."""
    if interaction.channel_id is None:
        raise RuntimeError(f"interaction {interaction.id} came from no channel")
    return interaction.channel_id


def caller_of(interaction: discord.Interaction) -> Caller:
    user = interaction.user
    roles = frozenset(role.id for role in getattr(user, "roles", ()))
    return Caller(user.id, roles, manages_server=bool(interaction.permissions.manage_guild))


async def is_dj(interaction: discord.Interaction[CrateBot]) -> bool:
    """Whether the member has this server's DJ role (``/settings dj_role:``)."""
    if interaction.guild_id is None or not interaction.client.has_crate:
        return False
    chosen = await interaction.client.crate.server_settings.get(interaction.guild_id)
    return chosen.is_dj(caller_of(interaction))
