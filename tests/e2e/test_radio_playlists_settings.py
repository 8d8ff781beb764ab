"""Radio, playlists and /settings through the real bot, the fake Discord, real music and SQLite.

Sessions here run in text (Crate posts each next track); a radio in voice is heard through the
fake Discord's voice server in tests/e2e/test_voice_controls_e2e.py.
The Discord-free parts are tested in tests/test_radio_playlists_settings.py.
"""

from __future__ import annotations

import json
import re

import pytest
import pytest_asyncio

from tests.e2e import test_sessions as _sessions
from tests.e2e.cards import card
from tests.e2e.test_sessions import CUTS
from tests.fakediscord import FakeDiscord
from tests.fakediscord.harness import music_server, running_crate, settings_for

pytestmark = pytest.mark.asyncio(loop_scope="module")

MANAGE_GUILD = 1 << 5


links = _sessions.links  # the same four real tracks, served by link


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory, links):
    database = tmp_path_factory.mktemp("db") / "crate.sqlite3"
    async with FakeDiscord() as fake, music_server(links) as web:
        yield fake, web, settings_for(fake, database), {}


def place(fake, name: str = "general"):
    guild = fake.guilds[0]
    return guild, next(c for c in guild.channels if c.name == name)


async def answered(ix, timeout: float = 30):
    """The answer to a deferred command or click: acknowledged at once, then a follow-up."""
    response = await ix.wait_response()
    assert response.type == 5 and ix.ack_latency < 3, response
    return (await ix.wait_followups(1, timeout=timeout))[-1]


async def refused(ix, timeout: float = 30):
    """An error answer, private, whether it came at once or after a defer."""
    response = await ix.wait_response()
    message = response.data if response.type == 4 else (await ix.wait_followups(1, timeout=timeout))[-1]
    content = message["content"] if isinstance(message, dict) else message.content
    ephemeral = response.ephemeral if response.type == 4 else message.ephemeral
    assert ephemeral and content.startswith("⚠️"), content
    return content


async def now_playing(fake, channel, guild, *, containing: str = ""):
    """The latest now-playing message (the one with ⏭), once it shows ``containing``."""

    def board(message) -> bool:
        return any(c.startswith("crate:skip:") for c in message.custom_ids) and containing in card(message).description

    return await fake.wait_channel_message(channel, board, guild=guild, timeout=30)


async def share_catalog(fake, web, state) -> None:
    """alice shares the four tracks by link (once per module); their messages are kept in ``state``."""
    if "tracks" in state:
        return
    guild, channel = place(fake)
    tracks = []
    for path in (f"/{n.replace(' ', '-')}.ogg" for n in CUTS):
        ix = await fake.slash(guild, channel, "alice", "genre", {"url": web + path})
        message = await ix.wait_original(predicate=lambda m: m.shown, timeout=90)
        rate = next(c for c in message.custom_ids if c.startswith("crate:rate:"))
        tracks.append((int(rate.split(":")[2]), card(message).title, message))
    state["tracks"] = tracks


async def test_start_radio_under_a_track_plays_sounds_alike_once_each_and_a_dj_ends_it(world):
    fake, web, settings, state = world
    guild, channel = place(fake)
    async with running_crate(fake, settings, ready_count=len(fake.sessions) + 1):
        await share_catalog(fake, web, state)
        seed_id, seed_title, message = state["tracks"][0]
        assert f"crate:radio:{seed_id}" in message.custom_ids  # beside 👍 / 👎 on every track message

        click = await fake.click(guild, channel, "bob", message, f"crate:radio:{seed_id}")
        started = await answered(click)
        assert "started a radio from" in started.content and "Text session" in started.content
        assert seed_title[:20] in started.content
        await now_playing(fake, channel, guild, containing="the radio's seed")

        heard = [seed_title]
        for _ in range(len(CUTS) + 1):
            moved = await answered(await fake.slash(guild, channel, "bob", "session next"))
            if "last track" in moved.content:
                break
            assert "The host moved on" in moved.content, moved.content
            title = re.search(r"Now playing \*\*(.+?)\*\*", moved.content).group(1)
            # each pick follows the last one played
            await now_playing(fake, channel, guild, containing=f"{title}** · ")
            board = await now_playing(fake, channel, guild, containing=f"after “{heard[-1]}”")
            assert title in card(board).description
            heard.append(title)
        assert len(heard) == len(set(heard)) == len(CUTS)  # every track once, then the radio ends
        posted = [
            m.content for m in fake.channel_messages(channel, guild=guild) if m.content.startswith("▶ Now playing")
        ]
        assert len(posted) >= len(CUTS) and all(web in line for line in posted[-len(CUTS) :])

        # carol is no host and no DJ: refused in words. Once the server makes DJ her role, she ends it.
        assert "DJ role" in await refused(await fake.slash(guild, channel, "carol", "session end"))
        dj = guild.role("DJ")
        saved = await answered(await fake.slash(guild, channel, "alice", "settings", {"dj_role": dj}))
        assert f"<@&{dj.id}>" in json.dumps(saved.embeds[0])
        fake.give_role(guild, "carol", dj)
        summary = await answered(await fake.slash(guild, channel, "carol", "session end"))
        assert summary.embeds[0]["title"] == "Session over"
        save_id = next(c for c in summary.custom_ids if c.startswith("crate:saveplaylist:"))
        kept = await answered(await fake.click(guild, channel, "carol", summary, save_id))
        assert kept.ephemeral and "Saved as the playlist" in kept.content and "4 tracks" in kept.content
        state["saved"] = re.search(r"playlist \*\*(.+?)\*\*", kept.content).group(1)

        # /session start seed: with autocomplete, like the other commands' track options.
        second_id, second_title, _ = state["tracks"][1]
        choices = await fake.autocomplete(
            guild, channel, "alice", "session start", focused="seed", value=second_title[:6]
        )
        assert choices and choices[0]["value"] == second_id
        started = await answered(await fake.slash(guild, channel, "alice", "session start", {"seed": second_id}))
        assert "started a radio from" in started.content and second_title[:20] in started.content
        # a DJ skips at once, without a vote
        await (await fake.slash(guild, channel, "carol", "session join")).wait_response()
        skipped = await answered(await fake.slash(guild, channel, "carol", "session next"))
        assert "A DJ moved on" in skipped.content
        await answered(await fake.slash(guild, channel, "alice", "session end"))
        await answered(await fake.slash(guild, channel, "alice", "settings", {"reset": "all"}))


async def test_settings_are_hidden_from_members_and_checked_again_by_crate(world):
    fake, web, settings, state = world
    guild, channel = place(fake)
    music_channel = next(c for c in guild.channels if c.name == "music")
    async with running_crate(fake, settings, ready_count=len(fake.sessions) + 1):
        await share_catalog(fake, web, state)
        registered = next(c for c in fake.commands() if c["name"] == "settings")
        assert registered["default_member_permissions"] == str(MANAGE_GUILD)
        assert "settings" in fake.visible_commands(guild, "alice")
        assert "settings" not in fake.visible_commands(guild, "bob") and "playlist" in fake.visible_commands(
            guild, "bob"
        )
        with pytest.raises(PermissionError):
            await fake.slash(guild, channel, "bob", "settings")
        # A server may show the command to everyone (Integrations): Crate refuses in words itself.
        fake.allow_for_everyone(guild, "settings")
        text = await refused(await fake.slash(guild, channel, "bob", "settings", {"stay_in_voice": True}))
        assert "Manage Server" in text
        text = await refused(await fake.slash(guild, channel, "bob", "settings"))
        assert "Manage Server" in text
        fake.allowed_for_everyone.clear()

        # bob becomes a server manager: he sees and changes the settings.
        managers = await fake.add_role(guild, "Moderators", MANAGE_GUILD)
        fake.give_role(guild, "bob", managers)
        shown = await answered(await fake.slash(guild, channel, "bob", "settings"))
        fields = {f["name"]: f["value"] for f in shown.embeds[0]["fields"]}
        assert fields["Voice"] == "leave after 5:00 idle" and fields["Profiles"].startswith("members may see")
        changed = await answered(
            await fake.slash(
                guild, channel, "bob", "settings",
                {"stay_in_voice": True, "analysis_limit": 2, "profiles_public": False, "announcements": music_channel},
            )
        )  # fmt: skip
        fields = {f["name"]: f["value"] for f in changed.embeds[0]["fields"]}
        assert fields["Voice"] == "stay (24/7); with 24/7 off: leave after 5:00 idle"
        assert fields["Analysis limit"].startswith("2 ")
        # The idle timeout while 24/7 is on: saved, and said truthfully to change nothing yet.
        idle = await answered(await fake.slash(guild, channel, "bob", "settings", {"voice_idle_timeout": 60}))
        assert "24/7 is on" in idle.content and "after 1:00" in idle.content and idle.ephemeral
        assert {f["name"]: f["value"] for f in idle.embeds[0]["fields"]}["Voice"].endswith("leave after 1:00 idle")
        # analysis_limit offers exactly what is accepted: 1 up to the server's own limit.
        offered = await fake.autocomplete(guild, channel, "bob", "settings", focused="analysis_limit", value="")
        top = settings.server_concurrent
        assert [c["value"] for c in offered] == list(range(1, top + 1))
        text = await refused(await fake.slash(guild, channel, "bob", "settings", {"analysis_limit": top + 1}))
        assert f"between 1 and {top}" in text
        assert fields["Profiles"].startswith("private") and fields["Announcements"] == f"<#{music_channel.id}>"

        # Privacy: another member's taste is refused; your own is shown.
        text = await refused(await fake.slash(guild, channel, "carol", "profile", {"member": "alice"}))
        assert "private" in text
        text = await refused(await fake.slash(guild, channel, "carol", "taste", {"member": "alice"}))
        assert "private" in text  # /taste shows another member's taste too
        own = await answered(await fake.slash(guild, channel, "alice", "profile", {"member": "alice"}))
        assert own.embeds and own.embeds[0]["title"].endswith("taste")

        # Sessions are announced in the chosen channel too.
        await answered(await fake.slash(guild, channel, "carol", "session start"))
        note = await fake.wait_channel_message(
            music_channel, lambda m: "started a listening session in" in (m.content or ""), guild=guild, timeout=10
        )
        assert f"<#{channel.id}>" in note.content
        # /session leave answers privately, as join does.
        await (await fake.slash(guild, channel, "alice", "session join")).wait_response()
        left = await (await fake.slash(guild, channel, "alice", "session leave")).wait_response()
        assert left.ephemeral and left.data["content"].startswith("You left the session")
        await answered(await fake.slash(guild, channel, "carol", "session end"))
        guild.member("bob").role_ids.remove(managers.id)  # the other tests' bob manages nothing

    # Stored: the same after a restart.
    async with running_crate(fake, settings, ready_count=len(fake.sessions) + 1):
        shown = await answered(await fake.slash(guild, channel, "alice", "settings"))
        assert {f["name"]: f["value"] for f in shown.embeds[0]["fields"]}["Voice"].startswith("stay (24/7);")
        await answered(await fake.slash(guild, channel, "alice", "settings", {"reset": "all"}))


async def test_playlists_from_create_to_export_survive_a_restart(world):
    fake, web, settings, state = world
    guild, channel = place(fake)
    async with running_crate(fake, settings, ready_count=len(fake.sessions) + 1):
        await share_catalog(fake, web, state)
        (first_id, first_title, _), (second_id, _second_title, _) = state["tracks"][:2]
        last_id, last_title, _ = state["tracks"][-1]
        made = await answered(await fake.slash(guild, channel, "alice", "playlist create", {"name": "Road trip"}))
        assert "Made the playlist **Road trip**" in made.content
        taken = await refused(await fake.slash(guild, channel, "bob", "playlist create", {"name": "road TRIP"}))
        assert "already has a playlist" in taken

        # add without a track: alice's last track (the last she shared); with one, from autocomplete.
        added = await answered(await fake.slash(guild, channel, "alice", "playlist add", {"name": "Road trip"}))
        assert added.ephemeral and last_title[:20] in added.content
        names = await fake.autocomplete(guild, channel, "alice", "playlist add", focused="name", value="road")
        assert [c["value"] for c in names] == ["Road trip"]
        picked = await fake.autocomplete(
            guild,
            channel,
            "alice",
            "playlist add",
            focused="track",
            value=first_title[:6],
            options={"name": "Road trip"},
        )
        await answered(
            await fake.slash(
                guild, channel, "alice", "playlist add", {"name": "Road trip", "track": picked[0]["value"]}
            )
        )

        # Only the owner (or a server manager) changes it: bob is refused, in words.
        for command, options in (
            ("playlist add", {"name": "Road trip", "track": second_id}),
            ("playlist remove", {"name": "Road trip", "track": first_id}),
            ("playlist delete", {"name": "Road trip"}),
        ):
            text = await refused(await fake.slash(guild, channel, "bob", command, options))
            assert "Only the owner of “Road trip”" in text

        shown = await answered(await fake.slash(guild, channel, "bob", "playlist show", {"name": "road trip"}))
        description = shown.embeds[0]["description"]
        assert description.index(last_title[:20]) < description.index(first_title[:20])

        exported = await answered(await fake.slash(guild, channel, "bob", "playlist export", {"name": "Road trip"}))
        assert sorted(exported.filenames) == ["Road-trip.json", "Road-trip.m3u"]
        m3u = exported.attachment("Road-trip.m3u").data.decode().splitlines()
        assert m3u[0] == "#EXTM3U" and m3u[1] == "#PLAYLIST:Road trip"
        assert m3u[2].startswith("#EXTINF:") and m3u[2].endswith(f",{last_title}") and m3u[3].startswith(web)
        assert m3u[4].endswith(f",{first_title}") and m3u[5].startswith(web)
        document = json.loads(exported.attachment("Road-trip.json").data)
        alice = fake.member(guild, "alice")
        assert document["name"] == "Road trip" and document["owner"]["id"] == str(alice.id)
        assert [t["title"] for t in document["tracks"]] == [last_title, first_title]
        for track in document["tracks"]:
            assert track["source"].startswith(web) and track["genre"] and track["genres"][0]["probability"] > 0
            assert track["added_by"] == {"id": str(alice.id), "name": "Alice"}

    # After a restart: the playlists are all there, and play opens a session with them.
    async with running_crate(fake, settings, ready_count=len(fake.sessions) + 1):
        listed = await answered(await fake.slash(guild, channel, "carol", "playlist show"))
        text = listed.embeds[0]["description"]
        assert "Road trip" in text and "2 tracks" in text and state["saved"] in text
        played = await answered(await fake.slash(guild, channel, "carol", "playlist play", {"name": "Road trip"}))
        assert "with the playlist **Road trip**" in played.content
        board = await now_playing(fake, channel, guild, containing="from the playlist “Road trip”")
        assert last_title[:20] in card(board).description
        again = await answered(await fake.slash(guild, channel, "alice", "playlist play", {"name": state["saved"]}))
        assert "Queued 4 tracks" in again.content
        await answered(await fake.slash(guild, channel, "carol", "session end"))

        entries = await fake.autocomplete(
            guild, channel, "alice", "playlist remove", focused="track", value="", options={"name": "Road trip"}
        )
        assert [c["value"] for c in entries] == [last_id, first_id]
        removed = await answered(
            await fake.slash(guild, channel, "alice", "playlist remove", {"name": "Road trip", "track": last_id})
        )
        assert "Removed" in removed.content
        gone = await answered(await fake.slash(guild, channel, "alice", "playlist delete", {"name": "Road trip"}))
        assert "Deleted the playlist **Road trip**" in gone.content
        missing = await refused(await fake.slash(guild, channel, "alice", "playlist show", {"name": "Road trip"}))
        assert "no playlist by that name" in missing
