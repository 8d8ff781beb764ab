"""cogs/layouts.py and the cards built on it: what Discord accepts (the fake Discord's own V2
checks), at most 40 components even for the largest answers, buttons placed as under an embed,
and an embed's plain-text footer shown as the text it is."""

from __future__ import annotations

import discord
import pytest

from bot.catalog import DISLIKE, LIKE
from bot.reasons import Reason, ReasonKind
from bot.recommend.rank import Recommendation
from cogs.feedback import RateButton, rating_buttons
from cogs.layouts import MAX_COMPONENTS, action_rows, card, count_components, notice
from cogs.radio import RadioButton
from cogs.recommend import MAX_PICKS, StartGenresSelect, picks_card
from cogs.soundmap import MapButton
from cogs.teach import CorrectSelect
from tests.fakediscord.components import check_v2_components

HOSTILE = "**Bob** @everyone <@123>"


def checked(layout: discord.ui.LayoutView) -> list[dict]:
    """The layout as discord.py sends it, after the fake Discord's checks (raises what Discord refuses)."""
    assert layout.has_components_v2()
    components = layout.to_components()
    check_v2_components(components)
    return components


def track_answer() -> discord.Embed:
    embed = discord.Embed(title="awakening", url="https://example.com/a", description="**Electronic**", colour=0xC62828)
    embed.add_field(name="Styles heard", value="ambient, chillout", inline=False)
    embed.add_field(name="Length", value="3:25")
    embed.add_field(name="Tempo", value="~128 BPM")
    embed.add_field(name="Heard", value="the 30-s preview", inline=False)
    embed.set_footer(text=f"Hosted by {HOSTILE} · Track #5")
    return embed


def test_a_track_card_with_every_button_and_a_full_select_stays_within_discords_limits():
    view = rating_buttons(5)
    view.add_item(RadioButton(5))
    view.add_item(MapButton(5))
    correct = CorrectSelect(5, [f"genre {i}" for i in range(30)])  # as many of a server's genres as fit
    correct.item.row = 4
    view.add_item(correct)
    layout = card(track_answer(), view, image="attachment://map.png")
    [box] = checked(layout)
    assert box["type"] == 17 and box["accent_color"] == 0xC62828
    kinds = [c["type"] for c in box["components"]]
    assert kinds == [10, 12, 14, 10, 10, 1, 1]  # words, picture, separator, fields, footer, buttons, select
    head, _, _, fields, footer = (c.get("content") for c in box["components"][:5])
    assert head == "### [awakening](https://example.com/a)\n**Electronic**"
    assert (
        fields
        == "**Styles heard**\nambient, chillout\n**Length:** 3:25 · **Tempo:** ~128 BPM\n**Heard**\nthe 30-s preview"
    )
    assert footer.startswith("-# Hosted by \\*\\*Bob\\*\\* @\u200beveryone <@\u200b123>")  # plain text, shown as such
    rows = [[b["custom_id"] for b in row["components"]] for row in box["components"][5:]]
    assert rows == [
        ["crate:rate:5:up", "crate:rate:5:down", "crate:who:5", "crate:radio:5", "crate:where:5"],
        ["crate:correct:5"],
    ]
    assert count_components(layout) == 14 <= MAX_COMPONENTS


def test_the_largest_picks_cards_stay_within_discords_limits():
    reason = Reason(ReasonKind.POPULAR, count=3)
    picks = [Recommendation(i, f"track {i}", 1.0, reason, "jazz") for i in range(1, MAX_PICKS + 1)]
    full = picks_card(picks, title="Picks for Carol")
    [box] = checked(full)
    assert count_components(full) == 33 <= MAX_COMPONENTS
    assert box["components"][1]["content"].startswith("**1. track 1** · ")
    row = box["components"][2]["components"]
    assert [b["custom_id"] for b in row] == ["crate:rate:1:up", "crate:rate:1:down", "crate:where:1", "crate:more:1"]
    assert [b.get("label") for b in row[:3]] == ["1", "1", "1"]  # each pick's buttons carry its number
    cold = picks_card(picks[:-1], title="Getting to know Carol", note="a start", select=StartGenresSelect(["jazz"] * 1))
    [box] = checked(cold)
    assert box["components"][-1]["components"][0]["custom_id"] == "crate:start"
    assert count_components(cold) == 29 <= MAX_COMPONENTS
    empty = picks_card([], title="Picks for Carol")
    assert "Nothing new to suggest." in [c.get("content") for c in checked(empty)[0]["components"]]


def test_rows_are_placed_as_a_legacy_view_places_them():
    items = [RateButton(1, LIKE), RateButton(1, DISLIKE), RadioButton(1)]
    items[1].item.row = 1
    rows = action_rows(items)
    assert [[c.custom_id for c in row.children] for row in rows] == [  # type: ignore[attr-defined]
        ["crate:rate:1:up", "crate:radio:1"],
        ["crate:rate:1:down"],
    ]


def test_a_notice_is_a_card_of_one_sentence():
    assert checked(notice("This session has ended.")) == [{"type": 10, "content": "This session has ended."}]


@pytest.mark.parametrize("language", ["en-US", "de", "es-ES", "pt-BR"])
def test_the_taste_pictures_title_and_legend_do_not_overlap(language):
    """In Portuguese the legend ("você", "a outra pessoa") sat on the title's line, over
    "Famílias: você e a outra pessoa": the legend has a line of its own under the title."""
    from bot.i18n import _, speaking
    from bot.present.charts import match_figure
    from bot.present.fit import renderer_of

    with speaking(language):
        figure = match_figure([("Jazz", 0.4, 0.7), ("Rock", 0.7, 0.0)], _("Families: you and them"))
        figure.tight_layout()
        renderer = renderer_of(figure)
        [axes] = figure.axes
        title = axes._left_title.get_window_extent(renderer)  # set_title(loc="left")
        legend = axes.get_legend().get_window_extent(renderer)
    assert not legend.overlaps(title), (title, legend)
    assert legend.x1 <= figure.bbox.width and title.x1 <= figure.bbox.width


def test_the_taste_card_picture_has_a_pair_of_bars_for_each_family():
    import io

    from PIL import Image

    from bot.present.charts import match_chart

    families = [("Jazz", 0.9, 0.4), ("Rock", 0.3, 0.8), ("Ambient $x$", 0.5, 0.5)]  # a server's genre: no mathtext
    image = Image.open(io.BytesIO(match_chart(families, "Families: you and them"))).convert("RGB")
    assert image.size == (600, round(100 * (0.6 * 3 + 1.3)))
    width, height = image.size
    pixels = image.load()
    you, them = (0x58, 0x65, 0xF2), (0x1D, 0xB9, 0x54)
    left = min(x for x in range(width) for y in range(0, height, 2) if pixels[x, y] == you)

    def runs(colour: tuple[int, int, int]) -> int:  # bars met going down one column near the bars' start
        column = [pixels[left + 3, y] == colour for y in range(height)]
        return sum(1 for y in range(1, height) if column[y] and not column[y - 1])

    assert runs(you) == 3 and runs(them) == 3  # the legend's swatches sit further right
