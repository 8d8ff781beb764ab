"""Every user-given string is shown as the text it is: hostile names through every command that echoes one.

A playlist name, a file's name (a track's title), members' display names, the server's name and
what a member types into /recommend genre: all full of markdown and mentions. Through the real bot
and the fake Discord, every answer must show them escaped (``bot.format.literal``: markdown
characters behind a backslash, mentions broken by a zero-width space), never as bold, spoilers,
code, a masked link, a heading or a mention, and errors that quote them too (the one error path,
cogs/replies.error_text). A custom genre can't be named with markdown at all (refused, not echoed).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import pytest_asyncio

from bot.format import literal
from tests.e2e.cards import card
from tests.fakediscord import FakeDiscord, make_guild
from tests.fakediscord.harness import running_crate, settings_for

pytestmark = pytest.mark.asyncio(loop_scope="module")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

PLAYLIST = "**Bangers** @everyone <@123> __x__ `code` ||spoiler|| ~~gone~~ [x](http://example.com)"
HEADING = "# heading"
QUOTE = "> quote"
FILE_NAME = "**Loud** @here <@&456> __t__ `t` ||s|| ~~u~~ [click](y) <#789>.ogg"  # no "/" in a file's name
TITLE = FILE_NAME.removesuffix(".ogg").replace("`", "'")  # the title: the name, backticks made quotes (fetch)
NICK = "**Bob** @everyone <@123> __b__ ||s|| `b` [x](http://example.com)"
ALICE_NICK = "# Alice > q ||a||"
SERVER = "**Guild** @everyone __g__"
PROGRESS = ("⏬", "🎧", "⏳")
TYPED = "**jazz** @everyone <@123> ||x||"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory):
    database = tmp_path_factory.mktemp("db") / "crate.sqlite3"
    guild = make_guild(SERVER, members=("alice", "bob", "carol"))
    async with FakeDiscord([guild]) as fake, running_crate(fake, settings_for(fake, database)):
        fake.member(guild, "bob").nick = NICK  # display names come with every interaction
        fake.member(guild, "alice").nick = ALICE_NICK
        yield fake, guild, {}


def music(guild):
    return guild.channel("music")


def rendered(message) -> str:
    """Everything of a message that Discord renders as markdown: content, embed titles,
    descriptions, field names and values, a card's text displays."""
    parts = [message.content or "", *message.text_displays]
    for embed in message.embeds:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        for field in embed.get("fields", []):
            parts += [field["name"], field["value"]]
    return "\n".join(parts)


def shows_literally(text: str, name: str, limit: int | None = None) -> None:
    """``name`` is in ``text`` escaped, and none of its markup or mentions is live."""
    assert literal(name, limit) in text, (literal(name, limit), text)
    assert name not in text
    assert "@everyone" not in text and "@here" not in text
    assert not re.search(r"<@!?123>|<@&456>|<#789>", text)  # no parseable mention of the hostile ids
    assert not re.search(r"(?<!\\)\*\*(Bangers|Loud|Bob|Guild|jazz)", text)  # no live bold
    assert not re.search(r"(?<!\\)\|\|(spoiler|s|a|x)", text)  # no live spoiler
    assert not re.search(r"(?<![\\])\[(x|click)\]\(", text)  # no masked link


async def answered(ix, timeout: float = 90):
    """The final answer of a command: a follow-up (a private error replaces a public "thinking…"),
    or the original once it is no longer a progress note."""
    await ix.wait_response(timeout=10)

    def final():
        if ix.followups:
            return ix.followups[-1]
        message = ix.original
        if message is None or message.loading or message.deleted:
            return None
        done = message.shown or bool(message.content and not any(p in message.content for p in PROGRESS))
        return message if done else None

    return await ix._state.notifier.wait_until(final, timeout, lambda: f"the answer of {ix.describe()}")


async def reply(ix, timeout: float = 90):
    """Whatever the command answered: at once, or after a defer."""
    response = await ix.wait_response(timeout=10)
    if response.type == 4:
        return response.data.get("content") or ""
    return rendered(await answered(ix, timeout))


async def test_a_file_named_with_markup_is_titled_as_the_text_it_is(world):
    fake, guild, state = world
    data = (EXAMPLES / "singularity-awakening.ogg").read_bytes()
    ix = await fake.slash(guild, music(guild), "alice", "genre", attachments={"file": (FILE_NAME, data, "audio/ogg")})
    message = await answered(ix)
    assert card(message).title == literal(TITLE, 120)
    shows_literally(rendered(message), TITLE, 120)
    state["track"] = int(next(c for c in message.custom_ids if c.startswith("crate:rate:")).split(":")[2])
    state["message"] = message
    for member in ("alice", "bob"):
        liked = await fake.slash(guild, music(guild), member, "like", {"track": state["track"]})
        text = await reply(liked)
        assert "You liked" in text
        shows_literally(text, TITLE, 80)


async def test_playlists_named_with_markup(world):
    fake, guild, state = world
    channel = music(guild)
    created = await reply(await fake.slash(guild, channel, "alice", "playlist create", {"name": PLAYLIST}))
    shows_literally(created, PLAYLIST)
    added = await reply(
        await fake.slash(guild, channel, "alice", "playlist add", {"name": PLAYLIST, "track": state["track"]})
    )
    shows_literally(added, PLAYLIST)
    shows_literally(added, TITLE, 80)
    shown = await reply(await fake.slash(guild, channel, "alice", "playlist show", {"name": PLAYLIST}))
    shows_literally(shown, PLAYLIST, 100)
    shows_literally(shown, TITLE, 70)
    for name in (HEADING, QUOTE):  # markdown only at the start of a line: a name starts its own text
        made = await reply(await fake.slash(guild, channel, "alice", "playlist create", {"name": name}))
        assert literal(name) in made and literal(name) != name
        listed = await reply(await fake.slash(guild, channel, "alice", "playlist show", {"name": name}))
        assert f"🎶 {literal(name, 100)}" in listed
    every = await reply(await fake.slash(guild, channel, "bob", "playlist show"))
    shows_literally(every, PLAYLIST, 80)
    assert literal(HEADING, 80) in every and literal(QUOTE, 80) in every
    export = await fake.slash(guild, channel, "alice", "playlist export", {"name": PLAYLIST})
    exported = await answered(export)
    shows_literally(rendered(exported), PLAYLIST)
    assert len(exported.attachments) == 2  # the files carry the names as data, not markdown
    # errors quote the name: the one error path shows it as the text it is
    refused = await reply(
        await fake.slash(guild, channel, "bob", "playlist add", {"name": PLAYLIST, "track": state["track"]})
    )
    assert "Only the owner of" in refused
    shows_literally(refused, PLAYLIST)


async def test_what_a_member_types_is_quoted_as_text_in_an_error(world):
    fake, guild, _ = world
    text = await reply(await fake.slash(guild, music(guild), "carol", "recommend", {"genre": TYPED}))
    assert "is not a genre or tag Crate knows" in text
    shows_literally(text, TYPED)


async def test_a_custom_genre_with_markup_is_refused_without_being_echoed(world):
    fake, guild, state = world
    message, track = state["message"], state["track"]
    for name in ("**x** @everyone", "__x__", "||x||", "`x`", "# x", "> x", "[x](http://example.com)", "<@123>"):
        opened = await fake.select(guild, music(guild), "carol", message, f"crate:correct:{track}", values=["new"])
        assert (await opened.wait_response()).type == 9  # the "Name the genre" modal
        submitted = await fake.submit_modal(guild, music(guild), "carol", opened, {"crate:newgenre:name": name})
        text = (await submitted.wait_original(timeout=30)).content
        assert "A genre name has" in text and name not in text and "@everyone" not in text
    # nothing was stored: the next answer's "Not right?" offers the families and "Something else…" only
    data = (EXAMPLES / "singularity-awakening.ogg").read_bytes()
    again = await fake.slash(
        guild, music(guild), "carol", "genre", attachments={"file": ("again.ogg", data, "audio/ogg")}
    )
    options = (await answered(again)).component(f"crate:correct:{track}")["options"]
    assert len(options) == 15 and not any(o["value"].startswith("c:") for o in options)


async def test_display_names_with_markup_in_profile_and_taste(world):
    fake, guild, _ = world
    profile = await answered(await fake.slash(guild, music(guild), "bob", "profile"))
    assert profile.embed["title"] == f"{literal(NICK, 100)}'s taste"
    shows_literally(rendered(profile), NICK, 100)
    taste = await answered(await fake.slash(guild, music(guild), "alice", "taste", {"member": "bob"}))
    assert card(taste).title == f"Taste match: {literal(ALICE_NICK, 80)} & {literal(NICK, 80)}"
    shows_literally(rendered(taste), NICK, 80)
    assert ALICE_NICK not in rendered(taste)


async def test_who_charts_and_the_session_queue(world):
    fake, guild, state = world
    channel = music(guild)
    who = await answered(await fake.slash(guild, channel, "carol", "who", {"track": state["track"]}))
    assert who.embed["title"] == f"Who likes “{literal(TITLE, 100)}”"
    shows_literally(rendered(who), TITLE, 100)
    charts = await answered(await fake.slash(guild, channel, "carol", "charts"))
    shows_literally(rendered(charts), SERVER, 100)
    shows_literally(rendered(charts), TITLE, 80)  # the most-liked track
    started = await fake.slash(guild, channel, "alice", "session start", {"seed": state["track"]})
    start_text = await reply(started)
    assert "started a radio from" in start_text
    shows_literally(start_text, TITLE, 80)
    queue = await answered(await fake.slash(guild, channel, "alice", "session queue"))
    shows_literally(rendered(queue), TITLE, 70)
    await reply(await fake.slash(guild, channel, "alice", "session end"))
