"""/blend and /recap in ``crate console``, and ``crate blends`` / ``crate recap`` on the command
line, over a database of two families that two listeners like differently (the console's
server is guild 1)."""

from __future__ import annotations

import hashlib
import io
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
from bot.present.recap import HEIGHT, WIDTH

ROOT = Path(__file__).resolve().parent.parent


async def fill(db) -> None:
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(2, EMBEDDING_DIM))
    for i in range(16):
        family = ("ambient", "metal")[i % 2]
        await store.add_track(
            db, CONSOLE_GUILD, title=f"{family.title()} {i}", source_url=None, source_kind="file",
            content_hash=hashlib.sha256(f"t{i}".encode()).hexdigest(), duration=150.0 + 17 * i,
            genres=((family, 0.9),), tag_probs=np.zeros(TAG_COUNT, np.float32),
            embedding=(centres[i % 2] + 0.4 * rng.normal(size=EMBEDDING_DIM)).astype(np.float32),
            tempo=None, shared_by=None,
        )  # fmt: skip


async def test_the_console_blends_and_recaps(tmp_path):
    settings = Settings.from_env({"CRATE_DATABASE": str(tmp_path / "crate.sqlite3")}, dotenv_path=None)
    async with store.open_database(settings.database_target) as db:
        await fill(db)
        said: list[str] = []
        console = Console(Crate(settings, db, pool=None, http=None), write=said.append)  # type: ignore[arg-type]
        console.recap_path = tmp_path / "recap.png"
        lines = ["/as alice", "/like #1", "/like #3", "/dislike #2", "/as bob", "/like #2", "/like #4", "/like #5"]
        for line in lines:
            await console.handle(line)
        await console.handle("/blend alice")
        made = said[-1]
        await console.handle("/dislike #7")  # bob turns one down: the Blend is refilled without it
        await console.handle("/blend show")
        shown = said[-1]
        await console.handle("/recap alice year")
        card = said[-1]
        await console.handle("/settings recap true")
        settings_lines = "\n".join(said[-6:])
        await console.handle("/blend leave")
        left = said[-1]
        await console.handle("/blend show")
        none_left = said[-1]
        await console.handle("/blend you")  # bob and the console's default listener, who rated nothing
        cold = said[-1]
    assert made.startswith("🎶 Blend: bob + alice — bob, alice; taste match ") and "%" in made
    assert "for alice" in made and "for bob" in made
    assert "#2 " not in made.split("\n", 1)[1]  # alice disliked it
    assert "#7 " in made and "#7 " not in shown
    assert card.startswith(f"📼 {tmp_path / 'recap.png'} ({WIDTH}x{HEIGHT}):")
    assert "\n  alice's 2026\n" in card and "\n  1. Ambient 0 · liked by 1 member\n" in card
    assert Image.open(io.BytesIO((tmp_path / "recap.png").read_bytes())).size == (WIDTH, HEIGHT)
    assert "Monthly recap: posted on the 1st of each month in the server's system channel" in settings_lines
    assert left.startswith("You left Blend: bob + alice. With only alice left it is gone")
    assert cold.startswith("🎶 Blend: bob + you — bob, you; taste match: not enough ratings yet (you: 0 ratings)")
    assert none_left == "⚠️ You aren't in any Blend here — start one with /blend NAME [NAME...]."  # the console's syntax


async def test_crate_blends_and_crate_recap_read_the_database(tmp_path):
    database = tmp_path / "crate.sqlite3"
    async with store.open_database(database) as db:
        await fill(db)
        for track in (1, 3, 5):
            await store.rate(db, CONSOLE_GUILD, 77, track, 1)
        for track in (2, 4, 6):
            await store.rate(db, CONSOLE_GUILD, 88, track, 1)
        await store.remember_name(db, CONSOLE_GUILD, 77, "alice")
        await store.remember_name(db, CONSOLE_GUILD, 88, "bob")
        await store.blends.create_blend(db, CONSOLE_GUILD, "Our blend", 77, [77, 88], now=0.0)
        elsewhere = await store.blends.create_blend(db, 2, "Their blend", 77, [77, 88], now=0.0)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRATE_", "DISCORD_"))}
    env.update(PYTHONPATH=str(ROOT), CRATE_DATABASE=str(database))

    def crate(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )

    listed = crate("blends", "--guild", "1")  # refilled first: it was never refilled
    assert listed.returncode == 0, listed.stderr
    name, tracks, members, match, together = listed.stdout.strip().split("\t")
    assert together.startswith("together: ")
    assert (name, members) == ("Our blend", "alice, bob") and tracks.endswith("tracks") and match.startswith("match ")
    async with store.open_database(database) as db:  # another server's Blend is not this command's to refill
        assert (await store.blends.get_blend(db, 2, elsewhere.playlist.id)).refreshed_at == 0.0
    drawn = crate("recap", "--guild", "1", "--period", "year", "--out", "card.png")
    assert drawn.returncode == 0, drawn.stderr
    assert drawn.stdout.startswith(f"card.png: {WIDTH}x{HEIGHT} px\n") and "alice & bob · " in drawn.stdout
    assert Image.open(tmp_path / "card.png").size == (WIDTH, HEIGHT)
    stranger = crate("recap", "--guild", "1", "--user", "99", "--out", "card.png")  # Crate never heard 99's name
    assert stranger.returncode == 0 and "\n  member 99's " in stranger.stdout and "former" not in stranger.stdout
    assert stranger.stdout.startswith(f"card.png: {WIDTH}x{HEIGHT} px (nothing yet this period)\n")  # 99 did nothing
    unwritable = crate("recap", "--guild", "1", "--out", "missing/card.png")
    assert unwritable.returncode == 2 and unwritable.stderr.startswith("crate: Can't write missing/card.png: ")
