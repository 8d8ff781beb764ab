"""Sessions heard end to end: the real bot plays in voice through the fake Discord's voice server.

``FakeDiscord(voice=True)`` answers the bot's op 4 with VOICE_SERVER_UPDATE, runs the voice
websocket (v8, no DAVE) and a UDP endpoint that decrypts every RTP packet the bot sends and keeps
its opus frame with its arrival time (tests/fakediscord/voice.py). Each test here listens to a
few seconds of real music: the rate and the gaps of the frames, that the audio is the track the
now-playing message names (its loudness envelope against each track's), `/session next`, the idle
leave and 24/7, a voice-server change and a moderator disconnecting the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio
from scipy import stats

from tests import music
from tests.e2e.cards import card
from tests.fakediscord import FakeDiscord, frame_rms
from tests.fakediscord.harness import Gate, music_server, running_crate, settings_for

pytestmark = pytest.mark.asyncio(loop_scope="module")

IDLE_TIMEOUT = 2.0  # CRATE_VOICE_IDLE_TIMEOUT for these tests
CUT_SECONDS = 12
#: Three real tracks with different loudness envelopes (names in singularity-music).
CUTS = ("Nebula", "Aberrations", "Coherence")
SILENCE = b"\xf8\xff\xfe"  # the opus frame discord.py sends after a track (5 of them)
FRAME = 0.02


@pytest.fixture(scope="module")
def cuts(tmp_path_factory) -> dict[str, Path]:
    scratch = tmp_path_factory.mktemp("voice-music")
    cut = ("-ss", "20", "-t", str(CUT_SECONDS), "-c:a", "libvorbis")
    return {name: music.convert(music.singularity_track(name), scratch / f"{name}.ogg", *cut) for name in CUTS}


def envelope_of_file(path: Path) -> np.ndarray:
    """Per-20-ms-frame RMS of a file decoded as the bot sends it (48-kHz stereo s16le)."""
    pcm = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "s16le", "-ar", "48000", "-ac", "2", "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    size = 3840
    return np.array([frame_rms(pcm[i : i + size]) for i in range(0, len(pcm) - size + 1, size)])


@pytest.fixture(scope="module")
def envelopes(cuts) -> dict[str, np.ndarray]:
    return {name: envelope_of_file(path) for name, path in cuts.items()}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def gate() -> Gate:
    """The music server's gate: open, unless a test holds its answers."""
    return Gate()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory, cuts, gate):
    database = tmp_path_factory.mktemp("db") / "crate.sqlite3"
    files = {f"/{name}.ogg": (path.read_bytes(), "audio/ogg") for name, path in cuts.items()}
    async with FakeDiscord(voice=True) as fake, music_server(files, gate) as web:
        settings = settings_for(fake, database, voice_idle_timeout=IDLE_TIMEOUT)
        async with running_crate(fake, settings):
            guild, channel = place(fake)
            titles = {}
            for name in CUTS:
                ix = await fake.slash(guild, channel, "alice", "genre", {"url": f"{web}/{name}.ogg"})
                message = await ix.wait_original(predicate=lambda m: m.shown, timeout=120)
                titles[card(message).title] = name
            yield fake, titles


def place(fake):
    guild = fake.guilds[0]
    return guild, next(c for c in guild.channels if c.name == "general")


def lounge(fake):
    return next(c for c in fake.guilds[0].channels if c.name == "Lounge")


async def answer_text(ix, timeout: float = 30) -> str:
    message = await ix.wait_answer(timeout=timeout)
    return message.content


async def start_in_voice(fake):
    """alice (in the Lounge, unless she left) starts a session there: the first track plays."""
    guild, channel = place(fake)
    ix = await fake.slash(guild, channel, "alice", "session start", {"voice_channel": lounge(fake)})
    started = await ix.wait_answer(timeout=30)
    assert "Playing in" in started.content, started.content
    return await fake.wait_voice_frames(guild, 1, since=time.monotonic(), timeout=30)


@pytest_asyncio.fixture(loop_scope="module")
async def session(world):
    """alice in the Lounge; afterwards the session (if any) ends and she leaves voice."""
    fake, titles = world
    guild, channel = place(fake)
    await fake.set_voice_state(guild, "alice", lounge(fake))
    yield fake, titles
    with contextlib.suppress(Exception):
        ix = await fake.slash(guild, channel, "alice", "session end")
        await ix.wait_answer(timeout=15)
    await fake.set_voice_state(guild, "alice", None)
    await fake.state.notifier.wait_until(
        lambda: fake.voice_channel_of(guild, fake.bot_user) is None, 10, lambda: "the bot to leave voice"
    )


def segments(frames) -> list[list]:
    """The frames split into tracks at discord.py's end-of-track silence (5 silent frames)."""
    out: list[list] = [[]]
    for frame in frames:
        if frame.opus == SILENCE:
            if out[-1]:
                out.append([])
        else:
            out[-1].append(frame)
    return [s for s in out if s]


def correlation(heard: np.ndarray, reference: np.ndarray, max_lag: int = 10) -> float:
    """Best Pearson correlation of two loudness envelopes, ``heard`` shifted by up to ``max_lag`` frames."""
    best = -1.0
    for lag in range(max_lag + 1):
        ref = reference[lag : lag + len(heard)]
        n = min(len(ref), len(heard))
        if n < 50:
            break
        best = max(best, float(np.corrcoef(heard[:n], ref[:n])[0, 1]))
    return best


def heard_envelope(fake, guild, frames) -> np.ndarray:
    pcm = fake.voice.pcm(guild.id)
    index = {id(f): i for i, f in enumerate(fake.voice_frames(guild))}
    return np.array([frame_rms(pcm[index[id(f)]]) for f in frames])


def now_playing(fake, channel, guild) -> str:
    """The title the latest now-playing message names."""
    boards = [
        m for m in fake.channel_messages(channel, guild=guild) if any(c.startswith("crate:skip:") for c in m.custom_ids)
    ]
    match = re.search(r"Now playing: \*\*(.+?)\*\*", card(boards[-1]).description)
    assert match, card(boards[-1])
    return match.group(1)


def named(answer: str) -> str:
    """The title a /session next answer names ("… Now playing **Title**.")."""
    match = re.search(r"Now playing \*\*(.+?)\*\*", answer)
    assert match, answer
    return match.group(1)


def best_match(fake, guild, frames, envelopes, max_lag: int = 10) -> tuple[str, dict[str, float]]:
    """Which track ``frames`` are (by loudness envelope), and every track's correlation."""
    envelope = heard_envelope(fake, guild, frames)
    assert envelope.mean() > 300, f"silence (mean RMS {envelope.mean():.0f})"
    scores = {name: correlation(envelope, ref, max_lag) for name, ref in envelopes.items()}
    return max(scores, key=scores.__getitem__), scores


def steady(frames) -> tuple[float, float]:
    """(frames a second, longest gap in seconds) of consecutive frames; none may be missing.

    The rate is the Theil-Sen slope of arrival time on frame number (the median of every pair's
    rate): discord.py sends the frames it is late for at once, so one late frame at the start and
    the burst that catches up on it say nothing about the pace, yet they moved the rate over the
    first-to-last span (54.6 a second over 100 frames after a restart on a loaded CI machine).
    """
    sequences = np.diff([f.sequence for f in frames]) % 65536
    assert set(sequences.tolist()) == {1}, "RTP sequence numbers skip: frames were lost"
    at = np.array([f.at for f in frames])
    seconds_per_frame = stats.theilslopes(at, np.arange(len(at)))[0]
    return 1.0 / seconds_per_frame, float(np.diff(at).max())


async def next_track(fake, user: str = "alice") -> str:
    guild, channel = place(fake)
    return await answer_text(await fake.slash(guild, channel, user, "session next"))


def bot_messages_after(fake, count: int) -> list:
    guild, channel = place(fake)
    return [m for m in fake.channel_messages(channel, guild=guild)[count:] if m.author.id == fake.bot_user.id]


def in_voice(fake):
    guild, _ = place(fake)
    return fake.voice_channel_of(guild, fake.bot_user)


# Tolerances for a loaded 2-core machine: discord.py paces 20-ms frames on its own thread and
# catches up after a late one, so the rate holds while single gaps can stretch.
RATE = (46.0, 54.0)
LONGEST_GAP = 0.1  # five frames' time


async def test_a_session_in_voice_is_heard_at_50_frames_a_second_and_next_switches(session, envelopes):
    fake, titles = session
    guild, channel = place(fake)
    first = (await start_in_voice(fake))[0]
    frames = (await fake.wait_voice_frames(guild, 150, since=first.at, timeout=20))[:150]
    rate, gap = steady(frames)
    assert RATE[0] <= rate <= RATE[1] and gap < LONGEST_GAP, (rate, gap)
    assert fake.voice.undecryptable == 0
    playing = titles[now_playing(fake, channel, guild)]
    heard, scores = best_match(fake, guild, frames, envelopes)
    assert heard == playing and scores[heard] > 0.6, scores
    assert all(scores[heard] - score > 0.3 for name, score in scores.items() if name != heard), scores

    asked = time.monotonic()
    answer = await next_track(fake)
    following = titles[named(answer)]
    assert following != playing, answer
    after = await fake.wait_voice_frames(guild, 150, since=time.monotonic(), timeout=20)
    # The next track's frames: those after discord.py's five silence frames that end the stopped
    # one, which a loaded machine may still be playing for a moment after the answer (dropping the
    # silence alone left the stopped track's last frames and a 6-frame skip in the sequence).
    ended = [i for i, f in enumerate(after) if f.opus == SILENCE]
    new = after[ended[-1] + 1 if ended else 0 :][:100]
    assert len(new) == 100 and SILENCE not in {f.opus for f in new}, len(new)
    # /next switched: the next track began before the playing one would have ended on its own
    # (behaviour, not speed: the timing of the switch on a loaded machine is not asserted)
    assert new[0].at < first.at + CUT_SECONDS - 1.0, (new[0].at - first.at, new[0].at - asked)
    rate, gap = steady(new)
    assert RATE[0] <= rate <= RATE[1] and gap < LONGEST_GAP, (rate, gap)
    heard, scores = best_match(fake, guild, new, envelopes, max_lag=25)
    assert heard == following, scores


async def test_the_bot_leaves_after_the_idle_timeout_when_nobody_listens(session):
    fake, _ = session
    guild, channel = place(fake)
    await start_in_voice(fake)
    before = len(fake.channel_messages(channel, guild=guild))
    await fake.set_voice_state(guild, "alice", None)
    alone = time.monotonic()
    await fake.state.notifier.wait_until(lambda: in_voice(fake) is None, IDLE_TIMEOUT + 5, lambda: "the idle leave")
    left = time.monotonic() - alone
    assert IDLE_TIMEOUT - 0.2 <= left <= IDLE_TIMEOUT + 2.5, left
    told = await fake.wait_channel_message(
        channel, lambda m: "Nobody was listening" in m.content, guild=guild, timeout=10
    )
    assert told in bot_messages_after(fake, before)
    await asyncio.sleep(0.3)
    assert not fake.voice_frames(guild, since=time.monotonic() - 0.2)  # and it is silent


async def test_24_7_stays_in_voice_with_nobody_listening(session):
    fake, _ = session
    guild, channel = place(fake)
    await fake.set_voice_state(guild, "alice", None)
    stay = await fake.slash(guild, channel, "alice", "settings", {"stay_in_voice": True})
    await stay.wait_answer(timeout=15)
    try:
        await start_in_voice(fake)
        await asyncio.sleep(2 * IDLE_TIMEOUT + 0.5)
        assert in_voice(fake) == lounge(fake)
        assert len(fake.voice_frames(guild, since=time.monotonic() - 1.0)) >= 40  # still playing
    finally:
        back = await fake.slash(guild, channel, "alice", "settings", {"stay_in_voice": False})
        await back.wait_answer(timeout=15)
    # 24/7 off with nobody listening: the idle timeout applies again.
    await fake.state.notifier.wait_until(lambda: in_voice(fake) is None, IDLE_TIMEOUT + 5, lambda: "the idle leave")


async def test_a_voice_server_change_reconnects_and_keeps_the_queue(session, envelopes):
    fake, titles = session
    guild, channel = place(fake)
    first = (await start_in_voice(fake))[0]
    await fake.wait_voice_frames(guild, 50, since=first.at, timeout=20)
    playing = titles[now_playing(fake, channel, guild)]
    connections = len([c for c in fake.voice.connections if c.guild_id == guild.id])
    changed = time.monotonic()
    await fake.change_voice_server(guild)
    await fake.wait_voice_connected(guild, count=connections + 1, timeout=15)
    ssrc = fake.voice.live(guild.id).ssrc
    await fake.state.notifier.wait_until(
        lambda: len([f for f in fake.voice_frames(guild, since=changed) if f.ssrc == ssrc]) >= 100,
        15,
        lambda: "100 frames on the new voice connection",
    )
    resumed = [f for f in fake.voice_frames(guild, since=changed) if f.ssrc == ssrc and f.opus != SILENCE][:100]
    assert titles[now_playing(fake, channel, guild)] == playing  # the same track plays on
    before = [f for f in fake.voice_frames(guild) if f.at < changed and f.opus != SILENCE and f.at >= first.at]
    heard = heard_envelope(fake, guild, resumed)
    offset = max(0, len(before) - 25)  # it carries on where it was (within half a second or so)
    scores = {name: correlation(heard, ref[offset:], max_lag=75) for name, ref in envelopes.items()}
    assert max(scores, key=scores.__getitem__) == playing, scores
    rate, gap = steady(resumed)
    assert RATE[0] <= rate <= RATE[1] and gap < LONGEST_GAP, (rate, gap)
    # The queue is intact: /session next moves on to another of the three.
    following = titles[named(await next_track(fake))]
    assert following != playing


async def test_a_moderator_disconnecting_the_bot_is_handled(session):
    """Issue 27's wording: the channel is told, no audio is sent, and the two tracks not yet heard
    are both still played by the next two /session next (before the fix the player took the cut
    as the track's end and used the next one up unheard, in silence)."""
    fake, titles = session
    guild, channel = place(fake)
    first = (await start_in_voice(fake))[0]
    await fake.wait_voice_frames(guild, 50, since=first.at, timeout=20)
    interrupted = titles[now_playing(fake, channel, guild)]
    before = len(fake.channel_messages(channel, guild=guild))
    await fake.disconnect_from_voice(guild, fake.bot_user)
    cut = time.monotonic()
    # The channel is told…
    await fake.state.notifier.wait_until(
        lambda: any(
            "voice" in m.content.lower() and "can't play" not in m.content for m in bot_messages_after(fake, before)
        ),
        10,
        lambda: f"a word in the channel (got {[m.content for m in bot_messages_after(fake, before)]})",
    )
    # …no audio is sent…
    await asyncio.sleep(1.0)
    assert not fake.voice_frames(guild, since=cut + 0.3)
    assert in_voice(fake) is None
    # …and the two tracks not yet heard are both still played by the next two /session next.
    unheard = set(CUTS) - {interrupted}
    played = {titles[named(await next_track(fake))] for _ in range(2)}
    assert played == unheard
    assert not fake.voice_frames(guild, since=cut + 0.3)


async def test_leaving_voice_while_the_next_track_downloads_uses_up_no_track(session, gate):
    """Nobody is listening any more while the next track still downloads from a slow server:
    Crate leaves voice, and the download's folder goes with it. That says nothing about the track:
    no "can't play" note, no error logged (tests/e2e/conftest.py), and it is the track heard when someone comes back (before the
    fix Crate said its audio "isn't reachable any more" and skipped it)."""
    fake, titles = session
    guild, channel = place(fake)
    folders = set(Path(tempfile.gettempdir()).glob("crate-session-*"))
    first = (await start_in_voice(fake))[0]
    downloads = set(Path(tempfile.gettempdir()).glob("crate-session-*")) - folders  # this voice connection's
    await fake.wait_voice_frames(guild, 25, since=first.at, timeout=20)
    before = len(fake.channel_messages(channel, guild=guild))
    gate.close()
    try:
        following = titles[named(await next_track(fake))]
        await asyncio.wait_for(gate.held.wait(), 20)  # Crate is downloading it for voice
        await fake.set_voice_state(guild, "alice", None)
        await fake.state.notifier.wait_until(lambda: in_voice(fake) is None, IDLE_TIMEOUT + 5, lambda: "the idle leave")
    finally:
        gate.open.set()
    await asyncio.wait_for(gate.answered.wait(), 20)
    await asyncio.sleep(1.0)  # the time it took to say so and skip the track, before the fix
    said = [m.content for m in bot_messages_after(fake, before)]
    assert not any("can't play" in text for text in said), said
    assert len(downloads) == 1 and not [p for p in downloads if p.exists()], downloads  # nothing left behind
    # alice comes back to the Lounge: Crate comes back into voice and plays that track.
    await fake.set_voice_state(guild, "alice", lounge(fake))
    await fake.state.notifier.wait_until(lambda: in_voice(fake) == lounge(fake), 20, lambda: "back in the Lounge")
    await fake.wait_voice_frames(guild, 25, since=time.monotonic(), timeout=20)
    assert titles[now_playing(fake, channel, guild)] == following
