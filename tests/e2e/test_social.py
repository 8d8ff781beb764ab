"""What a music server does with Crate beyond one track: analyze any message from its menu,
compare taste with a member, the server's charts and who likes a track.

The real bot, real music, real SQLite, through the fake Discord (which, like Discord, empties
members' messages on the gateway for a bot without the message-content intent, and delivers a
message command's target message whole). Each scene plays in a server of its own.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import pytest_asyncio

from tests import music
from tests.e2e.cards import card
from tests.fakediscord import FakeDiscord, make_guild
from tests.fakediscord.harness import music_server, running_crate, settings_for

pytestmark = pytest.mark.asyncio(loop_scope="module")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ACK_LIMIT = 3.0
SCENES = ("Menus", "Tastes", "Charts", "Who", "Forgetting")
MEMBERS = ("alice", "bob", "carol", "dave")


def example(name: str) -> tuple[str, bytes, str]:
    return (name.split("-", 1)[1], (EXAMPLES / name).read_bytes(), "audio/ogg")


AWAKENING = "singularity-awakening.ogg"
BRAINSUKKER = "nexuiz-brainsukker.ogg"
BEAST = "nexuiz-beast-of-insanity.ogg"


@pytest.fixture(scope="module")
def music_files(tmp_path_factory) -> dict[str, tuple[bytes, str]]:
    return music.link_files(tmp_path_factory.mktemp("music"), 30)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory, music_files):
    database = tmp_path_factory.mktemp("db") / "crate.sqlite3"
    users: dict = {}
    guilds = [make_guild(name, members=MEMBERS, users=users) for name in SCENES]
    async with FakeDiscord(guilds) as fake, music_server(music_files) as web:
        async with running_crate(fake, settings_for(fake, database)):
            yield fake, web


def music_channel(fake, scene: str):
    return fake.guild(scene).channel("music")


PROGRESS_MARKS = ("⏬", "🎧", "⏳", " — ")


async def final(ix, timeout: float = 90):
    """The original response once it is no longer a progress note."""
    return await ix.wait_original(
        predicate=lambda m: m.shown or bool(m.content and not any(p in m.content for p in PROGRESS_MARKS)),
        timeout=timeout,
    )


async def share(fake, scene: str, user: str, file: tuple[str, bytes, str]) -> int:
    ix = await fake.slash(scene, music_channel(fake, scene), user, "genre", attachments={"file": file})
    message = await final(ix)
    ids = [c for c in message.custom_ids if c.startswith("crate:rate:")]
    assert ids, message.payload()
    return int(ids[0].split(":")[2])


async def like(fake, scene: str, user: str, track: int) -> None:
    ix = await fake.slash(scene, music_channel(fake, scene), user, "like", {"track": track})
    assert "You liked" in (await ix.wait_original()).content


def fields(message) -> dict[str, str]:
    """The named values of an answer, an embed's fields or a card's (tests/e2e/cards.py)."""
    return card(message).fields


def mention(fake, scene: str, user: str) -> str:
    return f"<@{fake.member(scene, user).id}>"


# --------------------------------------------------------------------------- registration


async def test_the_menus_are_registered_as_discord_context_menus(world):
    fake, _ = world
    registered = {(c["name"], c["type"]) for c in fake.commands()}
    assert {("Analyze with Crate", 3), ("Compare taste", 2), ("taste", 1), ("charts", 1), ("who", 1)} <= registered
    menus = [c for c in fake.commands() if c["type"] in (2, 3)]
    assert all(not c.get("description") and not c.get("options") for c in menus)


# --------------------------------------------------------------------------- Analyze with Crate


async def test_analyze_a_message_with_two_attachments_and_a_link(world):
    fake, web = world
    scene, channel = "Menus", music_channel(fake, "Menus")
    posted = await fake.send_user_message(
        scene,
        channel,
        "bob",
        f"two of mine and this one: <{web}/nebula.mp3> (not {web}/page.html, it has none)",
        attachments=[
            example(AWAKENING),
            example(BRAINSUKKER),
            ("cover.png", b"\x89PNG\r\n\x1a\n" + b"0" * 32, "image/png"),
        ],
    )
    # Crate asks for no message-content intent: the gateway gave it an empty message...
    sent = [
        p["d"] for s in fake.sessions for p in s.sent if p["t"] == "MESSAGE_CREATE" and p["d"]["id"] == str(posted.id)
    ]
    assert sent and all(d["content"] == "" and d["attachments"] == [] for d in sent)
    # ...and the message menu still analyzes everything in it, for alice's eyes only
    ix = await fake.context_menu(scene, channel, "alice", "Analyze with Crate", posted)
    response = await ix.wait_response()
    assert response.type == 5 and response.ephemeral and ix.ack_latency < ACK_LIMIT
    done = await ix.wait_original(predicate=lambda m: "analyzed" in (m.content or ""), timeout=120)
    assert done.content == f"From {mention(fake, scene, 'bob')}'s message: 3 tracks analyzed, 1 failed."
    progress = [edit.get("content") or "" for edit in done.history]
    assert any("1/4" in text for text in progress) and any("4/4" in text for text in progress)
    *replies, failed = await ix.wait_followups(4)
    assert all(m.ephemeral for m in (*replies, failed))
    # the page without audio is said so, in its own answer; the other items were analyzed anyway
    assert "page.html" in failed.embed["description"] and "couldn't find any audio" in failed.embed["description"]
    assert not failed.custom_ids
    assert all(m.components_v2 for m in replies)  # track answers are cards
    titles = [card(m).title for m in replies]
    assert titles[:2] == ["awakening", "brainsukker"] and len(titles) == 3  # attachments, then the link; no picture
    for message in replies:
        assert fields(message)["Shared by"] == mention(fake, scene, "bob")  # credited to the author
        assert {c.split(":")[1] for c in message.custom_ids} == {"rate", "who", "radio", "where", "correct"}
    assert fields(replies[2])["From"].startswith("[link](")
    # bob is the sharer in the server's charts, alice is not
    charts = await fake.slash(scene, channel, "carol", "charts")
    sharers = fields(await final(charts))["Top sharers"]
    assert mention(fake, scene, "bob") in sharers and "3 tracks" in sharers
    assert mention(fake, scene, "alice") not in sharers
    # the track messages' buttons work for the member who analyzed
    track = int(replies[0].custom_ids[0].split(":")[2])
    click = await fake.click(scene, channel, "alice", replies[0], f"crate:rate:{track}:up")
    assert "You liked" in (await click.wait_original()).content


async def test_analyze_answers_carry_what_genre_answers_carry(world):
    """An "Analyze with Crate" answer has /genre's components: 👍 👎 👥, 📻 Start radio, 📍 Where
    is this? and the "Not right?" select (with this server's own genres), and they work."""
    fake, _ = world
    scene, channel = "Menus", music_channel(fake, "Menus")
    genre = await fake.slash(scene, channel, "carol", "genre", attachments={"file": example(BEAST)})
    by_genre = await final(genre)
    posted = await fake.send_user_message(scene, channel, "carol", "this one again", attachments=[example(BEAST)])
    ix = await fake.context_menu(scene, channel, "dave", "Analyze with Crate", posted)
    await ix.wait_original(predicate=lambda m: "analyzed" in (m.content or ""), timeout=120)
    [analyzed] = await ix.wait_followups(1)
    assert analyzed.ephemeral and card(analyzed).title == card(by_genre).title
    track = int(analyzed.custom_ids[0].split(":")[2])
    assert (
        analyzed.custom_ids
        == by_genre.custom_ids
        == [
            f"crate:rate:{track}:up",
            f"crate:rate:{track}:down",
            f"crate:who:{track}",
            f"crate:radio:{track}",
            f"crate:where:{track}",
            f"crate:correct:{track}",
        ]
    )

    def rows(message) -> list[dict]:
        return [{k: v for k, v in c.items() if k != "id"} for c in message.all_components() if c["type"] == 1]

    assert rows(analyzed) == rows(by_genre)  # the same rows, labels and options
    # "Not right?" on the Analyze answer: a new genre named in the modal…
    opened = await fake.select(scene, channel, "dave", analyzed, f"crate:correct:{track}", values=["new"])
    assert (await opened.wait_response()).type == 9
    named = await fake.submit_modal(scene, channel, "dave", opened, {"crate:newgenre:name": "Arena Rock"})
    assert "Arena Rock" in (await named.wait_original(timeout=30)).content
    # …is offered under the next Analyze answer, as under /genre's
    again = await fake.context_menu(scene, channel, "alice", "Analyze with Crate", posted)
    await again.wait_original(predicate=lambda m: "analyzed" in (m.content or ""), timeout=120)
    [second] = await again.wait_followups(1)
    select = second.component(f"crate:correct:{track}")
    assert {o["label"] for o in select["options"]} >= {"Arena Rock", "Something else…"}
    # 📻 starts a radio seeded by the track
    radio = await fake.click(scene, channel, "dave", second, f"crate:radio:{track}")
    assert (await radio.wait_response()).type == 5 and radio.ack_latency < ACK_LIMIT
    [started] = await radio.wait_followups(1, timeout=30)
    assert "started a radio from" in started.content
    ended = await fake.slash(scene, channel, "dave", "session end")
    assert "Session over" in str((await ended.wait_followups(1, timeout=30))[-1].payload())


async def test_analyze_a_message_without_audio_explains(world):
    fake, _ = world
    scene, channel = "Menus", music_channel(fake, "Menus")
    posted = await fake.send_user_message(
        scene,
        channel,
        "carol",
        "look at my cat",
        attachments=[("cat.png", b"\x89PNG\r\n\x1a\n" + b"0" * 32, "image/png")],
    )
    ix = await fake.context_menu(scene, channel, "alice", "Analyze with Crate", posted)
    response = await ix.wait_response()
    assert response.type == 4 and response.ephemeral  # answered at once: nothing to wait for
    assert "no audio" in response.data["content"]


# --------------------------------------------------------------------------- taste


async def test_taste_compares_two_members_privately_or_in_public(world):
    fake, _ = world
    scene, channel = "Tastes", music_channel(fake, "Tastes")
    awakening = await share(fake, scene, "dave", example(AWAKENING))
    brainsukker = await share(fake, scene, "dave", example(BRAINSUKKER))
    await share(fake, scene, "dave", example(BEAST))  # shared, never rated
    await like(fake, scene, "alice", awakening)
    await like(fake, scene, "alice", brainsukker)
    await like(fake, scene, "bob", awakening)
    dislike = await fake.slash(scene, channel, "bob", "dislike", {"track": brainsukker})
    await dislike.wait_original()

    ix = await fake.slash(scene, channel, "alice", "taste", {"member": "bob"})
    response = await ix.wait_response()
    assert response.type == 5 and response.ephemeral and ix.ack_latency < ACK_LIMIT
    answer = await final(ix, 30)
    embed = card(answer)
    assert embed.title == "Taste match: Alice & Bob"
    percent = int(re.search(r"\*\*(\d+)%\*\*", embed.description).group(1))
    assert 0 <= percent <= 100
    evidence = embed.fields
    assert "awakening" in evidence["You both liked"] and "brainsukker" not in evidence["You both liked"]
    assert "beast" in evidence["For both of you"].lower()  # the only track neither has rated
    assert "Families you share" in evidence or "Where you differ" in evidence
    # the picture of the match inside the card: both members' liking of those families
    [chart] = answer.media_attachments()
    assert [m["kind"] for m in answer.media] == ["thumbnail", "gallery"] and chart.filename == "taste.png"
    assert chart.data.startswith(b"\x89PNG") and chart.width and chart.width >= 400

    public = await fake.slash(scene, channel, "alice", "taste", {"member": "bob", "public": True})
    shown = await final(public, 30)
    assert not shown.ephemeral and shown in fake.channel_messages(channel)
    assert f"**{percent}%**" in card(shown).description  # the same match

    menu = await fake.context_menu(scene, channel, "bob", "Compare taste", "alice")
    assert (await menu.wait_response()).ephemeral
    assert card(await final(menu, 30)).title == "Taste match: Bob & Alice"

    nobody = await fake.slash(scene, channel, "alice", "taste", {"member": "carol"})
    assert "Not enough ratings yet" in card(await final(nobody, 30)).description
    myself = await fake.context_menu(scene, channel, "alice", "Compare taste", "alice")
    assert "That's you" in (await myself.wait_response()).data["content"]


# --------------------------------------------------------------------------- charts and who


async def test_charts_count_the_period_asked_for(world):
    fake, _ = world
    scene, channel = "Charts", music_channel(fake, "Charts")
    awakening = await share(fake, scene, "alice", example(AWAKENING))
    beast = await share(fake, scene, "bob", example(BEAST))
    for member in ("alice", "bob", "carol"):
        await like(fake, scene, member, awakening)
    await like(fake, scene, "carol", beast)

    ix = await fake.slash(scene, channel, "dave", "charts", {"period": "week"})
    assert (await ix.wait_response()).type == 5 and not ix.response.ephemeral
    message = await final(ix, 30)
    embed = message.embed
    assert embed["title"] == "Charts's charts this week"
    tracks = fields(message)["Most-liked tracks"].splitlines()
    assert tracks[0].startswith("1. **awakening**") and "👍 3" in tracks[0]
    assert tracks[1].startswith("2. **beast-of-insanity**") and "👍 1" in tracks[1]
    assert "Styles" in fields(message)
    # each like split over its track's genre distribution: shares of the likes, largest first
    shares = [
        int(part.rsplit(" ", 1)[1].rstrip("%"))
        for part in fields(message)["Top families (share of likes)"].split(" · ")
    ]
    assert shares == sorted(shares, reverse=True) and len(shares) > 2 and 0 < sum(shares) <= 101, shares
    assert embed["footer"]["text"] == "4 likes given this week"
    assert message.attachment("charts.png").data.startswith(b"\x89PNG")

    # every period counts today's likes (older ones are left out of a week: tests/test_community.py)
    for period, title in (("month", "this month"), ("all", "of all time")):
        ix = await fake.slash(scene, channel, "dave", "charts", {"period": period})
        assert (await final(ix, 30)).embed["footer"]["text"] == f"4 likes given {title}"


async def test_who_likes_a_track_from_the_command_and_the_button(world):
    fake, _ = world
    scene, channel = "Who", music_channel(fake, "Who")
    upload = await fake.slash(scene, channel, "alice", "genre", attachments={"file": example(AWAKENING)})
    track_message = await final(upload)
    track = int(track_message.custom_ids[0].split(":")[2])
    brainsukker = await share(fake, scene, "alice", example(BRAINSUKKER))
    await share(fake, scene, "alice", example(BEAST))
    await like(fake, scene, "bob", track)
    # dave likes a track that sounds closer to this one than the third does (musicnn's embeddings,
    # centred over the catalog: cosine 0.19, so a fit of 59 %), and has not rated this one
    await like(fake, scene, "dave", brainsukker)

    choices = await fake.autocomplete(scene, channel, "carol", "who", focused="track", value="awak")
    assert [c["value"] for c in choices] == [track]
    ix = await fake.slash(scene, channel, "carol", "who", {"track": track})
    who = await final(ix, 30)
    assert who.embed["title"] == "Who likes “awakening”"
    assert fields(who)["Liked by (1)"] == mention(fake, scene, "bob")
    fits = fields(who)["Whose taste it fits best"]
    assert mention(fake, scene, "dave") in fits and re.search(r"fits their taste \d+%", fits)
    assert mention(fake, scene, "bob") not in fits  # he rated it

    click = await fake.click(scene, channel, "carol", track_message, f"crate:who:{track}")
    assert (await click.wait_response()).ephemeral
    assert (await final(click, 30)).embed["title"] == "Who likes “awakening”"


async def test_forget_removes_a_member_from_the_charts_and_who(world):
    fake, _ = world
    scene, channel = "Forgetting", music_channel(fake, "Forgetting")
    theirs = await share(fake, scene, "carol", example(BEAST))
    kept = await share(fake, scene, "alice", example(AWAKENING))
    await like(fake, scene, "carol", kept)
    await like(fake, scene, "bob", kept)
    await like(fake, scene, "carol", theirs)

    before = fields(await final(await fake.slash(scene, channel, "dave", "charts"), 30))
    assert "👍 2" in before["Most-liked tracks"] and mention(fake, scene, "carol") in before["Top sharers"]

    forget = await fake.slash(scene, channel, "carol", "forget")
    confirm = await fake.click(scene, channel, "carol", await forget.wait_original(), label="Yes, forget me")
    await confirm.wait_original(predicate=lambda m: "Done" in (m.content or ""))

    after_ix = await fake.slash(scene, channel, "dave", "charts")
    after = await final(after_ix, 30)
    after_fields = fields(after)
    assert after.embed["footer"]["text"] == "1 like given of all time"
    assert "👍 1" in after_fields["Most-liked tracks"] and "beast" not in after_fields["Most-liked tracks"]
    assert mention(fake, scene, "carol") not in after_fields["Top sharers"]
    who = await fake.slash(scene, channel, "dave", "who", {"track": kept})
    liked_by = fields(await final(who, 30))
    assert liked_by["Liked by (1)"] == mention(fake, scene, "bob")
    assert mention(fake, scene, "carol") not in str(liked_by)
