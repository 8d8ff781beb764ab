"""Slash commands in the members' language: discord.py's ``Translator`` over Crate's catalogs.

Discord shows each member a command's name, description, options and choices in their client's
language from the localizations sent with ``tree.sync``; discord.py asks the tree's translator for
each string and each Discord locale. The words come from the same gettext catalogs as Crate's
sentences (``bot/i18n.py``), a name under a message context so that a command called "play" is
translated as a command name, not as a word of a sentence. The English strings reach the
catalogs through :mod:`cogs.localizations`.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.app_commands import TranslationContextLocation as Where

from bot import i18n

#: The message context of each kind of name (descriptions are sentences: no context).
CONTEXTS: dict[Where, str] = {
    Where.command_name: "command",
    Where.group_name: "command",
    Where.parameter_name: "option",
    Where.choice_name: "choice",
}


def context_of(location: Where) -> str | None:
    return CONTEXTS.get(location)


class CrateTranslator(app_commands.Translator):
    """Names and descriptions from the catalog of the locale's language; None (Discord shows the
    English) for a locale Crate has no catalog for."""

    async def translate(
        self, string: app_commands.locale_str, locale: discord.Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        language = i18n.DISCORD_LOCALES.get(locale.value)
        if language is None:
            return None
        return i18n.translate(string.message, language, context_of(context.location))
