"""A ``track`` option: autocomplete from this server's catalog titles (served from memory)."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.format import clip
from bot.present.describe import short_genre
from cogs.caller import guild_id_of
from cogs.client import CrateBot


async def track_choices(interaction: discord.Interaction[CrateBot], current: str) -> list[app_commands.Choice[int]]:
    """Up to 25 of this server's tracks whose title matches what was typed (see bot.app.titles)."""
    tracks = await interaction.client.crate.library.search(guild_id_of(interaction), current)
    return [
        app_commands.Choice(name=clip(f"{t.title} · {short_genre(t.top_genre)}", 100), value=t.id) for t in tracks[:25]
    ]
