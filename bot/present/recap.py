"""The recap card (``/recap``, the monthly post): a Wrapped-style PNG, drawn with matplotlib's Agg
backend, off the event loop by its callers. Titles, names and genres are drawn as the text they
are (one line, matplotlib's ``$…$`` mathematics off).

:func:`recap_card` returns the PNG and a :class:`DrawnCard` saying what it drew (every line of
text, the family bars), so a test checks the picture's content without reading pixels.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from bot.format import clip
from bot.i18n import _
from bot.present.fit import fit_text, renderer_of
from bot.safe_text import one_line

#: The card's size in pixels (a 4:5 portrait, readable at Discord's preview size).
WIDTH, HEIGHT = 1080, 1350
DPI = 120
BACKGROUND = "#191414"
ACCENT = "#1DB954"
SECOND = "#5865F2"
TEXT = "#FFFFFF"
MUTED = "#B3B3B3"
#: Longest line drawn (longer ones end in "…"); each line is then cut to the card's width.
LINE_CHARS = 90
#: Where a line must end, as a share of the card's width.
RIGHT = 0.95
#: A line too long for the card is first set smaller, down to this share of its size, then cut.
SMALLEST = 0.8
#: The card's layout, as shares of its height: where the sections start, what the footer keeps
#: free, a heading with its gap, the space after a section, a line at most, one family's pair of
#: bars, and the chart's axis and its numbers.
TOP, BOTTOM, HEADING, AFTER_SECTION, LINE_STEP, BAR_ROW, AXIS = 0.87, 0.07, 0.035, 0.015, 0.03, 0.034, 0.035


@dataclass(frozen=True)
class FamilyBar:
    family: str  # in words
    share: float  # 0..1 of the period's likes
    previous: float | None  # the period before (None: no likes then)


@dataclass(frozen=True)
class RecapCard:
    """What the card shows, in words: a title, a subtitle, sections of lines, the family bars."""

    title: str
    subtitle: str
    sections: tuple[tuple[str, tuple[str, ...]], ...]
    families: tuple[FamilyBar, ...] = ()
    footer: str = ""


@dataclass(frozen=True)
class DrawnCard:
    width: int
    height: int
    texts: tuple[str, ...]  # every text drawn, top to bottom
    bars: int  # family bars drawn (the current period's)
    #: Pixels (left, top, right, bottom) of each line of text, and of the families' chart.
    boxes: tuple[tuple[int, int, int, int], ...] = ()
    chart: tuple[int, int, int, int] | None = None


def _clip(text: str, limit: int = LINE_CHARS) -> str:
    return clip(one_line(text), limit)


def size_of(item: Text) -> float:
    return float(item.get_fontsize())


def recap_card(card: RecapCard) -> tuple[bytes, DrawnCard]:
    """The card as PNG bytes (:data:`WIDTH` x :data:`HEIGHT`), and what was drawn."""
    figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI, facecolor=BACKGROUND)
    drawn: list[str | Text] = []  # the lines, measured and cut to the card's width at the end

    def text(x: float, y: float, words: str, **style) -> None:
        words = _clip(words, style.pop("limit", LINE_CHARS))
        drawn.append(figure.text(x, y, words, color=style.pop("color", TEXT), va="top", parse_math=False, **style))

    text(0.06, 0.965, card.title, fontsize=26, fontweight="bold", color=ACCENT)
    text(0.06, 0.915, card.subtitle, fontsize=13, color=MUTED)
    y = TOP
    count = sum(max(1, len(lines)) for _, lines in card.sections)
    # the lines share what the headings and the families' chart (with its heading and axis) leave
    bars_height = BAR_ROW * len(card.families) + 0.02
    chart = HEADING + 0.01 + bars_height + AXIS if card.families else 0.0
    room = TOP - (BOTTOM + chart) - len(card.sections) * (HEADING + AFTER_SECTION)
    step = min(LINE_STEP, room / max(count, 1))
    size = 13 if step >= LINE_STEP else 12 if step >= 0.024 else 11
    for heading, lines in card.sections:
        text(0.06, y, heading.upper(), fontsize=12, fontweight="bold", color=ACCENT)
        y -= HEADING
        for line in lines or ("—",):
            text(0.08, y, line, fontsize=size)
            y -= step
        y -= AFTER_SECTION
    bars = 0
    axes: Axes | None = None
    if card.families:
        text(
            0.06,
            y,
            _("Families: share of likes (grey: the period before)").upper(),
            fontsize=12,
            fontweight="bold",
            color=ACCENT,
        )
        bottom = max(BOTTOM + AXIS, y - HEADING - 0.01 - bars_height)
        axes = figure.add_axes((0.3, bottom, 0.6, bars_height), facecolor=BACKGROUND)
        rows = list(card.families)[::-1]
        positions = range(len(rows))
        axes.barh(
            [p + 0.2 for p in positions], [100 * (r.previous or 0.0) for r in rows], height=0.35, color=MUTED, alpha=0.5
        )
        axes.barh([p - 0.15 for p in positions], [100 * r.share for r in rows], height=0.45, color=ACCENT)
        bars = len(rows)
        axes.set_yticks(list(positions), [_clip(r.family, 18) for r in rows], color=TEXT, fontsize=11)
        for tick in axes.get_yticklabels():
            tick.set_parse_math(False)  # a server's own genre is text, never $mathematics$
        axes.set_xlim(0, 115)
        axes.tick_params(axis="x", colors=MUTED, labelsize=9)
        for side in ("top", "right", "left"):
            axes.spines[side].set_visible(False)
        axes.spines["bottom"].set_color(MUTED)
        for position, row in zip(positions, rows, strict=True):
            shift = (
                _("new")
                if row.previous is None
                else _("{change} pts").format(change=f"{100 * (row.share - row.previous):+.0f}")
            )
            label = f"{row.share:.0%} ({shift})"
            end = 100 * max(row.share, row.previous or 0.0)  # past the longer bar, the grey one included
            axes.text(end + 1.5, position - 0.15, label, color=TEXT, va="center", fontsize=10)
            drawn.append(f"{row.family}: {label}")
    if card.footer:
        text(0.06, 0.035, card.footer, fontsize=10, color=MUTED, limit=120)
    renderer = renderer_of(figure)
    said = tuple(
        line if isinstance(line, str) else fit_text(line, RIGHT * WIDTH, renderer, smallest=SMALLEST * size_of(line))
        for line in drawn
    )
    boxes = tuple(_pixels(line.get_window_extent(renderer)) for line in drawn if not isinstance(line, str))
    tight = axes.get_tightbbox(renderer) if axes is not None else None  # the bars, their names and numbers
    drawn_chart = _pixels(tight) if tight is not None else None
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", facecolor=BACKGROUND)
    return buffer.getvalue(), DrawnCard(WIDTH, HEIGHT, said, bars, boxes, drawn_chart)


def _pixels(box: Bbox) -> tuple[int, int, int, int]:
    """A box in the card's pixels, counted from its top left."""
    return (round(box.x0), round(HEIGHT - box.y1), round(box.x1), round(HEIGHT - box.y0))


__all__ = ["HEIGHT", "WIDTH", "DrawnCard", "FamilyBar", "RecapCard", "recap_card"]
