"""Shared pytest fixtures: real music converted once per session into the files tests need."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests import postgres_server as pg
from tests.music import convert, singularity_track

#: The real track most fixtures are cut from, and where the cut starts (past its intro).
REFERENCE_TRACK = "Aberrations"  # no DC offset, content up to high frequencies
REFERENCE_START = 30.0
REFERENCE_SECONDS = 40.0

#: Output suffix and ffmpeg encoder arguments of every format Crate must read.
FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "mp3": (".mp3", ("-c:a", "libmp3lame", "-b:a", "128k")),
    "ogg-vorbis": (".ogg", ("-c:a", "libvorbis", "-q:a", "3")),
    "opus": (".opus", ("-c:a", "libopus", "-b:a", "96k")),
    "flac": (".flac", ("-c:a", "flac")),
    "wav": (".wav", ("-c:a", "pcm_s16le")),
    "m4a-aac": (".m4a", ("-c:a", "aac", "-b:a", "128k")),
    "aac-adts": (".aac", ("-c:a", "aac", "-b:a", "128k")),
    "webm-opus": (".webm", ("-c:a", "libopus", "-b:a", "96k")),
}


def _ffmpeg(*args: str) -> list[str]:
    return ["ffmpeg", "-nostdin", "-v", "error", "-y", *args]


@pytest.fixture(scope="session")
def music_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("music")


@pytest.fixture(scope="session")
def reference_wav(music_dir) -> Path:
    """A 40-s cut of a real track (48 kHz stereo WAV): the source of every conversion below."""
    return convert(
        singularity_track(REFERENCE_TRACK),
        music_dir / "reference.wav",
        "-ss", str(REFERENCE_START), "-t", str(REFERENCE_SECONDS), "-c:a", "pcm_s16le",
    )  # fmt: skip


@pytest.fixture(scope="session")
def format_cuts(reference_wav, music_dir) -> dict[str, Path]:
    """The reference cut encoded into each format of ``FORMATS`` (encoders run in parallel)."""
    targets = {name: music_dir / f"cut-{name}{suffix}" for name, (suffix, _) in FORMATS.items()}
    running = [
        subprocess.Popen(_ffmpeg("-i", str(reference_wav), *FORMATS[name][1], str(target)))
        for name, target in targets.items()
    ]
    for process in running:
        assert process.wait(timeout=120) == 0, process.args
    return targets


@pytest.fixture(scope="session")
def long_track_2h(music_dir) -> Path:
    """A real track looped to just over 2 hours as a small OGG (~26 MB).

    Encoded once at low quality (mono, 22 kHz), then stream-copied 35 times: about 2 s to make.
    """
    loop = convert(
        singularity_track("Awakening"), music_dir / "loop.ogg",
        "-ac", "1", "-ar", "22050", "-c:a", "libvorbis", "-q:a", "0",
    )  # fmt: skip
    target = music_dir / "long-2h.ogg"
    subprocess.run(_ffmpeg("-stream_loop", "34", "-i", str(loop), "-c", "copy", str(target)), check=True)
    return target


@pytest.fixture(scope="session")
def track_4min() -> Path:
    """A real track of about four minutes (4:09), as installed."""
    return singularity_track("Inevitable")


#: A tiny two-genre dataset of real music (GTZAN layout): 20-s cuts, from one minute in, of four
#: singularity-music tracks ("ambient") and four nexuiz-music tracks ("electronic") to train on,
#: and cuts of three other tracks of each package held out.
TINY_GENRES: dict[str, dict[str, tuple[str, ...]]] = {
    "train": {
        "ambient": ("Aberrations", "Awakening", "Nebula", "Media Threat"),
        "electronic": ("beast-of-insanity", "brainsukker", "infight", "digital-pursuit"),
    },
    "heldout": {
        "ambient": ("Advanced Simulacra", "Through Space", "Orbital Elevator"),
        "electronic": ("sixtyfour_revisited", "calling-bogus", "brokenlight"),
    },
}


@pytest.fixture(scope="session")
def tiny_genre_dataset(tmp_path_factory) -> dict[str, Path]:
    """``{"train": DIR, "heldout": DIR}``, each ``DIR/<genre>/<track>.ogg`` (cut in parallel)."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.music import nexuiz_track

    root = tmp_path_factory.mktemp("tiny-genres")
    jobs = []
    for split, genres in TINY_GENRES.items():
        for genre, names in genres.items():
            for name in names:
                source = singularity_track(name) if genre == "ambient" else nexuiz_track(name)
                target = root / split / genre / f"{name.replace(' ', '_')}.ogg"
                jobs.append((source, target))
    cut = ("-ss", "60", "-t", "20", "-ac", "2", "-c:a", "libvorbis", "-q:a", "3")
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda job: convert(*job, *cut), jobs))
    return {split: root / split for split in TINY_GENRES}


@pytest.fixture(scope="session")
def postgres_server():
    """One real PostgreSQL server for the whole run (see tests/postgres_server.py).

    Started on first use; when PostgreSQL cannot be installed or started, every test that needs
    it fails with the reason (it is not skipped).
    """
    try:
        server = pg.start()
    except pg.PostgresUnavailable as error:
        pytest.fail(f"PostgreSQL is unavailable: {error}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """``postgresql://…`` of a fresh, empty database on the session's server, dropped afterwards."""
    url = postgres_server.create_database()
    try:
        yield url
    finally:
        postgres_server.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_target(request, tmp_path):
    """What the store's suites open with ``Database.open``: a SQLite file, then a fresh PostgreSQL
    database, so every test that uses it runs on both."""
    if request.param == "sqlite":
        return tmp_path / "crate.sqlite3"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
async def db(db_target):
    """The store opened on ``db_target``: each test on SQLite, then on PostgreSQL (a test module
    with a ``db`` of its own uses that one)."""
    from bot.store import open_database

    async with open_database(db_target) as database:
        yield database
