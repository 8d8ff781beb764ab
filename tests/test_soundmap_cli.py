"""/map, /where and /path in ``crate console``, and ``crate map`` / ``crate path`` on the command
line, over a database filled with tracks of six families (the console's server is guild 1)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from bot import store
from bot.app.crate import Crate
from bot.catalog import EMBEDDING_DIM, TAG_COUNT
from bot.cli.console import CONSOLE_GUILD, Console
from bot.config import Settings
from bot.present.soundmap import SIZE

ROOT = Path(__file__).resolve().parent.parent
FAMILY_SET = ("rock", "jazz", "electronic", "classical", "hiphop", "ambient")


async def fill(db, n: int = 90) -> None:
    rng = np.random.default_rng(11)
    centres = rng.normal(size=(len(FAMILY_SET), EMBEDDING_DIM))
    for i in range(n):
        family = i % len(FAMILY_SET)
        await store.add_track(
            db, CONSOLE_GUILD, title=f"Artist {i % 40} - Song {i}", source_url=None, source_kind="file",
            content_hash=hashlib.sha256(f"t{i}".encode()).hexdigest(), duration=150.0 + i,
            genres=((FAMILY_SET[family], 0.9),), tag_probs=np.zeros(TAG_COUNT, np.float32),
            embedding=(centres[family] + rng.normal(size=EMBEDDING_DIM) + 0.3).astype(np.float32),
            tempo=None, shared_by=None,
        )  # fmt: skip


async def test_the_console_draws_the_map_and_walks_a_path(tmp_path):
    settings = Settings.from_env({"CRATE_DATABASE": str(tmp_path / "crate.sqlite3")}, dotenv_path=None)
    async with store.open_database(settings.database_target) as db:
        await fill(db)
        said: list[str] = []
        console = Console(Crate(settings, db, pool=None, http=None), write=said.append)  # type: ignore[arg-type]
        console.map_path = tmp_path / "map.png"
        for line in (
            "/like #2",
            "/dislike #3",
            "/map",
            "/map jazz",
            "/map country",
            "/where #5",
            "/path #2 #5 30",
            "/path #2 #5 6",
        ):
            await console.handle(line)
    text = "\n".join(said)
    assert "⚠️ A path is 3 to 25 tracks long, both ends included: pick a length between them." in said
    assert "90 of 90 tracks by sound" in text and "you: 1 like, 1 dislike" in text
    assert "jazz highlighted" in text and "📍 Artist 4 - Song 4" in text
    assert "country highlighted" not in text and ", no track here is filed under country yet;" in text
    assert Image.open(io.BytesIO((tmp_path / "map.png").read_bytes())).size == SIZE
    path = [line for line in said[-1].splitlines()]
    assert path[0].startswith("1. #2 Artist 1 - Song 1") and "the start of the path" in path[0]
    assert path[-1].startswith(f"{len(path)}. #5 Artist 4 - Song 4") and "the end of the path" in path[-1]
    assert len(path) >= 3 and all(
        "on the path from “Artist 1 - Song 1” to “Artist 4 - Song 4”" in p for p in path[1:-1]
    )


async def test_crate_map_and_crate_path_read_the_database(tmp_path):
    database = tmp_path / "crate.sqlite3"
    async with store.open_database(database) as db:
        await fill(db)
        await store.rate(db, CONSOLE_GUILD, 77, 2, 1)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRATE_", "DISCORD_"))}
    env.update(PYTHONPATH=str(ROOT), CRATE_DATABASE=str(database))

    def crate(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )

    drawn = crate("map", "--guild", "1", "--user", "77", "--track", "9", "--genre", "rock", "--out", "server.png")
    assert drawn.returncode == 0, drawn.stderr
    assert drawn.stdout.startswith("server.png: 90 of 90 tracks drawn, 900x700 px")
    assert Image.open(tmp_path / "server.png").size == SIZE

    walked = crate("path", "2", "5", "--guild", "1", "--length", "6", "--json")
    assert walked.returncode == 0, walked.stderr
    steps = [json.loads(line) for line in walked.stdout.splitlines()]
    assert (
        steps[0]["track_id"] == 2
        and steps[-1]["track_id"] == 5
        and [s["step"] for s in steps] == list(range(1, len(steps) + 1))
    )
    closeness = [s["closeness_to_end"] for s in steps]
    assert closeness == sorted(closeness) and len(set(closeness)) == len(closeness)

    none = crate("map", "--guild", "1", "--genre", "country", "--out", "server.png")
    assert none.stdout == "server.png: 90 of 90 tracks drawn, 900x700 px; no track here is filed under country yet\n"

    wrong = crate("map", "--guild", "1", "--genre", "vaporwave")
    assert wrong.returncode == 2 and "The map colours tracks by family" in wrong.stderr

    # a length out of 3-25 is refused, not quietly changed; a PNG that can't be written is said in a line
    for length in ("2", "26"):
        refused = crate("path", "2", "5", "--guild", "1", "--length", length)
        assert refused.returncode == 2 and refused.stderr == (
            "crate: A path is 3 to 25 tracks long, both ends included: pick a length between them.\n"
        ), refused.stderr
    for out in ("missing/map.png", "."):
        unwritable = crate("map", "--guild", "1", "--out", out)
        assert unwritable.returncode == 2 and unwritable.stderr.startswith(f"crate: Can't write {out}: "), (
            unwritable.stderr
        )
