"""Forged input through the real bot and the fake Discord (issue 24, points 2 and 5).

What a modified client can send that Crate's own components never offer: a "Not right?" value
outside the menu, another server's channel or role as a /settings option, and links carrying
line breaks or direction controls. Each is answered in words (never "Something went wrong") and
leaves nothing stored.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
import pytest_asyncio

from tests.e2e.test_teach import correct_id, music, share
from tests.fakediscord import FakeDiscord
from tests.fakediscord.harness import running_crate, settings_for
from tests.test_hostile_exports import HOSTILE, INJECTION

pytestmark = pytest.mark.asyncio(loop_scope="module")

SOMETHING_WENT_WRONG = "Something went wrong"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory):
    database = tmp_path_factory.mktemp("db") / "crate.sqlite3"
    async with FakeDiscord() as fake, running_crate(fake, settings_for(fake, database, workers=1)):
        yield fake, database


def rows(database: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(database) as db:
        return db.execute(sql).fetchall()


async def refusal(ix, timeout: float = 60) -> str:
    """The private answer to an interaction, whether it came at once or after a defer."""
    response = await ix.wait_response(timeout=timeout)
    if response.type == 4:
        assert response.ephemeral
        return str(response.data["content"])

    def said(m) -> bool:
        return not m.deleted and not m.loading and ((m.content or "").startswith(("⚠️", "✅")) or m.shown)

    async def answered():  # an edit of the deferred reply, or (a failed /genre) a private follow-up
        while True:
            found = [m for m in ix.followups if m.ephemeral and said(m)]
            found += [ix.original] if ix.original is not None and said(ix.original) else []
            if found:
                return found[0]
            await asyncio.sleep(0.05)

    message = await asyncio.wait_for(answered(), timeout)
    return message.content or " ".join(e.get("description") or "" for e in message.embeds)


async def forged_select(fake: FakeDiscord, guild, user: str, message, custom_id: str, value: str):
    """A select interaction with a value the menu never offered, as a modified client sends it
    (``fake.select`` refuses such a value, as Discord's own client does)."""
    ix, _ = fake._component_interaction(guild, music(guild), user, message)
    ix.payload["data"] = {"custom_id": custom_id, "component_type": 3, "values": [value]}
    return await fake._send(ix)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(world):
    fake, _ = world
    return await share(fake, "alice", "nexuiz-brainsukker.ogg")


@pytest.mark.parametrize("value", ["jazz", "f:", "f:polka", "x:rock", ""])
async def test_a_forged_not_right_value_is_answered_in_words(world, shared, value):
    fake, database = world
    ix = await forged_select(fake, fake.guilds[0], "bob", shared, correct_id(shared), value)
    text = await refusal(ix)
    assert SOMETHING_WENT_WRONG not in text and "isn't one I offered" in text, text
    assert rows(database, "SELECT count(*) FROM corrections") == [(0,)]


async def test_another_servers_channel_is_not_taken_for_announcements(world):
    fake, database = world
    guild, other = fake.guilds
    foreign = next(c for c in other.channels if c.name == "music")
    ix = await fake.slash(guild, music(guild), "alice", "settings", {"announcements": foreign})
    text = await refusal(ix)
    assert SOMETHING_WENT_WRONG not in text and "this server" in text, text
    assert rows(database, "SELECT announce_channel_id FROM guild_settings WHERE announce_channel_id IS NOT NULL") == []


async def test_another_servers_role_is_not_taken_as_the_dj_role(world):
    fake, database = world
    guild, other = fake.guilds
    foreign = other.role("DJ")
    ix = await fake.slash(guild, music(guild), "alice", "settings", {"dj_role": foreign})
    text = await refusal(ix)
    assert SOMETHING_WENT_WRONG not in text and "this server" in text, text
    assert rows(database, "SELECT dj_role_id FROM guild_settings WHERE dj_role_id IS NOT NULL") == []


@pytest.mark.parametrize("hidden", HOSTILE)
async def test_a_genre_link_with_hidden_characters_is_refused_in_words(world, hidden):
    fake, database = world
    guild = fake.guilds[0]
    char = HOSTILE[hidden]
    url = f"https://example.org/song.ogg{char}{INJECTION.format(char)}"
    before = rows(database, "SELECT count(*) FROM tracks")
    ix = await fake.slash(guild, music(guild), "carol", "genre", {"url": url})
    text = await refusal(ix)
    assert "hidden characters" in text, text
    assert rows(database, "SELECT count(*) FROM tracks") == before
