"""The voice path, tested as far as it can run here.

What runs for real: ffmpeg decoding real Debian tracks into discord.py's 20-ms PCM frames
(``track_source``), and the queue logic of ``SessionPlayer`` driven by a real player thread that
reads those frames and calls ``after`` the way discord.py's ``AudioPlayer`` does.

What does not run here: a real ``VoiceClient``; ``LinkStandIn`` below stands in for the voice
connection, and Opus encoding/sending is not exercised. The real bot in voice, through the fake
Discord's voice server (``FakeDiscord(voice=True)``: voice websocket, UDP, decrypted RTP; no DAVE),
is tested end to end in tests/e2e/test_voice_e2e.py and tests/e2e/test_voice_controls_e2e.py.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import discord
import numpy as np
import pytest
from pydub import AudioSegment

from cogs.sessions import player as voice
from cogs.sessions.player import FRAME_BYTES, IdleWatcher, NoAudio, SessionPlayer, connect_voice, track_source
from tests.music import convert, singularity_track

FRAMES_PER_SECOND = 50  # 20-ms frames
CUT_SECONDS = 6.0


# -- real music ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def voice_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("voice")


@pytest.fixture(scope="module")
def track(voice_dir) -> Path:
    """A 6-s Ogg Vorbis cut of a real track (44.1 kHz: ffmpeg must resample it to 48 kHz)."""
    return convert(
        singularity_track("Aberrations"), voice_dir / "aberrations.ogg",
        "-ss", "30", "-t", str(CUT_SECONDS), "-ar", "44100", "-c:a", "libvorbis", "-q:a", "4",
    )  # fmt: skip


@pytest.fixture(scope="module")
def queue_cuts(voice_dir) -> list[Path]:
    """Three 2-s cuts of three different real tracks, in three formats."""
    cuts = [("Awakening", ".mp3", ("-c:a", "libmp3lame")), ("Coherence", ".ogg", ("-c:a", "libvorbis")),
            ("Enemy Unknown", ".flac", ("-c:a", "flac"))]  # fmt: skip
    return [
        convert(
            singularity_track(name),
            voice_dir / f"{name.replace(' ', '-').lower()}{suffix}",
            "-ss",
            "20",
            "-t",
            "2",
            *args,
        )
        for name, suffix, args in cuts
    ]


@pytest.fixture(scope="module")
def not_audio(voice_dir) -> Path:
    path = voice_dir / "not-audio.ogg"
    path.write_text("this is a text file, not an Ogg stream\n" * 50)
    return path


def ffmpeg_decode(path: Path, *args: str) -> bytes:
    command = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), *args, "pipe:1"]
    return subprocess.run(command, check=True, capture_output=True).stdout


def read_all(source: discord.AudioSource) -> list[bytes]:
    frames = []
    while frame := source.read():
        frames.append(frame)
    return frames


def as_float(frames: list[bytes]) -> np.ndarray:
    """Stereo s16le frames -> (samples, 2) float in [-1, 1]."""
    return np.frombuffer(b"".join(frames), dtype="<i2").reshape(-1, 2).astype(np.float64) / 32768


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples**2)))


# -- track_source: real PCM frames from ffmpeg ----------------------------------------------


def test_track_source_yields_20ms_frames_for_the_whole_track(track):
    source = track_source(track)
    try:
        frames = read_all(source)
    finally:
        source.cleanup()
    assert isinstance(source, discord.PCMVolumeTransformer)
    assert isinstance(source.original, discord.FFmpegPCMAudio)
    assert FRAME_BYTES == 3840 == 48000 // FRAMES_PER_SECOND * 2 * 2
    # every frame is whole (FFmpegPCMAudio drops a partial last frame rather than yield it)
    assert all(len(f) == FRAME_BYTES for f in frames)
    assert abs(len(frames) - CUT_SECONDS * FRAMES_PER_SECOND) <= 2
    # ffmpeg's own 48-kHz stereo decode of the same file holds as many whole frames
    reference = ffmpeg_decode(track, "-f", "s16le", "-ar", "48000", "-ac", "2")
    assert abs(len(frames) - len(reference) / FRAME_BYTES) <= 2


def test_track_source_pcm_is_the_music_not_silence(track):
    source = track_source(track, volume=1.0)
    try:
        pcm = as_float(read_all(source))
    finally:
        source.cleanup()
    assert rms(pcm) > 0.03  # real music, well above silence (-30 dBFS)
    assert not np.allclose(pcm[:, 0], pcm[:, 1])  # both channels of a stereo track
    # downmixed, it correlates with an independent ffmpeg decode (mono float, 48 kHz)
    mono = np.frombuffer(ffmpeg_decode(track, "-f", "f32le", "-ar", "48000", "-ac", "1"), dtype="<f4")
    n = min(len(mono), len(pcm))
    assert n > 0.95 * CUT_SECONDS * 48000
    correlation = np.corrcoef(pcm[:n].mean(axis=1), mono[:n])[0, 1]
    assert correlation > 0.99


def test_volume_half_halves_the_rms(track):
    def level(volume: float) -> float:
        source = track_source(track, volume=volume)
        try:
            return rms(as_float(read_all(source)))
        finally:
            source.cleanup()

    full, half = level(1.0), level(0.5)
    assert half / full == pytest.approx(0.5, rel=0.10)
    assert track_source.__kwdefaults__["volume"] == 0.5


def test_track_source_runs_the_decoders_ffmpeg_and_cleanup_ends_it(track):
    source = track_source(track)
    process = source.original._process
    assert process.args[0] == AudioSegment.converter
    assert "-nostdin" in process.args and "-vn" in process.args
    assert process.args[process.args.index("-i") + 1] == str(track.absolute())
    for _ in range(5):  # mid-track, ffmpeg still running
        assert len(source.read()) == FRAME_BYTES
    assert process.poll() is None
    source.cleanup()
    assert process.poll() is not None  # killed and reaped: no ffmpeg left behind
    assert not Path(f"/proc/{process.pid}").exists() or _not_ffmpeg(process.pid)


def _not_ffmpeg(pid: int) -> bool:
    """The pid was reused by something else (the ffmpeg process itself is gone)."""
    try:
        return "ffmpeg" not in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return True


def test_track_source_cleanup_after_the_end_leaves_no_process(track):
    source = track_source(track)
    process = source.original._process
    read_all(source)
    source.cleanup()
    assert process.poll() is not None


def test_a_file_that_is_not_audio_raises_instead_of_ending_silently(not_audio):
    source = track_source(not_audio)
    try:
        with pytest.raises(NoAudio, match="not-audio.ogg"):
            source.read()
    finally:
        source.cleanup()


@pytest.mark.parametrize(
    "url", ["https://example.com/a.mp3", "http://127.0.0.1/x", "concat:a.ogg|b.ogg", "file:/etc/passwd"]
)
def test_track_source_refuses_urls_and_protocols(url):
    with pytest.raises(ValueError, match="not a local file"):
        track_source(url)


# -- SessionPlayer: the queue advances on track end -----------------------------------------


class LinkStandIn:
    """Stand-in for ``discord.VoiceClient``: the fake Discord has no voice server, so no real
    VoiceClient can connect here.

    ``play`` behaves like discord.py's ``AudioPlayer`` thread: a real thread reads the source
    frame by frame until it returns ``b""`` (optionally paced by ``frame_delay`` instead of
    real time), or until ``stop()``; an exception from the source ends the track; then it calls
    ``after(error)`` on that thread and cleans the source up. Frames are counted, not sent.
    """

    def __init__(self, frame_delay: float = 0.0):
        self.frame_delay = frame_delay
        self.channel: Any = SimpleNamespace(members=[])  # the voice channel, nobody in it
        self.played: list[tuple[Path, int, Exception | None]] = []  # (path, frames, error)
        self.disconnected = False
        self._end = threading.Event()
        self._end.set()
        self._resumed = threading.Event()  # cleared while paused, as AudioPlayer's
        self._resumed.set()
        self.threads: list[threading.Thread] = []

    def play(self, source, *, after):
        if self.disconnected:
            raise discord.ClientException("Not connected to voice.")
        if self.is_playing():
            raise discord.ClientException("Already playing audio.")
        self._end = end = threading.Event()
        self._resumed.set()
        thread = threading.Thread(target=self._run, args=(source, after, end), daemon=True)
        self.threads.append(thread)
        thread.start()

    def _run(self, source, after, end: threading.Event):
        frames, error = 0, None
        try:
            while not end.is_set():
                if not self._resumed.is_set():  # paused: nothing read, nothing sent
                    self._resumed.wait(0.01)
                    continue
                data = source.read()
                if not data:
                    break
                assert len(data) == FRAME_BYTES
                frames += 1
                if self.frame_delay:
                    time.sleep(self.frame_delay)
        except Exception as exc:
            error = exc
        finally:
            end.set()  # AudioPlayer.stop(): no longer playing when `after` runs
            self.played.append((getattr(source, "path", None), frames, error))
            try:
                after(error)
            except Exception:
                logging.getLogger(__name__).exception("after failed")
            source.cleanup()

    def is_playing(self) -> bool:  # False while paused, as discord.py's
        return not self._end.is_set() and self._resumed.is_set()

    def is_paused(self) -> bool:
        return not self._end.is_set() and not self._resumed.is_set()

    def is_connected(self) -> bool:
        return not self.disconnected

    def pause(self) -> None:
        self._resumed.clear()

    def resume(self) -> None:
        self._resumed.set()

    def stop(self) -> None:
        self._end.set()
        self._resumed.set()

    async def disconnect(self, *, force: bool = False) -> None:
        self.stop()
        self.disconnected = True

    def drop(self) -> None:
        """Disconnected from outside, as discord.py does it: not connected any more, then the
        source is stopped (its ``after`` runs as if the track had ended)."""
        self.disconnected = True
        self.stop()


class Session:
    """The session side: a queue of paths and a record of now-playing updates."""

    def __init__(self, paths):
        self.queue = list(paths)
        self.started: list[Path] = []
        self.asked = 0

    async def next_track(self):
        self.asked += 1
        return self.queue.pop(0) if self.queue else None

    async def on_track_start(self, path: Path) -> None:
        self.started.append(path)


def make_player(link, session, **kwargs) -> SessionPlayer:
    return SessionPlayer(link, asyncio.get_running_loop(), session.next_track, session.on_track_start, **kwargs)


async def finish(player: SessionPlayer, link: LinkStandIn, timeout: float = 30) -> None:
    await asyncio.wait_for(player.finished.wait(), timeout)
    for thread in link.threads:
        thread.join(5)


def full_frames(path: Path) -> int:
    source = track_source(path)
    try:
        return len(read_all(source))
    finally:
        source.cleanup()


async def test_player_plays_the_whole_queue_in_order_then_stops(queue_cuts):
    link, session = LinkStandIn(), Session(queue_cuts)
    player = make_player(link, session)
    await player.start()
    await finish(player, link)

    assert session.started == queue_cuts  # on_track_start once per track, in order
    assert [p for p, _, _ in link.played] == [p.absolute() for p in queue_cuts]
    expected = [full_frames(p) for p in queue_cuts]
    assert [frames for _, frames, _ in link.played] == expected
    assert all(abs(n - 2 * FRAMES_PER_SECOND) <= 2 for n in expected)  # every 2-s cut played whole
    assert all(error is None for _, _, error in link.played)
    assert session.asked == 4  # three tracks, then None
    assert player.current is None and not link.is_playing()
    assert not link.disconnected  # idle, still in the channel: start() again resumes


async def test_start_again_resumes_when_tracks_are_added(queue_cuts):
    link, session = LinkStandIn(), Session(queue_cuts[:1])
    player = make_player(link, session)
    await player.start()
    await finish(player, link)
    session.queue.append(queue_cuts[1])
    await player.start()
    await finish(player, link)
    assert session.started == queue_cuts[:2]


async def test_skip_moves_on_mid_track(queue_cuts):
    link, session = LinkStandIn(frame_delay=0.004), Session(queue_cuts)  # ~0.4 s per 2-s cut
    player = make_player(link, session)
    await player.start()
    assert link.is_playing() and player.current == queue_cuts[0]
    await asyncio.sleep(0.05)
    await player.skip()
    await finish(player, link)

    assert session.started == queue_cuts
    frames = [n for _, n, _ in link.played]
    assert 0 < frames[0] < full_frames(queue_cuts[0]) // 2  # cut short
    assert frames[1:] == [full_frames(p) for p in queue_cuts[1:]]  # the rest played whole


async def test_a_track_that_fails_is_logged_and_the_player_moves_on(queue_cuts, not_audio, caplog):
    link, session = LinkStandIn(), Session([queue_cuts[0], not_audio, queue_cuts[1]])
    player = make_player(link, session)
    with caplog.at_level(logging.ERROR, logger="cogs.sessions.player"):
        await player.start()
        await finish(player, link)

    assert session.started == [queue_cuts[0], not_audio, queue_cuts[1]]
    (path, frames, error) = link.played[1]
    assert path == not_audio.absolute() and frames == 0 and isinstance(error, NoAudio)
    assert [n > 0 for _, n, _ in link.played] == [True, False, True]
    failures = [r for r in caplog.records if "not-audio.ogg" in r.getMessage()]
    assert failures and failures[0].exc_info[1] is error


async def test_a_track_that_cannot_be_opened_is_skipped(queue_cuts, caplog):
    link, session = LinkStandIn(), Session(["https://example.com/a.mp3", queue_cuts[0]])
    player = make_player(link, session)
    with caplog.at_level(logging.ERROR, logger="cogs.sessions.player"):
        await player.start()
        await finish(player, link)
    assert session.started == [queue_cuts[0]]
    assert any("cannot open" in r.getMessage() for r in caplog.records)


async def test_stop_ends_playback_and_leaves(queue_cuts):
    link, session = LinkStandIn(frame_delay=0.004), Session(queue_cuts)
    player = make_player(link, session)
    await player.start()
    await player.stop()
    await finish(player, link)
    assert link.disconnected and player.current is None
    assert session.started == queue_cuts[:1]  # the after-callback of the stopped track does not advance
    assert len(link.played) == 1


async def test_start_while_playing_does_not_start_a_second_track(queue_cuts):
    link, session = LinkStandIn(frame_delay=0.004), Session(queue_cuts)
    player = make_player(link, session)
    await player.start()
    await player.start()
    assert session.started == queue_cuts[:1] and session.asked == 1
    await player.stop()
    await finish(player, link)


# -- idle watcher ---------------------------------------------------------------------------


async def test_idle_watcher_leaves_after_the_timeout_with_nobody_listening():
    left = asyncio.Event()
    watcher = IdleWatcher(lambda: 0, _setter(left), idle_timeout=0.2, interval=0.02)
    began = time.monotonic()
    watcher.start()
    await asyncio.wait_for(left.wait(), 5)
    assert time.monotonic() - began >= 0.2
    assert watcher.left


async def test_idle_watcher_stays_while_someone_listens():
    left = asyncio.Event()
    watcher = IdleWatcher(lambda: 1, _setter(left), idle_timeout=0.1, interval=0.02)
    task = watcher.start()
    await asyncio.sleep(0.5)
    assert not left.is_set() and not watcher.left
    watcher.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_idle_watcher_clock_restarts_when_the_last_listener_leaves():
    listeners = [1]
    left = asyncio.Event()
    watcher = IdleWatcher(lambda: listeners[0], _setter(left), idle_timeout=0.2, interval=0.02)
    watcher.start()
    await asyncio.sleep(0.3)
    assert not left.is_set()
    listeners[0] = 0
    emptied = time.monotonic()
    await asyncio.wait_for(left.wait(), 5)
    assert time.monotonic() - emptied >= 0.2


async def test_session_player_disconnects_when_idle(queue_cuts):
    link, session = LinkStandIn(frame_delay=0.004), Session(queue_cuts)
    player = make_player(link, session)
    await player.start()
    watcher = player.watch_idle(lambda: 0, idle_timeout=0.1)
    await asyncio.wait_for(player.finished.wait(), 5)
    await asyncio.sleep(0.05)
    assert watcher.left and link.disconnected
    await finish(player, link)
    assert session.started == queue_cuts[:1]


def test_idle_timeout_is_a_setting():
    from bot.config import Settings

    assert Settings.voice_idle_timeout > 0


def test_human_listeners_counts_people_who_can_hear():
    def member(bot=False, deaf=False, self_deaf=False):
        return SimpleNamespace(bot=bot, voice=SimpleNamespace(deaf=deaf, self_deaf=self_deaf))

    channel = SimpleNamespace(members=[member(bot=True), member(), member(self_deaf=True), member(deaf=True), member()])
    assert voice.human_listeners(channel) == 2
    assert voice.human_listeners(SimpleNamespace(members=[member(bot=True)])) == 0


def _setter(event: asyncio.Event):
    async def leave():
        event.set()

    return leave


# -- connect_voice --------------------------------------------------------------------------


def voice_channel(**permissions):
    """The little of a discord.VoiceChannel that connect_voice looks at."""
    me = SimpleNamespace(id=1)
    channel = SimpleNamespace(
        name="listening",
        guild=SimpleNamespace(me=me, voice_client=None),
        members=[],
        user_limit=0,
        connect=mock.AsyncMock(return_value="voice-client"),
    )
    granted = discord.Permissions(**{"connect": True, "speak": True, **permissions})
    channel.permissions_for = lambda member: granted if member is me else discord.Permissions.none()
    return channel


def test_voice_dependencies_are_installed():
    assert voice.voice_unavailable() is None  # PyNaCl, davey, libopus


async def test_connect_voice_returns_none_without_connect_permission(caplog):
    channel = voice_channel(connect=False)
    with caplog.at_level(logging.WARNING, logger="cogs.sessions.player"):
        assert await connect_voice(channel) is None
    channel.connect.assert_not_awaited()
    assert "missing connect" in caplog.text


async def test_connect_voice_returns_none_without_speak_permission():
    channel = voice_channel(speak=False)
    assert await connect_voice(channel) is None
    channel.connect.assert_not_awaited()
    assert voice.missing_voice_permissions(channel, channel.guild.me) == ["speak"]


async def test_connect_voice_returns_none_in_a_full_channel():
    channel = voice_channel()
    channel.user_limit, channel.members = 2, [object(), object()]
    assert await connect_voice(channel) is None
    channel.user_limit = 3
    assert await connect_voice(channel) == "voice-client"


async def test_connect_voice_connects_with_permission():
    channel = voice_channel()
    assert await connect_voice(channel, timeout=3) == "voice-client"
    channel.connect.assert_awaited_once_with(timeout=3, reconnect=True, self_deaf=True)


async def test_connect_voice_returns_none_on_timeout_or_failure(caplog):
    channel = voice_channel()
    channel.connect.side_effect = TimeoutError()
    with caplog.at_level(logging.WARNING, logger="cogs.sessions.player"):
        assert await connect_voice(channel, timeout=1) is None
    assert "timed out" in caplog.text
    channel.connect.side_effect = discord.ClientException("Already connected to a voice channel.")
    assert await connect_voice(channel) is None


async def test_connect_voice_returns_none_without_voice_libraries(monkeypatch):
    from discord import voice_state

    monkeypatch.setattr(voice_state, "has_dave", False)
    channel = voice_channel()
    assert await connect_voice(channel) is None
    channel.connect.assert_not_awaited()


async def test_skip_on_an_idle_player_starts_the_next_track(queue_cuts):
    link, session = LinkStandIn(), Session(queue_cuts[:1])
    player = make_player(link, session)
    await player.start()
    await finish(player, link)  # the queue ran dry: idle, still connected
    session.queue.append(queue_cuts[1])
    await player.skip()  # /session next: nothing to cut short, so it starts what comes next
    await finish(player, link)
    assert session.started == queue_cuts[:2]


async def test_leaving_an_idle_channel_tells_the_session(queue_cuts):
    link, session = LinkStandIn(frame_delay=0.004), Session(queue_cuts)
    player = make_player(link, session)
    told = asyncio.Event()

    async def on_leave() -> None:
        assert link.disconnected  # told after leaving, so the session can fall back to text
        told.set()

    await player.start()
    player.watch_idle(lambda: 0, idle_timeout=0.1, on_leave=on_leave)
    await asyncio.wait_for(told.wait(), 5)
    await finish(player, link)


async def test_guild_voice_close_stops_the_player_leaves_and_removes_its_downloads(queue_cuts):
    link, session = LinkStandIn(frame_delay=0.02), Session(queue_cuts)
    guild_voice = voice.GuildVoice(7, make_player(link, session))
    directory = guild_voice.directory
    assert directory is not None and directory.is_dir()
    (directory / "track.ogg").write_bytes(b"downloaded")
    await guild_voice.player.start()
    assert link.is_playing()
    await guild_voice.close()
    assert link.disconnected and not link.is_playing() and guild_voice.player.finished.is_set()
    assert not directory.exists() and guild_voice.directory is None
    await guild_voice.close()  # twice is harmless (the idle watcher may have left already)


# -- disconnected from outside, and the controls -----------------------------------------------


async def test_disconnected_from_outside_uses_up_no_track_and_says_so_once(queue_cuts):
    link, session = LinkStandIn(frame_delay=0.004), Session(queue_cuts)
    lost = []

    async def on_disconnected() -> None:
        lost.append(len(session.queue))

    player = make_player(link, session, on_disconnected=on_disconnected)
    await player.start()
    assert session.asked == 1 and link.is_playing()
    link.drop()  # a moderator disconnects the bot mid-track
    await finish(player, link)
    for _ in range(100):
        if lost:
            break
        await asyncio.sleep(0.01)
    # The player never asked for the next track: the interrupted one stays the session's.
    assert lost == [2] and session.asked == 1 and session.queue == queue_cuts[1:]
    assert player.stopped and player.current is None
    await player.connection_lost()  # the voice-state event arriving too: told once
    await player.start()  # nothing is asked of a lost connection
    assert lost == [2] and session.asked == 1


async def test_losing_voice_between_the_next_track_and_playing_it_keeps_that_track(queue_cuts):
    link, session = LinkStandIn(), Session(queue_cuts)
    lost = asyncio.Event()

    async def next_track():
        link.disconnected = True  # gone while the file was being fetched
        return await session.next_track()

    async def on_disconnected() -> None:
        lost.set()

    player = SessionPlayer(
        link, asyncio.get_running_loop(), next_track, session.on_track_start, on_disconnected=on_disconnected
    )
    await player.start()
    await asyncio.wait_for(lost.wait(), 5)
    assert session.started == [] and player.current is None and player.stopped


async def test_pause_silences_and_resume_goes_on_from_there(queue_cuts):
    link, session = LinkStandIn(frame_delay=0.005), Session(queue_cuts[:1])
    player = make_player(link, session)
    assert not player.pause() and not player.resume()  # nothing plays yet
    await player.start()
    await asyncio.sleep(0.1)
    assert player.pause() and player.paused and not player.pause()
    await asyncio.sleep(0.05)
    frames = player._playing.frames
    await asyncio.sleep(0.3)
    assert player._playing.frames == frames  # paused: not one frame read
    assert abs(player.elapsed - frames * 0.02) < 1e-9
    await player.start()  # a /session add while paused does not start a second track
    assert session.asked == 1 and player.paused
    assert player.resume() and not player.paused
    await asyncio.sleep(0.2)
    assert player._playing.frames > frames + 10  # going on from there
    await finish(player, link)
    assert link.played[0][1] == full_frames(queue_cuts[0])  # the whole track, nothing lost


async def test_skip_while_paused_moves_on(queue_cuts):
    link, session = LinkStandIn(frame_delay=0.005), Session(queue_cuts[:2])
    player = make_player(link, session)
    await player.start()
    await asyncio.sleep(0.05)
    player.pause()
    await player.skip()
    for _ in range(200):
        if len(session.started) == 2:
            break
        await asyncio.sleep(0.01)
    assert session.started == queue_cuts[:2] and not player.paused
    await player.stop()


async def test_volume_applies_to_the_playing_track_and_the_next(queue_cuts):
    link, session = LinkStandIn(frame_delay=0.005), Session(queue_cuts[:2])
    player = make_player(link, session, volume=voice.volume_factor(100))
    assert voice.volume_factor(100) == 0.5 and voice.volume_factor(200) == 1.0 and voice.volume_factor(0) == 0.0
    await player.start()
    player.set_volume(voice.volume_factor(40))
    assert player._playing.volume == pytest.approx(0.2)
    await player.skip()
    await asyncio.sleep(0.1)
    assert player._playing.volume == pytest.approx(0.2)
    await player.stop()


def test_progress_bar_shows_elapsed_and_total():
    from cogs.render import clock, progress_bar

    assert clock(65) == "1:05" and clock(3723) == "1:02:03"
    bar = progress_bar(30, 120, width=8)
    assert bar == "0:30 ▬▬🔘───── 2:00"
    assert progress_bar(500, 120, width=8).startswith("2:00 ▬▬▬▬▬▬▬🔘")
    assert progress_bar(5, 0, width=4) == "0:05 🔘─── 0:00"


async def test_the_session_keeps_the_cut_short_track_and_carries_on_in_text(tmp_path, queue_cuts):
    """The cog's side (cogs.sessions.playback): disconnected from outside mid-track, the session
    tells its channel, keeps the track as its now-playing entry (its link posted), leaves no
    player behind, and the next /session next plays the tracks not yet heard, in order."""
    from bot.app.sessions import SessionService
    from bot.store import open_database
    from cogs.sessions import Sessions
    from tests.test_session import GUILD, HOST, TEXT, VOICE, add_clustered_tracks

    async with open_database(tmp_path / "crate.sqlite3") as db:
        service = SessionService(db)
        ids = await add_clustered_tracks(db, GUILD)
        session = await service.start(GUILD, TEXT, HOST, VOICE)
        first, second, third = (
            await service.add_track(session, ids["jazz"][0], HOST),
            await service.add_track(session, ids["jazz"][1], HOST),
            await service.add_track(session, ids["jazz"][2], HOST),
        )  # fmt: skip
        await service.start_playing(session)
        await service.set_now_playing_message(session, 555)

        sent: list[str] = []
        message = SimpleNamespace(edit=mock.AsyncMock())

        async def send(content=None, **kwargs):
            sent.append(content)

        channel = mock.NonCallableMock(discord.TextChannel)  # a text channel: Crate posts only where messages go
        channel.configure_mock(send=send, get_partial_message=lambda _: message, mention="#text")
        guild = SimpleNamespace(
            id=GUILD, get_channel_or_thread=lambda _: channel, voice_client=None, preferred_locale="en-US"
        )
        channel.guild = guild
        crate = SimpleNamespace(
            sessions=service,
            members=SimpleNamespace(display_names=mock.AsyncMock(return_value={})),
            sharing=SimpleNamespace(
                source_url=mock.AsyncMock(return_value="https://example.org/jazz/0"),
                fetch_for_playback=mock.AsyncMock(side_effect=lambda track, directory: queue_cuts[0]),
            ),
        )
        bot = SimpleNamespace(crate=crate, get_guild=lambda _: guild, user=SimpleNamespace(id=999))
        cog = Sessions(bot)
        link = LinkStandIn(frame_delay=0.01)
        cog._start_player(session, link, None)
        await cog._kick_player(session)
        assert link.is_playing() and cog._voice(session).playing_entry == first.id

        link.drop()  # a moderator disconnects Crate
        for _ in range(1000):  # told, then the kept track's link
            if len(sent) >= 2:
                break
            await asyncio.sleep(0.01)
        assert cog.voices == {} and link.disconnected
        told = sent[0]
        assert "disconnected from voice" in told and "carries on in text" in told
        assert "is kept" in told and "Jazz 1" in told
        assert any("Now playing **Jazz 1**" in line and "https://example.org/jazz/0" in line for line in sent[1:])
        assert (await service.now_playing(session)).id == first.id  # not used up
        assert [e.id for e in (await service.queue_view(session)).upcoming] == [second.id, third.id]
        board = message.edit.await_args.kwargs["view"]  # a Components V2 card
        footer = "\n".join(c.content for c in board.walk_children() if isinstance(c, discord.ui.TextDisplay))
        assert "text session" in footer  # the now-playing message no longer says "playing in voice"

        assert (await cog.move_on(session, HOST, guild)).endswith("**Jazz 2**.")
        assert (await cog.move_on(session, HOST, guild)).endswith("**Jazz 3**.")
        for guild_voice in list(cog.voices.values()):
            await guild_voice.close()
