"""Voice playback for listening sessions: a session's queue played in one voice channel.

The Discord layer only: ``SessionPlayer`` plays the local files the session hands it, one after
the other, through discord.py's ``VoiceClient``; ``IdleWatcher`` leaves when nobody is listening;
``connect_voice`` joins a channel or says why it can't (the session then stays text-only);
``GuildVoice`` is a guild's one voice connection: the player, the session it plays for, the entry
it is on and the scratch directory its downloads go to.

Threads: discord.py plays a source on its own ``AudioPlayer`` thread (20-ms frames of 48-kHz
stereo s16le PCM read from ffmpeg) and calls ``after(error)`` on that thread when the source
ends, fails or is stopped. ``SessionPlayer`` never touches its state there: it hands control
back to the event loop with ``asyncio.run_coroutine_threadsafe`` (discord.py FAQ, "How do I pass
a coroutine to the player's after function?").

Disconnected from outside (a moderator, a deleted channel, discord.py giving up a reconnect),
discord.py stops the source, so ``after`` runs as if the track had ended: the player checks the
connection before asking for the next track, and tells ``on_disconnected`` instead, so the track
that was cut short is not counted as heard.

Crate only plays files it downloaded itself (the download path carries the SSRF guard), never a
user's URL straight into ffmpeg: ``track_source`` accepts local paths only.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes.util
import functools
import logging
import os
import re
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

import discord
from pydub import AudioSegment

from bot.audio.decode import playback_ffmpeg_options

log = logging.getLogger(__name__)

#: One frame as discord.py reads it: 20 ms of 48-kHz stereo signed 16-bit PCM.
FRAME_BYTES = discord.opus.Encoder.FRAME_SIZE  # 3840
FRAME_SECONDS = discord.opus.Encoder.FRAME_LENGTH / 1000  # 0.02

#: /session volume's 100 % (Crate's default level): half the track's own level, leaving headroom;
#: 200 % plays the track as it is.
VOLUME_AT_100 = 0.5


def volume_factor(level: int) -> float:
    """``PCMVolumeTransformer``'s factor for a volume in per cent (0-200)."""
    return VOLUME_AT_100 * max(0, min(200, level)) / 100


_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")  # "https:", "concat:", "file:" ...


class NoAudio(RuntimeError):
    """ffmpeg produced no audio at all from a track (not audio, unreadable, missing)."""


class TrackSource(discord.PCMVolumeTransformer):
    """``PCMVolumeTransformer`` over ffmpeg that *raises* when a track yields no audio at all.

    ``FFmpegPCMAudio`` ends silently (``b""``) when ffmpeg fails, and its exit-code check races
    with the process exiting; raising here makes the failure reach ``after(error)`` reliably.
    """

    def __init__(self, original: discord.FFmpegPCMAudio, path: Path, *, volume: float):
        super().__init__(original, volume=volume)
        self.path = path
        self.frames = 0

    def read(self) -> bytes:
        data = super().read()
        if data:
            self.frames += 1
        elif self.frames == 0:
            raise NoAudio(f"ffmpeg decoded no audio from {self.path.name}")
        return data


def track_source(path_or_url: str | os.PathLike[str], *, volume: float = VOLUME_AT_100) -> TrackSource:
    """An audio source playing a local file through ffmpeg at ``volume`` (1.0 = unchanged).

    Uses the ffmpeg executable and the input restrictions of the decoder
    (``pydub.AudioSegment.converter``, ``bot.audio.decode.playback_ffmpeg_options``). Refuses
    URLs and ffmpeg protocol strings: only local files, passed to ffmpeg as absolute paths (so a
    name like ``concat:a|b`` cannot be read as a protocol).
    """
    text = os.fspath(path_or_url)
    if _URL.match(text):
        raise ValueError(f"not a local file: {text!r} (download it first)")
    path = Path(text).absolute()
    audio = discord.FFmpegPCMAudio(str(path), executable=AudioSegment.converter, **playback_ffmpeg_options())
    return TrackSource(audio, path, volume=volume)


class VoiceLink(Protocol):
    """What the player needs of a voice connection (``discord.VoiceClient`` satisfies it), and
    the channel it plays in (whose listeners the idle watcher counts)."""

    @property
    def channel(self) -> discord.abc.Connectable: ...

    def play(self, source: discord.AudioSource, *, after: Callable[[Exception | None], object]) -> None: ...

    def is_playing(self) -> bool: ...

    def is_paused(self) -> bool: ...

    def is_connected(self) -> bool: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def stop(self) -> None: ...

    async def disconnect(self, *, force: bool = False) -> None: ...


NextTrack = Callable[[], Awaitable["str | os.PathLike[str] | None"]]
TrackStarted = Callable[[Path], Awaitable[None]]
Disconnected = Callable[[], Awaitable[object]]


class SessionPlayer:
    """Plays a session's queue in one voice channel, one local file after another.

    ``next_track()`` returns the next file (or None when the session has nothing left);
    ``on_track_start(path)`` runs as each track starts (the session updates its now-playing
    message there). When a track ends, fails or is skipped, the player asks for the next one; a
    track that fails is logged and skipped. When ``next_track()`` returns None the player goes
    idle (``finished`` is set) but stays connected: ``start()`` again to resume.

    When the connection is gone (disconnected from outside), the player stops for good without
    asking for another track and calls ``on_disconnected()`` once.
    """

    def __init__(
        self,
        voice: VoiceLink,
        loop: asyncio.AbstractEventLoop,
        next_track: NextTrack,
        on_track_start: TrackStarted,
        *,
        volume: float = VOLUME_AT_100,
        source: Callable[..., discord.AudioSource] = track_source,
        on_disconnected: Disconnected | None = None,
    ):
        self.voice = voice
        self.loop = loop
        self.next_track = next_track
        self.on_track_start = on_track_start
        self.on_disconnected = on_disconnected
        self.volume = volume
        self._source = source
        self._lock = asyncio.Lock()
        self._stopped = False
        self._lost = False
        self._idle: IdleWatcher | None = None
        self._playing: discord.AudioSource | None = None
        self.current: Path | None = None
        self.finished = asyncio.Event()

    def _busy(self) -> bool:
        """A track is on (playing, or paused: discord.py's ``is_playing`` is False while paused)."""
        return self.voice.is_playing() or self.voice.is_paused()

    @property
    def paused(self) -> bool:
        return self.voice.is_paused()

    @property
    def elapsed(self) -> float:
        """Seconds of the current track sent so far (frames read, so a pause stops the clock)."""
        frames = getattr(self._playing, "frames", 0) if self.current is not None else 0
        return frames * FRAME_SECONDS

    def pause(self) -> bool:
        """Silence the track where it is; False if nothing plays."""
        if not self.voice.is_playing():
            return False
        self.voice.pause()
        return True

    def resume(self) -> bool:
        """Go on from where the track was paused; False if it was not paused."""
        if not self.voice.is_paused():
            return False
        self.voice.resume()
        return True

    def set_volume(self, volume: float) -> None:
        """Play at ``volume`` from now on, the track playing included."""
        self.volume = volume
        if isinstance(self._playing, discord.PCMVolumeTransformer):
            self._playing.volume = volume

    async def start(self) -> None:
        """Start playing the queue (does nothing if a track is already playing)."""
        self._stopped = False
        await self._advance()

    async def skip(self) -> None:
        """Stop the current track (its ``after`` callback moves on to the next one); when idle,
        start the next track now (nothing would call ``after``)."""
        if self._busy():
            self.voice.stop()
        else:
            await self.start()

    async def stop(self, *, disconnect: bool = True) -> None:
        """Stop playing for good (no further tracks) and leave the channel."""
        self._stopped = True
        self.current = None
        self.voice.stop()
        self.finished.set()
        if self._idle is not None:
            self._idle.cancel()
        if disconnect:
            try:
                await self.voice.disconnect()
            except Exception:
                log.exception("leaving the voice channel failed")

    def stop_watching_idle(self) -> None:
        """Never leave for want of listeners any more (the server chose to stay in voice, 24/7)."""
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    def watch_idle(
        self,
        listeners: Callable[[], int],
        idle_timeout: float,
        on_leave: Callable[[], Awaitable[object]] | None = None,
    ) -> IdleWatcher:
        """Leave (``stop()``) once ``listeners()`` has stayed 0 for ``idle_timeout`` seconds, then
        tell ``on_leave()`` (the session falls back to text there)."""
        if self._idle is not None:
            self._idle.cancel()

        async def leave() -> None:
            await self.stop()
            if on_leave is not None:
                try:
                    await on_leave()
                except Exception:
                    log.exception("on_leave failed after leaving an idle voice channel")

        self._idle = IdleWatcher(listeners, leave, idle_timeout=idle_timeout)
        self._idle.start()
        return self._idle

    @property
    def stopped(self) -> bool:
        """Stopped for good: by ``stop()`` (the session ended, the idle watcher left) or lost."""
        return self._stopped

    async def connection_lost(self) -> None:
        """The voice connection is gone (from outside): stop without using up a track, and
        tell ``on_disconnected`` (once)."""
        if self._lost:
            return
        self._lost = True
        log.warning("disconnected from voice from outside: stopping playback")
        await self.stop(disconnect=False)
        if self.on_disconnected is not None:
            try:
                await self.on_disconnected()
            except Exception:
                log.exception("on_disconnected failed")

    async def _advance(self) -> None:
        if await self._play_next():
            await self.connection_lost()

    async def _play_next(self) -> bool:
        """Start the next track unless one is on; True if the connection is gone."""
        async with self._lock:  # one track change at a time (start, after-callbacks)
            while not self._stopped and not self._busy():
                if not self.voice.is_connected():  # never use up a track that can't be heard
                    return True
                try:
                    item = await self.next_track()
                except Exception:
                    log.exception("next_track failed: stopping playback")
                    item = None
                if item is None or self._stopped:
                    self.current = None
                    self.finished.set()
                    return False
                path = Path(item)
                try:
                    source = self._source(path, volume=self.volume)
                except Exception:
                    log.exception("cannot open %s for playback: skipping it", path.name)
                    continue
                try:
                    self.voice.play(source, after=functools.partial(self._after, path))
                except Exception:
                    source.cleanup()
                    self.current = None
                    self.finished.set()
                    if not self.voice.is_connected():  # lost meanwhile: the entry stays to be played
                        return True
                    log.exception("voice playback failed: stopping")
                    return False
                self._playing = source
                self.current = path
                self.finished.clear()
                try:
                    await self.on_track_start(path)
                except Exception:
                    log.exception("on_track_start failed for %s", path.name)
                return False
        return False

    def _after(self, path: Path, error: Exception | None) -> None:
        """Runs on discord.py's player thread: log, then advance on the event loop."""
        if error is not None:
            log.error("playing %s failed: skipping it", path.name, exc_info=error)
        if self._stopped:
            return
        try:
            future = asyncio.run_coroutine_threadsafe(self._advance(), self.loop)
        except RuntimeError:  # the loop is closed: the bot is shutting down
            return
        future.add_done_callback(_log_failure)


class GuildVoice:
    """A guild's one voice connection (Discord allows one per guild): the session it plays for,
    its ``SessionPlayer`` (with the idle watcher), the queue entry being played, and the scratch
    directory the tracks are downloaded to. ``close()`` stops playing, leaves and cleans up."""

    def __init__(self, session_id: int, player: SessionPlayer):
        self.session_id = session_id
        self.player = player
        self.playing_entry: int | None = None
        #: The task that keeps the now-playing message's progress bar (cancelled by ``close()``).
        self.progress: asyncio.Task[None] | None = None
        self._scratch: tempfile.TemporaryDirectory[str] | None = tempfile.TemporaryDirectory(prefix="crate-session-")

    @property
    def directory(self) -> Path | None:
        """Where this connection downloads tracks to; None once closed."""
        return Path(self._scratch.name) if self._scratch is not None else None

    async def close(self) -> None:
        if self.progress is not None and self.progress is not asyncio.current_task():
            self.progress.cancel()
        with contextlib.suppress(Exception):
            await self.player.stop()
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None


def _log_failure(future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("advancing the voice queue failed", exc_info=future.exception())


class IdleWatcher:
    """Calls ``leave()`` once ``listeners()`` has stayed 0 for ``idle_timeout`` seconds.

    Checks every ``interval`` seconds (default: a tenth of the timeout, between 0.05 s and 5 s);
    anyone listening resets the clock.
    """

    def __init__(
        self,
        listeners: Callable[[], int],
        leave: Callable[[], Awaitable[object]],
        *,
        idle_timeout: float,
        interval: float | None = None,
    ):
        self.listeners = listeners
        self.leave = leave
        self.idle_timeout = max(0.0, idle_timeout)
        self.interval = interval if interval is not None else min(5.0, max(0.05, self.idle_timeout / 10))
        self.left = False
        self._task: asyncio.Task | None = None

    def start(self) -> asyncio.Task:
        self._task = asyncio.get_running_loop().create_task(self.run(), name="crate-voice-idle")
        return self._task

    def cancel(self) -> None:
        # leave() may be what cancels us (SessionPlayer.stop): don't cancel ourselves mid-leave.
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        idle_since: float | None = None
        while True:
            try:
                present = self.listeners()
            except Exception:
                log.exception("counting voice listeners failed")
                present = 1  # never leave because of a bug in counting
            if present > 0:
                idle_since = None
            else:
                now = loop.time()
                idle_since = now if idle_since is None else idle_since
                if now - idle_since >= self.idle_timeout:
                    log.info("nobody listening for %.0f s: leaving the voice channel", self.idle_timeout)
                    self.left = True
                    await self.leave()
                    return
            await asyncio.sleep(self.interval)


def human_listeners(channel) -> int:
    """People in a voice channel who can hear it: not bots, not deafened."""
    count = 0
    for member in channel.members:
        state = getattr(member, "voice", None)
        deafened = state is not None and (state.deaf or state.self_deaf)
        if not member.bot and not deafened:
            count += 1
    return count


def voice_unavailable() -> str | None:
    """Why this process cannot play voice (missing PyNaCl, davey or libopus), or None."""
    from discord import voice_client, voice_state

    if not voice_client.has_nacl:
        return "PyNaCl is not installed"
    if not voice_state.has_dave:
        return "davey is not installed (pip install 'discord.py[voice]')"
    if not discord.opus.is_loaded():
        name = ctypes.util.find_library("opus")
        try:
            discord.opus.load_opus(name or "libopus.so.0")
        except OSError:
            return "libopus was not found (install libopus0)"
    return None


def missing_voice_permissions(channel, member) -> list[str]:
    """The permissions ``member`` lacks to play in ``channel`` (Connect, Speak), or a full channel."""
    permissions = channel.permissions_for(member)
    missing = [name for name in ("connect", "speak") if not getattr(permissions, name)]
    limit = getattr(channel, "user_limit", 0) or 0
    if not missing and limit and len(channel.members) >= limit and not permissions.move_members:
        missing.append("room (the channel is full)")
    return missing


async def connect_voice(channel, *, timeout: float = 10) -> discord.VoiceClient | None:
    """Join ``channel`` (or move there), or return None and log why not (the session stays text).

    None when voice can't work in this process (no PyNaCl/davey/libopus), the bot lacks Connect
    or Speak there, the channel is full, or connecting fails or takes over ``timeout`` seconds.
    """
    reason = voice_unavailable()
    if reason is None:
        missing = missing_voice_permissions(channel, channel.guild.me)
        reason = f"missing {', '.join(missing)} in #{channel.name}" if missing else None
    if reason is not None:
        log.warning("not joining voice: %s", reason)
        return None
    try:
        current = channel.guild.voice_client
        if current is not None:
            if current.channel != channel:
                await asyncio.wait_for(current.move_to(channel), timeout)
            return current
        return await channel.connect(timeout=timeout, reconnect=True, self_deaf=True)
    except TimeoutError:
        log.warning("not joining voice: connecting to #%s timed out after %s s", channel.name, timeout)
    except (discord.DiscordException, RuntimeError, OSError) as error:
        log.warning("not joining voice in #%s: %s", channel.name, error)
    return None
