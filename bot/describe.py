"""Words and text bars for what Crate hears, shared by the Discord embeds and the console."""

from __future__ import annotations

from collections.abc import Iterable

from bot.analysis import TAGS
from bot.catalog import Track
from bot.format import clip, format_duration, plural
from bot.listen.server_head import genre_key
from bot.teach import Taught, shown_genre

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


def taught_text(taught: Taught, *, markdown: bool = True) -> str:
    """What a member reads after correcting a track's genre (Discord and the console alike)."""
    title = clip(taught.track.title, 80)
    title = f"**{title}**" if markdown else f"“{title}”"
    said = shown_genre(taught.genre)
    if taught.decided is None:
        others = ", ".join(shown_genre(g) for g, _ in taught.votes if genre_key(g) != genre_key(taught.genre))
        text = (
            f"📝 Noted: you say {title} is {said}, others say {others} — no majority yet, so one more answer decides."
        )
    elif genre_key(taught.decided) != genre_key(taught.genre):
        text = f"📝 Noted: you say {title} is {said}, but most here say {shown_genre(taught.decided)}."
    else:
        text = f"✅ Thanks — {title} is {said} in this server now."
    if taught.previous is not None and genre_key(taught.previous) != genre_key(taught.genre):
        text += f" (That replaces your earlier answer, {shown_genre(taught.previous)}.)"
    heard = " · ".join(f"{shown_genre(g)} {p:.0%}" for g, p in taught.track.genres[:GENRES_SHOWN])
    text += f"\nI hear it as: {heard}."
    if taught.relabelled:
        text += f" I relabelled {plural(taught.relabelled, 'track')} of this server with what you all taught me."
    return text
