"""Real music for tests: freely licensed tracks from Debian packages installed by setup.

``singularity-music`` (CC BY-SA 3.0, OGG Vorbis files) and ``nexuiz-music`` (GPL-2+, OGG files
inside a zip). Nothing here is synthetic: format and bad-input tests convert these real tracks
with ffmpeg.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

SINGULARITY_DIR = Path("/usr/share/games/singularity/music")
NEXUIZ_PK3 = Path("/usr/share/games/nexuiz/data/music.pk3")
CACHE_DIR = Path(tempfile.gettempdir()) / "crate-test-music"

#: A few tracks with clearly different characters (nexuiz: electronic/metal game music).
AMBIENT = "Awakening"
NEXUIZ_METAL = "beast-of-insanity"
NEXUIZ_ELECTRONIC = "brainsukker"


class MissingTestMusic(RuntimeError):
    pass


def singularity_track(name: str = AMBIENT) -> Path:
    """Path of a track from singularity-music, by file stem (spaces or underscores)."""
    for candidate in (name, name.replace("_", " ")):
        path = SINGULARITY_DIR / f"{candidate}.ogg"
        if path.is_file():
            return path
    raise MissingTestMusic(
        f"{name}.ogg not found in {SINGULARITY_DIR}: run scripts/setup.sh (installs singularity-music)"
    )


def singularity_tracks() -> list[Path]:
    tracks = sorted(SINGULARITY_DIR.glob("*.ogg"))
    if not tracks:
        raise MissingTestMusic(f"no tracks in {SINGULARITY_DIR}: run scripts/setup.sh")
    return tracks


def nexuiz_track(name: str = NEXUIZ_METAL) -> Path:
    """Path of a track from nexuiz-music, extracted once from its .pk3 zip into a cache."""
    target = CACHE_DIR / "nexuiz" / f"{name}.ogg"
    if target.is_file():
        return target
    if not NEXUIZ_PK3.is_file():
        raise MissingTestMusic(f"{NEXUIZ_PK3} not found: run scripts/setup.sh (installs nexuiz-music)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(NEXUIZ_PK3) as archive:
        member = f"sound/cdtracks/{name}.ogg"
        partial = target.with_suffix(".part")
        with archive.open(member) as source, open(partial, "wb") as sink:
            shutil.copyfileobj(source, sink)
        partial.replace(target)
    return target


def nexuiz_names() -> list[str]:
    with zipfile.ZipFile(NEXUIZ_PK3) as archive:
        return sorted(
            Path(n).stem for n in archive.namelist() if n.startswith("sound/cdtracks/") and n.endswith(".ogg")
        )


def convert(source: Path, target: Path, *ffmpeg_args: str) -> Path:
    """Transcode ``source`` with ffmpeg into ``target`` (format from its suffix)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(source), *ffmpeg_args, str(target)],
        check=True,
    )
    return target


def link_files(scratch: Path, seconds: int) -> dict[str, tuple[bytes, str]]:
    """What the end-to-end tests' local web server offers for links: ``/nebula.mp3`` (the first
    ``seconds`` of a Debian ambient track, 96 kbit/s) and ``/page.html`` (a page with no music)."""
    mp3 = convert(singularity_track("Nebula"), scratch / "nebula.mp3", "-t", str(seconds), "-b:a", "96k")
    return {
        "/nebula.mp3": (mp3.read_bytes(), "audio/mpeg"),
        "/page.html": (b"<html><body><p>No music here.</p></body></html>", "text/html"),
    }
