"""Charts as PNG bytes (matplotlib's Agg backend: no display needed)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bot.i18n import _

BAR_COLOUR = "#5865F2"
SECOND_COLOUR = "#1DB954"


def _bars(axes: Axes, rows: Sequence[tuple[str, float]], labels: Sequence[str], *, colour: str, limit: float) -> None:
    """Horizontal bars, the first row on top, each with its label at its end."""
    rows, labels = list(rows)[::-1], list(labels)[::-1]
    axes.barh([name for name, _ in rows], [value for _, value in rows], color=colour)
    for position, ((__, value), label) in enumerate(zip(rows, labels)):
        axes.text(value + limit * 0.01, position, label, va="center", fontsize=9)
    axes.set_xlim(0, limit * 1.1)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)


def _png(figure: Figure) -> bytes:
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def taste_chart(genres: Sequence[tuple[str, float]], title: str) -> bytes:
    """A horizontal bar chart of genre affinities (0-1, see bot.recommend.profile), largest on top."""
    rows = [(g, share * 100) for g, share in genres]
    figure = Figure(figsize=(6, 0.45 * max(len(rows), 1) + 1.0), dpi=100)
    axes = figure.add_subplot()
    _bars(axes, rows, [f"{share:.0%}" for _, share in genres], colour=BAR_COLOUR, limit=100)
    axes.set_xlabel(_("affinity: how consistently you like it (%)"))
    axes.set_title(title)
    return _png(figure)


def server_chart(tracks: Sequence[tuple[str, int]], families: Sequence[tuple[str, float]], title: str) -> bytes:
    """Two bar charts side by side: likes per track (most-liked on top) and each family's share of
    the likes (0..1)."""
    height = 0.4 * max(len(tracks), len(families), 1) + 1.4
    figure = Figure(figsize=(10, height), dpi=100)
    left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    limit = float(max((count for _, count in tracks), default=1))
    _bars(left, [(name, float(n)) for name, n in tracks], [str(n) for _, n in tracks], colour=BAR_COLOUR, limit=limit)
    left.set_xlabel(_("likes"))
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    shares = [(name, 100 * share) for name, share in families]
    _bars(right, shares, [f"{share:.0%}" for _, share in families], colour=SECOND_COLOUR, limit=100)
    right.set_xlabel(_("share of the likes (%)"))
    left.set_title(_("Most-liked tracks"))
    right.set_title(_("Families"))
    figure.suptitle(title)
    return _png(figure)


def match_chart(families: Sequence[tuple[str, float, float]], title: str) -> bytes:
    """Two members' liking of each family (affinities 0-1: "you", then "them") as pairs of bars,
    the first family on top: the picture of a taste match (/taste)."""
    return _png(match_figure(families, title))


def match_figure(families: Sequence[tuple[str, float, float]], title: str) -> Figure:
    """:func:`match_chart`'s figure: the title, under it the legend (its own line: "Famílias:
    você e a outra pessoa" and its legend do not fit side by side), then the bars."""
    rows = list(families)
    figure = Figure(figsize=(6, 0.6 * max(len(rows), 1) + 1.3), dpi=100)
    axes = figure.add_subplot()
    height = 0.38
    places = [len(rows) - 1 - i for i in range(len(rows))]
    axes.barh(
        [p + height / 2 for p in places], [100 * mine for _, mine, _ in rows], height, color=BAR_COLOUR, label=_("you")
    )
    axes.barh(
        [p - height / 2 for p in places],
        [100 * theirs for _, _, theirs in rows],
        height,
        color=SECOND_COLOUR,
        label=_("them"),
    )
    axes.set_yticks(places, [name.replace("$", r"\$") for name, _, _ in rows])  # a server's genre: no mathtext
    axes.set_xlim(0, 110)
    axes.set_xlabel(_("affinity: how consistently each of you likes it (%)"))
    axes.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, frameon=False, borderaxespad=0.2)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.set_title(title, loc="left", pad=30)  # above the legend's line
    return figure
