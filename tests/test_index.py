"""``crate index DIR``: a local music folder into one server's catalog, resumable, on real music.

The folder holds 20-s cuts of real tracks (singularity-music and nexuiz-music, tests/music.py),
one in a sub-folder, plus a broken ``.ogg`` (random bytes) and a text file that is not audio.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot import store
from bot.app.crate import Crate
from bot.catalog import LIKE
from bot.cli.index import IndexFolderError, audio_files, index_folder, progress_bar
from bot.config import Settings
from bot.genres import FAMILIES
from bot.listen.families import default_model
from bot.present.reasons import reason_text
from bot.recommend.rank import NothingMatches
from bot.store import open_database
from tests.music import convert, nexuiz_track, singularity_track

REPO = Path(__file__).resolve().parent.parent
GUILD, OTHER_GUILD, ADMIN = 4242, 4343, 77
CUTS = {
    "Awakening.ogg": lambda: singularity_track("Awakening"),
    "Aberrations.ogg": lambda: singularity_track("Aberrations"),
    "album/beast-of-insanity.ogg": lambda: nexuiz_track("beast-of-insanity"),
    "brainsukker.ogg": lambda: nexuiz_track("brainsukker"),
}
GOOD = len(CUTS)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("library")
    for name, source in CUTS.items():
        convert(source(), root / name, "-ss", "30", "-t", "20", "-c:a", "libvorbis", "-q:a", "3")
    (root / "broken.ogg").write_bytes(np.random.default_rng(0).bytes(50_000))
    (root / "notes.txt").write_text("not music")
    return root


def test_audio_files_are_found_recursively_and_sorted(folder):
    found = [p.relative_to(folder).as_posix() for p in audio_files(folder)]
    assert found == sorted([*CUTS, "broken.ogg"])


def test_progress_bar():
    assert progress_bar(12, 40, "Awakening.ogg", width=10) == "[###.......] 12/40 Awakening.ogg"
    assert progress_bar(0, 0, width=4) == "[####] 0/0"


async def test_index_folder_adds_then_resumes_and_stays_in_its_guild(folder, tmp_path, monkeypatch):
    settings = dataclasses.replace(Settings(), database_path=tmp_path / "crate.sqlite3", workers=2)
    async with Crate.running(settings) as crate:
        seen: list[tuple[int, int, str]] = []
        report = await index_folder(
            crate,
            GUILD,
            folder,
            added_by=ADMIN,
            progress=lambda done, total, path: seen.append((done, total, path.name)),
        )
        assert report.added == GOOD and report.skipped_known == 0 and report.duplicates == 0
        assert [path.name for path, _ in report.failed] == ["broken.ogg"]
        assert "audio" in report.failed[0][1].lower() or "read" in report.failed[0][1].lower()
        assert [(d, t) for d, t, _ in seen] == [(i, GOOD + 1) for i in range(1, GOOD + 2)]
        assert sorted(name for _, _, name in seen) == sorted([Path(n).name for n in CUTS] + ["broken.ogg"])

        # The tracks are in this guild only, as files, titled by their stem, added by the admin.
        assert await store.count_tracks(crate.db, GUILD) == GOOD
        assert await store.count_tracks(crate.db, OTHER_GUILD) == 0
        tracks = await store.recent_tracks(crate.db, GUILD, limit=10)
        assert sorted(t.title for t in tracks) == sorted(Path(n).stem for n in CUTS)
        assert {t.source_kind for t in tracks} == {"file"} and {t.added_by for t in tracks} == {ADMIN}
        assert all(t.source_url is None and t.top_genre for t in tracks)
        assert len(await store.shares_of(crate.db, GUILD, ADMIN)) == GOOD

        # Families heard by both taggers in the workers: all 14, the second tagger's output stored,
        # the base distribution beside the shown one; the ambient track (a 20-s cut of its piano
        # opening) is heard as ambient, and Crate says whether it is sure.
        by_title = {t.title: t for t in tracks}
        for track in tracks:
            assert {g for g, _ in track.genres} == set(FAMILIES) and track.base_genres == track.genres
            assert track.mtt_tag_probs is not None and track.mtt_embedding is not None
        awakening = by_title["Awakening"]
        assert "ambient" in {awakening.top_genre, awakening.runner_up}, awakening.genres[:3]
        assert dict(awakening.genres)["hiphop"] < 0.1
        assert awakening.confident == (awakening.genres[0][1] >= default_model().threshold)
        assert by_title["brainsukker"].top_genre == "electronic", by_title["brainsukker"].genres[:3]
        picks = await crate.recommendations.starter_picks(GUILD, 999, ["ambient"], count=5)
        assert "Awakening" in {p.title for p in picks} or awakening.top_genre != "ambient"

        # The complaints, on this real music: an ambient listener's profile is not "hiphop",
        # and `genre:hip hop` finds no hip hop in game soundtracks instead of electronic tracks.
        listener = 998
        for title in ("Awakening", "Aberrations"):
            await crate.library.rate(GUILD, listener, LIKE, by_title[title].id)
        summary = await crate.taste.profile(GUILD, listener)
        assert summary.genres and summary.genres[0][0] in {"ambient", "electronic"}, summary.genres
        assert "hip hop" not in summary.headline and summary.headline.startswith("mostly ")
        with pytest.raises(NothingMatches):
            await crate.recommendations.recommend(GUILD, listener, genre="hip hop")
        picks = (await crate.recommendations.recommend(GUILD, listener, count=2)).recommendations
        assert picks and all("hip hop" not in reason_text(p.reason) for p in picks)

        # Running again resumes: known files are only hashed, never analyzed again.
        analyzed: list[str] = []
        analyze = crate.pool.analyze

        async def counting(path):
            analyzed.append(Path(path).name)
            return await analyze(path)

        monkeypatch.setattr(crate.pool, "analyze", counting)
        again = await index_folder(crate, GUILD, folder, added_by=ADMIN)
        assert (again.added, again.skipped_known, len(again.failed)) == (0, GOOD, 1)
        assert analyzed == ["broken.ogg"]
        assert await store.count_tracks(crate.db, GUILD) == GOOD

        with pytest.raises(IndexFolderError):
            await index_folder(crate, GUILD, folder / "no-such-folder")


def _crate(*args: str, database: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRATE_", "DISCORD_"))}
    env.update(PYTHONPATH=str(REPO), CRATE_DATABASE=str(database), CRATE_WORKERS="2")
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=database.parent, env=env, capture_output=True, text=True, timeout=300
    )


async def test_cli_prints_a_progress_bar_and_a_summary(folder, tmp_path):
    database = tmp_path / "cli.sqlite3"
    done = _crate("index", str(folder), "--guild", str(GUILD), "--user", str(ADMIN), database=database)
    assert done.returncode == 1, done.stderr  # the broken file failed
    bars = re.findall(r"\[([#.]+)\] (\d+)/(\d+) (\S+)", done.stderr)
    assert [int(d) for _, d, _, _ in bars] == list(range(1, GOOD + 2))
    assert bars[-1][0] == "#" * len(bars[-1][0]) and {t for _, _, t, _ in bars} == {str(GOOD + 1)}
    assert f"{GOOD} added, 0 already indexed, 1 failed" in done.stdout
    assert "broken.ogg" in done.stdout

    again = _crate("index", str(folder), "--guild", str(GUILD), database=database)
    assert f"0 added, {GOOD} already indexed, 1 failed" in again.stdout, again.stderr
    async with open_database(database) as db:
        assert await store.count_tracks(db, GUILD) == GOOD
        assert await store.count_tracks(db, OTHER_GUILD) == 0

    missing = _crate("index", str(tmp_path / "nowhere"), "--guild", "1", database=database)
    assert missing.returncode == 2 and "is not a folder" in missing.stderr
    usage = _crate("index", str(folder), database=database)
    assert usage.returncode == 2 and "--guild" in usage.stderr


async def test_a_running_bot_on_sqlite_finds_what_another_process_indexed(tmp_path, monkeypatch):
    """SQLite can't notify (PostgreSQL's NOTIFY is tested in test_postgres_store): a bot on SQLite
    looks at the servers' change counts every few seconds, so tracks `crate index` adds beside it
    reach its autocomplete (/like, /path, /session add) without a restart."""
    import asyncio

    import bot.app.library
    from tests.tastes import add_sure_track, direction

    monkeypatch.setattr(bot.app.library, "CHANGES_POLL", 0.05)
    settings = dataclasses.replace(Settings(), database_path=tmp_path / "crate.sqlite3", workers=1)
    async with Crate.running(settings) as crate:
        assert await crate.library.search(GUILD, "beside") == []
        async with open_database(settings.database_path) as other:  # `crate index`, another process
            await add_sure_track(
                other, GUILD, "Indexed beside the bot", [("jazz", 1.0)], direction(1), duration=60.0,
                shared_by=ADMIN, now=0.0,
            )  # fmt: skip
        for _ in range(200):
            if await crate.library.search(GUILD, "beside"):
                break
            await asyncio.sleep(0.05)
        assert [e.title for e in await crate.library.search(GUILD, "beside")] == ["Indexed beside the bot"]
