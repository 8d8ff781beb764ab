"""Headers that lie (issue 11, section 6): real files made with ffmpeg from real music.

* A chained Ogg (two streams back to back) makes libsndfile report 2**63 - 1 frames; Crate must
  treat that header as unknown and ask ffprobe, not refuse a "53375995583 h" track.
* A truncated MP3 keeps its Xing header's length; Crate must show what really decodes.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import soundfile

from bot.audio.decode import _header_info, decode_excerpts, probe
from tests.music import convert, singularity_track


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("holes")


@pytest.fixture(scope="module")
def chained_ogg(folder) -> Path:
    first = convert(singularity_track("Aberrations"), folder / "one.ogg", "-ss", "30", "-t", "20", "-c:a", "libvorbis")
    second = convert(singularity_track("Coherence"), folder / "two.ogg", "-ss", "30", "-t", "20", "-c:a", "libvorbis")
    chained = folder / "chained.ogg"
    chained.write_bytes(first.read_bytes() + second.read_bytes())
    return chained


def ffprobe_duration(path: Path) -> float:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
        capture_output=True, check=True,
    )  # fmt: skip
    return float(json.loads(done.stdout)["format"]["duration"])


def test_a_chained_ogg_is_not_refused_as_endless(chained_ogg):
    frames = soundfile.info(str(chained_ogg)).frames
    if frames < 2**62:
        pytest.skip(f"this libsndfile reads the chained Ogg's length sensibly ({frames} frames)")
    assert _header_info(chained_ogg, chained_ogg.stat().st_size) is None  # implausible: unknown
    info = probe(chained_ogg)
    assert info.duration is not None and 15 <= info.duration <= 41
    decoded = decode_excerpts(chained_ogg)
    assert 15 <= decoded.duration <= 41
    assert decoded.samples > 0


def test_a_truncated_mp3_shows_the_length_that_decodes(folder):
    full = convert(
        singularity_track("Aberrations"), folder / "full.mp3", "-t", "120", "-c:a", "libmp3lame", "-b:a", "128k"
    )
    truncated = folder / "truncated.mp3"
    data = full.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    assert ffprobe_duration(truncated) > 110  # the header still promises two minutes

    decoded = decode_excerpts(truncated)
    assert 57 <= decoded.duration <= 63, decoded.duration
    assert all(e.start + e.duration <= decoded.duration + 0.5 for e in decoded.excerpts)
    assert 118 <= decode_excerpts(full).duration <= 122  # an intact file keeps its length
