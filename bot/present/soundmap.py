"""The sound map (:class:`bot.recommend.soundmap.SoundMap`) as a PNG, readable at Discord's
preview size (about 400-550 px wide): large type, few labels, one colour per family.

Titles are people's text: matplotlib reads ``$...$`` as mathematics, so every title and name is
drawn with ``parse_math=False``, clipped to :data:`LABEL_CHARS`, on one line.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Literal

import matplotlib

matplotlib.use("Agg")
from matplotlib.axes import Axes
from matplotlib.backend_bases import RendererBase
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Annotation
from matplotlib.transforms import Bbox

from bot.format import clip
from bot.genres import DISPLAY_NAMES, FAMILIES
from bot.i18n import _, ngettext, number
from bot.present.fit import fit_text, renderer_of
from bot.recommend.soundmap import SoundMap

Align = Literal["left", "right"]

#: One colour per family, in :data:`bot.genres.FAMILIES` order (distinct on a white ground).
FAMILY_COLOURS: dict[str, str] = {
    "rock": "#d62728",
    "metal": "#4d4d4d",
    "pop": "#e377c2",
    "hiphop": "#ff7f0e",
    "electronic": "#17becf",
    "ambient": "#7f7fff",
    "jazz": "#9467bd",
    "blues": "#1f4e9c",
    "classical": "#c9a227",
    "folk": "#8c564b",
    "country": "#bcbd22",
    "soul": "#ad1457",
    "reggae": "#2ca02c",
    "disco": "#f032e6",
}
UNKNOWN_COLOUR = "#9e9e9e"
CONTEXT_COLOUR = "#d9d9d9"
HIGHLIGHT_COLOUR = "#ff1744"
#: A landmark's or the highlighted track's title on the map, at most.
LABEL_CHARS = 26
#: The image's size in pixels (width, height).
SIZE = (900, 700)
DPI = 100
#: Pixels kept free at the right of the legend's lines.
LEGEND_MARGIN = 8
#: Pixels around the taste's ★, the pinned track's ring, a landmark's dot and a rating's ○ or × that no
#: label covers.
STAR_RADIUS, RING_RADIUS, DOT_RADIUS, RATED_RADIUS = 17.0, 19.0, 4.0, 8.0
#: The member's likes and dislikes that names keep clear of, at most (past that, the least covered).
MARKED_RATINGS = 200


@dataclass(frozen=True)
class MapDrawing:
    """The PNG and what is on it."""

    png: bytes
    plotted: int  # catalog points drawn
    labels: tuple[str, ...]  # the titles written on the map (landmarks, then the highlighted track)
    size: tuple[int, int]
    legend: tuple[str, ...] = ()  # the legend's lines as drawn (shortened to fit the picture)
    #: Pixels (left, top, right, bottom) of each of ``labels``, and of the taste's ★ (its centre).
    label_boxes: tuple[tuple[int, int, int, int], ...] = ()
    star: tuple[int, int] | None = None
    footer: str = ""  # the line under the map (how many tracks)
    #: Pixels (left, top, right, bottom) around what names keep clear of: ★, ring, dots, ○ and ×.
    marks: tuple[tuple[int, int, int, int], ...] = ()


def label_text(title: str) -> str:
    """A title as a map label: one line, at most :data:`LABEL_CHARS` characters."""
    return clip(" ".join(title.split()), LABEL_CHARS)


def _point_size(count: int) -> float:
    """Smaller dots for more tracks, so 3,000 points stay a cloud and 10 stay visible."""
    return max(6.0, min(90.0, 9000.0 / max(count, 1)))


def draw_map(sound_map: SoundMap, *, title: str, member: str | None = None) -> MapDrawing:
    """Render ``sound_map``; ``member`` names whose likes are marked (legend text)."""
    figure = Figure(figsize=(SIZE[0] / DPI, SIZE[1] / DPI), dpi=DPI)
    axes = figure.add_axes((0.02, 0.08, 0.67, 0.83))
    axes.set_xticks([])
    axes.set_yticks([])
    for spine in axes.spines.values():
        spine.set_color("#cccccc")
    xy, codes = sound_map.xy, sound_map.families
    size = _point_size(len(xy))
    handles: list[Line2D] = []
    focus = sound_map.family
    if len(xy):
        if focus is not None:
            mine = codes == FAMILIES.index(focus)
            axes.scatter(xy[~mine, 0], xy[~mine, 1], s=size * 0.6, c=CONTEXT_COLOUR, linewidths=0)
            handles.append(_dot(CONTEXT_COLOUR, _("other families")))
        present = sorted(set(int(c) for c in codes), key=lambda c: (c < 0, c))
        for code in present:
            if focus is not None and (code < 0 or FAMILIES[code] != focus):
                continue
            family = FAMILIES[code] if code >= 0 else None
            colour = FAMILY_COLOURS[family] if family else UNKNOWN_COLOUR
            pick = codes == code
            axes.scatter(xy[pick, 0], xy[pick, 1], s=size, c=colour, alpha=0.75, linewidths=0)
            handles.append(_dot(colour, _(DISPLAY_NAMES[family]) if family else _("no family yet")))
        if focus is not None and not sound_map.in_family:  # asked for, and no track of it: say so
            handles.append(_dot(FAMILY_COLOURS[focus], f"{_(DISPLAY_NAMES[focus])} (0)"))
    if len(sound_map.disliked):
        axes.scatter(
            sound_map.disliked[:, 0], sound_map.disliked[:, 1], s=90, marker="x", c="#222222", linewidths=2.2, zorder=4
        )
        handles.append(
            Line2D([], [], marker="x", color="#222222", linestyle="", markersize=10, mew=2.2, label=_("disliked"))
        )
    if len(sound_map.liked):
        axes.scatter(
            sound_map.liked[:, 0], sound_map.liked[:, 1], s=110, marker="o", facecolors="none",
            edgecolors="#111111", linewidths=2.0, zorder=4,
        )  # fmt: skip
        handles.append(
            Line2D([], [], marker="o", color="#111111", markerfacecolor="none", linestyle="", markersize=10, mew=2,
                   label=_("liked")),
        )  # fmt: skip
    if sound_map.centre is not None:
        axes.scatter([sound_map.centre[0]], [sound_map.centre[1]], s=520, marker="*", c="#ffd600",
                     edgecolors="#111111", linewidths=1.5, zorder=10)  # fmt: skip
        who = taste_of(clip(member, 18)) if member else _("taste centre")
        handles.append(Line2D([], [], marker="*", color="#ffd600", markeredgecolor="#111111", linestyle="",
                              markersize=18, label=who))  # fmt: skip
    labels: list[str] = []
    middle = float(xy[:, 0].min() + xy[:, 0].max()) / 2 if len(xy) else 0.0

    def side(x: float, gap: float) -> tuple[float, Align]:
        """Labels point inwards: right of a point on the left half, left of one on the right."""
        return (gap, "left") if x <= middle else (-gap, "right")

    placed: list[tuple[Annotation, list[tuple[float, float, Align]]]] = []  # each label, where it may go
    spot_first = False  # the pinned track's label is placed first (though named last)
    label_boxes: tuple[tuple[int, int, int, int], ...] = ()
    kept_clear: tuple[tuple[int, int, int, int], ...] = ()
    star: tuple[int, int] | None = None
    for landmark in sound_map.landmarks:
        text = label_text(landmark.title)
        dx, align = side(landmark.xy[0], 7)
        note = axes.annotate(
            text, landmark.xy, xytext=(dx, 7), textcoords="offset points", fontsize=14, parse_math=False, zorder=7,
            ha=align, bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "#bbbbbb", "alpha": 0.75},
        )  # fmt: skip
        axes.scatter([landmark.xy[0]], [landmark.xy[1]], s=40, c="#111111", zorder=7)
        labels.append(text)
        placed.append((note, _around(dx, 7, -21, align)))
    if sound_map.highlight is not None:
        spot = sound_map.highlight
        axes.scatter([spot.xy[0]], [spot.xy[1]], s=700, marker="o", facecolors="none", edgecolors=HIGHLIGHT_COLOUR,
                     linewidths=3.5, zorder=8)  # fmt: skip
        axes.scatter([spot.xy[0]], [spot.xy[1]], s=60, c=HIGHLIGHT_COLOUR, zorder=8)
        text = label_text(spot.title)
        dx, align = side(spot.xy[0], 14)
        note = axes.annotate(
            text, spot.xy, xytext=(dx, -24), textcoords="offset points", fontsize=16, fontweight="bold",
            color=HIGHLIGHT_COLOUR, parse_math=False, zorder=9, ha=align,
            bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": HIGHLIGHT_COLOUR},
        )  # fmt: skip
        placed.insert(0, (note, _around(dx, -24, 16, align)))  # the pinned track's name goes first
        spot_first = True
        handles.append(_dot(HIGHLIGHT_COLOUR, _("this track"), size=12))
        labels.append(text)
    axes.margins(0.08)
    if placed:
        marks = [(sound_map.centre, STAR_RADIUS)] if sound_map.centre is not None else []
        if sound_map.highlight is not None:
            marks.append((sound_map.highlight.xy, RING_RADIUS))
        marks += [(landmark.xy, DOT_RADIUS) for landmark in sound_map.landmarks]
        rated = [*sound_map.liked, *sound_map.disliked]  # the member's ○ and ×: theirs to see
        marks += [((float(x), float(y)), RATED_RADIUS) for x, y in rated[:MARKED_RATINGS]]
        renderer = renderer_of(figure)
        kept_clear = _place_labels(axes, placed, marks, renderer)
        notes = [note for note, _places in placed[1:]] + [placed[0][0]] if spot_first else [n for n, _ in placed]
        label_boxes = tuple(_pixels(note.get_window_extent(renderer)) for note in notes)
    if sound_map.centre is not None:
        x, y = axes.transData.transform(sound_map.centre)
        star = (round(float(x)), round(SIZE[1] - float(y)))
    figure.suptitle(clip(" ".join(title.split()), 60), fontsize=19, x=0.02, ha="left", parse_math=False)
    shown = (
        _("{shown} of {total} tracks drawn").format(shown=number(sound_map.shown), total=number(sound_map.total))
        if sound_map.shown < sound_map.total
        else ngettext("{count} track", "{count} tracks", sound_map.total).format(count=number(sound_map.total))
    )
    footer = shown + " · " + _("close together = similar sound")
    figure.text(0.02, 0.025, footer, fontsize=13, color="#555555")
    legend_lines: list[str] = []
    if handles:
        legend = figure.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.705, 0.92), fontsize=14,
                               frameon=False, handletextpad=0.3, handlelength=1.5, labelspacing=0.45)  # fmt: skip
        for text_item in legend.get_texts():
            text_item.set_parse_math(False)  # a member's name is their text
        # "Geschmack von Alexandra" is longer than "Alexandra's taste": wrap or cut what would leave the picture
        renderer = renderer_of(figure)
        name = clip(member, 18) if member else None
        for item in legend.get_texts():
            named = name is not None and item.get_text() == taste_of(name)
            part = name if named else None  # a long name is cut, not "taste" itself
            legend_lines.append(fit_text(item, SIZE[0] - LEGEND_MARGIN, renderer, part=part, said=taste_of, wrap=named))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return MapDrawing(
        buffer.getvalue(), len(xy), tuple(labels), SIZE,
        legend=tuple(legend_lines), label_boxes=label_boxes, star=star, footer=footer, marks=kept_clear,
    )  # fmt: skip


def _around(dx: float, dy: float, other_dy: float, align: Align) -> list[tuple[float, float, Align]]:
    """Where a label may go, by preference: its side of the point and above (or below), then
    the other side."""
    flipped: Align = "left" if align == "right" else "right"
    return [(dx, dy, align), (dx, other_dy, align), (-dx, dy, flipped), (-dx, other_dy, flipped)]


def _place_labels(
    axes: Axes,
    placed: list[tuple[Annotation, list[tuple[float, float, Align]]]],
    marks: list[tuple[tuple[float, float], float]],
    renderer: RendererBase,
) -> tuple[tuple[int, int, int, int], ...]:
    """Move each label to the first of its places that covers no mark (the taste's ★, the
    pinned ring, a landmark's dot, the member's ○ and ×) and no label placed before it, inside the plot; else to the
    place that covers least."""
    taken: list[Bbox] = []
    for x, y, radius in [(*axes.transData.transform(xy), r) for xy, r in marks]:
        taken.append(Bbox.from_extents(x - radius, y - radius, x + radius, y + radius))
    clear = tuple(_pixels(box) for box in taken)  # the marks, in the picture's pixels
    inside = axes.get_window_extent(renderer)
    for note, places in placed:
        best: tuple[float, Bbox, tuple[float, float, Align]] | None = None
        for dx, dy, align in places:
            note.xyann = (dx, dy)
            note.set_horizontalalignment(align)
            box = note.get_window_extent(renderer).padded(3)
            covered = sum(_overlap(box, other) for other in taken)
            outside = box.width * box.height - _overlap(box, inside)
            cost = covered + outside
            if best is None or cost < best[0]:
                best = (cost, box, (dx, dy, align))
            if cost == 0:
                break
        assert best is not None
        _cost, box, (dx, dy, align) = best
        note.xyann = (dx, dy)
        note.set_horizontalalignment(align)
        taken.append(box)
    return clear


def _pixels(box: Bbox) -> tuple[int, int, int, int]:
    """A box in the picture's pixels, counted from its top left."""
    return (round(box.x0), round(SIZE[1] - box.y1), round(box.x1), round(SIZE[1] - box.y0))


def _overlap(a: Bbox, b: Bbox) -> float:
    both = Bbox.intersection(a, b)
    return 0.0 if both is None else float(both.width * both.height)


def taste_of(member: str) -> str:
    """The legend's line for the taste's centre (★)."""
    return _("{member}'s taste").format(member=member)


def _dot(colour: str, text: str, *, size: float = 10) -> Line2D:
    return Line2D([], [], marker="o", color=colour, linestyle="", markersize=size, label=text)


__all__ = ["FAMILY_COLOURS", "LABEL_CHARS", "MapDrawing", "draw_map", "label_text"]
