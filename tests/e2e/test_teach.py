"""Members teach Crate their server's genres through Discord: the real bot, real music, real SQLite.

The "Not right?" select under /genre (a family, the server's own genre, or a new one named in a
modal), majority between members who disagree, /forget undoing what a member taught, and a second
server that never sees the first one's lessons.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_asyncio

from tests.e2e.cards import card
from tests.fakediscord import FakeDiscord
from tests.fakediscord.harness import running_crate, settings_for

pytestmark = pytest.mark.asyncio(loop_scope="module")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fake(tmp_path_factory):
    database = tmp_path_factory.mktemp("db") / "crate.sqlite3"
    async with FakeDiscord() as discord, running_crate(discord, settings_for(discord, database)):
        yield discord


def music(guild):
    return next(c for c in guild.channels if c.name == "music")


async def share(fake: FakeDiscord, user: str, name: str, guild=None):
    """/genre with an example file; returns the public answer (embed + buttons + select)."""
    guild = guild or fake.guilds[0]
    data = (EXAMPLES / name).read_bytes()
    ix = await fake.slash(guild, music(guild), user, "genre", attachments={"file": (name, data, "audio/ogg")})
    return await ix.wait_original(predicate=lambda m: m.shown, timeout=90)


def correct_id(message) -> str:
    [custom_id] = [c for c in message.custom_ids if c.startswith("crate:correct:")]
    return custom_id


def options(message) -> dict[str, str]:
    select = message.component(correct_id(message))
    return {o["value"]: o["label"] for o in select["options"]}


async def pick(fake: FakeDiscord, user: str, message, value: str, guild=None) -> str:
    """A member picks ``value`` in the "Not right?" select; returns Crate's (private) answer."""
    guild = guild or fake.guilds[0]
    ix = await fake.select(guild, music(guild), user, message, correct_id(message), values=[value])
    response = await ix.wait_response()
    assert response.type == 5 and response.ephemeral  # acknowledged first, privately
    return (await ix.wait_original(timeout=30)).content


def top_line(message) -> str:
    """The first genre bar of a /genre answer: ``Electronic ████░░ 61%``."""
    return card(message).description.split("```")[1].strip().splitlines()[0]


async def test_not_right_select_offers_every_family_and_something_else(fake):
    message = await share(fake, "alice", "nexuiz-brainsukker.ogg")
    values = options(message)
    assert len(values) == 15 and values["f:soul"] == "Soul, R&B & funk" and values["new"] == "Something else…"
    assert any(c.startswith("crate:rate:") for c in message.custom_ids)  # the buttons stay


async def test_picking_a_family_relabels_the_track(fake):
    message = await share(fake, "alice", "nexuiz-beast-of-insanity.ogg")
    text = await pick(fake, "bob", message, "f:folk")
    assert "is Folk & world in this server now" in text and "I hear it as: folk & world (" in text
    again = await share(fake, "carol", "nexuiz-beast-of-insanity.ogg")  # the same audio: the same track
    assert top_line(again).startswith("Folk & world")


async def test_a_new_genre_named_in_a_modal_is_offered_and_answered_afterwards(fake):
    message = await share(fake, "alice", "singularity-awakening.ogg")
    guild = fake.guilds[0]
    ix = await fake.select(guild, music(guild), "bob", message, correct_id(message), values=["new"])
    modal = (await ix.wait_response()).data
    assert ix.response.type == 9 and len(modal["title"]) <= 45
    [field] = modal["components"]  # a label wrapping the text input, as Discord's modals now have it
    assert field["type"] == 18 and field["label"] == "Which genre is it?"
    assert field["component"]["custom_id"] == "crate:newgenre:name" and not field["component"].get("label")
    with pytest.raises(ValueError):  # the Discord client refuses more than the field's 40 characters
        await fake.submit_modal(guild, music(guild), "bob", ix, {"crate:newgenre:name": "x" * 41})
    submitted = await fake.submit_modal(guild, music(guild), "bob", ix, {"crate:newgenre:name": "Fantasy Orchestral"})
    assert (await submitted.wait_response()).ephemeral
    text = (await submitted.wait_original(timeout=30)).content
    assert "is Fantasy Orchestral in this server now" in text
    later = await share(fake, "carol", "nexuiz-brainsukker.ogg")
    assert options(later)["c:Fantasy Orchestral"] == "Fantasy Orchestral"
    assert top_line(await share(fake, "bob", "singularity-awakening.ogg")).startswith("Fantasy Orchestral")


async def test_members_who_disagree_are_settled_by_majority_and_forget_takes_a_vote_back(fake):
    guild = fake.guilds[0]
    message = await share(fake, "alice", "nexuiz-brainsukker.ogg")
    before = top_line(message).split()[0]
    await pick(fake, "alice", message, "f:jazz")
    tie = await pick(fake, "bob", message, "f:reggae")
    assert "no majority yet" in tie
    assert top_line(await share(fake, "alice", "nexuiz-brainsukker.ogg")).split()[0] == before  # one against one
    settled = await pick(fake, "carol", message, "f:reggae")
    assert "is Reggae in this server now" in settled
    assert top_line(await share(fake, "alice", "nexuiz-brainsukker.ogg")).startswith("Reggae")

    ix = await fake.slash(guild, music(guild), "carol", "forget")
    confirm = await ix.wait_original()
    carol = fake.member(guild, "carol")
    click = await fake.click(guild, music(guild), "carol", confirm, f"crate:forget:{carol.id}")
    done = await click.wait_original(predicate=lambda m: "Done" in (m.content or ""))
    assert "genre correction" in done.content
    # Carol's vote (her only correction) is gone: a tie again, and the track is back to what it was
    assert top_line(await share(fake, "alice", "nexuiz-brainsukker.ogg")).split()[0] == before


async def test_another_server_never_sees_the_first_ones_lessons(fake):
    other = fake.guilds[1]
    message = await share(fake, "alice", "nexuiz-beast-of-insanity.ogg", guild=other)
    assert not top_line(message).startswith("Folk")  # Guild One taught folk for this audio
    assert not any(v.startswith("c:") for v in options(message))  # nor its own genres
