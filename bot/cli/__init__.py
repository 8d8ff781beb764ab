"""The ``crate`` command (``bot.cli.commands``), the terminal console and the folder indexer."""

from bot.cli.commands import main

__all__ = ["main"]
