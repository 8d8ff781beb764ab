"""What one playing session costs, and how many one process sustains, without Discord.

    python benchmarks/voice.py [--seconds 20] [--max-sessions 32] [--quick]

Each session does what discord.py's ``AudioPlayer`` thread does for Crate's player: read 20-ms
frames of 48-kHz stereo PCM from the source Crate plays (``cogs.sessions.player.track_source``:
ffmpeg decoding through ``FFmpegPCMAudio``, under ``PCMVolumeTransformer``), encode each with
``discord.opus.Encoder`` (as ``VoiceClient.send_audio_packet`` does) and wait for the frame's
time, 50 frames a second, in a thread of its own; the packet is dropped instead of encrypted and
sent. A track that ends is opened again (the next track).

Figures: for one session, the CPU it takes (this process's threads plus its ffmpeg, in per cent
of one core) and the memory (this process's RSS growth plus ffmpeg's RSS); then N = 1, 2, 4, …
sessions at once, each counting its *late* frames (sent more than one frame, 20 ms, after the
frame's due time: a gap a listener may hear), until some are late; the most sessions with no late
frame is what one process sustains here. ``--quick`` (the test suite) runs 2 s with 1 and 2
sessions. The figures depend on the machine and on what else runs on it: the load average is
printed with them.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import discord  # noqa: E402

from cogs.sessions.player import FRAME_SECONDS, track_source, voice_unavailable  # noqa: E402

TRACK = ROOT / "examples" / "singularity-awakening.ogg"
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Played:
    frames: int = 0
    late: int = 0
    worst_lateness: float = 0.0
    bytes_out: int = 0
    ffmpeg_cpu: float = 0.0  # seconds, of every ffmpeg this session ran
    ffmpeg_rss: int = 0  # bytes, the largest
    errors: list[str] = field(default_factory=list)


def _proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a live process (0 once gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def _proc_rss(pid: int | str = "self") -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except OSError:
        return 0


def play(seconds: float, played: Played, start: threading.Event) -> None:
    """One session: AudioPlayer's loop (read, encode, wait for the frame's time)."""
    encoder = discord.opus.Encoder()
    source = track_source(TRACK)
    start.wait()
    began = time.perf_counter()
    loops = 0
    try:
        while loops * FRAME_SECONDS < seconds:
            data = source.read()
            if not data:  # the next track
                _close(source, played)
                source = track_source(TRACK)
                data = source.read()
            pid = getattr(source.original, "_process", None)
            if pid is not None and loops % 50 == 0:
                played.ffmpeg_rss = max(played.ffmpeg_rss, _proc_rss(pid.pid))
            played.bytes_out += len(encoder.encode(data, encoder.SAMPLES_PER_FRAME))
            played.frames += 1
            loops += 1
            due = began + loops * FRAME_SECONDS
            now = time.perf_counter()
            lateness = now - due
            if lateness > FRAME_SECONDS:
                played.late += 1
            played.worst_lateness = max(played.worst_lateness, lateness)
            time.sleep(max(0.0, due - now))
    except Exception as error:  # a figure, not a crash: the test reads it
        played.errors.append(repr(error))
    finally:
        _close(source, played)


def _close(source, played: Played) -> None:
    process = getattr(source.original, "_process", None)
    if process is not None:
        played.ffmpeg_cpu += _proc_cpu(process.pid)
    source.cleanup()


def run(sessions: int, seconds: float) -> tuple[list[Played], float, int]:
    """``sessions`` at once for ``seconds``: what each played, this process's CPU seconds, and its
    RSS growth."""
    rss_before = _proc_rss()
    start = threading.Event()
    played = [Played() for _ in range(sessions)]
    threads = [threading.Thread(target=play, args=(seconds, p, start), daemon=True) for p in played]
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # every ffmpeg started
    cpu_before = time.process_time()
    peak = _proc_rss()
    start.set()
    while any(t.is_alive() for t in threads):
        time.sleep(0.25)
        peak = max(peak, _proc_rss())
    cpu = time.process_time() - cpu_before
    return played, cpu, peak - rss_before


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each run plays")
    parser.add_argument("--max-sessions", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="2 s, 1 and 2 sessions (the test suite)")
    args = parser.parse_args(argv)
    seconds, most = (2.0, 2) if args.quick else (args.seconds, args.max_sessions)
    missing = voice_unavailable()
    if missing is not None:
        print(f"voice can't run here: {missing}")
        return 2
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; {seconds:g} s per run")

    played, cpu, rss = run(1, seconds)
    (one,) = played
    share = (cpu + one.ffmpeg_cpu) / seconds * 100
    print(
        f"one session: {one.frames} frames in {seconds:g} s ({one.frames / seconds:.1f}/s), "
        f"{one.late} late; CPU {share:.1f} % of a core (Python: decode reads + opus {cpu / seconds * 100:.1f} %, "
        f"ffmpeg {one.ffmpeg_cpu / seconds * 100:.1f} %); memory {rss / 2**20:.1f} MB in the bot process "
        f"+ {one.ffmpeg_rss / 2**20:.1f} MB ffmpeg (RSS, its shared libraries included); opus {one.bytes_out * 8 / seconds / 1000:.0f} kbit/s"
    )
    sustained, sessions = 0, 1
    errors = list(one.errors)
    while sessions <= most:
        played, cpu, rss = run(sessions, seconds)
        frames = sum(p.frames for p in played)
        late = sum(p.late for p in played)
        worst = max(p.worst_lateness for p in played)
        errors += [e for p in played for e in p.errors]
        print(
            f"{sessions:3d} sessions: {frames} frames, {late} late (worst {max(0.0, worst) * 1000:.0f} ms behind), "
            f"CPU of this process {cpu / seconds * 100:.0f} %, RSS +{rss / 2**20:.0f} MB"
        )
        if late:
            break
        sustained = sessions
        sessions *= 2
    if errors:
        print(f"errors: {errors[:3]}")
        return 1
    print(
        f"sustained with no late frame: {sustained} session(s)"
        + (f" (the most tried: {most})" if sustained >= most else "")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
