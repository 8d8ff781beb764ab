"""Three members listen together: /session through the real bot, real music, real SQLite.

These sessions run in text mode (Crate posts each track's link); sessions in voice are heard
through the fake Discord's voice server in tests/e2e/test_voice_e2e.py and
tests/e2e/test_voice_controls_e2e.py, the player's queue logic in tests/test_voice.py.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from tests import music
from tests.e2e.cards import card
from tests.fakediscord import FakeDiscord, RecordedMessage
from tests.fakediscord.builders import PUBLIC_THREAD, FakeChannel, snowflake
from tests.fakediscord.harness import music_server, running_crate, settings_for

pytestmark = pytest.mark.asyncio(loop_scope="module")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CUTS = ("Nebula", "Media Threat", "Aberrations", "By-Product")


@pytest.fixture(scope="module")
def links(tmp_path_factory) -> dict[str, tuple[bytes, str]]:
    scratch = tmp_path_factory.mktemp("session-music")
    files = {}
    for name in CUTS:
        cut = music.convert(
            music.singularity_track(name), scratch / f"{name}.ogg", "-ss", "30", "-t", "25", "-c:a", "libvorbis"
        )
        files[f"/{name.replace(' ', '-')}.ogg"] = (cut.read_bytes(), "audio/ogg")
    return files


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory, links):
    database = tmp_path_factory.mktemp("db") / "crate.sqlite3"
    async with FakeDiscord() as fake, music_server(links) as web:
        settings = settings_for(fake, database)
        yield fake, web, settings


def where(fake):
    guild = fake.guilds[0]
    return guild, next(c for c in guild.channels if c.name == "general")


async def reply(ix, timeout: float = 60):
    return await ix.wait_original(
        predicate=lambda m: m.shown or bool(m.content and "⏬" not in m.content and "🎧 Listening" not in m.content),
        timeout=timeout,
    )


async def answered(ix, timeout: float = 30):
    """The answer to a deferred command or click: it acknowledges at once, then follows up."""
    response = await ix.wait_response()
    assert response.type == 5 and ix.ack_latency < 3, response
    return (await ix.wait_followups(1, timeout=timeout))[-1]


def has_skip_button(message) -> bool:
    return any(c.startswith("crate:skip:") for c in message.custom_ids)


async def now_playing(fake, channel, guild):
    """The latest now-playing message (a channel message, so it can be edited for hours)."""
    await fake.wait_channel_message(channel, has_skip_button, guild=guild, timeout=30)
    return [m for m in fake.channel_messages(channel, guild=guild) if has_skip_button(m)][-1]


def assert_no_raw_ids(embed: dict) -> None:
    """Members appear as mentions (descriptions, fields) or names (titles, footers), never as a raw id."""
    import re

    parts = [embed.get("title") or "", embed.get("description") or "", (embed.get("footer") or {}).get("text", "")]
    parts += [f["name"] + " " + f["value"] for f in embed.get("fields", [])]
    for text in parts:
        bare = re.sub(r"<@!?\d+>", "", text)
        assert not re.search(r"\d{15,}", bare), text
    for key in ("title",):
        assert "<@" not in (embed.get(key) or ""), embed.get(key)
    assert "<@" not in (embed.get("footer") or {}).get("text", "")


async def test_a_session_from_start_to_restart_to_end(world):
    fake, web, settings = world
    guild, channel = where(fake)
    async with running_crate(fake, settings, ready_count=len(fake.sessions) + 1):
        # The catalog: alice shares four real tracks by link.
        for path in (f"/{n.replace(' ', '-')}.ogg" for n in CUTS):
            ix = await fake.slash(guild, channel, "alice", "genre", {"url": web + path})
            assert (await reply(ix)).components_v2  # the track card
        # alice hosts; bob and carol join.
        ix = await fake.slash(guild, channel, "alice", "session start")
        assert (await ix.wait_response()).type == 5 and ix.ack_latency < 3
        started = await reply(ix)
        assert "started a listening session" in started.content and "Text session" in started.content
        message = await now_playing(fake, channel, guild)
        # No member list without the GUILD_MEMBERS intent: the host's name comes from their interactions.
        assert card(message).footer.startswith("Hosted by Alice · "), card(message)
        session_id = int(next(c for c in message.custom_ids if c.startswith("crate:skip:")).split(":")[2])
        for member in ("bob", "carol"):
            joined = await fake.slash(guild, channel, member, "session join")
            assert "You joined" in (await joined.wait_response()).data["content"]

        # Each adds real music; bob dislikes carol's track.
        added = {}
        for member, name in (
            ("alice", "singularity-awakening"),
            ("bob", "nexuiz-beast-of-insanity"),
            ("carol", "nexuiz-brainsukker"),
        ):
            ix = await fake.slash(
                guild,
                channel,
                member,
                "session add",
                attachments={"file": (f"{name}.ogg", (EXAMPLES / f"{name}.ogg").read_bytes(), "audio/ogg")},
            )
            done = await reply(ix)
            assert done.content.startswith("➕ Queued"), done.payload()
            added[member] = name
        choices = await fake.autocomplete(guild, channel, "bob", "dislike", focused="track", value="brainsukker")
        disliked = choices[0]["value"]
        await (await fake.slash(guild, channel, "bob", "dislike", {"track": disliked})).wait_original()
        await (await fake.slash(guild, channel, "carol", "like", {"track": choices[0]["value"]})).wait_original()

        # Vote-skip: with three present, one vote is not enough, two are; the host skips at once.
        first = await fake.slash(guild, channel, "carol", "session next")
        assert "Vote counted: 1 of 2" in (await answered(first)).content
        second = await fake.slash(guild, channel, "bob", "session next")
        assert "Skipped by vote (2/2)" in (await answered(second)).content
        host = await fake.slash(guild, channel, "alice", "session next")
        assert "The host moved on" in (await answered(host)).content

        # Keep moving until Crate fills the queue from the catalog; its picks never include
        # a track a present member disliked.
        for _ in range(4):
            await answered(await fake.slash(guild, channel, "alice", "session next"))
        queue = await fake.slash(guild, channel, "alice", "session queue")
        embed = (await answered(queue)).embeds[0]
        text = embed["description"] + " ".join(f["value"] for f in embed.get("fields", []))
        assert "Crate's pick" in text
        picks = [line for line in text.split("\n") if "Crate's pick" in line]
        assert all("brainsukker" not in line for line in picks), picks
        assert any(f["name"] == "Taste match" and f["value"].endswith("%") for f in embed["fields"])
        assert_no_raw_ids(embed)

    # Restart mid-session: the session carries on and the old ⏭ button still works.
    async with running_crate(fake, settings, ready_count=len(fake.sessions) + 1):
        await fake.wait_channel_message(channel, lambda m: "I restarted" in (m.content or ""), guild=guild, timeout=30)
        old = await now_playing(fake, channel, guild)
        click = await fake.click(guild, channel, "alice", old, f"crate:skip:{session_id}")
        response = await answered(click)
        assert response.ephemeral and "moved on" in response.content

        end = await fake.slash(guild, channel, "alice", "session end")
        summary = (await reply(end)).embed
        assert summary["title"] == "Session over"
        assert_no_raw_ids(summary)
        fields = {f["name"]: f["value"] for f in summary["fields"]}
        assert "Played" in fields and "Group taste match" in fields
        carol = fake.member(guild, "carol")
        liked = fields.get("Who liked what", "")
        assert ("Carol" in liked or f"<@{carol.id}>" in liked) and "brainsukker" in liked
        after = await fake.slash(guild, channel, "bob", "session queue")
        refused = await answered(after)
        assert refused.ephemeral and "no listening session" in refused.content.lower()


async def test_two_channels_hold_separate_sessions(world):
    fake, _web, settings = world
    guild = fake.guilds[1]
    general = next(c for c in guild.channels if c.name == "general")
    other = next(c for c in guild.channels if c.name == "music")
    async with running_crate(fake, settings, ready_count=len(fake.sessions) + 1):
        for channel, host in ((general, "alice"), (other, "bob")):
            ix = await fake.slash(guild, channel, host, "session start")
            assert "started a listening session" in (await reply(ix)).content
        again = await fake.slash(guild, general, "carol", "session start")
        assert "already" in (await again.wait_response()).data["content"].lower()
        ix = await fake.slash(guild, other, "carol", "session join")
        await ix.wait_response()
        queue = await fake.slash(guild, general, "alice", "session queue")
        listening = {f["name"]: f["value"] for f in (await answered(queue)).embeds[0]["fields"]}["Listening"]

        def shown(name: str) -> bool:  # by display name, or as a mention when not cached
            return name.capitalize() in listening or f"<@{fake.member(guild, name).id}>" in listening

        assert shown("alice") and not shown("carol")


async def test_a_session_in_a_thread_talks_in_the_thread_and_carries_on_after_a_restart(world):
    """A thread is a channel of its own (not one of the server's channels, for discord.py): its
    session's announcements go to it, and a restart resumes it there."""
    fake, web, settings = world
    guild = fake.guilds[1]
    general = next(c for c in guild.channels if c.name == "general")
    alice = fake.member(guild, "alice")
    thread = FakeChannel(
        snowflake(), "listening party", PUBLIC_THREAD, guild.id, parent_id=general.id, owner_id=alice.id
    )
    guild.channels.append(thread)  # before Crate connects: the server arrives with it

    def said(text: str) -> Callable[[RecordedMessage], bool]:
        return lambda message: text in (message.content or "")

    async with running_crate(fake, settings, ready_count=len(fake.sessions) + 1):
        start = await fake.slash(guild, thread, "alice", "session start")
        assert "started a listening session" in (await reply(start)).content
        await now_playing(fake, thread, guild)
        for path in (f"/{name.replace(' ', '-')}.ogg" for name in CUTS[:2]):
            add = await fake.slash(guild, thread, "alice", "session add", {"url": web + path})
            assert (await reply(add)).content.startswith("➕ Queued")
        assert "moved on" in (await answered(await fake.slash(guild, thread, "alice", "session next"))).content
        await fake.wait_channel_message(thread, said("▶ Now playing"), guild=guild, timeout=30)
    async with running_crate(fake, settings, ready_count=len(fake.sessions) + 1):
        await fake.wait_channel_message(thread, said("I restarted"), guild=guild, timeout=30)
        end = await fake.slash(guild, thread, "alice", "session end")
        assert (await reply(end)).embed["title"] == "Session over"


async def test_without_a_voice_server_the_session_falls_back_to_text_and_voice_joins_count(world):
    """The fake Discord has no voice server, so joining voice fails (after connect_voice's
    timeout) and the session runs in text; a member entering its voice channel joins it."""
    fake, _web, settings = world
    guild, channel = where(fake)
    lounge = next(c for c in guild.channels if c.name == "Lounge")
    async with running_crate(fake, settings, ready_count=len(fake.sessions) + 1):
        ix = await fake.slash(guild, channel, "alice", "session start", {"voice_channel": lounge.id})
        assert (await ix.wait_response()).type == 5 and ix.ack_latency < 3
        started = await reply(ix, timeout=60)
        assert "I can't play in" in started.content and "text session" in started.content
        await fake.set_voice_state(guild, "carol", lounge)

        async def carol_listens() -> bool:
            queue = await fake.slash(guild, channel, "alice", "session queue")
            fields = {f["name"]: f["value"] for f in (await answered(queue)).embeds[0]["fields"]}
            carol = fake.member(guild, "carol")
            return "Carol" in fields["Listening"] or f"<@{carol.id}>" in fields["Listening"]

        for _ in range(20):
            if await carol_listens():
                break
            await asyncio.sleep(0.1)
        assert await carol_listens()
        end = await fake.slash(guild, channel, "alice", "session end")
        assert (await reply(end)).embed["title"] == "Session over"


async def test_an_expired_attachment_link_is_refreshed_before_it_is_shared_again(world):
    """Discord attachment links expire after about a day; a text session re-shares each track's
    link, so Crate renews it first (the fake's links are signed and expire like Discord's)."""
    fake, _web, settings = world
    guild = fake.guilds[0]
    channel = next(c for c in guild.channels if c.name == "music")
    files = {name: (EXAMPLES / f"{name}.ogg").read_bytes() for name in ("singularity-awakening", "nexuiz-brainsukker")}
    async with running_crate(fake, settings, ready_count=len(fake.sessions) + 1):
        start = await fake.slash(guild, channel, "bob", "session start")
        await start.wait_followups(1, timeout=60)
        for name, data in files.items():
            ix = await fake.slash(
                guild, channel, "bob", "session add", attachments={"file": (f"{name}.ogg", data, "audio/ogg")}
            )
            assert (await reply(ix)).content.startswith("➕ Queued")
        fake.clock.advance(25 * 3600)  # a day later, every link Discord handed out is dead
        before = len(fake.channel_messages(channel, guild=guild))

        def announced() -> list:
            return [
                m
                for m in fake.channel_messages(channel, guild=guild)[before:]
                if m.content.startswith("▶ Now playing") and "brainsukker" in m.content
            ]

        for _ in range(8):  # Crate's own picks may come first in the queue
            assert "moved on" in (await answered(await fake.slash(guild, channel, "bob", "session next"))).content
            if announced():  # posted before the answer to /session next
                break
        (message,) = announced()
        url = re.search(r"(http://\S+)", message.content).group(1)
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            assert response.status == 200 and await response.read() == files["nexuiz-brainsukker"]
        assert "POST /attachments/refresh-urls" in fake.requests
        end = await fake.slash(guild, channel, "bob", "session end")
        assert (await reply(end)).embed["title"] == "Session over"


#: Three members, three tastes: the tracks each of them likes (none of them dislikes anything,
#: so no track is vetoed and every member stays servable).
TASTES = {
    "alice": [("nexuiz", music.NEXUIZ_METAL), ("nexuiz", "infight"), ("nexuiz", "thunder")],
    "bob": [("nexuiz", music.NEXUIZ_ELECTRONIC), ("nexuiz", "digital-pursuit"), ("nexuiz", "neuronal-diving")],
    "carol": [("singularity", music.AMBIENT), ("singularity", "Nebula"), ("singularity", "Media Threat")],
}
PICKS_CHECKED = 6


async def test_three_tastes_are_each_served_in_every_run_of_three_picks(tmp_path):
    """alice, bob and carol like different music; Crate's consecutive group picks serve each of
    them at least once in every run of three (the fairness guarantee of bot.recommend.group)."""
    from bot.store import connect_database
    from bot.store import sessions as store

    files = {}
    for liked in TASTES.values():
        for kind, name in liked:
            source = music.nexuiz_track(name) if kind == "nexuiz" else music.singularity_track(name)
            cut = music.convert(source, tmp_path / f"{name}.ogg", "-ss", "30", "-t", "20", "-c:a", "libvorbis")
            files[f"/{name.replace(' ', '-')}.ogg"] = (cut.read_bytes(), "audio/ogg")
    async with FakeDiscord() as fake, music_server(files) as web:
        settings = settings_for(fake, tmp_path / "crate.sqlite3")
        guild, channel = where(fake)
        members = {name: fake.member(guild, name).id for name in TASTES}
        async with running_crate(fake, settings, ready_count=len(fake.sessions) + 1):
            # Everyone is present before Crate picks anything: the session opens on an empty catalog.
            start = await fake.slash(guild, channel, "alice", "session start")
            assert "started a listening session" in (await reply(start)).content
            message = await now_playing(fake, channel, guild)
            assert "Nothing to play yet" in card(message).description
            session_id = int(next(c for c in message.custom_ids if c.startswith("crate:skip:")).split(":")[2])
            for member in ("bob", "carol"):
                joined = await fake.slash(guild, channel, member, "session join")
                assert "You joined" in (await joined.wait_response()).data["content"]
            for member, liked in TASTES.items():
                for _, name in liked:
                    shared = await reply(
                        await fake.slash(
                            guild, channel, member, "genre", {"url": f"{web}/{name.replace(' ', '-')}.ogg"}
                        )
                    )
                    track_id = int(re.search(r"Track #(\d+)", card(shared).footer).group(1))
                    rated = await fake.slash(guild, channel, member, "like", {"track": track_id})
                    assert "like" in ((await rated.wait_original()).content or "").lower()
            shown = []  # what the bot says each pick is for, as the members read it
            for _ in range(PICKS_CHECKED):
                moved = await answered(await fake.slash(guild, channel, "alice", "session next"))
                assert "Now playing" in moved.content, moved.content
                shown.append(card(await now_playing(fake, channel, guild)).description)
            await reply(await fake.slash(guild, channel, "alice", "session end"))

        db = await connect_database(settings.database_path)
        try:
            entries = await store.queue_of(db, guild.id, session_id)
        finally:
            await db.close()
    picks = [e for e in entries if e.picked_by_crate][:PICKS_CHECKED]
    assert len(picks) == PICKS_CHECKED, entries
    served = [set(e.for_user_ids) for e in picks]
    for first in range(len(served) - 2):
        window = set().union(*served[first : first + 3])
        assert window >= set(members.values()), (first, [(e.title, e.for_user_ids, e.reason) for e in picks])
    # ... and the bot says so: each member is named in the reasons shown within the first three picks
    everyone = any("everyone" in line for line in shown[:3])
    for user_id in members.values():
        assert everyone or any(f"<@{user_id}>" in line for line in shown[:3]), shown
