"""Crate in the members' language: complete catalogs, the language of the moment, localized commands.

The catalogs are checked against what the code marks *now* (``pybabel extract`` through
``babel.cfg``, the command tree walked as discord.py's sync walks it), so a sentence marked without
its translations, or a translation that lost a placeholder or its markdown, fails here.
"""

from __future__ import annotations

import asyncio
import re
import string
from pathlib import Path

import discord
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from bot import i18n
from bot.genres import FAMILIES, describe_answer, display_name, family_of, label
from tests.fakediscord.rest import DiscordError, check_commands

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2)}
#: The locales Crate speaks, as Discord names them.
SPOKEN = ("de", "es-ES", "es-419", "pt-BR")


def marked_messages() -> dict[tuple[str | None, str], str]:
    """Every message the code marks, as ``pybabel extract -F babel.cfg`` finds it: (context, id) -> where."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[tuple[str | None, str], str] = {}
    for filename, _lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        # a plural is one catalog entry, known by its singular
        text = message[0] if isinstance(message, tuple) else message
        if text:
            found.setdefault((context, text), filename)
    return found


@pytest.fixture(scope="module")
def marked() -> dict[tuple[str | None, str], str]:
    return marked_messages()


def catalog(language: str):
    with (i18n.LOCALE_DIR / language / "LC_MESSAGES" / "crate.po").open("rb") as po:
        return read_po(po, locale=language)


def placeholders(text: str) -> list[str]:
    """The ``{name}`` fields of a str.format sentence and its ``%s``/``%(name)s`` ones, sorted."""
    fields = sorted(name for _, name, _, _ in string.Formatter().parse(text) if name is not None)
    return fields + sorted(re.findall(r"%(?:\(\w+\))?[sdif]", text))


def forms(text: str | tuple | list) -> list[str]:
    """A catalog entry's sentence, or each of its plural forms."""
    return list(text) if isinstance(text, (tuple, list)) else [text]


def markup(text: str) -> list[int]:
    """How many bold markers, code spans and quoted names a sentence holds: a translation keeps them."""
    return [text.count("**"), text.count("`"), text.count("“"), text.count("”"), text.count("\n")]


def test_the_marked_sentences_are_many_and_the_template_is_current(marked):
    assert len(marked) > 300, "the extraction found few sentences: babel.cfg or the extractor is broken"
    with (i18n.LOCALE_DIR / "crate.pot").open("rb") as pot:
        template = {(m.context, m.id[0] if isinstance(m.id, tuple) else m.id) for m in read_po(pot) if m.id}
    assert set(marked) == template, (
        "bot/locale/crate.pot is not what the code marks: run the pybabel extract in README (Languages); "
        f"new: {sorted(set(marked) - template, key=str)[:10]}, gone: {sorted(template - set(marked), key=str)[:10]}"
    )


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_catalog_says_every_sentence_with_the_same_placeholders(marked, language):
    messages = {(m.context, m.id[0] if isinstance(m.id, tuple) else m.id): m for m in catalog(language) if m.id}
    missing = [key for key in marked if key not in messages or not all(forms(messages[key].string))]
    assert not missing, f"{language}: {len(missing)} sentences without a translation, e.g. {missing[:5]}"
    fuzzy = [key for key in marked if messages[key].fuzzy]
    assert not fuzzy, f"{language}: fuzzy translations are not used: {fuzzy[:5]}"
    plurals = 0
    for key in marked:
        english = forms(messages[key].id)
        for said in forms(messages[key].string):
            # every plural form keeps the plural's placeholders ("{count} tracks"), markdown and quotes
            assert placeholders(said) == placeholders(english[-1]), (
                f"{language}: placeholders differ in {key}: {said!r}"
            )
            assert markup(said) == markup(english[-1]), f"{language}: markdown or quotes differ in {key}: {said!r}"
        plurals += len(english) > 1
    assert plurals >= 10, "no plural sentences found: ngettext's extraction is broken"


def test_the_language_follows_the_context_and_falls_back_to_english():
    assert i18n.language_of("de") == "de" and i18n.language_of(discord.Locale.brazil_portuguese) == "pt_BR"
    assert i18n.language_of("es-ES") == i18n.language_of("es-419") == "es"
    assert i18n.language_of("fr") == i18n.language_of(None) == i18n.language_of("en-GB") == "en"
    english = "Something went wrong."
    assert i18n._(english) == english
    with i18n.speaking("de"):
        assert i18n.current() == "de"
        assert i18n._(english) == "Etwas ist schiefgelaufen."
        with i18n.speaking("pt-BR"):
            assert i18n._(english) == "Algo deu errado."
        assert i18n._(english) == "Etwas ist schiefgelaufen."
        assert i18n._("a sentence no catalog has") == "a sentence no catalog has"
    with i18n.speaking("fr"):
        assert i18n._(english) == english
    assert i18n.current() == "en"


async def test_each_task_speaks_the_language_it_was_given():
    """Interactions run as tasks at once: each sets its member's language for itself alone."""

    async def answer(locale: str) -> str:
        i18n.speak(locale)
        await asyncio.sleep(0.01)
        return i18n._("Something went wrong.")

    said = await asyncio.gather(answer("de"), answer("es-ES"), answer("en-US"), answer("pt-BR"))
    assert said == ["Etwas ist schiefgelaufen.", "Algo salió mal.", "Something went wrong.", "Algo deu errado."]
    assert i18n.current() == "en"


def test_genre_names_are_said_and_understood_in_every_language():
    with i18n.speaking("de"):
        assert display_name("classical") == "Klassik" and label("electronic") == "Elektronisch"
        assert describe_answer((("electronic", 0.5), ("ambient", 0.3)), False) == (
            "nicht sicher — Elektronisch oder Ambient?"
        )
    with i18n.speaking("es-ES"):
        assert label("classical") == "clásica"
    with i18n.speaking("pt-BR"):
        assert describe_answer((("classical", 0.8),), True) == "clássica (80%)"
    assert label("classical") == "classical"
    # a member may name a family in their own words (an autocomplete offers them in their language)
    assert family_of("Klassik") == family_of("Clásica") == family_of("clássica") == "classical"
    assert family_of("Elektronisch") == "electronic" and family_of("city pop") is None
    for language in i18n.LANGUAGES:
        with i18n.speaking(language):
            assert all(family_of(display_name(f)) == f for f in FAMILIES), language


async def localized_payloads() -> list[dict]:
    from bot.config import Settings
    from cogs.client import EXTENSIONS, CrateBot
    from cogs.translator import CrateTranslator

    bot = CrateBot(Settings(), crate=None)
    try:
        for extension in EXTENSIONS:
            await bot.load_extension(extension)
        translator = CrateTranslator()
        return [
            await command.get_translated_payload(bot.tree, translator)
            for kind in discord.AppCommandType
            for command in bot.tree.get_commands(type=kind)
        ]
    finally:
        await bot.close()


def localizable(item: dict, path: str = ""):
    """(where, field, English, localizations) for every name and description of a command payload."""
    path = f"{path}/{item['name']}"
    yield path, "name", item["name"], item.get("name_localizations") or {}
    if item.get("description"):
        yield path, "description", item["description"], item.get("description_localizations") or {}
    for option in item.get("options") or []:
        yield from localizable(option, path)
    for choice in item.get("choices") or []:
        yield f"{path}/{choice['name']}", "choice", choice["name"], choice.get("name_localizations") or {}


async def test_every_command_option_and_choice_is_localized_by_discords_rules():
    payloads = await localized_payloads()
    assert len(payloads) >= 15
    check_commands(payloads)  # the fake Discord's validation, as on sync: raises on a broken localization
    seen = 0
    for payload in payloads:
        for where, field, _english, localized in localizable(payload):
            seen += 1
            for locale in SPOKEN:
                assert localized.get(locale), f"{where} {field} has no {locale} localization"
            assert set(localized) <= set(SPOKEN), f"{where}: localized for locales Crate has no catalog for"
    assert seen > 150
    by_name = {p["name"]: p for p in payloads}
    assert by_name["help"]["name_localizations"]["de"] == "hilfe"
    assert by_name["session"]["name_localizations"]["pt-BR"] == "sessão"
    assert by_name["Analyze with Crate"]["name_localizations"]["es-ES"] == "Analizar con Crate"
    # a choice's name is translated by itself: /settings reset:all is every setting, not all time
    choices = {
        (command, option["name"], choice["value"]): choice["name_localizations"]["de"]
        for command in ("charts", "settings")
        for option in by_name[command]["options"]
        for choice in option.get("choices") or []
    }
    assert choices[("settings", "reset", "all")] == "alle"
    assert choices[("charts", "period", "all")] == "gesamte Zeit"


def test_the_fake_discord_refuses_localizations_discord_refuses():
    command = {"name": "help", "type": 1, "description": "Help", "options": []}
    check_commands([{**command, "name_localizations": {"de": "hilfe"}}])
    for broken in (
        {"name_localizations": {"de": "Hilfe"}},  # capitals in a chat input name
        {"name_localizations": {"de": "hilfe mir"}},  # a space
        {"name_localizations": {"xx": "hilfe"}},  # no such locale
        {"description_localizations": {"de": "x" * 101}},
        {"description_localizations": {"de": ""}},
        {
            "options": [
                {"name": "a", "type": 3, "description": "a", "name_localizations": {"de": "b"}},
                {"name": "b", "type": 3, "description": "b"},
            ]
        },
    ):
        with pytest.raises(DiscordError):
            check_commands([{**command, **broken}])
    with pytest.raises(DiscordError):  # two commands called the same in one language
        check_commands(
            [
                {**command, "name_localizations": {"de": "hilfe"}},
                {**command, "name": "help2", "name_localizations": {"de": "hilfe"}},
            ]
        )
    menu = {"name": "Compare taste", "type": 2, "name_localizations": {"de": "Geschmack vergleichen"}}
    check_commands([menu])
    with pytest.raises(DiscordError):
        check_commands([{**menu, "name_localizations": {"de": "x" * 33}}])


def test_an_error_is_said_in_the_members_language_with_its_values():
    """A typed error keeps its template and values: English for the console, the member's
    language through the one error path, what it quotes still shown as the text it is."""
    from bot.app.playlists import NotPlaylistOwner
    from bot.audio.errors import EmptyFile, TooLong
    from cogs.replies import UNEXPECTED, error_text

    too_long = TooLong(
        "That track is {measured} long; my limit is {limit}.", values={"measured": "3:00:00", "limit": "1:00:00"}
    )
    assert too_long.user_message == "That track is 3:00:00 long; my limit is 1:00:00."  # the console's words
    assert error_text(too_long) == too_long.user_message
    owner = NotPlaylistOwner("**Road** <@1>")
    with i18n.speaking("de"):
        assert error_text(too_long) == "Dieser Titel ist 3:00:00 lang; mein Limit ist 1:00:00."
        assert error_text(EmptyFile()) == "Diese Datei ist leer."
        said = error_text(owner)
        assert said.startswith("Nur wem “") and "**Road**" not in said and "<@1>" not in said, said
        assert error_text(RuntimeError("boom")) == i18n._(UNEXPECTED) != UNEXPECTED
    with i18n.speaking("es-419"):
        assert error_text(EmptyFile()) == "Ese archivo está vacío."


def test_an_error_from_an_analysis_worker_keeps_its_template():
    """Decoding runs in a worker process: the pool pickles the error back, and the member still
    reads it in their language."""
    import pickle

    from bot.audio.errors import SilentAudio, TooShort
    from cogs.replies import error_text

    short = TooShort(
        "That clip is only {length} long; I need at least {minimum} of audio to tell what it is.",
        values={"length": "2 s", "minimum": "5 s"},
        detail="test",
    )
    back = pickle.loads(pickle.dumps(short))
    assert (back.template, back.values, back.detail) == (short.template, short.values, "test")
    with i18n.speaking("pt-BR"):
        assert error_text(back) == "Esse trecho tem só 2 s; preciso de pelo menos 5 s de áudio para dizer o que é."
        assert "Esse áudio está em silêncio" in error_text(pickle.loads(pickle.dumps(SilentAudio())))


@pytest.mark.parametrize(
    ("language", "album", "playlist"),
    [("en-US", "This album", "This playlist"), ("de", "Dieses Album", "Diese Playlist")],
)
async def test_an_untitled_album_or_playlist_is_named_in_the_members_language(language, album, playlist):
    """A link whose site gives no title: the menu's sentence calls it "this album" or "this
    playlist" in the member's words; a real title is shown as the text it is."""
    from bot.audio.tracklist import ListedTrack, TrackList
    from cogs.albums import album_message

    songs = (ListedTrack("One", "https://example.com/1"), ListedTrack("Two", "https://example.com/2"))
    with i18n.speaking(language):
        for kind, name in (("album", album), ("playlist", playlist)):
            said = album_message(TrackList(None, songs, 2, kind), 1, queue=False)["content"]
            assert said.startswith(f"📀 **{name}** ") and "an album" not in said and "a playlist" not in said, said
        titled = album_message(TrackList("**Loud** <@1>", songs, 2, "album"), 1, queue=True)["content"]
        assert "Loud" in titled and "**Loud**" not in titled and "<@1>" not in titled and album not in titled


#: A command a sentence names: ``/blend start member:``, ``/session queue``, ``/genre`` (not a URL's path).
NAMED_COMMAND = re.compile(r"(?<![\w.:/])/([\w-]+)(?: ([\w-]+))?(?: ([\w-]+):)?")


def named_commands(text: str, payloads: list[dict], locale: str | None = None):
    """(what the sentence says, the command path it should say) for each command ``text`` names,
    read against the command payloads in ``locale``'s names (None: English)."""

    def name(item: dict) -> str:
        return (item.get("name_localizations") or {}).get(locale, item["name"]) if locale else item["name"]

    commands = {name(p): p for p in payloads if p.get("type", 1) == 1}
    for match in NAMED_COMMAND.finditer(text):
        command, word, option = match.groups()
        found = commands.get(command)
        if found is None:
            yield match.group(0), None
            continue
        said = [command]
        options = found.get("options") or []
        subcommands = {name(o): o for o in options if o["type"] == 1}
        if subcommands:  # a group: the next word is one of its commands
            sub = subcommands.get(word or "")
            if sub is None:
                yield match.group(0), None
                continue
            said.append(word)
            options = sub.get("options") or []
        if option is not None and (subcommands or word is None):
            said.append(f"{option}:" if option in {name(o) for o in options} else f"?{option}:")
        yield match.group(0), " ".join(said)


async def test_every_command_a_sentence_names_exists_in_its_language(marked):
    """ "start one with /blend member:@someone" named no command (/blend is a group): each command,
    subcommand and option a sentence names is one Discord shows, in English and in each language
    (in the names that language's members see)."""
    payloads = await localized_payloads()
    wrong, checked = [], 0
    for language, locale in (("en", None), ("de", "de"), ("es", "es-ES"), ("pt_BR", "pt-BR")):
        entries = {m.id: m.string for m in catalog(language) if m.id} if locale else {}
        for (context, text), _where in marked.items():
            if context is not None:
                continue
            said = entries.get(text) if locale else text
            for shown, path in named_commands(said if isinstance(said, str) else "", payloads, locale):
                checked += 1
                if path is None or "?" in path or not shown.startswith("/" + path.split(":")[0].rstrip()):
                    wrong.append((language, shown, text))
    assert not wrong, "\n".join(map(str, wrong))
    assert checked > 150  # the help's lines and the sentences naming a command, in four languages
