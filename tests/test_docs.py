"""The README and .env.example name only commands that exist.

Every `crate <word>` they mention is a sub-command of ``bot.cli``, and every slash command the
README's tables list is registered in the bot's app command tree (loaded the way ``crate run``
loads it, without connecting to Discord).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import discord

from bot.cli import commands as cli
from bot.config import Settings
from cogs.client import EXTENSIONS, CrateBot

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", REPO / ".env.example"]


def subcommands() -> set[str]:
    parser = cli._parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return set(action.choices)


def crate_words(text: str) -> set[str]:
    """The words after ``crate `` in the text (``.venv/bin/crate demo``, `` `crate index DIR` ``…)."""
    return set(re.findall(r"(?<![\w./-])(?:\.venv/bin/)?crate ([a-z][a-z-]*)", text))


def readme_slash_commands() -> set[str]:
    """Each ``/command`` or ``/group sub`` in the first column of the README's tables."""
    found = set()
    for line in (REPO / "README.md").read_text().splitlines():
        if not line.startswith("| `/"):
            continue
        first_cell = line.split("|")[1]
        for span in re.findall(r"`(/[^`]+)`", first_cell):
            words = [w for w in span.split() if re.fullmatch(r"/?[a-z_-]+", w)]
            found.add(" ".join(words).lstrip("/"))
    return found


def test_the_doc_scanners_find_what_they_should():
    assert crate_words("run `crate sync` or .venv/bin/crate demo; docker run -t crate . /home/crate/data") == {
        "sync",
        "demo",
    }
    assert {"genre", "session start", "session join", "session leave", "help"} <= readme_slash_commands()


def test_every_crate_command_the_docs_name_exists():
    real = subcommands()
    assert {"classify", "run", "index", "evaluate-recs"} <= real
    for doc in DOCS:
        named = crate_words(doc.read_text())
        assert named, f"{doc.name} names no crate command: the scanner is broken"
        assert named <= real, f"{doc.name} names `crate {sorted(named - real)}`, which is not a sub-command"


async def test_every_command_the_readme_tables_list_is_registered():
    bot = CrateBot(Settings(), crate=None)
    for extension in EXTENSIONS:
        await bot.load_extension(extension)
    registered = set()
    for command in bot.tree.get_commands():
        registered.add(command.name)
        for sub in getattr(command, "commands", ()):
            registered.add(f"{command.name} {sub.name}")
    listed = readme_slash_commands()
    assert len(listed) >= 10
    missing = listed - registered
    assert not missing, f"the README lists commands the bot does not register: {sorted(missing)}"
    unlisted = {c for c in registered if " " not in c} - {c.split()[0] for c in listed}
    assert not unlisted, f"the README's tables do not list these commands: {sorted(unlisted)}"
    menus = [
        command.name
        for kind in (discord.AppCommandType.message, discord.AppCommandType.user)
        for command in bot.tree.get_commands(type=kind)
    ]
    assert menus, "no context menus registered: the scanner is broken"
    readme = (REPO / "README.md").read_text()
    for name in menus:
        assert f"| **{name}** |" in readme, f"the README's Menus table does not list the context menu {name!r}"
    await bot.close()
