"""The command tree's strings for the catalogs: a Babel extractor (``babel.cfg``).

``pybabel extract`` walks the command tree itself, as discord.py's sync does, so every command's
name, description, option and choice lands in ``crate.pot`` without being marked in the code,
each with the message context :class:`cogs.translator.CrateTranslator` looks it up under.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import discord
from discord import app_commands

from bot.config import Settings
from cogs.client import EXTENSIONS, CrateBot
from cogs.translator import context_of


class _Recorder(app_commands.Translator):
    def __init__(self) -> None:
        self.seen: dict[tuple[str | None, str], str] = {}

    async def translate(
        self, string: app_commands.locale_str, locale: discord.Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        if locale is discord.Locale.american_english:
            self.seen.setdefault((context_of(context.location), string.message), context.location.name)
        return None


async def command_strings() -> dict[tuple[str | None, str], str]:
    """Every string of Crate's command tree that Discord localizes: ``(context, English) ->``
    where it is used (``command_name``, ``parameter_description``…), as discord.py's sync asks."""
    recorder = _Recorder()
    bot = CrateBot(Settings(), crate=None)
    try:
        for extension in EXTENSIONS:
            await bot.load_extension(extension)
        for kind in discord.AppCommandType:
            for command in bot.tree.get_commands(type=kind):
                await command.get_translated_payload(bot.tree, recorder)
    finally:
        await bot.close()
    return recorder.seen


def extract_commands(fileobj: Any, keywords: Any, comment_tags: Any, options: Any) -> Iterator[tuple]:
    """A Babel extractor: the command tree's names (with their context) and descriptions, then
    whatever the file itself marks."""
    from babel.messages.extract import extract_python

    for (context, message), where in sorted(asyncio.run(command_strings()).items(), key=lambda item: item[0][1]):
        if context:
            yield 0, "pgettext", (context, message), [where]
        else:
            yield 0, "_", message, [where]
    yield from extract_python(fileobj, keywords, comment_tags, options)
