"""No line is injected into an export (issue 24, point 2): a hostile corpus of titles, links and a
playlist name, stored as a track's row may hold them (a page's title, a link stored before links
were checked), through ``PlaylistService.export`` and ``crate playlists --export``.

Lines are counted with ``str.splitlines``, the most eager splitter there is (CR, LF, CRLF,
U+0085, U+2028, U+2029, the C0 separators): an M3U must be ``#EXTM3U``, ``#PLAYLIST``, then one
``#EXTINF`` and one link per track; the JSON must read back the very strings stored.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from bot import store
from bot.analysis import TAGS
from bot.app.playlists import PlaylistService, to_json, to_m3u
from bot.app.sessions import SessionService
from bot.catalog import EMBEDDING_DIM
from bot.safe_text import UNSAFE
from bot.store import open_database
from bot.store import playlists as store_playlists

ROOT = Path(__file__).resolve().parents[1]
GUILD, OWNER = 1, 10

#: What splits a line or turns text around, each with an M3U directive and a local file behind it.
HOSTILE = {
    "CR": "\r",
    "LF": "\n",
    "CRLF": "\r\n",
    "NEL": "\u0085",
    "LS": "\u2028",
    "PS": "\u2029",
    "NUL": "\x00",
    "VT": "\x0b",
    "FS": "\x1c",
    "RLO": "\u202e",
    "LRE": "\u202a",
    "RLI": "\u2067",
}
INJECTION = "#EXTINF:1,inj{0}file:///etc/shadow"


async def hostile_playlist(db) -> list[tuple[str, str]]:
    """A playlist (with a hostile name) of one track per hostile character; returns (title, source) each."""
    stored = []
    rng = np.random.default_rng(0)  # tracks that are not near-duplicates of each other
    playlist = await store_playlists.create_playlist(db, GUILD, f"Mix\r\n#EXTINF:1,x\u2028{INJECTION}", OWNER)
    for k, (name, char) in enumerate(HOSTILE.items()):
        title = f"Song {name}{char}{INJECTION.format(char)}"
        source = f"https://example.org/{name}{char}{INJECTION.format(char)}"
        track, _ = await store.add_track(
            db, GUILD, title=title, source_url=source, source_kind="link",
            content_hash=hashlib.sha256(name.encode()).hexdigest(), duration=100.0 + 60 * k,
            genres=[("jazz", 0.9)], tag_probs=np.full(len(TAGS), 0.05), embedding=rng.normal(size=EMBEDDING_DIM),
            tempo=120.0, shared_by=None,
        )  # fmt: skip
        await store_playlists.add_tracks(db, GUILD, playlist.id, [track.id], OWNER)
        stored.append((title, source))
    return stored


def assert_safe_m3u(text: str, tracks: int) -> None:
    lines = text.splitlines()
    assert UNSAFE.search(text.replace("\n", "")) is None, "an unsafe character reached the M3U"
    assert len(lines) == 2 + 2 * tracks == text.count("\n"), lines
    assert lines[0] == "#EXTM3U" and lines[1].startswith("#PLAYLIST:")
    for directive, link in zip(lines[2::2], lines[3::2], strict=True):
        assert directive.startswith("#EXTINF:"), directive
        assert link.startswith("https://example.org/"), link
    assert sum(line.startswith("#EXTINF") for line in lines) == tracks
    assert not any(line.startswith("file:") for line in lines)


def assert_safe_json(text: str, stored: list[tuple[str, str]]) -> None:
    assert len(text.splitlines()) == text.count("\n"), "a character other than LF splits a JSON line"
    assert UNSAFE.search(text.replace("\n", "")) is None
    document = json.loads(text)
    assert [(t["title"], t["source"]) for t in document["tracks"]] == stored  # the data, unchanged


async def test_the_exports_write_one_entry_a_line_whatever_the_rows_hold(tmp_path):
    async with open_database(tmp_path / "crate.sqlite3") as db:
        stored = await hostile_playlist(db)
        service = PlaylistService(db, SessionService(db))
        [playlist] = await service.all(GUILD)
        export = await service.export(GUILD, playlist.name)
    assert_safe_m3u(to_m3u(export), len(HOSTILE))
    assert_safe_json(to_json(export), stored)
    assert "/" not in export.stem and "\n" not in export.stem


async def test_crate_playlists_export_writes_safe_files(tmp_path):
    database = tmp_path / "crate.sqlite3"
    async with open_database(database) as db:
        stored = await hostile_playlist(db)
        [playlist] = await store_playlists.playlists_in_guild(db, GUILD)
    env = {**os.environ, "CRATE_DATABASE": str(database)}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "playlists", "--guild", str(GUILD), "--export", playlist.name, "--out", "out"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [m3u] = (tmp_path / "out").glob("*.m3u")
    [document] = (tmp_path / "out").glob("*.json")
    assert_safe_m3u(m3u.read_bytes().decode("utf-8"), len(HOSTILE))
    assert_safe_json(document.read_bytes().decode("utf-8"), stored)
