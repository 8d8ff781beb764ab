"""Names members give (playlists, the server's own genres) over a hostile corpus: normalized
(NFKC), refused with hidden characters or blank, and refused as look-alikes of a name the server
already has (bot/app/names.py)."""

from __future__ import annotations

import pytest

from bot.app.names import BadName, BlankName, LookAlikeName, clean_name, refuse_look_alike, skeleton
from bot.app.playlists import PlaylistExists, PlaylistService
from bot.app.teaching import BadGenreName, Teacher, genre_name
from bot.caller import Caller
from tests.test_session import GUILD, add_clustered_tracks, clock, db, db_path, service  # noqa: F401  (fixtures)

HIDDEN = [
    "evil\u202eexe.mp3",  # right-to-left override
    "\u202eBangers",
    "a\u2066b\u2069",  # isolates
    "left\u200fmark",
    "two\nlines",
    "carriage\rreturn",
    "line\u2028separator",
    "para\u2029separator",
    "tab\tbell\x07",
    "nul\x00byte",
    "escape\x1b[31mred",
]
BLANK = ["", "   ", "\u200b", "\u200b\u200b \u2060", "\ufeff", "\u200d", " \u200c "]


@pytest.mark.parametrize("text", HIDDEN)
def test_hidden_characters_are_refused(text):
    with pytest.raises(BadName):
        clean_name(text)


@pytest.mark.parametrize("text", BLANK)
def test_blank_names_are_refused(text):
    with pytest.raises(BlankName):
        clean_name(text)


def test_names_are_normalized():
    assert clean_name("ｃｉｔｙ　ｐｏｐ") == "city pop"  # full width (NFKC)
    assert clean_name("ﬁne  tunes") == "fine tunes"  # ligature
    assert clean_name("Late\u200bnight") == "Latenight"  # invisible characters out
    assert clean_name("𝐂ity Pop\u200b") == "City Pop"  # so these are the same name, not a look-alike
    assert clean_name("  **Bangers** @everyone ") == "**Bangers** @everyone"  # markup is text: escaped where shown


@pytest.mark.parametrize(
    "look_alike",
    ["City Pоp", "Сity Pop", "City Ρop", "Ꮯity Pop", "City Pοp", "Сity Ρоp"],
)
def test_look_alikes_of_an_existing_name_are_refused(look_alike):
    with pytest.raises(LookAlikeName) as refused:
        refuse_look_alike(clean_name(look_alike), ["City Pop"])
    assert "City Pop" in refused.value.user_message


def test_the_same_name_and_different_names_are_no_look_alikes():
    refuse_look_alike("city  pop", ["City Pop"])  # the same name: the caller decides (exists / same genre)
    refuse_look_alike("City Rock", ["City Pop"])
    refuse_look_alike("民謡", ["City Pop"])
    assert skeleton("City Pоp") == skeleton("city pop")


async def test_playlists_refuse_hidden_blank_and_look_alike_names(db, service):  # noqa: F811
    playlists = PlaylistService(db, service)
    owner = Caller(1)
    await playlists.create(GUILD, owner, "City Pop")
    for text in HIDDEN:
        with pytest.raises(BadName):
            await playlists.create(GUILD, owner, text)
    for text in BLANK[2:]:
        with pytest.raises(BlankName):
            await playlists.create(GUILD, owner, text)
    with pytest.raises(LookAlikeName):
        await playlists.create(GUILD, owner, "City Pоp")
    with pytest.raises(PlaylistExists):
        await playlists.create(GUILD, owner, "ｃｉｔｙ ｐｏｐ")  # NFKC: the same name
    assert [p.name for p in await playlists.all(GUILD)] == ["City Pop"]


async def test_custom_genres_refuse_hidden_underscored_and_look_alike_names(db):  # noqa: F811
    ids = await add_clustered_tracks(db, GUILD)
    first = next(iter(ids.values()))[0]
    teacher = Teacher(db)
    await teacher.correct(GUILD, 1, first, "City Pop")
    for text in [*HIDDEN, "__x__", "\u200b"]:
        with pytest.raises((BadName, BadGenreName)):
            genre_name(text)
    with pytest.raises(LookAlikeName):
        await teacher.correct(GUILD, 2, first, "City Pоp")
    with pytest.raises(LookAlikeName):
        await teacher.correct(GUILD, 2, first, "Ꭻazz")  # a Cherokee look-alike of a family
    assert await teacher.custom_genres(GUILD) == ["City Pop"]
