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

#: (module prefix, floor). Higher numbers sit higher; imports may only point to an equal or lower floor.
LAYERS: tuple[tuple[str, int], ...] = (
    # the ground floor: domain values, settings, typed user errors, human-readable numbers
    ("bot", 0),  # the package itself (its __init__ holds only a docstring)
    ("bot.catalog", 0),
    ("bot.analysis", 0),  # what crosses the pool boundary, and the taggers' tag names
    ("bot.genres", 0),  # the genre vocabulary: family ids, display names, aliases, "not sure" wording
    ("bot.i18n", 0),  # the language of the moment (a context variable) and the gettext catalogs
    ("bot.errors", 0),
    ("bot.config", 0),
    ("bot.database_url", 0),  # a PostgreSQL URL read by libpq's rules, and shown without its password
    ("bot.safe_text", 0),  # what splits a line or hides text: refused in links, kept out of exports
    ("bot.format", 0),
    ("bot.caller", 0),  # who asks (user, roles, Manage Server): what permission checks read
    ("bot.shards", 0),  # which gateway shards this process runs
    ("bot.assets", 0),
    ("bot.store", 1),  # all SQL
    ("bot.audio", 2),  # bytes in, samples out
    ("bot.listen", 3),  # samples in, an Analysis out (bot.listen.training: offline, see below)
    ("bot.jobs", 4),  # the process pool, admission, the analysis pool and the PostgreSQL queue
    ("bot.recommend", 5),  # profiles, ranking (reasons as data), groups, radio
    ("bot.present", 6),  # words and pictures
    ("bot.app", 7),  # use cases, and bot.app.crate, the root every front end goes through
    ("cogs", 8),  # the Discord skin
    # the entry points: `crate run` starts the Discord client, so the CLI sits above the cogs
    ("bot.cli", 9),
    ("bot.__main__", 9),
)


def layer_of(module: str) -> int | None:
    """The layer of ``module`` by its longest matching prefix, or None when no rule covers it."""
    best: tuple[int, int] | None = None
    for prefix, layer in LAYERS:
        if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[0]):
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
    # A test of the test: the sentence in DESIGN.md, "cli -> cogs -> app -> present -> recommend ->
    # jobs -> listen -> audio -> store -> ground floor", read as numbers.
    chain = [
        "bot.cli.commands",
        "cogs",
        "bot.app.crate",
        "bot.present.describe",
        "bot.recommend.rank",
        "bot.jobs.analysis",
        "bot.listen.analyze",
        "bot.audio.fetch",
        "bot.store",
        "bot.catalog",
    ]
    layers = [layer_of(module) for module in chain]
    known = [layer for layer in layers if layer is not None]
    assert known == layers, layers
    assert known == sorted(known, reverse=True) and len(set(known)) == len(known), layers


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
    assert violations("from bot.app import sessions", "bot.listen.analyze") == ["bot.app.sessions"]
    assert violations("from bot.catalog import Track\nfrom bot.store import tracks", "bot.store.ratings") == []


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of ``bot`` and ``cogs`` it imports (anywhere in it)."""
    return {
        module_name(path): {target for _, target in imported_modules(path)} - {module_name(path)} for path in SOURCES
    }


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of ``graph``: its strongly connected components of two or more modules
    (Tarjan's algorithm), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in graph.get(module, ()):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_no_import_circles():
    found = circles(import_graph())
    assert not found, "import circles (a module imports, directly or not, one that imports it back): " + "; ".join(
        " <-> ".join(component) for component in found
    )


def test_a_circle_is_caught():
    # The checker itself must be able to fail, for a direct circle and for a longer one.
    graph = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c", "a"}, "f": {"a"}}
    assert circles(graph) == [["a", "b"], ["c", "d", "e"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_training_is_never_imported_at_run_time():
    # What the bot, its analysis workers and a `crate worker` import, directly or not, includes no
    # offline fitting or evaluation (the command line imports those only for its own subcommands).
    graph = import_graph()
    seen: set[str] = set()
    todo = ["cogs.client", "bot.app.crate", "bot.listen.preload", "bot.jobs.queue_worker"]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo += graph.get(module, ())
    assert "bot.listen.analyze" in seen and "bot.app.sessions" in seen  # the walk follows imports
    assert not [module for module in seen if module.startswith("bot.listen.training")], sorted(seen)
