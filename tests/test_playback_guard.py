"""Playback is as locked down as decoding (issue 11, section 2).

A link (or attachment URL) is downloaded again when a session plays it. If the server then
serves a 100-byte HLS playlist under ``audio/ogg``, an unrestricted ffmpeg follows it to any
local file. Real parts: real ffmpeg, a real playlist file, a real HTTP server on 127.0.0.1,
a real SQLite catalog.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from aiohttp import web

from bot import catalog, store
from bot.app.crate import Crate
from bot.app.sharing import NotTheSameAudio
from bot.audio.decode import playback_ffmpeg_options, safe_input_options
from bot.catalog import content_hash
from bot.config import Settings
from cogs.sessions.player import NoAudio, track_source
from tests.music import convert, singularity_track


@pytest.fixture(scope="module")
def secret(tmp_path_factory) -> Path:
    """A local file a playlist could point at (a real 4-s Ogg Vorbis cut)."""
    folder = tmp_path_factory.mktemp("secret")
    return convert(singularity_track("Coherence"), folder / "private.ogg", "-ss", "10", "-t", "4", "-c:a", "libvorbis")


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Path:
    """What a member really shared (a real 3-s cut)."""
    folder = tmp_path_factory.mktemp("shared")
    return convert(singularity_track("Aberrations"), folder / "song.ogg", "-ss", "30", "-t", "3", "-c:a", "libvorbis")


def playlist_for(target: Path) -> bytes:
    return (f"#EXTM3U\n#EXT-X-TARGETDURATION:316\n#EXTINF:316,\nfile:{target}\n#EXT-X-ENDLIST\n").encode()


def test_decoding_and_playback_use_one_set_of_input_restrictions():
    options = playback_ffmpeg_options()
    before = options["before_options"].split()
    restrictions = list(safe_input_options())
    assert "-protocol_whitelist" in restrictions and "-format_whitelist" in restrictions
    start = before.index(restrictions[0])
    assert before[start : start + len(restrictions)] == restrictions
    assert "hls" not in restrictions[restrictions.index("-format_whitelist") + 1].split(",")


def test_a_playlist_saved_as_audio_plays_nothing(tmp_path, secret):
    playlist = tmp_path / "track-7.ogg"
    playlist.write_bytes(playlist_for(secret))
    # The attack is real: an unrestricted ffmpeg reads the other file through the playlist.
    plain = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(playlist), "-f", "s16le", "-ac", "2", "-ar", "48000", "pipe:1"],
        capture_output=True, check=False,
    )  # fmt: skip
    assert len(plain.stdout) > 48000 * 4, "the playlist should play the other file without restrictions"
    # The player's ffmpeg refuses it: no frame at all, and the failure reaches the player.
    source = track_source(playlist)
    try:
        with pytest.raises(NoAudio):
            source.read()
    finally:
        source.cleanup()


@pytest.fixture
async def served(shared, secret):
    """A local server whose /song.ogg serves ``state["body"]`` as audio/ogg."""
    state = {"body": shared.read_bytes()}

    async def song(request: web.Request) -> web.Response:
        return web.Response(body=state["body"], content_type="audio/ogg")

    app = web.Application()
    app.router.add_get("/song.ogg", song)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    state["url"] = f"http://127.0.0.1:{port}/song.ogg"
    try:
        yield state
    finally:
        await runner.cleanup()


async def test_playback_refuses_audio_that_is_not_what_was_analyzed(tmp_path, shared, secret, served):
    settings = Settings.from_env({"CRATE_DATABASE": str(tmp_path / "crate.sqlite3")})
    async with store.open_database(settings.database_path) as db, aiohttp.ClientSession() as http:
        track, _ = await store.add_track(
            db, 1, title="song", source_url=served["url"], source_kind="attachment",
            content_hash=content_hash(shared), duration=3.0, genres=[("rock", 1.0)],
            tag_probs=np.zeros(catalog.TAG_COUNT, np.float32), embedding=np.ones(catalog.EMBEDDING_DIM, np.float32),
            tempo=None, shared_by=10,
        )  # fmt: skip
        crate = Crate(settings, db, pool=None, http=http)  # attachments never touch the pool
        (tmp_path / "same").mkdir()
        (tmp_path / "other").mkdir()

        same = await crate.sharing.fetch_for_playback(track, tmp_path / "same")
        assert same is not None and same.read_bytes() == shared.read_bytes()

        served["body"] = playlist_for(secret)
        with pytest.raises(NotTheSameAudio) as refused:
            await crate.sharing.fetch_for_playback(track, tmp_path / "other")
        assert "different audio" in refused.value.user_message
        assert not any((tmp_path / "other").iterdir()), "the mismatching download is not kept"
