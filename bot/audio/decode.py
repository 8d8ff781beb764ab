"""Safe audio ingest: check a shared file cheaply, then decode only short excerpts of it.

Cost does not grow with the length of the track: a 1-hour upload costs about what a 4-minute
one does. The size is checked from the file system; the container metadata is read in-process
when it can (Ogg, FLAC and WAV headers with libsndfile; MP3 with an ID3 tag, M4A and WebM with
PyAV), else with ``ffprobe``, whose error text is what tells "not audio" from "corrupt" for every
bad file; then a few short windows spread over the track are decoded **in-process with PyAV**
(FFmpeg's libraries, bundled in the ``av`` wheel), each downmixed and resampled to 16 kHz mono.

Why in-process: starting the ``ffmpeg`` CLI costs more than decoding three 6-s windows
(``benchmarks/analyze.py`` shows the stages). The CLI still plays tracks in voice channels
(:func:`playback_ffmpeg_options`, a long-running stream where start-up does not matter).

Isolation: decoding runs in the analysis pool's worker processes (:mod:`bot.jobs.pool`,
:mod:`bot.jobs.analysis`), never in the bot process (which imports this module for the playback
options and never imports ``av``). A libav crash on a hostile file kills only that worker: the
pool answers the job with ``WorkerCrashed`` (a friendly reply) and starts a replacement; a decode
stuck inside libav is killed with the worker by the job timeout. Within a job the decode has its
own limits: :data:`DECODE_TIMEOUT`, checked between packets (and given to libav's I/O interrupt),
at most :data:`_MAX_PACKETS` packets per window, and never more samples kept than the window
plus :data:`_INPUT_MARGIN`.

Windows: for each one the demuxer seeks to a keyframe at or before the window's start, the
samples before the start are dropped by timestamp (as ffmpeg's input seeking does), and the
window is downmixed (a plain average of the channels) and resampled in one call to libsoxr
(``soxr``, "HQ", as ``librosa.load`` resamples: the musicnn taggers were trained on
librosa-loaded audio). An excerpt holds only the samples really decoded, so a truncated file
whose header promises more than it holds is noticed (its windows come back short) instead of
being mistaken for silence.

Why not ``pydub.AudioSegment.from_file``: it seeks after decoding everything before the window
(the cost grows with the track), reads whole WAV files into memory, probes on every call and has
no timeout. The probe is our own ``ffprobe`` call for the same reasons.

Only known audio/video container demuxers and the local ``file`` protocol are allowed (for
ffprobe, ffmpeg and libav in-process alike), so a playlist or ``concat`` file cannot make any of
them read other files or URLs.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import numpy as np
from pydub.utils import get_prober_name

from bot.audio.errors import CorruptAudio, EmptyFile, NotAudio, SilentAudio, TooLarge, TooLong, TooShort
from bot.config import AudioLimits
from bot.format import format_bytes, format_duration
from bot.i18n import N_

#: File names a music folder's audio files end with (``crate index``, training datasets).
AUDIO_SUFFIXES = {".wav", ".au", ".mp3", ".ogg", ".oga", ".opus", ".flac", ".m4a", ".aac", ".webm", ".mp4"}

SAMPLE_RATE = 16_000

#: Below either of these (over all excerpts together, DC offset removed) a file counts as silent.
SILENCE_RMS = 10 ** (-60 / 20)  # -60 dBFS
SILENCE_PEAK = 1e-4

PROBE_TIMEOUT = 15.0
DECODE_TIMEOUT = 30.0

#: Extra input decoded past each window's end, so that the resampler's last output samples
#: are computed from real audio (its filter reaches a few ms ahead) rather than from its flush.
_INPUT_MARGIN = 0.1

#: Windows that decode to less than this share of their length mean the file is shorter than its
#: header says (truncated); the start of the file is then decoded instead.
_ENOUGH = 0.75

#: Decoded audio may be this much shorter than the container says (codec delay, edges).
_SLACK = 0.5

#: Demuxers ffmpeg may use (``-format_whitelist``): audio containers, and video containers that
#: carry a soundtrack. Excludes images, playlists (hls, concat), devices and lavfi.
_DEMUXERS = (
    "mp3,ogg,flac,wav,w64,aiff,caf,mov,mp4,m4a,3gp,matroska,webm,aac,loas,ac3,eac3,dts,"
    "asf,ape,wv,tta,mpc,mpc8,amr,au,voc,mpeg,mpegts,avi,flv"
)
_SAFE_INPUT = ("-protocol_whitelist", "file", "-format_whitelist", _DEMUXERS)
#: The same restrictions for libav opened in-process (``av.open``).
_SAFE_OPTIONS = {"protocol_whitelist": "file", "format_whitelist": _DEMUXERS}

#: Packets one window may take from the demuxer, counted from its seek point: a 6.5-s window
#: is a few hundred packets in any real codec; a file of endless empty packets stops here.
_MAX_PACKETS = 20_000


def safe_input_options() -> tuple[str, ...]:
    """The input restrictions of every ffmpeg/ffprobe Crate runs on shared audio (before ``-i``).

    Only the local ``file`` protocol and the audio/video demuxers of :data:`_DEMUXERS`: an HLS
    playlist or ``concat`` file saved under an audio name cannot make ffmpeg read other files
    or URLs. Decoding (here) and voice playback (:func:`playback_ffmpeg_options`) both use it.
    """
    return _SAFE_INPUT


class PlaybackOptions(TypedDict):
    """Keyword arguments of discord.py's ``FFmpegPCMAudio``."""

    before_options: str
    options: str


def playback_ffmpeg_options() -> PlaybackOptions:
    """``before_options``/``options`` for discord.py's ``FFmpegPCMAudio`` playing a shared track.

    The same input restrictions as decoding (:func:`safe_input_options`), no stdin, audio only.
    """
    return {"before_options": " ".join(("-nostdin", *safe_input_options())), "options": "-vn"}


@dataclass(frozen=True)
class AudioInfo:
    """What ffprobe says about a file (first audio stream)."""

    duration: float | None  # seconds; None when the container does not say
    format_name: str
    codec: str
    channels: int
    sample_rate: int
    size: int  # bytes


@dataclass(frozen=True)
class Excerpt:
    start: float  # seconds into the track
    samples: np.ndarray  # float32 mono at SAMPLE_RATE

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE


@dataclass(frozen=True)
class DecodedAudio:
    info: AudioInfo
    excerpts: tuple[Excerpt, ...]
    sample_rate: int = SAMPLE_RATE

    @property
    def samples(self) -> int:
        """Number of decoded samples over all excerpts."""
        return sum(len(e.samples) for e in self.excerpts)

    @property
    def duration(self) -> float:
        """The track's duration: the container's, else the end of the last decoded excerpt."""
        if self.info.duration is not None:
            return self.info.duration
        return max((e.start + e.duration for e in self.excerpts), default=0.0)


# --------------------------------------------------------------------------- probing


def probe(path: str | os.PathLike, limits: AudioLimits = AudioLimits()) -> AudioInfo:
    """Check size, then read the container metadata; raise a typed error for anything unusable."""
    path = Path(path)
    size = _checked_size(path, limits)
    info = _header_info(path, size) or _libav_info(path, size) or _ffprobe_info(path, size)
    if info.duration is not None:
        _check_duration(info.duration, limits)
    return info


#: Header lengths no real file has: the header is then unknown and ffprobe is asked instead.
_IMPLAUSIBLE_FRAMES = 2**62
_IMPLAUSIBLE_SECONDS = 7 * 24 * 3600.0

#: Magic numbers of containers whose header libsndfile reads exactly (Ogg Vorbis/Opus, FLAC, WAV).
_HEADER_MAGIC = (b"OggS", b"fLaC", b"RIFF")


def _sndfile_kind(path: Path) -> bool:
    """Whether libsndfile reads this file, told by its first bytes (:data:`_HEADER_MAGIC`)."""
    with open(path, "rb") as file:
        return file.read(4) in _HEADER_MAGIC


def _header_info(path: Path, size: int) -> AudioInfo | None:
    """Read an Ogg/FLAC/WAV header in-process with libsndfile (~1 ms instead of ~60 ms for ffprobe).

    Starting ffprobe is a sixth of a whole analysis' time budget. Anything unusual (another
    container, a header libsndfile rejects) returns None and goes through ffprobe, which also
    classifies what is wrong with a bad file.
    """
    try:
        if not _sndfile_kind(path):
            return None
        import soundfile

        header = soundfile.info(str(path))
    except Exception:
        return None
    if header.samplerate <= 0 or header.channels <= 0 or header.frames <= 0:
        return None
    if header.frames >= _IMPLAUSIBLE_FRAMES or header.frames / header.samplerate > _IMPLAUSIBLE_SECONDS:
        return None  # e.g. a chained Ogg (two streams back to back): libsndfile says 2**63 - 1 frames
    return AudioInfo(
        duration=header.frames / header.samplerate,
        format_name=header.format.lower(),
        codec=header.subtype.lower(),
        channels=header.channels,
        sample_rate=header.samplerate,
        size=size,
    )


def _libav_kind(head: bytes) -> bool:
    """Whether libav reads this file's metadata in-process, told by its first bytes: an MP3 with an
    ID3 tag, MP4/M4A (``ftyp`` box), Matroska/WebM (EBML header). An MP3 without a tag shows only
    its frame sync, which random bytes also have now and then: ffprobe judges those."""
    return head.startswith((b"ID3", b"\x1a\x45\xdf\xa3")) or head[4:8] == b"ftyp"


def _libav_info(path: Path, size: int) -> AudioInfo | None:
    """Read an MP3/M4A/WebM's metadata in-process with PyAV (~2 ms instead of ~90 ms for ffprobe).

    Same whitelists as every other read. Anything unusual (another container, a file libav cannot
    open, no audio stream, parameters missing, an implausible length) returns None and goes
    through ffprobe, whose error text tells what is wrong with a bad file.
    """
    try:
        with open(path, "rb") as file:
            if not _libav_kind(file.read(8)):
                return None
        import av

        with av.open(_file_url(path), container_options=_SAFE_OPTIONS, timeout=PROBE_TIMEOUT) as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            channels, rate = stream.codec_context.channels, stream.codec_context.sample_rate
            duration = container.duration / 1_000_000 if container.duration else None
            if duration is None and stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            info = AudioInfo(
                duration=duration if duration and duration > 0 else None,
                format_name=container.format.name,
                codec=stream.codec_context.codec.canonical_name,
                channels=channels,
                sample_rate=rate,
                size=size,
            )
    except Exception:
        return None
    if info.channels <= 0 or info.sample_rate <= 0:
        return None
    if info.duration is not None and info.duration > _IMPLAUSIBLE_SECONDS:
        return None
    return info


def _ffprobe_info(path: Path, size: int) -> AudioInfo:
    command = [
        get_prober_name(), "-hide_banner", "-v", "warning", *_SAFE_INPUT,
        "-show_format", "-show_streams", "-of", "json", _file_url(path),
    ]  # fmt: skip
    try:
        done = subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, timeout=PROBE_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise CorruptAudio(
            N_("Reading that file took far too long, so I gave up; it may be damaged."), detail="ffprobe timed out"
        ) from None
    stderr = done.stderr.decode("utf-8", "replace").strip()
    try:
        meta = json.loads(done.stdout or b"{}")
    except ValueError:
        meta = {}
    if done.returncode != 0 or not meta.get("format"):
        raise _probe_failure(stderr)

    streams = meta.get("streams", [])
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if audio is None:
        raise _no_audio(meta, stderr or None)
    channels, sample_rate = _int(audio.get("channels")), _int(audio.get("sample_rate"))
    if channels <= 0 or sample_rate <= 0:
        # ffprobe "found" an audio stream with no parameters: a format guessed from a few bytes.
        if "misdetection possible" in stderr:
            raise NotAudio(detail=stderr)
        raise CorruptAudio(detail=f"audio stream without channels/sample rate: {stderr}")

    duration = _float(meta["format"].get("duration")) or _float(audio.get("duration"))
    return AudioInfo(
        duration=duration if duration and duration > 0 else None,
        format_name=str(meta["format"].get("format_name", "?")),
        codec=str(audio.get("codec_name", "?")),
        channels=channels,
        sample_rate=sample_rate,
        size=size,
    )


def _checked_size(path: Path, limits: AudioLimits) -> int:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise EmptyFile(N_("I couldn't find that file; please send it again."), detail=str(path)) from None
    if size == 0:
        raise EmptyFile()
    if size > limits.max_bytes:
        said, values = _over_limit(format_bytes(size), format_bytes(limits.max_bytes), file=True)
        raise TooLarge(said, values=values)
    return size


def _check_duration(duration: float, limits: AudioLimits) -> None:
    if duration > limits.max_duration:
        said, values = _over_limit(format_duration(duration), format_duration(limits.max_duration), file=False)
        raise TooLong(said, values=values)
    if duration < limits.min_duration:
        raise TooShort(
            N_("That clip is only {length} long; I need at least {minimum} of audio to tell what it is."),
            values={"length": format_duration(duration), "minimum": format_duration(limits.min_duration)},
        )


def _over_limit(measured: str, limit: str, *, file: bool) -> tuple[str, dict[str, str]]:
    """A too-large file's or too-long track's sentence, and its values."""
    if measured == limit:  # e.g. 100.2 MB against 100 MB: both print as "100 MB"
        if file:
            return N_("That file is just over my limit of {limit}."), {"limit": limit}
        return N_("That track is just over my limit of {limit}."), {"limit": limit}
    if file:
        return N_("That file is {measured}; my limit is {limit}."), {"measured": measured, "limit": limit}
    return N_("That track is {measured} long; my limit is {limit}."), {"measured": measured, "limit": limit}


def _probe_failure(stderr: str) -> Exception:
    """Tell "not audio" from "broken audio" by what ffprobe said.

    ffprobe guesses a format from the content (and the file name). If no demuxer recognised the
    content, or one only guessed it with a low score, or the format is not one we accept, the
    file is not audio we can read. If a demuxer recognised it and then failed (end of file in the
    header, missing index...), it is a damaged or truncated file of a known kind.
    """
    confident = any(line.startswith("[") for line in stderr.splitlines())
    if "not on whitelist" in stderr:
        demuxer = re.search(r"^\[(\w+?)(_pipe)? @", stderr, re.MULTILINE)
        if demuxer and demuxer.group(2):  # png_pipe, jpeg_pipe, webp_pipe...
            return NotAudio(_IMAGE, values={"format": demuxer.group(1).upper()})
        return NotAudio(detail=stderr)
    if "misdetection possible" in stderr:
        return NotAudio(detail=stderr)
    if "Invalid data found when processing input" in stderr and not confident:
        return NotAudio(detail=stderr)
    return CorruptAudio(
        N_("That audio file seems damaged or cut off, so I couldn't read it."), detail=stderr or "ffprobe failed"
    )


_IMAGE = N_("That's an image ({format}), not audio. Send an MP3, OGG, Opus, FLAC, WAV, M4A/AAC or WebM file.")


def _no_audio(meta: dict, detail: str | None) -> NotAudio:
    kinds = {s.get("codec_type") for s in meta.get("streams", [])}
    fmt = str(meta.get("format", {}).get("format_name", ""))
    if kinds == {"video"} and (fmt.endswith("_pipe") or fmt.startswith("image")):
        return NotAudio(_IMAGE, values={"format": fmt.removesuffix("_pipe").upper()}, detail=detail)
    if "video" in kinds:
        return NotAudio(N_("That video has no sound track, so there is nothing for me to listen to."), detail=detail)
    return NotAudio(
        N_("That file has no sound in it. Send an MP3, OGG, Opus, FLAC, WAV, M4A/AAC or WebM file."), detail=detail
    )


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _float(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _file_url(path: Path) -> str:
    # "file:" keeps a name like "-x.mp3" or "http:..." from being read as an option or protocol.
    return "file:" + str(path.resolve())


# --------------------------------------------------------------------------- windows


def analysis_windows(duration: float, count: int = 3, seconds: float = 6.0) -> list[tuple[float, float]]:
    """``(start, length)`` of ``count`` windows centred at 20 %…80 % of the track.

    The very start and end (intros, outros, fades) are avoided. A track shorter than
    ``count * seconds`` gets as many whole windows as fit in it, spread from its start to its end
    (a 15-s clip: 0-6 s and 9-15 s), or, with room for one only, a single window covering all of it.
    (The taggers hear the first 6 s of a window: a single 15-s window had them hear only the
    intro of a short clip.)
    """
    if duration <= 0 or count <= 0 or seconds <= 0:
        return []
    if duration < count * seconds:
        fit = int(duration // seconds)
        if fit <= 1:
            return [(0.0, float(duration))]
        return [(round(float(start), 3), float(seconds)) for start in np.linspace(0.0, duration - seconds, fit)]
    centres = [0.5] if count == 1 else np.linspace(0.2, 0.8, count)
    latest = duration - seconds
    return [(round(float(min(max(c * duration - seconds / 2, 0.0), latest)), 3), float(seconds)) for c in centres]


def training_windows(duration: float, seconds: float = 6.0, hop: float = 3.0) -> list[tuple[float, float]]:
    """``(start, length)`` windows tiling a short clip every ``hop`` seconds (for training).

    A tail shorter than ``hop`` after the last full window is dropped; a clip shorter than
    ``seconds`` gets one window covering all of it.
    """
    if duration <= 0 or seconds <= 0 or hop <= 0:
        return []
    if duration < seconds:
        return [(0.0, float(duration))]
    count = int((duration - seconds) / hop + 1e-9) + 1
    return [(round(i * hop, 3), float(seconds)) for i in range(count)]


# --------------------------------------------------------------------------- decoding


def decode_windows(
    path: str | os.PathLike,
    windows: list[tuple[float, float]],
    info: AudioInfo,
    *,
    timeout: float = DECODE_TIMEOUT,
) -> tuple[Excerpt, ...]:
    """Decode ``(start, length)`` windows in-process with PyAV (see the module docstring).

    Each excerpt holds only the samples actually decoded, so a window past the real end of a
    truncated file comes back shorter or is left out. Raises CorruptAudio if libav fails, or if
    decoding runs past ``timeout`` seconds or :data:`_MAX_PACKETS` packets in one window.
    """
    if not windows:
        return ()
    import av  # here, not at import time: the bot process imports this module and never decodes

    deadline = time.monotonic() + timeout
    pieces: list[np.ndarray] = []
    try:
        with av.open(_file_url(Path(path)), container_options=_SAFE_OPTIONS, timeout=timeout) as container:
            if not container.streams.audio:
                raise CorruptAudio(detail=f"libav found no audio stream in {info.format_name}")
            stream = container.streams.audio[0]  # the stream ffmpeg's "a:0" names
            stream.codec_context.thread_count = 1
            for i, (start, length) in enumerate(windows):
                mono, rate = _decode_window(container, stream, start, length, deadline, first=i == 0)
                pieces.append(_resample(mono, rate, max(1, round(length * SAMPLE_RATE))))
    except _Overrun as exc:
        raise CorruptAudio(
            N_("Decoding that file took far too long, so I gave up; it may be damaged."), detail=str(exc)
        ) from None
    except av.FFmpegError as exc:
        fallback = _sndfile_windows(Path(path), windows)  # e.g. Vorbis headers libav rejects
        if fallback is None:
            raise CorruptAudio(detail=f"libav: {exc}") from None
        pieces = fallback
    return tuple(Excerpt(start=float(start), samples=piece) for (start, _), piece in zip(windows, pieces) if len(piece))


def _sndfile_windows(path: Path, windows: list[tuple[float, float]]) -> list[np.ndarray] | None:
    """The windows decoded by libsndfile, for an Ogg/FLAC/WAV file libav refuses; None when
    libsndfile cannot read it either. Real Debian game music (hyperrogue-music's Vorbis files
    written by an old libVorbis) fails ffmpeg's header parsing and plays everywhere else."""
    try:
        if not _sndfile_kind(path):
            return None
        import soundfile

        pieces = []
        with soundfile.SoundFile(str(path)) as sound:
            rate = sound.samplerate
            for start, length in windows:
                sound.seek(min(max(0, round(start * rate)), sound.frames))
                block = sound.read(max(0, round(length * rate)), dtype="float32", always_2d=True)
                mono = block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]
                pieces.append(
                    _resample(np.ascontiguousarray(mono, np.float32), rate, max(1, round(length * SAMPLE_RATE)))
                )
    except Exception:  # libsndfile's errors are RuntimeError/LibsndfileError/TypeError: none decodes
        return None
    return pieces


class _Overrun(Exception):
    """A window's decode went past the deadline or its packet budget."""


def _decode_window(container, stream, start: float, length: float, deadline: float, *, first: bool):
    """Seek to a keyframe at or before ``start``, decode, and keep ``length`` seconds (plus
    :data:`_INPUT_MARGIN`) from exactly ``start`` on, downmixed to float mono at the source rate.

    The cut is made by timestamp in the source's samples, as ffmpeg's input seeking does
    (``-ss`` before ``-i``): the target is ``start`` plus the container's start time (e.g. an
    MP3's encoder delay). Returns ``(samples, rate)``; never more samples than the window's,
    whatever the file holds.
    """
    import av

    target = start + (container.start_time or 0) / 1_000_000
    try:
        container.seek(round(target * 1_000_000), backward=True, any_frame=False)
    except av.FFmpegError:
        if not first:
            raise
        # Not seekable: like ffmpeg, decode from where the demuxer is (the start, just opened).
    rate = stream.codec_context.sample_rate
    want = round((length + _INPUT_MARGIN) * rate)
    begin = round(target * rate)  # the first sample wanted, on the source's sample clock
    num, den = stream.time_base.numerator * rate, stream.time_base.denominator
    # The window's bytes, still in the decoder's sample format, one buffer per plane. Copied out of
    # each frame at once, so that libav reuses the frame's buffers (holding numpy views of them
    # cost more than the decoding itself), and as bytes: a numpy call per frame costs more still.
    # Each buffer is allocated once at the window's full size (growing a bytearray frame by frame
    # re-copies it again and again: ~40 us a frame), and a frame's samples are assigned into it
    # from a memoryview slice, the only copy (bytes(plane) would first copy the whole plane).
    kept: list[bytearray] = []
    shape = None
    have = packets = step = 0
    dtype = "<f4"
    expected = begin
    for packet in container.demux(stream):
        packets += 1  # noqa: SIM113  (`packets` is a budget, counted before any work)
        if packets > _MAX_PACKETS:
            raise _Overrun(f"more than {_MAX_PACKETS} packets in one window")
        if time.monotonic() > deadline:
            raise _Overrun("decoding timed out")
        for frame in packet.decode():
            current = (frame.format.name, frame.layout.nb_channels, frame.sample_rate)
            if shape is None:
                shape = current
                dtype, per = _frame_layout(frame)
                step = np.dtype(dtype).itemsize * per  # bytes per sample in one plane
                kept = [bytearray(want * step) for _ in range(1 if per > 1 else current[1])]
            elif current != shape:  # the stream changed its parameters: keep what came before
                have = want
                break
            at = (frame.pts * num + den // 2) // den if frame.pts is not None else expected
            expected = at + frame.samples
            skip = max(0, begin - at)
            take = min(frame.samples - skip, want - have)
            if take > 0:
                for buffer, plane in zip(kept, frame.planes):
                    piece = memoryview(plane)[skip * step : (skip + take) * step]
                    if len(piece) != take * step:  # else the assignment would resize the buffer
                        raise CorruptAudio(detail=f"a decoded frame holds fewer than its {frame.samples} samples")
                    buffer[have * step : (have + take) * step] = piece
                have += take
            if have >= want:
                break
        if have >= want:
            break
    if shape is None or not have:
        return np.zeros(0, np.float32), rate
    values = have * step // np.dtype(dtype).itemsize
    planes = [np.frombuffer(buffer, dtype, values) for buffer in kept]
    if len(planes) == 1 and shape[1] > 1:  # packed: the channels interleaved in one plane
        planes = [planes[0][c :: shape[1]] for c in range(shape[1])]
    return _mono(planes, shape[0]), shape[2]


#: numpy types of libav's sample formats, and the scale to [-1, 1) (libswresample's conversions).
_SAMPLE_TYPES = {
    "flt": ("<f4", 1.0), "dbl": ("<f8", 1.0), "s16": ("<i2", 2.0**-15), "s32": ("<i4", 2.0**-31), "u8": ("u1", 2.0**-7),
}  # fmt: skip


def _frame_layout(frame) -> tuple[str, int]:
    """The numpy type of a decoded frame's samples, and the values per sample in a plane
    (1 when each channel has its own plane, else the number of channels, interleaved)."""
    kind = frame.format.name.removesuffix("p")
    if kind not in _SAMPLE_TYPES:
        raise CorruptAudio(detail=f"unexpected decoded sample format {frame.format.name}")
    return _SAMPLE_TYPES[kind][0], 1 if frame.format.is_planar else frame.layout.nb_channels


def _mono(channels: list[np.ndarray], fmt: str) -> np.ndarray:
    """Decoded samples (one array per channel) as float32 mono: the plain average of all channels
    (as the former ``pan=mono|c0<c0+c1...`` filter did: ffmpeg's own downmix needs a known channel
    layout and does not scale the sum for float output, so a 7.1 file would peak well above 1.0).

    Each channel is converted to float32 and they are summed in float32, then scaled once (the
    integer scales are powers of two, so this is exactly "convert, scale, average")."""
    kind = fmt.removesuffix("p")
    total = channels[0].astype(np.float32)
    for channel in channels[1:]:
        total += channel if kind == "flt" else channel.astype(np.float32)
    if kind == "u8":
        total -= 128 * len(channels)
    factor = np.float32(_SAMPLE_TYPES[kind][1]) * np.float32(1 / len(channels))
    if factor != 1:
        total *= factor
    return total


def _resample(mono: np.ndarray, rate: int, n: int) -> np.ndarray:
    """Resample one window's float mono to :data:`SAMPLE_RATE` with libsoxr (the module docstring
    says why), in one call that also flushes the filter (a window cut by the end of the file keeps
    its last samples); at most ``n`` samples."""
    if not len(mono) or rate == SAMPLE_RATE:
        return mono[:n]
    import soxr  # here, with av: the bot process never decodes

    return soxr.resample(np.ascontiguousarray(mono, np.float32), rate, SAMPLE_RATE, quality="HQ")[:n]


def decode_excerpts(
    path: str | os.PathLike,
    limits: AudioLimits = AudioLimits(),
    *,
    count: int = 3,
    seconds: float = 6.0,
) -> DecodedAudio:
    """Probe ``path``, decode ``count`` analysis windows of ``seconds`` each, reject silence.

    A file that hides its length (no duration in its header: a recording written to a pipe) is
    measured by reading its packets without decoding them (:func:`playable_length`, bounded by the
    size limit already checked and a timeout), so the duration limit holds for it too and its
    windows spread over the whole track. If the windows yield far less audio than the metadata
    promised (a truncated file whose header lies), or the length cannot be measured, the start of
    the file is decoded instead and analysed for what it really holds.
    """
    info = probe(path, limits)
    if info.duration is None:
        measured = playable_length(path)
        if measured is not None and measured > 0:
            _check_duration(measured, limits)
            info = dataclasses.replace(info, duration=measured)
    windows = analysis_windows(info.duration or 0.0, count, seconds)
    excerpts: tuple[Excerpt, ...] = ()
    if windows:
        try:
            excerpts = decode_windows(path, windows, info)
        except CorruptAudio:
            excerpts = ()  # e.g. seeking into a part that is missing: retry from the start below
    wanted = sum(length for _, length in windows)
    if windows and sum(e.duration for e in excerpts) < _ENOUGH * wanted:
        # The header promised more than the file holds (a truncated file): measure what is
        # really there, show that length, and listen where the real track is.
        real = playable_length(path)
        if real is not None and real < (info.duration or 0.0) - _SLACK:
            info = dataclasses.replace(info, duration=real)
            windows = analysis_windows(real, count, seconds)
            wanted = sum(length for _, length in windows)
            try:
                excerpts = decode_windows(path, windows, info)
            except CorruptAudio:
                excerpts = ()
    if not windows or sum(e.duration for e in excerpts) < _ENOUGH * wanted:
        excerpts = _from_start(path, info, limits, count, seconds)

    decoded = sum(e.duration for e in excerpts)
    if decoded < limits.min_duration - _SLACK:
        raise TooShort(
            N_("I could only decode {decoded} of that file; it may be cut off. I need at least {minimum} of audio."),
            values={"decoded": format_duration(decoded), "minimum": format_duration(limits.min_duration)},
        )
    _check_not_silent(excerpts)
    return DecodedAudio(info=info, excerpts=excerpts)


def playable_length(path: str | os.PathLike) -> float | None:
    """Where the audio really ends (seconds): the end of its last packet, read without decoding.

    Only for files whose windows came back short or whose header hides the length: demuxing costs
    a few hundred ms per hour of MP3, and ffprobe's lines are read as they come, so memory stays
    flat however many packets there are. None when ffprobe fails, finds no packet or runs past
    :data:`PROBE_TIMEOUT`.
    """
    command = [
        get_prober_name(), "-hide_banner", "-v", "error", *_SAFE_INPUT, "-select_streams", "a:0",
        "-show_entries", "packet=pts_time,duration_time", "-of", "csv=p=0", _file_url(Path(path)),
    ]  # fmt: skip
    offset, end, found = 0.0, 0.0, False
    with subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    ) as prober:
        assert prober.stdout is not None
        timer = threading.Timer(PROBE_TIMEOUT, prober.kill)  # a prober past its time ends the loop
        timer.start()
        try:
            for raw in prober.stdout:  # one line at a time: memory stays flat
                fields = [_float(f) for f in raw.decode("ascii", "replace").strip().split(",")[:2]]
                if not fields or fields[0] is None:
                    continue
                stop = fields[0] + (fields[1] if len(fields) > 1 and fields[1] is not None else 0.0)
                if found and stop < end - 1.0:  # timestamps restart: the next stream of a chained Ogg
                    offset += end
                    end = 0.0
                end, found = max(end, stop), True
        finally:
            timed_out = not timer.is_alive()
            timer.cancel()
    if timed_out:
        return None
    return offset + end if found else None


def _from_start(
    path: str | os.PathLike, info: AudioInfo, limits: AudioLimits, count: int, seconds: float
) -> tuple[Excerpt, ...]:
    """Decode the first ``count * seconds`` and cut analysis windows out of what is really there."""
    head = decode_windows(path, [(0.0, count * seconds)], info)
    if not head:
        raise CorruptAudio(
            N_("I couldn't decode any sound from that file; it seems damaged or cut off."),
            detail=f"no samples decoded from {info.format_name}/{info.codec}",
        )
    samples = head[0].samples
    real = len(samples) / SAMPLE_RATE
    if real < limits.min_duration - _SLACK:
        return head
    return tuple(
        Excerpt(start=start, samples=samples[round(start * SAMPLE_RATE) : round((start + length) * SAMPLE_RATE)])
        for start, length in analysis_windows(real, count, seconds)
    )


def _check_not_silent(excerpts: tuple[Excerpt, ...]) -> None:
    # A constant (DC) offset is inaudible: some real tracks carry one, and so might a "silent" file.
    audio = np.concatenate([e.samples - np.mean(e.samples, dtype=np.float64) for e in excerpts])
    peak = float(np.max(np.abs(audio)))
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    if peak < SILENCE_PEAK or rms < SILENCE_RMS:
        raise SilentAudio(
            N_("That audio is silent (no sound at all where I listened), so there's nothing to analyse.")
            if peak == 0
            else N_("That audio is silent (a level of {level} dBFS where I listened), so there's nothing to analyse."),
            values={"level": f"{20 * math.log10(max(rms, 1e-12)):.0f}"},
        )
