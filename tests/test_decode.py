"""Safe audio ingest on real music and real ffmpeg: every format, every bad input, the windows."""

from __future__ import annotations

import json
import os
import subprocess
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import correlate

from bot.audio import decode
from bot.audio.decode import (
    SAMPLE_RATE,
    AudioInfo,
    DecodedAudio,
    Excerpt,
    analysis_windows,
    decode_excerpts,
    decode_windows,
    probe,
    training_windows,
)
from bot.audio.errors import AudioError, CorruptAudio, EmptyFile, NotAudio, SilentAudio, TooLarge, TooLong, TooShort
from bot.config import AudioLimits
from bot.format import format_bytes, format_duration
from bot.i18n import speaking
from tests.conftest import FORMATS, REFERENCE_SECONDS
from tests.music import convert, singularity_track

WINDOW = 6 * SAMPLE_RATE  # samples in one default analysis window


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def assert_sentence(error: AudioError) -> None:
    """Every message a user reads is a non-empty sentence of plain words."""
    message = error.user_message
    assert message and message[0].isupper() and message.rstrip().endswith("."), message
    assert "ffmpeg" not in message.lower() and "Traceback" not in message


def best_correlation(longer: np.ndarray, shorter: np.ndarray) -> float:
    """Highest normalised correlation of ``shorter`` at any position inside ``longer``."""
    longer = longer - np.mean(longer, dtype=np.float64)
    shorter = shorter - np.mean(shorter, dtype=np.float64)
    n = len(shorter)
    dots = correlate(longer, shorter, mode="valid", method="fft")
    energy = np.concatenate([[0.0], np.cumsum(longer**2)])
    norms = np.sqrt(np.maximum(energy[n:] - energy[:-n], 0)) * np.linalg.norm(shorter)
    return float(np.max(dots / (norms + 1e-12)))


@pytest.fixture(scope="module")
def reference(reference_wav) -> DecodedAudio:
    return decode_excerpts(reference_wav)


def reference_at(reference_wav: Path, excerpt: Excerpt, slack: float = 0.05) -> np.ndarray:
    """The stretch of the source WAV around ``excerpt``, ``slack`` seconds longer on each side
    (codec delays shift decoded audio by a few milliseconds)."""
    start = max(0.0, excerpt.start - slack)
    window = (start, excerpt.start + excerpt.duration + slack - start)
    (expected,) = decode_windows(reference_wav, [window], probe(reference_wav))
    return expected.samples


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_real_track_in_every_format_decodes_to_three_correlated_windows(name, format_cuts, reference_wav):
    """A 40-s cut of a real track encoded as mp3/ogg/opus/flac/wav/m4a/aac/webm gets three 6-s
    16 kHz mono excerpts at 20/50/80 %, matching the same excerpts decoded from the WAV source."""
    decoded = decode_excerpts(format_cuts[name])

    assert decoded.sample_rate == SAMPLE_RATE
    # Raw ADTS AAC has no duration field: ffprobe estimates it from the bitrate.
    assert decoded.info.duration == pytest.approx(REFERENCE_SECONDS, abs=2.0 if name == "aac-adts" else 0.1)
    assert decoded.info.channels == 2
    assert [e.start for e in decoded.excerpts] == [start for start, _ in analysis_windows(decoded.info.duration)]
    for excerpt in decoded.excerpts:
        assert excerpt.samples.dtype == np.float32 and excerpt.samples.ndim == 1
        assert len(excerpt.samples) == WINDOW
        assert np.sqrt(np.mean(excerpt.samples**2)) > 0.01 and np.max(np.abs(excerpt.samples)) <= 1.05
        # Raw ADTS has no index: ffmpeg seeks by an estimated byte position, up to a second or two off.
        slack = 2.0 if name == "aac-adts" else 0.05
        assert best_correlation(reference_at(reference_wav, excerpt, slack), excerpt.samples) > 0.9, name


def test_one_decode_returns_each_window_as_its_own_array(format_cuts):
    """Three windows decoded together equal the same windows decoded one at a time."""
    path = format_cuts["flac"]
    info = probe(path)
    windows = [(2.0, 3.0), (20.0, 1.5), (33.0, 6.0)]
    together = decode_windows(path, windows, info)
    assert [e.start for e in together] == [2.0, 20.0, 33.0]
    assert [len(e.samples) for e in together] == [48_000, 24_000, 96_000]
    for window, excerpt in zip(windows, together, strict=True):
        (alone,) = decode_windows(path, [window], info)
        np.testing.assert_allclose(excerpt.samples, alone.samples, atol=1e-6)


def _ffmpeg_window(path: Path, start: float, length: float, channels: int) -> np.ndarray:
    """A window as the former decode made it: one ffmpeg CLI run seeking on the input, the same
    downmix (``pan``), ``aformat`` to 16 kHz float mono, at most ``n`` samples."""
    n = round(length * SAMPLE_RATE)
    mix = "pan=mono|c0<" + "+".join(f"c{c}" for c in range(channels)) + "," if channels > 1 else ""
    chain = f"{mix}aformat=sample_fmts=flt:channel_layouts=mono:sample_rates={SAMPLE_RATE},atrim=end_sample={n}"
    command = ["ffmpeg", "-nostdin", "-v", "error", "-ss", f"{start:.3f}", "-t", f"{length + 0.5:.3f}", "-i", str(path)]
    command += ["-af", chain, "-f", "f32le", "pipe:1"]
    return np.frombuffer(subprocess.run(command, capture_output=True, check=True).stdout, "<f4")


def _rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(a - b, dtype=np.float64))))


@pytest.mark.parametrize("name", ["ogg-vorbis", "mp3", "flac", "opus", "m4a-aac"])
def test_windows_agree_with_the_ffmpeg_command_they_replace(name, format_cuts, reference_wav):
    """In-process decoding (PyAV) gives each window the length the ffmpeg CLI gave (a window cut
    short by the end of the file: up to 2 ms more), and the same music: correlation > 0.97, samples
    within 0.15. The CLI (ffmpeg 5.1) starts up to one source sample (21 us) early after a seek,
    which alone makes differences up to ~0.12 on real music; so each window is also compared with
    the WAV the file was encoded from, at the same start: ours is never further from it than the
    CLI's, and a lossless FLAC gives the WAV's very samples."""
    path = format_cuts[name]
    info = probe(path)
    windows = [(2.0, 3.0), (20.0, 1.5), (33.0, 6.0), (info.duration - 1.0, 6.0)]  # the last one runs past the end
    ours = decode_windows(path, windows, info)
    source = probe(reference_wav)
    assert [e.start for e in ours] == [start for start, _ in windows]
    assert 0 < len(ours[-1].samples) < 6 * SAMPLE_RATE
    for (start, length), excerpt in zip(windows[:-1], ours, strict=False):
        before = _ffmpeg_window(path, start, length, info.channels)
        assert len(excerpt.samples) == len(before), (start, name)
        assert np.corrcoef(excerpt.samples, before)[0, 1] > 0.97, (start, name)
        assert np.max(np.abs(excerpt.samples - before)) < 0.15, (start, name)
        (truth,) = decode_windows(reference_wav, [(start, length)], source)
        assert _rms(excerpt.samples, truth.samples) <= _rms(before, truth.samples) + 1e-5, (start, name)
        if name == "flac":
            np.testing.assert_allclose(excerpt.samples, truth.samples, rtol=0, atol=1e-6)
    # The window cut by the end: libav dates the last Ogg page's samples up to 64 samples early
    # (the CLI too, less so after its own timestamp smoothing), and the CLI's resampler gave up to
    # 16 samples fewer at the end; the audio is the source's all the same.
    start, length = windows[-1]
    extra = len(ours[-1].samples) - len(_ffmpeg_window(path, start, length, info.channels))
    assert 0 <= extra <= 32, (name, extra)
    around = reference_at(reference_wav, ours[-1], slack=0.01)
    assert best_correlation(around, ours[-1].samples[: len(around) - 320]) > 0.95, name


def test_probe_reports_container_codec_and_size(format_cuts):
    """Probing an m4a reads its metadata only: container, codec, channels, rate, size."""
    info = probe(format_cuts["m4a-aac"])
    assert isinstance(info, AudioInfo)
    assert "mp4" in info.format_name and info.codec == "aac"
    assert (info.channels, info.sample_rate) == (2, 48_000)
    assert info.size == format_cuts["m4a-aac"].stat().st_size


def _ffprobe(path: Path) -> tuple[str, str, int, int, float]:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        capture_output=True, check=True,
    )  # fmt: skip
    meta = json.loads(done.stdout)
    audio = next(s for s in meta["streams"] if s["codec_type"] == "audio")
    duration = float(meta["format"]["duration"])
    return (
        meta["format"]["format_name"],
        audio["codec_name"],
        int(audio["channels"]),
        int(audio["sample_rate"]),
        duration,
    )


@pytest.mark.parametrize("name", ["mp3", "m4a-aac", "webm-opus"])
def test_mp3_m4a_and_webm_are_probed_in_process(name, format_cuts, monkeypatch):
    """An MP3 (ID3-tagged), M4A or WebM's metadata is read with PyAV, without starting ffprobe
    (made unrunnable here), and says what ffprobe says (the length within 40 ms: FFmpeg 8 leaves
    out the MP3 encoder's padding, Debian's ffprobe 5.1 does not)."""
    path = format_cuts[name]
    expected = _ffprobe(path)
    monkeypatch.setattr(decode, "get_prober_name", lambda: "/nonexistent/ffprobe")
    info = probe(path)
    assert (info.format_name, info.codec, info.channels, info.sample_rate) == expected[:4]
    assert info.duration == pytest.approx(expected[4], abs=0.04)
    assert len(decode_excerpts(path).excerpts) == 3


@pytest.mark.parametrize("head", [b"ID3\x04\x00\x00\x00\x00\x00\x10", b"\x00\x00\x00\x1cftypM4A ", b"\x1a\x45\xdf\xa3"])
def test_random_bytes_behind_a_known_header_are_still_judged_by_ffprobe(head, tmp_path):
    """Random bytes behind an ID3, ftyp or EBML header: libav's in-process probe gives up and
    ffprobe names what is wrong (not audio, or a damaged file of that kind), in a sentence."""
    path = tmp_path / "fake.mp3"
    path.write_bytes(head + np.random.default_rng(7).bytes(65_536))
    assert decode._libav_info(path, path.stat().st_size) is None
    with pytest.raises((NotAudio, CorruptAudio)) as caught:
        decode_excerpts(path)
    assert caught.value.detail and caught.value.detail.startswith("[")  # ffprobe's own words
    assert_sentence(caught.value)


def test_eight_channel_96khz_file_is_downmixed_and_resampled(reference_wav, reference, music_dir):
    """A 7.1 96 kHz 24-bit WAV and FLAC made from a real stereo track (channels alternate L/R)
    decode to mono 16 kHz equal to the stereo downmix, peaks within [-1, 1]."""
    surround = "pan=7.1|c0=c0|c1=c1|c2=c0|c3=c1|c4=c0|c5=c1|c6=c0|c7=c1,aresample=96000"
    for suffix, codec in ((".wav", "pcm_s24le"), (".flac", "flac")):
        path = convert(
            reference_wav, music_dir / f"surround{suffix}", "-af", surround, "-c:a", codec, "-sample_fmt", "s32"
        )
        decoded = decode_excerpts(path)
        assert (decoded.info.channels, decoded.info.sample_rate) == (8, 96_000)
        for excerpt, expected in zip(decoded.excerpts, reference.excerpts, strict=True):
            assert len(excerpt.samples) == WINDOW
            assert np.max(np.abs(excerpt.samples)) <= 1.0
            assert best_correlation(expected.samples, excerpt.samples) > 0.99


@pytest.mark.parametrize("codec", ["pcm_u8", "pcm_s32le", "pcm_f32le", "pcm_f64le"])
def test_every_sample_format_decodes_to_the_same_music(codec, reference_wav, reference, music_dir):
    """WAVs of the real track in 8-bit unsigned, 32-bit integer, float and double samples (each a
    different path from libav's frames to float mono) give the 16-bit source's excerpts."""
    path = convert(reference_wav, music_dir / f"format-{codec}.wav", "-c:a", codec)
    decoded = decode_excerpts(path)
    for excerpt, expected in zip(decoded.excerpts, reference.excerpts, strict=True):
        assert len(excerpt.samples) == WINDOW and np.max(np.abs(excerpt.samples)) <= 1.0
        tolerance = 2e-2 if codec == "pcm_u8" else 1e-6  # 8 bits keep 1/128 of the full scale
        np.testing.assert_allclose(excerpt.samples, expected.samples, rtol=0, atol=tolerance)


def piped_webm(source: Path, target: Path, *codec: str) -> Path:
    """``source`` as a WebM written to a pipe, as browsers record: no duration in its header."""
    with open(target, "wb") as sink:
        subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-i", str(source), *codec, "-f", "webm", "pipe:1"],
            stdout=sink,
            check=True,
        )
    assert probe(target).duration is None
    return target


def test_webm_without_duration_is_measured_and_heard_across(reference_wav, tmp_path):
    """A WebM that hides its length is measured from its packets: its real length is told, and
    the windows spread over the whole track as for any other file."""
    path = piped_webm(reference_wav, tmp_path / "recorded.webm", "-c:a", "libopus")
    decoded = decode_excerpts(path)
    assert decoded.info.duration == pytest.approx(REFERENCE_SECONDS, abs=0.5)
    assert len(decoded.excerpts) == 3 and decoded.samples == 3 * WINDOW
    assert [e.start for e in decoded.excerpts] == [s for s, _ in analysis_windows(decoded.info.duration)]
    for excerpt in decoded.excerpts:
        assert best_correlation(reference_at(reference_wav, excerpt), excerpt.samples) > 0.9


# --------------------------------------------------------------------------- long files


def test_two_hour_track_is_too_long_under_default_limits(long_track_2h):
    """A 2 h 01 min OGG is refused from its metadata, naming its length and the 1 h 30 min limit."""
    with pytest.raises(TooLong) as caught:
        decode_excerpts(long_track_2h)
    assert "2 h 01 min" in caught.value.user_message and "1 h 30 min" in caught.value.user_message
    assert_sentence(caught.value)


def test_a_two_hour_track_hiding_its_length_is_refused_cheaply_and_truthfully(long_track_2h, tmp_path):
    """The 2 h 01 min track, remuxed to a WebM without a duration: refused as too long, naming its
    real length, after reading packets only (no window decoded), in a bounded time and memory; with
    the limit raised it costs what a four-minute track costs."""
    path = piped_webm(long_track_2h, tmp_path / "hidden.webm", "-c", "copy")
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(TooLong) as caught:
            decode_excerpts(path)
        seconds, peak = time.perf_counter() - started, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "2 h 01 min" in caught.value.user_message and "1 h 30 min" in caught.value.user_message
    assert_sentence(caught.value)
    assert seconds < 15 and peak < 20_000_000, (seconds, peak)
    decoded = decode_excerpts(path, AudioLimits(max_duration=3 * 3600))
    assert decoded.info.duration > 2 * 3600 and decoded.samples == 3 * WINDOW
    assert [round(e.start / decoded.info.duration, 1) for e in decoded.excerpts] == [0.2, 0.5, 0.8]


def test_two_hour_track_costs_what_a_four_minute_one_costs(long_track_2h, track_4min):
    """With max_duration raised, a 2-hour track decodes exactly as many samples as a 4-minute one,
    spread over the whole track, with about the same peak Python memory."""
    limits = AudioLimits(max_duration=3 * 3600)

    def measured(path: Path) -> tuple[DecodedAudio, int]:
        tracemalloc.start()
        try:
            decoded = decode_excerpts(path, limits)
            return decoded, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    short, short_peak = measured(track_4min)
    long, long_peak = measured(long_track_2h)
    assert long.info.duration > 2 * 3600
    assert long.samples == short.samples == 3 * WINDOW
    assert [round(e.start / long.info.duration, 1) for e in long.excerpts] == [0.2, 0.5, 0.8]
    assert long_peak < 1.5 * short_peak + 1_000_000
    assert long_peak < 20_000_000  # a decoded 2-hour track would need ~460 MB at 16 kHz float


# --------------------------------------------------------------------------- bad inputs


def test_decoding_that_takes_too_long_is_stopped(long_track_2h):
    """A decode over its time limit stops inside its packet loop and is reported as a sentence,
    not a hang."""
    info = probe(long_track_2h, AudioLimits(max_duration=3 * 3600))
    with pytest.raises(CorruptAudio) as caught:
        decode_windows(long_track_2h, analysis_windows(info.duration), info, timeout=0.001)
    assert "too long" in caught.value.user_message
    assert_sentence(caught.value)


def test_a_window_stops_after_its_packet_budget(format_cuts, monkeypatch):
    """However many packets a file holds (empty ones decode to nothing and never fill a window),
    one window reads at most _MAX_PACKETS of them, then the decode stops with a sentence."""
    path = format_cuts["ogg-vorbis"]
    info = probe(path)
    assert decode_windows(path, [(10.0, 6.0)], info)  # a 6-s window needs a few hundred packets
    monkeypatch.setattr(decode, "_MAX_PACKETS", 20)
    with pytest.raises(CorruptAudio) as caught:
        decode_windows(path, [(10.0, 6.0)], info)
    assert "too long" in caught.value.user_message and "packets" in caught.value.detail
    assert_sentence(caught.value)


def _playlist(folder: Path, kind: str, segment: Path, suffix: str) -> Path:
    """An HLS playlist or an ffconcat list pointing at a real audio file next to it."""
    path = folder / f"{kind}{suffix}"
    if kind == "hls":
        path.write_text(
            f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:40\n#EXTINF:40.0,\n{segment.name}\n#EXT-X-ENDLIST\n"
        )
    else:
        path.write_text(f"ffconcat version 1.0\nfile {segment.name}\n")
    return path


@pytest.mark.parametrize(("kind", "own_suffix"), [("hls", ".m3u8"), ("concat", ".ffconcat")])
def test_a_playlist_is_refused_in_process(kind, own_suffix, format_cuts, tmp_path):
    """libav in-process keeps the file-protocol and demuxer whitelists. An HLS playlist or a concat
    list pointing at a real track, which libav without the whitelists follows and decodes, is
    refused by the decoder asked directly, under its own name or saved as .mp3 (and decode_excerpts
    calls it not audio)."""
    import av

    segment = tmp_path / "segment.aac"
    segment.write_bytes(format_cuts["aac-adts"].read_bytes())
    real = _playlist(tmp_path, kind, segment, own_suffix)
    with av.open(str(real)) as container:  # no whitelists: the playlist is followed
        assert container.format.name == kind
        assert next(container.decode(audio=0)).samples > 0
    disguised = _playlist(tmp_path, kind, segment, ".mp3")
    info = AudioInfo(duration=40.0, format_name="mp3", codec="mp3", channels=2, sample_rate=48_000, size=100)
    for path in (real, disguised):
        with pytest.raises(CorruptAudio) as caught:
            decode_windows(path, [(0.0, 6.0)], info)
        assert caught.value.detail.startswith("libav:")
        assert_sentence(caught.value)
    with pytest.raises(NotAudio) as refused:
        decode_excerpts(disguised)
    assert_sentence(refused.value)


def test_windows_past_the_real_end_of_a_truncated_file_come_back_short(format_cuts, tmp_path):
    """Decoding a half-OGG with the full file's metadata: windows in the first half are whole, the
    one across the cut is short, the one past it is left out (never padded with silence)."""
    source = format_cuts["ogg-vorbis"]
    info = probe(source)
    data = source.read_bytes()
    path = tmp_path / "half.ogg"
    path.write_bytes(data[: len(data) // 2])
    excerpts = decode_windows(path, [(2.0, 6.0), (10.0, 6.0), (17.0, 6.0), (30.0, 6.0)], info)
    assert [e.start for e in excerpts] == [2.0, 10.0, 17.0]
    assert [len(e.samples) for e in excerpts[:2]] == [WINDOW, WINDOW]
    assert 0 < len(excerpts[2].samples) < WINDOW
    assert np.sqrt(np.mean(excerpts[2].samples[-SAMPLE_RATE // 10 :] ** 2)) > 1e-3  # real audio to its end


def test_empty_file_is_refused(tmp_path):
    """A 0-byte .mp3 gets EmptyFile."""
    path = tmp_path / "empty.mp3"
    path.touch()
    with pytest.raises(EmptyFile) as caught:
        decode_excerpts(path)
    assert_sentence(caught.value)


def test_mp3_cut_to_its_first_4_kb_is_too_short(format_cuts, tmp_path):
    """An MP3 cut to 4 KB still carries a header saying 40 s; only ~0.2 s decodes -> TooShort."""
    path = tmp_path / "first-4kb.mp3"
    path.write_bytes(format_cuts["mp3"].read_bytes()[:4096])
    assert probe(path).duration == pytest.approx(40, abs=0.5)  # the header lies
    with pytest.raises(TooShort) as caught:
        decode_excerpts(path)
    assert "could only decode" in caught.value.user_message
    assert_sentence(caught.value)


@pytest.mark.parametrize("name", ["mp3", "ogg-vorbis"])
def test_file_cut_in_half_is_analysed_for_what_it_holds(name, format_cuts, reference_wav, tmp_path):
    """A real track cut at half its bytes (MP3: header still says 40 s; OGG: duration read from the
    last page) yields excerpts of the first 20 s only, matching the source at the same places."""
    source = format_cuts[name]
    data = source.read_bytes()
    path = tmp_path / f"half{source.suffix}"
    path.write_bytes(data[: len(data) // 2])

    decoded = decode_excerpts(path)
    assert decoded.samples >= 2 * WINDOW
    assert max(e.start + e.duration for e in decoded.excerpts) <= 21
    for excerpt in decoded.excerpts:
        assert best_correlation(reference_at(reference_wav, excerpt), excerpt.samples) > 0.9


@pytest.mark.parametrize(
    ("name", "keep", "error"),
    [("ogg-vorbis", 4000, CorruptAudio), ("flac", 100, CorruptAudio), ("m4a-aac", 30_000, CorruptAudio)],
)
def test_header_cut_short_is_corrupt(name, keep, error, format_cuts, tmp_path):
    """An OGG/FLAC/M4A cut inside its header (or missing the m4a index) gets CorruptAudio."""
    source = format_cuts[name]
    path = tmp_path / f"cut{source.suffix}"
    path.write_bytes(source.read_bytes()[:keep])
    with pytest.raises(error) as caught:
        decode_excerpts(path)
    assert_sentence(caught.value)


def test_png_renamed_to_mp3_is_not_audio(tmp_path):
    """A real PNG image named .mp3 gets NotAudio, saying it is an image."""
    png = tmp_path / "red.png"
    ffmpeg("-f", "lavfi", "-i", "color=red:s=32x32", "-frames:v", "1", str(png))
    path = png.rename(tmp_path / "song.mp3")
    with pytest.raises(NotAudio) as caught:
        decode_excerpts(path)
    assert "image" in caught.value.user_message
    assert_sentence(caught.value)


@pytest.mark.parametrize("suffix", [".ogg", ".mp3", ".flac", ".bin"])
def test_random_bytes_are_not_audio(suffix, tmp_path):
    """64 KB of random bytes, whatever the file name says, get NotAudio."""
    path = tmp_path / f"noise{suffix}"
    path.write_bytes(np.random.default_rng(7).bytes(65_536))
    with pytest.raises(NotAudio) as caught:
        decode_excerpts(path)
    assert_sentence(caught.value)


def test_text_file_is_not_audio(tmp_path):
    """A text file named .mp3 (for example a playlist) gets NotAudio."""
    path = tmp_path / "list.mp3"
    path.write_text("#EXTM3U\n#EXTINF:10,\nfile:/etc/hostname\n")
    with pytest.raises(NotAudio):
        decode_excerpts(path)


@pytest.mark.parametrize(
    ("label", "make"),
    [
        ("digital silence, encoded by libvorbis", ("-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-t", "30")),
        ("real music turned down by 80 dB", ("-i", "REFERENCE", "-af", "volume=-80dB")),
    ],
)
def test_silent_audio_is_refused(label, make, reference_wav, tmp_path):
    """Digital silence, or real music too quiet to hear, gets SilentAudio."""
    path = tmp_path / "quiet.ogg"
    ffmpeg(*[str(reference_wav) if arg == "REFERENCE" else arg for arg in make], "-c:a", "libvorbis", str(path))
    with pytest.raises(SilentAudio) as caught:
        decode_excerpts(path)
    assert_sentence(caught.value)


def test_file_over_max_bytes_is_refused_from_its_size(format_cuts):
    """A real FLAC larger than max_bytes gets TooLarge, naming both sizes."""
    path = format_cuts["flac"]
    with pytest.raises(TooLarge) as caught:
        decode_excerpts(path, AudioLimits(max_bytes=1_000_000))
    assert format_bytes(path.stat().st_size) in caught.value.user_message and "977 KB" in caught.value.user_message
    assert_sentence(caught.value)


def test_too_large_is_decided_before_ffprobe_runs(tmp_path):
    """A sparse 101 MB file of zeros would be NotAudio to ffprobe; it gets TooLarge, so the size
    check came first and nothing was read."""
    path = tmp_path / "huge.mp3"
    with open(path, "wb") as handle:
        handle.truncate(101 * 1024 * 1024)
    with pytest.raises(TooLarge) as caught:
        probe(path)
    assert "100 MB" in caught.value.user_message
    with pytest.raises(NotAudio):
        probe(path, AudioLimits(max_bytes=200 * 1024 * 1024))


def test_two_seconds_of_real_music_is_too_short(reference_wav, tmp_path):
    """A 2-s OGG clip of a real track gets TooShort, naming 2 s and the 5 s minimum."""
    path = convert(reference_wav, tmp_path / "blip.ogg", "-t", "2", "-c:a", "libvorbis")
    with pytest.raises(TooShort) as caught:
        decode_excerpts(path)
    assert "2 s" in caught.value.user_message and "5 s" in caught.value.user_message
    assert_sentence(caught.value)


def test_clip_just_above_minimum_duration_is_accepted(reference_wav, tmp_path):
    """A 6-s clip (minimum is 5 s) is one window covering all of it."""
    path = convert(reference_wav, tmp_path / "short.ogg", "-t", "6", "-c:a", "libvorbis")
    decoded = decode_excerpts(path)
    (excerpt,) = decoded.excerpts
    assert excerpt.start == 0.0 and excerpt.duration == pytest.approx(6, abs=0.05)


def test_missing_file_is_reported_plainly(tmp_path):
    """A path that no longer exists gets an AudioError with a sentence, not FileNotFoundError."""
    with pytest.raises(AudioError) as caught:
        decode_excerpts(tmp_path / "gone.mp3")
    assert_sentence(caught.value)


def test_installed_tracks_are_not_silent():
    """Every installed singularity track (quiet ambient included) passes the silence check."""
    for path in [singularity_track("Awakening"), singularity_track("Nebula")]:
        assert decode_excerpts(path).samples == 3 * WINDOW


# --------------------------------------------------------------------------- windows


def test_analysis_windows_sit_at_20_50_80_percent():
    windows = analysis_windows(300.0)
    assert windows == [(57.0, 6.0), (147.0, 6.0), (237.0, 6.0)]


@pytest.mark.parametrize("duration", [18.0, 19.3, 60.0, 208.0, 7280.0])
@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_analysis_windows_stay_inside_the_track_in_order(duration, count):
    windows = analysis_windows(duration, count, 6.0)
    if duration < 12.0:
        assert windows == [(0.0, duration)]
        return
    assert len(windows) == min(count, int(duration // 6.0))  # as many as fit, up to count
    assert all(length == 6.0 for _, length in windows)
    assert all(start >= 0 and start + length <= duration + 1e-9 for start, length in windows)
    assert [start for start, _ in windows] == sorted(start for start, _ in windows)
    assert all(isinstance(start, float) for start, _ in windows)


def test_analysis_windows_for_short_or_empty_tracks():
    assert analysis_windows(10.0) == [(0.0, 10.0)]  # room for one 6-s window: one window, all of it
    assert analysis_windows(5.0) == [(0.0, 5.0)]
    # room for two: both, from the start to the end (the taggers hear 6 s of each, not the intro alone)
    assert analysis_windows(15.0) == [(0.0, 6.0), (9.0, 6.0)]
    assert analysis_windows(12.0) == [(0.0, 6.0), (6.0, 6.0)]
    assert analysis_windows(17.99) == [(0.0, 6.0), (11.99, 6.0)]
    assert analysis_windows(18.0) == [(0.6, 6.0), (6.0, 6.0), (11.4, 6.0)]  # 3 x 6 s fit: 20/50/80 %
    assert analysis_windows(0.0) == [] and analysis_windows(-3.0) == []
    assert analysis_windows(60.0, count=1) == [(27.0, 6.0)]
    assert analysis_windows(60.0, count=0) == []


def test_training_windows_tile_a_clip_with_overlap():
    assert training_windows(30.0) == [(float(s), 6.0) for s in range(0, 25, 3)]
    assert training_windows(15.0) == [(0.0, 6.0), (3.0, 6.0), (6.0, 6.0), (9.0, 6.0)]
    assert training_windows(16.5) == training_windows(15.0)  # a tail shorter than the hop is dropped
    assert training_windows(6.0) == [(0.0, 6.0)]
    assert training_windows(4.0) == [(0.0, 4.0)]
    assert training_windows(0.0) == []
    assert training_windows(0.9, seconds=0.3, hop=0.3) == [(0.0, 0.3), (0.3, 0.3), (0.6, 0.3)]
    assert training_windows(20.0, seconds=5.0, hop=5.0) == [(0.0, 5.0), (5.0, 5.0), (10.0, 5.0), (15.0, 5.0)]


# --------------------------------------------------------------------------- formatting


def test_durations_and_sizes_read_naturally():
    assert [format_duration(s) for s in (0.2, 2, 59, 205, 3600, 5400, 7282)] == [
        "0.2 s", "2 s", "59 s", "3:25", "1 h 00 min", "1 h 30 min", "2 h 01 min",
    ]  # fmt: skip
    assert [format_bytes(n) for n in (0, 1, 900, 1536, 150 * 2**20, int(2.5 * 2**30))] == [
        "0 bytes", "1 byte", "900 bytes", "1.5 KB", "150 MB", "2.5 GB",
    ]  # fmt: skip
    assert format_bytes(AudioLimits().max_bytes) == AudioLimits().describe_bytes()
    for language, comma in (("de", True), ("pt_BR", True), ("es", True), ("en", False)):
        with speaking(language):  # a session's summary in German: "0,8 s", not "0.8 s" (eight tenths)
            assert format_duration(0.8) == ("0,8 s" if comma else "0.8 s")
            assert format_bytes(1536) == ("1,5 KB" if comma else "1.5 KB")
            assert format_duration(205) == "3:25"


def test_no_test_file_is_left_open():
    """decode_excerpts leaves no file descriptors behind (the file libav opened is closed)."""
    before = len(os.listdir("/proc/self/fd"))
    decode_excerpts(singularity_track("Awakening"))
    assert len(os.listdir("/proc/self/fd")) == before


def refuse_libav(monkeypatch) -> None:
    """libav refuses every file from now on, as ffmpeg refuses hyperrogue-music's Vorbis headers."""
    import av

    def refusing_open(*args, **kwargs):
        raise av.error.InvalidDataError(1094995529, "Invalid data found when processing input")

    monkeypatch.setattr(av, "open", refusing_open)


def test_an_ogg_libav_refuses_is_decoded_by_libsndfile(monkeypatch):
    """Real Vorbis files that ffmpeg's header parser rejects (hyperrogue-music's, written by an old
    libVorbis) play everywhere else: libsndfile decodes the same windows, to the same sound."""
    track = Path(__file__).resolve().parents[1] / "examples" / "singularity-awakening.ogg"
    wanted = decode.decode_excerpts(track)
    refuse_libav(monkeypatch)
    fallback = decode.decode_excerpts(track)
    assert [e.start for e in fallback.excerpts] == [e.start for e in wanted.excerpts]
    for ours, theirs in zip(fallback.excerpts, wanted.excerpts):
        n = min(len(ours.samples), len(theirs.samples))
        assert n > 0.9 * len(theirs.samples)
        # The same sound, up to where each library's seek lands (a few ms: nothing a tagger hears).
        a, b = ours.samples[:n], theirs.samples[:n]
        lags = correlate(a, b, mode="full")[n - 1 - 320 : n + 320]  # within 20 ms
        assert lags.max() / np.sqrt(np.dot(a, a) * np.dot(b, b)) > 0.95


def test_a_file_neither_libav_nor_libsndfile_reads_is_still_corrupt(tmp_path, monkeypatch):
    track = Path(__file__).resolve().parents[1] / "examples" / "singularity-awakening.ogg"
    broken = tmp_path / "broken.ogg"
    broken.write_bytes(track.read_bytes()[:4] + b"\0" * 4096)
    info = decode.AudioInfo(60.0, "ogg", "vorbis", 2, 44100, 4100)
    refuse_libav(monkeypatch)
    with pytest.raises(CorruptAudio) as caught:
        decode.decode_windows(broken, [(0.0, 6.0)], info)
    assert "corrupt" in caught.value.user_message


@pytest.mark.skipif(
    not Path("/usr/share/hyperrogue/music/hr-savino-ocean.ogg").exists(), reason="hyperrogue-music not installed"
)
def test_hyperrogues_vorbis_files_decode():
    decoded = decode.decode_excerpts(Path("/usr/share/hyperrogue/music/hr-savino-ocean.ogg"))
    assert len(decoded.excerpts) == 3 and decoded.duration == pytest.approx(60.5, abs=1)
