"""Words that fit the picture: a drawn text shortened (ending in "…") until it ends inside it.

A limit in characters cannot know how wide a line is drawn: a German sentence is a third longer
than its English, and "WWW" is wider than "iii". The pictures (the sound map's legend, the recap
card's lines) first lay their texts out, then measure each in pixels and, only for what would
run past the picture's edge, wrap it, set it a little smaller, or cut it.
"""

from __future__ import annotations

from collections.abc import Callable

from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

ELLIPSIS = "…"


def renderer_of(figure: Figure) -> RendererBase:
    """The figure's renderer (an Agg canvas), its texts laid out as they will be drawn."""
    canvas = figure.canvas if isinstance(figure.canvas, FigureCanvasAgg) else FigureCanvasAgg(figure)
    figure.draw_without_rendering()
    return canvas.get_renderer()


def fits(item: Text, right: float, renderer: RendererBase) -> bool:
    return item.get_window_extent(renderer).x1 <= right


def fit_text(
    item: Text,
    right: float,
    renderer: RendererBase,
    *,
    part: str | None = None,
    said: Callable[[str], str] | None = None,
    wrap: bool = False,
    smallest: float | None = None,
) -> str:
    """Shorten ``item`` (a left-aligned text already laid out) until its right edge is at most
    ``right`` pixels from the figure's left; the text as it is drawn.

    ``part`` and ``said``: shorten only ``part`` (a name), the text being ``said(part)``
    ("Geschmack von Alexandra" -> "Geschmack von Alex…"); the whole text if even that is too long.
    ``wrap``: first try the text on two lines, broken at a space (as late as fits).
    ``smallest``: first try a smaller type, a point at a time down to this size.
    """
    words = item.get_text()
    if fits(item, right, renderer):
        return words
    if smallest is not None:
        size = float(item.get_fontsize())
        while size - 1 >= smallest and not fits(item, right, renderer):
            size -= 1
            item.set_fontsize(size)
        if fits(item, right, renderer):
            return words
    if wrap:
        for space in reversed([i for i, c in enumerate(words) if c == " "]):
            item.set_text(words[:space] + "\n" + words[space + 1 :])
            if fits(item, right, renderer):
                return item.get_text()
        item.set_text(words)
    if part is not None and said is not None:
        _shorten(item, right, renderer, part, said)
        if fits(item, right, renderer) and item.get_text() != said(ELLIPSIS):
            return item.get_text()
    _shorten(item, right, renderer, words, lambda cut: cut)
    return item.get_text()


def _shorten(item: Text, right: float, renderer: RendererBase, part: str, said: Callable[[str], str]) -> None:
    low, high = 0, len(part) - 1  # the longest beginning of ``part`` that fits with its "…"
    while low < high:
        middle = (low + high + 1) // 2
        item.set_text(said(part[:middle].rstrip() + ELLIPSIS))
        if fits(item, right, renderer):
            low = middle
        else:
            high = middle - 1
    item.set_text(said(part[:low].rstrip() + ELLIPSIS))


__all__ = ["fit_text", "fits", "renderer_of"]
