"""Words and text bars for what Crate hears, shared by the Discord embeds and the console."""

from __future__ import annotations

from collections.abc import Iterable

from bot.analysis import TAGS
from bot.catalog import Track
from bot.format import clip, format_duration

BAR_WIDTH = 12
GENRES_SHOWN = 3
TAGS_SHOWN = 5
#: A tag is named as evidence only when the tagger is at least this sure of it.
TAG_EVIDENCE = 0.1


def bar(probability: float, width: int = BAR_WIDTH) -> str:
    filled = round(max(0.0, min(1.0, probability)) * width)
    return "█" * filled + "░" * (width - filled)


def genre_bars(genres: Iterable[tuple[str, float]], shown: int = GENRES_SHOWN) -> list[str]:
    """``metal  ██████████░░  87%`` lines for the most probable genres."""
    rows = list(genres)[:shown]
    width = max((len(g) for g, _ in rows), default=0)
    return [f"{g:<{width}} {bar(p)} {p:4.0%}" for g, p in rows]


def top_tags(track: Track, shown: int = TAGS_SHOWN) -> list[str]:
    """The styles the tagger is most sure of (at least :data:`TAG_EVIDENCE`)."""
    order = track.tag_probs.argsort()[::-1][:shown]
    return [TAGS[i] for i in order if track.tag_probs[i] >= TAG_EVIDENCE]


def track_line(track: Track, *, markdown: bool = True) -> str:
    """``**Title** · jazz · 3:25`` — one track in a list."""
    title = clip(track.title, 80)
    if markdown:
        title = f"**{title}**"
    return f"{title} · {track.top_genre or '?'} · {format_duration(track.duration)}"
