"""Radio sessions, playlists and per-server settings in bot/ (no Discord), on real SQLite.

Tracks are the clustered embeddings of tests/test_session.py (five genres of six tracks around
nearly orthogonal centres), so "sounds like" is unambiguous. The Discord side of the same
features is tested end to end in tests/e2e/test_radio_playlists_settings.py.
"""

from __future__ import annotations

import dataclasses
import itertools
import json

import pytest

from bot import store
from bot.app.playlists import (
    NotPlaylistOwner,
    NoTrackToAdd,
    PlaylistExists,
    PlaylistNotFound,
    PlaylistService,
    to_json,
    to_m3u,
)
from bot.app.sessions import NotHost, SessionService
from bot.app.settings import InvalidSetting, NotServerManager, SettingsService
from bot.caller import Caller
from bot.catalog import DISLIKE
from bot.config import ConfigError, Settings
from bot.jobs.admission import Admission, AdmissionLimits, MemberBusy
from bot.present.reasons import reason_text
from bot.store import open_database
from tests import test_session as _sessions
from tests.test_session import (
    ALICE,
    BOB,
    GUILD,
    HOST,
    NAMES,
    PER_GENRE,
    TEXT,
    TEXT_2,
    add_clustered_tracks,
    rate_all,
)

# The session tests' fixtures: a real SQLite file, a clock, the session service over them.
db_path, db, clock, service = _sessions.db_path, _sessions.db, _sessions.clock, _sessions.service


def genre_of(ids: dict[str, list[int]], track_id: int) -> str:
    return next(g for g, members in ids.items() if track_id in members)


# -- radio ----------------------------------------------------------------------------------------


async def test_a_radio_plays_its_seed_then_drifts_from_the_last_played_and_never_repeats(db, service, clock):
    ids = await add_clustered_tracks(db, GUILD)
    await rate_all(db, ALICE, ids["jazz"][:2])  # alice, present, likes jazz: it must not pull the radio off
    seed = ids["ambient"][0]
    session = await service.start(GUILD, TEXT, HOST, radio_seed=seed)
    await service.join(session, ALICE)
    assert await service.radio_seed(session) == seed
    first = await service.start_playing(session)
    assert first.track_id == seed and first.reason == "the radio's seed"

    played = [first]
    while True:
        clock.tick()
        result = await service.next(session, HOST, audible=False)  # host moves on: "played"
        if result.now_playing is None:
            break
        assert len(result.filled) == 1  # one at a time: each pick follows the last played
        played.append(result.now_playing)
    titles = {e.track_id: e.title for e in played}
    track_ids = [e.track_id for e in played]
    assert len(track_ids) == len(set(track_ids)) == 5 * PER_GENRE  # the whole catalog, never a repeat
    for before, entry in itertools.pairwise(played):
        assert reason_text(entry.reason, NAMES).startswith(f"after “{titles[before.track_id]}”"), entry.reason
    # Drifting slowly: the seed's sound first (every other ambient track), only then elsewhere.
    assert [genre_of(ids, t) for t in track_ids[:PER_GENRE]] == ["ambient"] * PER_GENRE


async def test_a_skipped_track_is_passed_over_and_a_disliked_one_never_comes(db, service, clock):
    ids = await add_clustered_tracks(db, GUILD)
    await rate_all(db, BOB, ids["ambient"][1:3], value=DISLIKE)
    session = await service.start(GUILD, TEXT, HOST, radio_seed=ids["ambient"][0])
    await service.join(session, BOB)
    seed_entry = await service.start_playing(session)
    second = (await service.next(session, HOST, audible=False)).now_playing
    assert second.track_id not in ids["ambient"][1:3] and reason_text(second.reason, NAMES).startswith(
        f"after “{seed_entry.title}”"
    )
    skipped = await service.next(session, HOST, audible=True)  # cut short in voice: skipped
    assert skipped.skipped.status == "skipped"
    # The pick after a skip follows the last track actually heard, not the skipped one.
    assert reason_text(skipped.now_playing.reason, NAMES).startswith(f"after “{seed_entry.title}”")
    vetoed = set(ids["ambient"][1:3])
    while (result := await service.next(session, HOST, audible=False)).now_playing is not None:
        assert result.now_playing.track_id not in vetoed


async def test_an_ordinary_session_is_no_radio(db, service):
    await add_clustered_tracks(db, GUILD)
    session = await service.start(GUILD, TEXT, HOST)
    assert await service.radio_seed(session) is None
    assert len(await service.fill_queue(session)) == 3


async def test_a_dj_moves_on_at_once_and_ends_any_session(db, service):
    ids = await add_clustered_tracks(db, GUILD)
    session = await service.start(GUILD, TEXT, HOST, first_tracks=ids["jazz"][:3])
    await service.start_playing(session)
    await service.join(session, ALICE)
    await service.join(session, BOB)
    vote = await service.next(session, ALICE)
    assert not vote.moved and vote.needed == 2
    dj = await service.next(session, BOB, dj=True)
    assert dj.moved and dj.by_host
    with pytest.raises(NotHost) as refused:
        await service.end(session, ALICE)
    assert "DJ role" in refused.value.user_message
    summary = await service.end(session, BOB, dj=True)
    assert summary.session.id == session.id


# -- playlists ------------------------------------------------------------------------------------

OWNER = Caller(ALICE)
STRANGER = Caller(BOB)
MANAGER = Caller(HOST, manages_server=True)


@pytest.fixture
def playlists(db, service):
    return PlaylistService(db, service)


async def test_playlists_belong_to_their_owner_or_a_server_manager(db, playlists):
    ids = await add_clustered_tracks(db, GUILD)
    mix = await playlists.create(GUILD, OWNER, "  Late   night ")
    assert mix.name == "Late night" and mix.owner_id == ALICE
    with pytest.raises(PlaylistExists):
        await playlists.create(GUILD, STRANGER, "late NIGHT")
    await playlists.create(GUILD + 1, STRANGER, "late night")  # another server: another namespace

    with pytest.raises(NoTrackToAdd):  # no track given, none playing, no last track
        await playlists.add(GUILD, OWNER, "late night")
    await store.set_last_track(db, GUILD, ALICE, ids["jazz"][0])
    added = await playlists.add(GUILD, OWNER, "late night")
    assert added.added and added.track.id == ids["jazz"][0]
    assert not (await playlists.add(GUILD, OWNER, "late night", ids["jazz"][0])).added  # once per playlist

    for change in (
        playlists.add(GUILD, STRANGER, "late night", ids["jazz"][1]),
        playlists.remove(GUILD, STRANGER, "late night", ids["jazz"][0]),
        playlists.delete(GUILD, STRANGER, "late night"),
    ):
        with pytest.raises(NotPlaylistOwner) as refused:
            await change
        assert "Only the owner of “Late night”" in refused.value.user_message
    await playlists.add(GUILD, MANAGER, "late night", ids["jazz"][1])
    _, entries = await playlists.entries(GUILD, "late night")
    assert [(e.position, e.track_id, e.added_by) for e in entries] == [
        (1, ids["jazz"][0], ALICE),
        (2, ids["jazz"][1], HOST),
    ]
    await playlists.remove(GUILD, OWNER, "late night", ids["jazz"][0])
    _, entries = await playlists.entries(GUILD, "late night")
    assert [(e.position, e.track_id) for e in entries] == [(1, ids["jazz"][1])]
    await playlists.delete(GUILD, MANAGER, "late night")
    with pytest.raises(PlaylistNotFound):
        await playlists.get(GUILD, "late night")


async def test_add_takes_the_track_playing_in_this_channel_first(db, service, playlists):
    ids = await add_clustered_tracks(db, GUILD)
    await store.set_last_track(db, GUILD, ALICE, ids["jazz"][0])
    session = await service.start(GUILD, TEXT, HOST, first_tracks=[ids["metal"][2]])
    await service.start_playing(session)
    await playlists.create(GUILD, OWNER, "mix")
    assert (await playlists.add(GUILD, OWNER, "mix", channel_id=TEXT)).track.id == ids["metal"][2]
    assert (await playlists.add(GUILD, OWNER, "mix", channel_id=TEXT_2)).track.id == ids["jazz"][0]


async def test_playing_a_playlist_starts_a_session_or_joins_the_queue(db, service, playlists):
    ids = await add_clustered_tracks(db, GUILD)
    await playlists.create(GUILD, OWNER, "mix")
    for track_id in ids["disco"][:3]:
        await playlists.add(GUILD, OWNER, "mix", track_id)
    started = await playlists.play(GUILD, BOB, "mix", TEXT)
    assert started.started and started.session.host_id == BOB
    assert [e.track_id for e in started.entries] == ids["disco"][:3]
    assert all(e.reason == "from the playlist “mix”" for e in started.entries)
    again = await playlists.play(GUILD, ALICE, "mix", TEXT)
    assert not again.started and again.session.id == started.session.id and len(again.entries) == 3
    assert ALICE in await service.present(started.session)


async def test_exports_name_titles_sources_genres_and_who_added(db, playlists):
    ids = await add_clustered_tracks(db, GUILD)
    await playlists.create(GUILD, OWNER, "Jazz, vol. 1")
    await playlists.add(GUILD, OWNER, "jazz, vol. 1", ids["jazz"][0])
    await playlists.add(GUILD, MANAGER, "jazz, vol. 1", ids["jazz"][1])
    export = await playlists.export(GUILD, "Jazz, vol. 1")
    assert export.stem == "Jazz-vol-1"
    m3u = to_m3u(export).splitlines()
    assert m3u[:2] == ["#EXTM3U", "#PLAYLIST:Jazz, vol. 1"]
    assert m3u[2:] == [
        "#EXTINF:100,Jazz 1",
        "https://example.org/jazz/0",
        "#EXTINF:110,Jazz 2",
        "https://example.org/jazz/1",
    ]
    document = json.loads(to_json(export, NAMES))
    assert document["name"] == "Jazz, vol. 1" and document["owner"] == {"id": str(ALICE), "name": "alice"}
    first, second = document["tracks"]
    assert first["title"] == "Jazz 1" and first["source"] == "https://example.org/jazz/0"
    assert first["genre"] == "jazz" and first["genres"] == [{"genre": "jazz", "probability": 0.9}]
    assert first["added_by"] == {"id": str(ALICE), "name": "alice"} and second["added_by"]["name"] == "host"


async def test_a_session_saved_as_a_playlist_keeps_what_played_not_what_was_skipped(db, service, playlists, clock):
    ids = await add_clustered_tracks(db, GUILD)
    session = await service.start(GUILD, TEXT, HOST, first_tracks=ids["jazz"][:3])
    await service.start_playing(session)
    clock.tick()
    await service.next(session, HOST, audible=True)  # jazz 1 cut short: skipped
    clock.tick()
    await service.next(session, HOST, audible=False)  # jazz 2 played
    await service.end(session, HOST)
    saved = await playlists.save_session(GUILD, OWNER, session.id)
    assert saved.owner_id == ALICE and saved.name.startswith(f"Session {session.id} (")
    _, entries = await playlists.entries(GUILD, saved.name)
    assert [e.track_id for e in entries] == ids["jazz"][1:3]
    with pytest.raises(PlaylistExists):  # saving twice
        await playlists.save_session(GUILD, OWNER, session.id)


async def test_playlists_survive_a_restart_and_go_with_forget(db_path):
    async with open_database(db_path) as first:
        ids = await add_clustered_tracks(first, GUILD)
        playlists = PlaylistService(first, SessionService(first))
        await playlists.create(GUILD, OWNER, "keep")
        await playlists.add(GUILD, OWNER, "keep", ids["metal"][0])
        await playlists.create(GUILD, STRANGER, "bob's")
        await playlists.add(GUILD, STRANGER, "bob's", ids["metal"][1])
        await playlists.add(GUILD, MANAGER, "bob's", ids["metal"][2])
    async with open_database(db_path) as second:  # a new process, as after a restart
        playlists = PlaylistService(second, SessionService(second))
        _, entries = await playlists.entries(GUILD, "KEEP")
        assert [e.track_id for e in entries] == [ids["metal"][0]]
        await store.forget_member(second, GUILD, BOB)
        with pytest.raises(PlaylistNotFound):
            await playlists.get(GUILD, "bob's")
        await store.forget_member(second, GUILD, ALICE)
        assert await playlists.all(GUILD) == []


# -- settings -------------------------------------------------------------------------------------


async def test_settings_default_to_the_environment_and_only_managers_change_them(db_path):
    env = Settings.from_env(
        {"CRATE_STAY_IN_VOICE": "yes", "CRATE_PROFILES_PUBLIC": "false", "CRATE_MEMBER_CONCURRENT": "2"}
    )
    with pytest.raises(ConfigError):
        Settings.from_env({"CRATE_STAY_IN_VOICE": "maybe"})
    async with open_database(db_path) as first:
        service = SettingsService(first, env)
        defaults = await service.get(GUILD)
        assert defaults.stay_in_voice and defaults.idle_timeout is None and not defaults.profiles_public
        assert defaults.member_analysis_limit == 2 and defaults.dj_role_id is None
        with pytest.raises(NotServerManager) as refused:
            await service.change(GUILD, Caller(BOB), stay_in_voice=False)
        assert "Manage Server" in refused.value.user_message
        with pytest.raises(InvalidSetting):
            await service.change(GUILD, MANAGER, member_analysis_limit=99)
        changed = await service.change(
            GUILD, MANAGER, dj_role_id=555, stay_in_voice=False, voice_idle_timeout=60, announce_channel_id=TEXT_2
        )
        assert changed.idle_timeout == 60 and changed.is_dj(Caller(BOB, frozenset({555})))
        assert not changed.is_dj(Caller(BOB, frozenset({556})))
        assert (await service.get(GUILD + 1)) == defaults  # other servers keep the defaults
    async with open_database(db_path) as second:  # stored: the same after a restart
        service = SettingsService(second, env)
        assert (await service.get(GUILD)) == changed
        cleared = await service.change(GUILD, MANAGER, clear="voice")
        assert cleared.stay_in_voice and cleared.dj_role_id == 555
        assert (await service.change(GUILD, MANAGER, clear="all")) == defaults


async def test_a_servers_analysis_limit_is_what_admission_enforces():
    admission = Admission(AdmissionLimits(capacity=10, member_concurrent=1, member_queued=0, server_concurrent=3))
    held = admission.reserve(GUILD, ALICE)
    with pytest.raises(MemberBusy):
        admission.reserve(GUILD, ALICE)
    admission.set_member_limit(GUILD, 2)
    second = admission.reserve(GUILD, ALICE)
    elsewhere = admission.reserve(GUILD + 1, ALICE)
    with pytest.raises(MemberBusy):  # other servers keep the default
        admission.reserve(GUILD + 1, ALICE)
    for reservation in (held, second, elsewhere):
        reservation.release()
    admission.set_member_limit(GUILD, None)
    assert admission.member_concurrent(GUILD) == 1


def test_settings_dataclass_defaults_match_the_documented_ones():
    defaults = Settings()
    assert (defaults.stay_in_voice, defaults.profiles_public, defaults.dj_role_id) == (False, True, None)
    assert dataclasses.replace(defaults, stay_in_voice=True).stay_in_voice


# -- the console ----------------------------------------------------------------------------------


def test_the_console_has_radio_playlists_and_settings(tmp_path):
    """``crate console`` on the example music: a radio preview, a playlist exported, a setting changed."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    examples = sorted((repo / "examples").glob("*.ogg"))
    script = [f"/genre {path}" for path in examples] + [
        "/radio awakening 2",
        "/playlist create Mix",
        "/playlist add Mix",
        "/playlist add Mix beast",
        "/as bob",
        "/playlist show Mix",
        "/as you",
        "/playlist export mix",
        "/settings stay_in_voice true",
        "/settings",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRATE_", "DISCORD_"))}
    env["PYTHONPATH"] = str(repo)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "console", "--database", str(tmp_path / "console.sqlite3")],
        input="\n".join(script) + "\n",
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.count("— after “") == 2  # two radio picks, each following the one before
    assert "Made the playlist Mix." in out and "Added" in out
    assert "Mix: 2 tracks" in out and "Wrote Mix.m3u and Mix.json (2 tracks)." in out
    assert (tmp_path / "Mix.m3u").read_text().startswith("#EXTM3U\n#PLAYLIST:Mix\n#EXTINF:")
    assert [t["title"] for t in json.loads((tmp_path / "Mix.json").read_text())["tracks"]][1].startswith("nexuiz-beast")
    assert "Voice: stay (24/7)" in out

    exported = subprocess.run(
        [sys.executable, "-m", "bot", "playlists", "--guild", "1", "--export", "MIX", "--out", "out"],
        cwd=tmp_path,
        env={**env, "CRATE_DATABASE": str(tmp_path / "console.sqlite3")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "out" / "Mix.m3u").read_text() == (tmp_path / "Mix.m3u").read_text()
    missing = subprocess.run(
        [sys.executable, "-m", "bot", "playlists", "--guild", "1", "--export", "nope"],
        cwd=tmp_path,
        env={**env, "CRATE_DATABASE": str(tmp_path / "console.sqlite3")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2 and "no playlist by that name" in missing.stderr


async def test_a_player_in_voice_can_stop_watching_for_idleness():
    """/settings stay_in_voice: applied to a player already in voice (cogs.sessions.player.SessionPlayer)."""
    import asyncio

    from cogs.sessions.player import SessionPlayer
    from tests.test_voice import LinkStandIn

    async def nothing(*args):
        return None

    player = SessionPlayer(LinkStandIn(), asyncio.get_running_loop(), nothing, nothing)
    watcher = player.watch_idle(lambda: 0, idle_timeout=3600)
    player.stop_watching_idle()
    with pytest.raises(asyncio.CancelledError):
        await watcher._task
    assert not watcher.left
    player.stop_watching_idle()  # twice is fine
