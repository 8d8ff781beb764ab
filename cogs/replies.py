"""Answering interactions the same way everywhere: first response or follow-up, and errors."""

from __future__ import annotations

import logging
from typing import Any

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


class AnswersErrors:
    """The one error path of Crate's buttons and selects: mix it in before ``DynamicItem``.

    The item does its work in :meth:`answer`; whatever it raises becomes the same friendly,
    private reply a slash command gives (:func:`report_error`), so no item writes its own catch.
    """

    async def answer(self, interaction: discord.Interaction[Any]) -> None:
        raise NotImplementedError

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            await self.answer(interaction)
        except Exception as error:
            await report_error(interaction, error)
