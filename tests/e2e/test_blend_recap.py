"""Blends and recaps through the real bot, the fake Discord, real music and SQLite.

A Blend made by members of different tastes (alice likes the calm singularity tracks, bob the
loud nexuiz ones, carol has rated one track): who each track is for, none anyone disliked, the
taste-match line only where every member rated enough; refilled at once after a dislike;
played with /playlist play, never changed by hand nor deleted by /playlist; /forget takes a
member out. /recap answers with a 1080x1350 card,
and a server that opted in (/settings recap:True) gets its recap of the month just ended posted
in its announcements channel (else its system channel) on the 1st, once, even after the task
runs again and after a restart.
The Discord-free parts are tested in tests/test_blends.py and tests/test_recap.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import time
from datetime import UTC, datetime

import numpy as np
import pytest
import pytest_asyncio
from PIL import Image

import bot.app.blends
import bot.app.recap
import bot.present.recap
from bot import store
from bot.catalog import TAG_COUNT
from bot.listen.families import default_model
from tests import music
from tests.e2e.cards import card
from tests.fakediscord import FakeDiscord
from tests.fakediscord.harness import music_server, running_crate, settings_for
from tests.tastes import add_sure_track, direction

pytestmark = pytest.mark.asyncio(loop_scope="module")

CALM = ("Nebula", "Through Space", "Awakening", "Coherence")
LOUD = ("beast-of-insanity", "brainsukker", "chaos-fog", "infight")
#: The time the running bot reads for recaps (None: the real time); the monthly post moves it.
CLOCK: dict[str, float | None] = {"now": None}


@pytest.fixture(scope="module")
def links(tmp_path_factory) -> dict[str, tuple[bytes, str]]:
    scratch = tmp_path_factory.mktemp("blend-music")
    files = {}
    for name in CALM + LOUD:
        source = music.singularity_track(name) if name in CALM else music.nexuiz_track(name)
        cut = music.convert(source, scratch / f"{name}.ogg", "-ss", "20", "-t", "25", "-c:a", "libvorbis")
        files[f"/{name.replace(' ', '-')}.ogg"] = (cut.read_bytes(), "audio/ogg")
    return files


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory, links):
    database = tmp_path_factory.mktemp("db") / "crate.sqlite3"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bot.app.recap, "wall_clock", lambda: CLOCK["now"] or time.time())
        patch.setattr(bot.app.recap, "CHECK_EVERY", 0.5)
        async with FakeDiscord() as fake, music_server(links) as web:
            async with running_crate(fake, settings_for(fake, database)):
                yield fake, web, {}


def place(fake, name: str = "general"):
    guild = fake.guilds[0]
    return guild, next(c for c in guild.channels if c.name == name)


def mention(fake, guild, user: str) -> str:
    return f"<@{fake.member(guild, user).id}>"


async def answered(ix, timeout: float = 60):
    """Acknowledged at once, then answered."""
    response = await ix.wait_response()
    assert response.type == 5 and ix.ack_latency < 3, response
    return (await ix.wait_followups(1, timeout=timeout))[-1]


async def catalog(fake, web, state) -> dict[str, int]:
    """alice shares the eight tracks by link (once); their ids by name."""
    if "ids" not in state:
        guild, channel = place(fake)
        ids = {}
        for name in CALM + LOUD:
            ix = await fake.slash(guild, channel, "alice", "genre", {"url": f"{web}/{name.replace(' ', '-')}.ogg"})
            message = await ix.wait_original(predicate=lambda m: m.shown, timeout=120)
            ids[name] = int(next(c for c in message.custom_ids if c.startswith("crate:rate:")).split(":")[2])
        state["ids"] = ids
    return state["ids"]


async def rate(fake, user: str, track: int, verb: str = "like") -> None:
    guild, channel = place(fake)
    ix = await fake.slash(guild, channel, user, verb, {"track": track})
    said = (await answered(ix)).content
    assert ("You liked" if verb == "like" else "You disliked") in said, said


def looks_like_a_card(data: bytes) -> bool:
    """A 1080x1350 recap card: Crate's dark background, green headings and white text on it."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    colours = {colour for _, colour in image.getcolors(maxcolors=1 << 20) or []}
    return image.size == (1080, 1350) and {(0x19, 0x14, 0x14), (0x1D, 0xB9, 0x54), (255, 255, 255)} <= colours


def blend_rows(description: str) -> list[tuple[str, str]]:
    """(title, who it is for) of each numbered line of a Blend embed."""
    return re.findall(r"^\d+\. \*\*(.+?)\*\* · [^\n]*? — (for [^\n]+)$", description, flags=re.M)


async def test_a_blend_of_different_tastes_refilled_played_and_forgotten(world):
    fake, web, state = world
    ids = await catalog(fake, web, state)
    guild, channel = place(fake)
    for name in CALM[:3]:
        await rate(fake, "alice", ids[name])
    await rate(fake, "alice", ids[LOUD[0]], "dislike")
    for name in LOUD[1:4]:
        await rate(fake, "bob", ids[name])
    await rate(fake, "bob", ids[CALM[3]], "dislike")
    await rate(fake, "carol", ids[CALM[0]])

    ix = await fake.slash(guild, channel, "bob", "blend start", {"member": "alice", "member2": "carol"})
    made = (await answered(ix)).embed
    name = made["title"].removeprefix("🎶 ")
    alice, bob, carol = (mention(fake, guild, u) for u in ("alice", "bob", "carol"))
    text = made["description"]
    # carol rated one track: no percentage is made up from it
    assert f"not enough ratings yet ({carol} has rated 1 track" in text and "%" not in text.split("\n")[0]
    rows = blend_rows(text)
    titles = [title.lower() for title, _ in rows]
    assert rows and LOUD[0] not in titles and CALM[3].lower() not in titles  # nothing anyone disliked
    assert any(alice in who for _, who in rows) and any(bob in who for _, who in rows)
    assert made["footer"]["text"].startswith("Refreshed daily, and at once")

    # bob started it, yet neither he nor anyone changes its tracks by hand, nor deletes it for the others
    add = await fake.slash(guild, channel, "bob", "playlist add", {"name": name, "track": ids[LOUD[0]]})
    said = (await answered(add)).content
    assert said.startswith("⚠️") and "is a Blend" in said and "can't be changed by hand" in said, said
    delete = await fake.slash(guild, channel, "bob", "playlist delete", {"name": name})
    said = (await answered(delete)).content
    assert said.startswith("⚠️") and "/blend leave" in said, said
    shown = (await answered(await fake.slash(guild, channel, "bob", "blend show"))).embed
    assert [t.lower() for t, _ in blend_rows(shown["description"])] == titles

    # bob turns down one of alice's tracks: the Blend is refilled at once, without it
    alices = next(title for title, who in rows if alice in who and bob not in who and title.lower() != "nebula")
    await rate(fake, "bob", ids[next(n for n in CALM + LOUD if n.lower() == alices.lower())], "dislike")
    shown = (await answered(await fake.slash(guild, channel, "alice", "blend show"))).embed
    assert alices.lower() not in [t.lower() for t, _ in blend_rows(shown["description"])]

    # carol likes two more tracks: with three ratings each, the Blend now shows a taste match
    await rate(fake, "carol", ids[CALM[1]])
    await rate(fake, "carol", ids[LOUD[2]])
    matched = (await answered(await fake.slash(guild, channel, "bob", "blend show"))).embed["description"]
    assert re.match(r"Taste match: \*\*\d+%\*\* `", matched), matched
    shown = {"description": matched}

    # a real playlist: /playlist play opens a session with it, and the first track plays
    played = await answered(await fake.slash(guild, channel, "carol", "playlist play", {"name": name}))
    assert "listening session with the playlist" in played.content, played.content
    board = await fake.wait_channel_message(
        channel, lambda m: any(c.startswith("crate:skip:") for c in m.custom_ids), guild=guild, timeout=30
    )
    playing = card(board).description.lower()
    assert any(title.lower() in playing for title, _ in blend_rows(shown["description"])), playing
    ended = await answered(await fake.slash(guild, channel, "carol", "session end"))
    assert ended.embeds or ended.content

    # bob forgets everything: the Blend goes on for alice and carol, without him
    forget = await fake.slash(guild, channel, "bob", "forget")
    confirm = await fake.click(guild, channel, "bob", await forget.wait_original(), label="Yes, forget me")
    await confirm.wait_original(predicate=lambda m: "Done" in (m.content or ""))
    after = (await answered(await fake.slash(guild, channel, "alice", "blend show"))).embed
    assert f"Members: {alice}, {carol}" in after["description"] and bob not in after["description"]

    # carol leaves: a Blend of one member is no Blend
    left = await answered(await fake.slash(guild, channel, "carol", "blend leave"))
    assert "it is gone" in left.content and left.ephemeral
    gone = await fake.slash(guild, channel, "alice", "blend show")
    said = (await answered(gone)).content
    assert "aren't in any Blend" in said and "start one with /blend start member:@someone" in said, said


async def test_recap_card_and_the_monthly_post(world):
    fake, web, state = world
    ids = await catalog(fake, web, state)
    guild, channel = place(fake)
    await rate(fake, "carol", ids[LOUD[2]])
    ix = await fake.slash(guild, channel, "carol", "recap", {"period": "year"})
    message = await answered(ix)
    year = datetime.now(UTC).year
    assert message.content == f"📼 This server's recap of {year}"
    (card,) = message.attachments
    assert card.filename == "recap.png" and looks_like_a_card(card.data)

    # alice (the owner) opts in, with #music as the announcements channel, mid-month: nothing due yet
    now = datetime.now(UTC)
    CLOCK["now"] = datetime(now.year, now.month, 15, 12, tzinfo=UTC).timestamp()
    music_channel = next(c for c in guild.channels if c.name == "music")
    ix = await fake.slash(guild, channel, "alice", "settings", {"recap": True, "announcements": music_channel.id})
    saved = (await answered(ix)).embed
    fields = {f["name"]: f["value"] for f in saved["fields"]}
    assert fields["Monthly recap"] == f"posted on the 1st of each month in <#{music_channel.id}>"

    # Guild Two opts in too, but nothing is shared, played or liked there
    quiet = fake.guilds[1]
    quiet_system = next(c for c in quiet.channels if c.type == 0)
    await answered(await fake.slash(quiet, quiet_system, "alice", "settings", {"recap": True}))
    await asyncio.sleep(1.5)  # the task ran (every 0.5 s) and posted nothing
    assert not [m for m in fake.channel_messages(music_channel.id) if "recap of" in (m.content or "")]
    first = datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, 0, 5, tzinfo=UTC)
    CLOCK["now"] = first.timestamp()
    try:
        post = await fake.wait_channel_message(
            music_channel, lambda m: "recap of" in (m.content or ""), guild=guild, timeout=30
        )
        month = now.strftime("%B %Y")
        assert post.content == f"📼 This server's recap of {month}. See your own with `/recap`."
        (card,) = post.attachments
        assert looks_like_a_card(card.data)
        await asyncio.sleep(2)  # the task ran again (every 0.5 s): still one post
        posts = [m for m in fake.channel_messages(music_channel.id) if "recap of" in (m.content or "")]
        assert len(posts) == 1
        # a quiet month: no empty card in Guild Two's channel
        assert not [m for m in fake.channel_messages(quiet_system.id) if "recap of" in (m.content or "")]
    finally:
        CLOCK["now"] = None


async def test_the_monthly_post_is_made_once_across_a_restart(tmp_path):
    """Crate stopped on the 1st right after Guild One's recap was posted, while Guild Two's card was
    being drawn (its post claimed, not sent), and started again on the same database: each
    server's recap is posted once, the one already posted not again, the one interrupted not lost."""
    database = tmp_path / "crate.sqlite3"
    now = datetime.now(UTC)
    first = datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, 0, 5, tzinfo=UTC).timestamp()
    draw = bot.present.recap.recap_card
    slowed: list[str] = []

    def slow_for_guild_two_once(card):
        if card.title.startswith("Guild Two") and not slowed:
            slowed.append(card.title)
            time.sleep(3)  # in the drawing thread: Crate stops meanwhile
        return draw(card)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bot.app.recap, "wall_clock", lambda: CLOCK["now"] or time.time())
        patch.setattr(bot.app.recap, "CHECK_EVERY", 0.5)
        patch.setattr(bot.present.recap, "recap_card", slow_for_guild_two_once)  # what the cog imports as it loads
        async with FakeDiscord() as fake:
            guild, channel = place(fake)
            settings = settings_for(fake, database)
            two = fake.guilds[1]
            two_system = next(c for c in two.channels if c.type == 0)
            for server in (guild, two):
                await liked_this_month(database, server, fake.member(server, "bob"))
            try:
                async with running_crate(fake, settings):
                    CLOCK["now"] = datetime(now.year, now.month, 15, tzinfo=UTC).timestamp()
                    ix = await fake.slash(guild, channel, "alice", "settings", {"recap": True})
                    fields = {f["name"]: f["value"] for f in (await answered(ix)).embed["fields"]}
                    assert fields["Monthly recap"] == "posted on the 1st of each month in the server's system channel"
                    await answered(await fake.slash(two, two_system, "alice", "settings", {"recap": True}))
                    CLOCK["now"] = first
                    # no announcements channel: the server's system channel (the fake's first text channel)
                    system = next(c for c in guild.channels if c.type == 0)
                    await fake.wait_channel_message(
                        system, lambda m: "recap of" in (m.content or ""), guild=guild, timeout=30
                    )
                    for _ in range(200):  # Crate moves on to Guild Two: stop it while that card is drawn
                        if slowed:
                            break
                        await asyncio.sleep(0.02)
                    assert slowed and not [
                        m for m in fake.channel_messages(two_system.id) if "recap of" in (m.content or "")
                    ]
                async with running_crate(fake, settings, ready_count=2):
                    await fake.wait_channel_message(
                        two_system, lambda m: "recap of" in (m.content or ""), guild=two, timeout=30
                    )
                    await asyncio.sleep(2)  # the restarted bot's task ran several rounds
            finally:
                CLOCK["now"] = None
            posts = [m for m in fake.channel_messages(system.id) if "recap of" in (m.content or "")]
            assert len(posts) == 1
            assert len([m for m in fake.channel_messages(two_system.id) if "recap of" in (m.content or "")]) == 1


async def test_a_members_recap_names_them_before_crate_has_met_them(tmp_path):
    """/recap member:@bob when bob never used Crate: his name comes with the interaction (the
    resolved member), so his card is his, in the asker's language, not a "former member's"."""
    drawn = []
    draw = bot.present.recap.recap_card

    def recording(card):
        drawn.append(card)
        return draw(card)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bot.present.recap, "recap_card", recording)  # what the cog imports as it loads
        async with FakeDiscord() as fake:
            guild, channel = place(fake)
            fake.member(guild, "alice").user.locale = "de"
            async with running_crate(fake, settings_for(fake, tmp_path / "crate.sqlite3")):
                german = await answered(await fake.slash(guild, channel, "alice", "recap", {"member": "bob"}))
                english = await answered(await fake.slash(guild, channel, "carol", "recap", {"member": "bob"}))
    assert german.content.startswith("📼 Rückblick von Bob auf ") and english.content.startswith("📼 Bob's recap of")
    assert drawn[0].title.endswith(" von Bob") and drawn[1].title.startswith("Bob's "), [c.title for c in drawn]


async def test_a_monthly_post_crate_may_not_make_waits_and_holds_up_no_other_server(tmp_path, caplog):
    """Guild One's system channel refuses Crate (403 Missing Permissions): Guild Two, after it, still
    gets its recap; Guild One's is not remembered as posted, is logged, is not tried again at every
    round, and is posted once (and only once) when tried again after its managers fixed it."""
    now = datetime.now(UTC)
    database = tmp_path / "crate.sqlite3"
    first = datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, 0, 5, tzinfo=UTC).timestamp()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bot.app.recap, "wall_clock", lambda: CLOCK["now"] or time.time())
        patch.setattr(bot.app.recap, "CHECK_EVERY", 0.3)
        async with FakeDiscord() as fake:
            one, two = sorted(fake.guilds, key=lambda g: g.id)  # the order the due servers are posted in
            systems = {g.id: next(c for c in g.channels if c.type == 0) for g in (one, two)}
            for guild in (one, two):
                await liked_this_month(database, guild, fake.member(guild, "bob"))

            def posts(guild) -> list:
                return [m for m in fake.channel_messages(systems[guild.id].id) if "recap of" in (m.content or "")]

            try:
                async with running_crate(fake, settings_for(fake, database)):
                    CLOCK["now"] = datetime(now.year, now.month, 15, tzinfo=UTC).timestamp()
                    for guild in (one, two):
                        ix = await fake.slash(guild, systems[guild.id], "alice", "settings", {"recap": True})
                        await answered(ix)
                    fake.forbidden_channels.add(systems[one.id].id)
                    CLOCK["now"] = first
                    await fake.wait_channel_message(
                        systems[two.id], lambda m: "recap of" in (m.content or ""), guild=two, timeout=30
                    )
                    await asyncio.sleep(1.5)  # several rounds: Guild One's refused post is not tried at each
                    refused = [
                        r for r in caplog.records if r.name == "cogs.recap" and "could not be posted" in r.message
                    ]
                    assert len(refused) == 1 and "403" in refused[0].message and str(one.id) in refused[0].message
                    assert not posts(one)
                    fake.forbidden_channels.clear()  # its managers let Crate post there
                    await asyncio.sleep(1)
                    assert not posts(one)  # not before the retry is due
                    CLOCK["now"] = first + bot.app.recap.RETRY_AFTER + 1
                    await fake.wait_channel_message(
                        systems[one.id], lambda m: "recap of" in (m.content or ""), guild=one, timeout=30
                    )
                    await asyncio.sleep(1)
            finally:
                CLOCK["now"] = None
            assert len(posts(one)) == 1 and len(posts(two)) == 1


async def test_a_recap_names_a_sharer_crate_never_met_and_calls_only_one_who_left_a_former_member(tmp_path):
    """Tracks `crate index --user` filed as shared by bob (never met by Crate, still in the server)
    and by someone who has left: the card names bob (asked of Discord), and only the other "a
    former member"."""
    drawn = []
    draw = bot.present.recap.recap_card

    def recording(card):
        drawn.append(card)
        return draw(card)

    database = tmp_path / "crate.sqlite3"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bot.present.recap, "recap_card", recording)
        async with FakeDiscord() as fake:
            guild, channel = place(fake)
            bob = fake.member(guild, "bob").id
            async with store.open_database(database) as db:
                for i, sharer in enumerate((bob, 4242)):
                    await add_sure_track(
                        db, guild.id, f"Shared {i}", [("ambient", 1.0)], direction(i), duration=120.0 + i,
                        shared_by=sharer, now=time.time() - 60,
                    )  # fmt: skip
            async with running_crate(fake, settings_for(fake, database)):
                await answered(await fake.slash(guild, channel, "carol", "recap"))
    (firsts,) = [lines for heading, lines in drawn[0].sections if heading == "First shares"]
    assert firsts == ("Shared 0 · shared by Bob", "Shared 1 · shared by a former member"), firsts


async def indexed(db, guild_id: int, title: str, family: str, embedding, *, now: float) -> int:
    """A track stored as `crate index` stores it (answered by the bot's model: its start does not relabel it)."""
    track, _ = await store.add_track(
        db, guild_id, title=title, source_url=None, source_kind="file",
        content_hash=hashlib.sha256(title.encode()).hexdigest(), duration=120.0 + len(title),
        genres=((family, 0.9), ("pop", 0.1)), tag_probs=np.full(TAG_COUNT, 0.05, np.float32),
        embedding=embedding.astype(np.float32), tempo=None, shared_by=None, confident=True,
        genre_model=default_model().version, now=now,
    )  # fmt: skip
    return track.id


@pytest.fixture
def blend_clock(monkeypatch) -> dict[str, float]:
    """The time the running bot's Blends read (a test moves it a day on), their round every 0.3 s."""
    clock = {"now": time.time()}
    monkeypatch.setattr(bot.app.blends, "wall_clock", lambda: clock["now"])
    monkeypatch.setattr(bot.app.blends, "CHECK_EVERY", 0.3)
    return clock


async def liked_this_month(database, guild, member) -> None:
    """Something to recap: a track, liked now by ``member`` (a month with nothing in it is not posted)."""
    async with store.open_database(database) as db:
        track = await indexed(db, guild.id, f"Liked in {guild.name}", "jazz", direction(980), now=time.time())
        await store.rate(db, guild.id, member.id, track, 1)


async def test_the_daily_refresh_brings_in_a_track_shared_since(tmp_path, blend_clock):
    """A Blend of alice (calm) and bob (loud); a calm track is indexed afterwards by another process
    (`crate index`), which refills nothing: a day later the running bot's daily round has refilled
    the Blend, the new track in it, for alice; nothing else changed it before."""
    database = tmp_path / "crate.sqlite3"
    calm, loud = direction(900), direction(901)
    async with FakeDiscord() as fake:
        guild, channel = place(fake)
        ids = {fake.member(guild, u).id: u for u in ("alice", "bob")}
        async with store.open_database(database) as db:
            for i in range(6):
                family, centre = ("ambient", calm) if i % 2 == 0 else ("metal", loud)
                title = f"{family.title()} {i}"
                track = await indexed(
                    db, guild.id, title, family, 3 * centre + direction(910 + i), now=time.time() - 60
                )
                for user, name in ids.items():
                    if name == ("alice" if family == "ambient" else "bob"):
                        await store.rate(db, guild.id, user, track, 1)
        async with running_crate(fake, settings_for(fake, database)):
            made = (await answered(await fake.slash(guild, channel, "bob", "blend start", {"member": "alice"}))).embed
            assert "Ambient 0" in made["description"] and "Metal 1" in made["description"]
            async with store.open_database(database) as db:  # another process indexes a calm track
                await indexed(db, guild.id, "Ambient New", "ambient", 3 * calm + direction(990), now=time.time())
            await asyncio.sleep(1)  # rounds ran: nothing was due
            shown = (await answered(await fake.slash(guild, channel, "alice", "blend show"))).embed
            assert "Ambient New" not in shown["description"]
            blend_clock["now"] += bot.app.blends.REFRESH_EVERY + 60  # a day later
            for _ in range(40):
                await asyncio.sleep(0.5)
                shown = (await answered(await fake.slash(guild, channel, "alice", "blend show"))).embed
                if "Ambient New" in shown["description"]:
                    break
    rows = dict(blend_rows(shown["description"]))
    assert rows.get("Ambient New") == f"for <@{fake.member(guild, 'alice').id}>", shown["description"]


async def test_a_member_who_left_the_server_is_taken_out_at_the_daily_refresh(tmp_path, blend_clock):
    """carol is in a Blend with alice and bob, and in one with bob alone; she leaves the server
    (Crate, without the members intent, hears nothing). At the next daily refresh Crate asks
    Discord: the first Blend goes on for alice and bob, the second (one member left) is gone."""
    database = tmp_path / "crate.sqlite3"
    async with FakeDiscord() as fake:
        guild, channel = place(fake)
        async with store.open_database(database) as db:
            for i in range(6):
                track = await indexed(db, guild.id, f"Song {i}", "ambient", direction(930 + i), now=time.time())
                for user in ("alice", "bob", "carol"):
                    await store.rate(db, guild.id, fake.member(guild, user).id, track, 1)
        alice, bob, carol = (mention(fake, guild, u) for u in ("alice", "bob", "carol"))
        async with running_crate(fake, settings_for(fake, database)):
            made = await fake.slash(guild, channel, "alice", "blend start", {"member": "bob", "member2": "carol"})
            trio = (await answered(made)).embed["title"].removeprefix("🎶 ")
            await answered(await fake.slash(guild, channel, "bob", "blend start", {"member": "carol"}))
            guild.members.remove(fake.member(guild, "carol"))  # she leaves the server
            blend_clock["now"] += bot.app.blends.REFRESH_EVERY + 60  # a day later
            for _ in range(40):
                await asyncio.sleep(0.5)
                shown = await answered(await fake.slash(guild, channel, "bob", "blend show"))
                if shown.embed and carol not in shown.embed["description"]:
                    break
    # bob's only Blend now (the pair's is gone): the trio's, named after who is still in it
    assert trio == "Blend: Alice + Bob + Carol" and shown.embed["title"] == "🎶 Blend: Alice + Bob"
    assert f"Members: {alice}, {bob}" in shown.embed["description"] and carol not in shown.embed["description"]
