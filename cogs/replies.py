"""Answering interactions the same way everywhere: first response or follow-up, and errors."""

from __future__ import annotations

import logging

import discord

from bot.errors import CrateError

log = logging.getLogger(__name__)

UNEXPECTED = "Something went wrong on my side. I've noted it; please try again."


async def send(interaction: discord.Interaction, *, ephemeral: bool = False, **message) -> None:
    """Answer an interaction: as its response if none was sent yet, else as a follow-up."""
    if interaction.response.is_done():
        await interaction.followup.send(ephemeral=ephemeral, **message)
    else:
        await interaction.response.send_message(ephemeral=ephemeral, **message)


def error_text(error: BaseException) -> str:
    """The sentence a person reads for an error; unexpected ones are logged, never shown raw."""
    if isinstance(error, CrateError):
        return error.user_message
    log.error("unexpected error", exc_info=error)
    return UNEXPECTED


async def report_error(interaction: discord.Interaction, error: BaseException) -> None:
    text = f"⚠️ {error_text(error)}"
    try:
        await send(interaction, content=text, ephemeral=True)
    except discord.HTTPException:
        log.exception("could not report an error to the user")
