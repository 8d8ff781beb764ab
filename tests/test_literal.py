"""A user-given string shown in Discord as the text it is (bot.format.literal), and the one error
path that shows what bot/'s plain sentences quote “like this” that way (cogs.replies.error_text)."""

from __future__ import annotations

import re

import pytest

from bot.app.playlists import NotPlaylistOwner
from bot.catalog import NoTrackChosen
from bot.errors import CrateError
from bot.format import literal
from cogs.replies import error_text

HOSTILE = "**Bangers** @everyone <@123> <@&45> <#67> __x__ `c` ||s|| ~~g~~ [x](http://example.com)"


def test_markup_and_mentions_are_escaped():
    shown = literal(HOSTILE)
    assert shown == (
        "\\*\\*Bangers\\*\\* @\u200beveryone <@\u200b123> <@\u200b&45> <\u200b#67> \\_\\_x\\_\\_ \\`c\\`"
        " \\|\\|s\\|\\| \\~\\~g\\~\\~ \\[x](http://example.com)"
    )
    assert not re.search(r"<@!?&?\d+>|<#\d+>|@everyone", shown)


@pytest.mark.parametrize(
    ("text", "shown"), [("# heading", "\\# heading"), ("> quote", "\\> quote"), ("- item", "\\- item")]
)
def test_what_is_markup_only_at_the_start_of_a_line_is_escaped_there(text, shown):
    assert literal(text) == shown
    assert literal(f"a {text}") == f"a {text}"


def test_a_masked_link_cut_to_fit_cannot_be_closed_by_what_follows():
    cut = literal("[x](http://example.com/a-long-path)", 16)
    assert cut.startswith("\\[x](") and cut.endswith("…")
    assert not re.search(r"(?<!\\)\[", cut + " (more text)")


def test_bare_links_still_work():
    assert literal("see https://example.com/__a__") == "see https://example.com/__a__"


def test_errors_show_what_they_quote_as_text_and_keep_crate_s_own_words():
    error = NotPlaylistOwner(HOSTILE)
    assert HOSTILE in error.user_message  # plain text for the console and the command line
    assert error_text(error) == error.user_message.replace(HOSTILE, literal(HOSTILE))
    assert "`track`" in error_text(NoTrackChosen())  # Crate's own markdown is untouched


def test_a_quoted_name_holding_quotation_marks_is_escaped_whole():
    name = "x” **bold** @everyone “y"
    text = error_text(CrateError(f"“{name}” looks just like “{name}”."))
    assert "**bold**" not in text and "@everyone" not in text and literal(name) in text


def test_unquoted_words_of_crate_are_left_alone():
    assert (
        error_text(CrateError("Set voice_idle_timeout with `/settings`.")) == "Set voice_idle_timeout with `/settings`."
    )
