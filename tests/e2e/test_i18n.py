"""A German-speaking member and an English-speaking one on the same (fake) Discord server: each
sees Crate's commands and answers in their own language, from the real bot over the wire.

The fake Discord validates the localizations Crate syncs as Discord does, and carries each
member's client language in the interactions it sends (``FakeUser.locale``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_asyncio

from tests.fakediscord import FakeDiscord
from tests.fakediscord.harness import running_crate, settings_for

pytestmark = pytest.mark.asyncio(loop_scope="module")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory):
    database = tmp_path_factory.mktemp("db") / "crate.sqlite3"
    async with FakeDiscord() as fake:
        guild = fake.guilds[0]
        fake.member(guild, "alice").user.locale = "de"  # alice's Discord client speaks German
        fake.member(guild, "carol").user.locale = "pt-BR"
        fake.guilds[1].preferred_locale = "de"  # Guild Two is a German server (its GUILD_CREATE says so)
        async with running_crate(fake, settings_for(fake, database)):
            yield fake


def music_channel(guild):
    return next(c for c in guild.channels if c.name == "music")


async def ask(fake, user: str, command: str, options=None, *, attachments=None):
    guild = fake.guilds[0]
    return await fake.slash(guild, music_channel(guild), user, command, options, attachments=attachments)


async def answered(ix, timeout: float = 60):
    """The answer once it is more than "thinking…" or a progress line."""
    return await ix.wait_answer(
        predicate=lambda m: m.shown or bool(m.content and not m.content.startswith(("⏳", "⏬", "🎧"))),
        timeout=timeout,
    )


async def test_the_synced_commands_carry_german_spanish_and_portuguese_names(world):
    fake = world
    commands = {c["name"]: c for c in fake.commands()}
    assert commands["help"]["name_localizations"]["de"] == "hilfe"
    assert commands["recommend"]["name_localizations"] == {
        "de": "empfehlen",
        "es-ES": "recomendar",
        "es-419": "recomendar",
        "pt-BR": "recomendar",
    }
    assert commands["genre"]["description_localizations"]["de"] == "Das Genre eines Songs bestimmen, mit Belegen"
    file_option = next(o for o in commands["genre"]["options"] if o["name"] == "file")
    assert file_option["name_localizations"]["de"] == "datei"
    period = next(o for o in commands["charts"]["options"] if o["name"] == "period")
    assert {c["name"]: c["name_localizations"]["de"] for c in period["choices"]}["week"] == "Woche"
    menus = {c["name"]: c for c in fake.commands() if c.get("type") == 3}
    assert menus["Analyze with Crate"]["name_localizations"]["de"] == "Mit Crate analysieren"


async def test_help_answers_each_member_in_their_language(world):
    fake = world
    german = await answered(await ask(fake, "alice", "help"))
    english = await answered(await ask(fake, "bob", "help"))
    portuguese = await answered(await ask(fake, "carol", "help"))
    assert "Crate hört die Musik, die ihr teilt" in german.text
    assert "/gefällt-mir" in german.text and "Teile einen Song mit `/genre`" in german.text
    assert "Crate listens to the music you share" in english.text and "hört" not in english.text
    assert "/dislike  ·  /dislike track:<name>" in english.text and "N_(" not in english.text
    assert "/gefällt-nicht  ·  /gefällt-nicht titel:<name>" in german.text and "N_(" not in german.text
    assert "O Crate ouve a música que vocês compartilham" in portuguese.text


async def test_a_german_member_hears_the_genre_answer_and_its_errors_in_german(world):
    fake = world
    song = ("awakening.ogg", (EXAMPLES / "singularity-awakening.ogg").read_bytes(), "audio/ogg")
    ix = await ask(fake, "alice", "genre", attachments={"file": song})
    message = await answered(ix)
    progress = " ".join(edit.get("content") or "" for edit in message.history)
    assert "Ich höre zu" in progress or "Lade herunter" in progress, progress
    assert "Gehörte Stile" in message.text and "Geteilt von" in message.text, message.text
    assert "Styles heard" not in message.text
    assert "Ambient" in message.text  # the family, named in German running text with its capital

    bob = await answered(await ask(fake, "bob", "genre", attachments={"file": song}))
    assert "Styles heard" in bob.text and "Gehörte Stile" not in bob.text

    # an error, in each member's language: neither a file nor a link
    german_error = await answered(await ask(fake, "alice", "genre"))
    assert german_error.ephemeral and "Häng eine Audiodatei an **oder** gib einen Link an" in german_error.text
    english_error = await answered(await ask(fake, "bob", "genre"))
    assert "Attach one audio file **or** give one link" in english_error.text

    # a typed error from the core, said in German on the way out: an empty file
    empty = await answered(await ask(fake, "alice", "genre", attachments={"file": ("leer.mp3", b"", "audio/mpeg")}))
    assert "Diese Datei ist leer." in empty.text, empty.text


async def test_a_like_is_confirmed_in_the_members_language(world):
    fake = world
    song = ("nebula.ogg", (EXAMPLES / "singularity-awakening.ogg").read_bytes(), "audio/ogg")
    await answered(await ask(fake, "carol", "genre", attachments={"file": song}))
    liked = await answered(await ask(fake, "carol", "like"))
    assert "👍 Você curtiu" in liked.text and "Vou usar isso nas suas recomendações." in liked.text


async def test_what_crate_posts_to_a_channel_speaks_the_servers_language(world):
    """bob (English client) opens a session in a German server: his own answer is English, the
    now-playing board that everyone there reads is German."""
    fake = world
    guild = fake.guilds[1]
    channel = music_channel(guild)
    song = ("awakening.ogg", (EXAMPLES / "singularity-awakening.ogg").read_bytes(), "audio/ogg")
    await answered(await fake.slash(guild, channel, "bob", "genre", attachments={"file": song}))
    started = await answered(await fake.slash(guild, channel, "bob", "session start"))
    assert "started a listening session here" in started.text and "Text session" in started.text

    def board(message) -> bool:
        return any(c.startswith("crate:skip:") for c in message.custom_ids)

    posted = await fake.wait_channel_message(channel, board, guild=guild, timeout=30)
    assert "Hörsitzung" in posted.text and "Textsitzung: folgt den Links" in posted.text, posted.text
    labels = {button.get("label") for button in posted.buttons}
    assert {"Weiter", "Mischen"} <= labels, labels
    announced = await fake.wait_channel_message(
        channel, lambda m: (m.content or "").startswith("▶ Jetzt läuft"), guild=guild, timeout=30
    )
    assert "awakening" in announced.content
    ended = await answered(await fake.slash(guild, channel, "bob", "session end"))
    assert "Session over" in ended.text  # bob's own answer, in his language
