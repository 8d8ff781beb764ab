"""Charts as PNG bytes (matplotlib's Agg backend: no display needed)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402  (after choosing the backend)

BAR_COLOUR = "#5865F2"


def taste_chart(genres: Sequence[tuple[str, float]], title: str) -> bytes:
    """A horizontal bar chart of genre affinities (0-1, see bot.recommend.profile), largest on top."""
    rows = list(genres)[::-1]
    figure = Figure(figsize=(6, 0.45 * max(len(rows), 1) + 1.0), dpi=100)
    axes = figure.add_subplot()
    axes.barh([g for g, _ in rows], [share * 100 for _, share in rows], color=BAR_COLOUR)
    for position, (_, share) in enumerate(rows):
        axes.text(share * 100 + 1, position, f"{share:.0%}", va="center", fontsize=9)
    axes.set_xlim(0, 110)
    axes.set_xlabel("affinity: how consistently you like it (%)")
    axes.set_title(title)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
