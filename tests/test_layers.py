"""Imports only go down: a lower layer never imports a higher one (see /work/shared/DESIGN.md).

Run it alone with ``python -m pytest tests/test_layers.py -q``. The rule table below is the
whole rule: every module of ``bot/`` and ``cogs/`` must match one of its prefixes (the longest
match wins), and a module may import modules of its own layer or of any layer below. A new
module that matches no prefix fails the test until someone decides where it belongs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: (module prefix, layer). Higher numbers sit higher; imports may only point to an equal or lower number.
LAYERS: tuple[tuple[str, int], ...] = (
    # the ground floor: domain values, settings, the error base, human-readable numbers
    ("bot", 0),  # the package itself (its __init__ holds only a docstring)
    ("bot.catalog", 0),
    ("bot.config", 0),
    ("bot.errors", 0),
    ("bot.format", 0),
    ("bot.assets", 0),
    ("bot.analysis", 0),
    (
        "bot.genres",
        0,
    ),  # the genre vocabulary: family ids, display names, aliases, "not sure" wording  # what crosses the pool boundary, and the taggers' tag names (numpy only)
    # a generic supervised process pool: it imports nothing of Crate's but the error base
    ("bot.pool", 0),
    ("bot.admission", 0),  # reservations for analysis (member, server, everybody): asyncio only
    ("bot.caller", 0),  # who asks (user, roles, Manage Server): what permission checks read
    ("bot.shards", 0),  # which gateway shards this process runs, and whether it is the primary one
    # storage: all SQL
    ("bot.store", 1),
    ("bot.store.postgres", 1),  # the same store on PostgreSQL (asyncpg), chosen by CRATE_DATABASE_URL
    ("bot.store.transfer", 1),  # crate migrate-db: every table of one database into another
    # bytes in, samples out
    ("bot.audio", 2),
    # samples in, an Analysis out
    ("bot.listen", 3),
    # the same analysis jobs on a PostgreSQL-backed task queue (procrastinate): `crate worker`s anywhere
    ("bot.queue", 3),
    # recommendations, the in-memory title index
    ("bot.recommend", 4),
    ("bot.titles", 4),
    # use cases, and the Discord-free words and charts they and the cogs show
    ("bot.crate", 5),
    ("bot.teach", 5),  # members' genre corrections -> the server's head relabels its catalog
    ("bot.session", 5),
    ("bot.playlists", 5),  # saved playlists (they start sessions through bot.session)
    ("bot.server_settings", 5),  # per-server settings over the environment's defaults
    ("bot.console", 5),
    ("bot.index", 5),
    ("bot.describe", 5),
    ("bot.charts", 5),
    ("bot.compare", 5),  # two members' taste match with its evidence
    ("bot.community", 5),  # the server's charts, who likes a track
    ("bot.messages", 5),  # the audio in a posted message ("Analyze with Crate")
    # the Discord skin
    ("cogs", 6),
    # the entry points: `crate run` starts the Discord client, so the CLI sits above the cogs
    ("bot.cli", 7),
    ("bot.__main__", 7),
)


def layer_of(module: str) -> int | None:
    """The layer of ``module`` by its longest matching prefix, or None when no rule covers it."""
    best: tuple[int, int] | None = None
    for prefix, layer in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            if best is None or len(prefix) > best[0]:
                best = (len(prefix), layer)
    return None if best is None else best[1]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    return imports_in(path.read_text(), package)


def imports_in(source: str, package: str) -> list[tuple[int, str]]:
    """(line, module) for every import of ``bot`` or ``cogs`` in the source, anywhere in it
    (imports inside functions count too); ``from bot import store`` names ``bot.store``."""
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                # `from bot import store` imports a module; `from bot.x import Name` imports from bot.x
                found.append((node.lineno, candidate if _is_module(candidate) else base))
    return [(line, name) for line, name in found if name.split(".")[0] in ("bot", "cogs")]


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


SOURCES = sorted([*ROOT.joinpath("bot").rglob("*.py"), *ROOT.joinpath("cogs").rglob("*.py")])


def test_the_rule_table_covers_every_module():
    uncovered = [module_name(path) for path in SOURCES if layer_of(module_name(path)) is None]
    assert not uncovered, f"add these modules to LAYERS in tests/test_layers.py: {uncovered}"


def test_the_rule_table_orders_the_layers_of_the_design():
    # A test of the test: the sentence in DESIGN.md, "cogs -> use cases -> recommend ->
    # listen -> audio -> store -> catalog", read as numbers.
    chain = [
        "cogs",
        "bot.crate",
        "bot.recommend.rank",
        "bot.listen.analyze",
        "bot.audio.fetch",
        "bot.store",
        "bot.catalog",
    ]
    layers = [layer_of(module) for module in chain]
    assert layers == sorted(layers, reverse=True) and len(set(layers)) == len(layers), layers
    assert layer_of("bot.pool") < layer_of("bot.listen.worker")  # the generic pool sits below the job that uses it


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: module_name(path))
def test_imports_only_go_down(path: Path):
    here = module_name(path)
    mine = layer_of(here)
    assert mine is not None
    upward = [
        f"{path.relative_to(ROOT)}:{line} imports {target} (layer {layer_of(target)} > {here}'s layer {mine})"
        for line, target in imported_modules(path)
        if (layer_of(target) or 0) > mine
    ]
    assert not upward, "\n".join(upward)


def violations(source: str, module: str) -> list[str]:
    mine = layer_of(module)
    package = module.rpartition(".")[0]
    return [target for _, target in imports_in(source, package) if (layer_of(target) or 0) > (mine or 0)]


def test_an_upward_import_is_caught():
    # The checker itself must be able to fail: the store importing the recommender, relatively or not.
    source = "from bot.recommend.rank import Recommender\ndef f():\n    from ..recommend import service\n"
    assert violations(source, "bot.store.tracks") == ["bot.recommend.rank", "bot.recommend.service"]
    assert violations("from bot import session", "bot.listen.analyze") == ["bot.session"]
    assert violations("from bot.catalog import Track\nfrom bot.store import tracks", "bot.store.ratings") == []
