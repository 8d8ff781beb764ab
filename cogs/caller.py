"""The member behind an interaction as a :class:`bot.caller.Caller` (their roles, Manage Server).

Discord sends the member's roles and resolved permissions with every guild interaction (no
privileged intent needed); ``bot/`` decides from the plain value.
"""

from __future__ import annotations

import discord

from bot.caller import Caller


def caller_of(interaction: discord.Interaction) -> Caller:
    user = interaction.user
    roles = frozenset(role.id for role in getattr(user, "roles", ()))
    return Caller(user.id, roles, manages_server=bool(interaction.permissions.manage_guild))


async def is_dj(interaction: discord.Interaction) -> bool:
    """Whether the member has this server's DJ role (``/settings dj_role:``)."""
    if interaction.guild_id is None or interaction.client.crate is None:  # type: ignore[attr-defined]
        return False
    chosen = await interaction.client.crate.server_settings.get(interaction.guild_id)  # type: ignore[attr-defined]
    return chosen.is_dj(caller_of(interaction))
