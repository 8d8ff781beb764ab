"""Words and text bars for what Crate hears, shared by the Discord embeds and the console."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np

from bot.analysis import TAGS
from bot.catalog import Taught, Track
from bot.format import clip, format_duration, literal
from bot.genres import describe_answer, display_name, label, short_answer
from bot.i18n import _, ngettext
from bot.listen.server_head import genre_key

BAR_WIDTH = 12
GENRES_SHOWN = 3
TAGS_SHOWN = 5
#: A tag is named as evidence only when the tagger is at least this sure of it.
TAG_EVIDENCE = 0.1


def bar(probability: float, width: int = BAR_WIDTH) -> str:
    filled = round(max(0.0, min(1.0, probability)) * width)
    return "█" * filled + "░" * (width - filled)


class Heard(Protocol):
    """What an answer is made of: an :class:`~bot.analysis.Analysis` or a stored :class:`Track`."""

    @property
    def genres(self) -> tuple[tuple[str, float], ...]: ...
    @property
    def confident(self) -> bool: ...
    @property
    def tag_probs(self) -> np.ndarray: ...
    @property
    def tempo(self) -> float | None: ...
    @property
    def duration(self) -> float: ...


def genre_bars(genres: Iterable[tuple[str, float]], shown: int = GENRES_SHOWN) -> list[str]:
    """``Metal  ██████████░░  87%`` lines for the most probable genres (display names)."""
    rows = [(display_name(g), p) for g, p in list(genres)[:shown]]
    width = max((len(g) for g, _ in rows), default=0)
    return [f"{g:<{width}} {bar(p)} {p:4.0%}" for g, p in rows]


def verdict(genres: Sequence[tuple[str, float]], confident: bool) -> str:
    """The answer in words, with the runner-up: ``"Electronic (83%), then ambient (9%)"``, or when
    Crate is not sure ``"Not sure — electronic or ambient? (52% / 31%)"``."""
    if not genres:
        return _("No genre")
    if len(genres) < 2:
        return describe_answer(genres, True).capitalize()
    (__, p1), (runner, p2) = genres[0], genres[1]
    if confident:
        text = describe_answer(genres, True)
        return _("{answer}, then {runner} ({share})").format(
            answer=f"{text[0].upper()}{text[1:]}", runner=label(runner), share=f"{p2:.0%}"
        )
    return _("Not sure — {first} or {second}? ({shares})").format(
        first=label(genres[0][0]), second=label(runner), shares=f"{p1:.0%} / {p2:.0%}"
    )


def styles(tag_probs: np.ndarray, shown: int = TAGS_SHOWN) -> list[str]:
    """The styles the tagger is most sure of (at least :data:`TAG_EVIDENCE`)."""
    order = np.asarray(tag_probs).argsort()[::-1][:shown]
    return [TAGS[i] for i in order if tag_probs[i] >= TAG_EVIDENCE]


def top_tags(track: Track, shown: int = TAGS_SHOWN) -> list[str]:
    """The styles the tagger is most sure of in ``track``."""
    return styles(track.tag_probs, shown)


def answer_lines(heard: Heard) -> list[str]:
    """The whole answer as plain lines: length and tempo, the verdict, the styles heard."""
    length = format_duration(heard.duration) + (f", ~{heard.tempo:.0f} BPM" if heard.tempo else "")
    heard_styles = styles(heard.tag_probs)
    return [
        f"{verdict(heard.genres, heard.confident)}  ({length})",
        _("styles heard: {styles}").format(
            styles=", ".join(heard_styles) if heard_styles else _("nothing distinctive")
        ),
    ]


def short_genre(name: str | None) -> str:
    """A genre name in a one-line list (``"hip hop"``; ``"?"`` when none)."""
    return label(name) if name else "?"


def track_line(track: Track, *, markdown: bool = True) -> str:
    """``**Title** · jazz · 3:25`` — one track in a list (``jazz?`` when Crate is not sure)."""
    title = f"**{literal(track.title, 80)}**" if markdown else clip(track.title, 80)
    return f"{title} · {short_answer(track.genres, track.confident)} · {format_duration(track.duration)}"


def taught_text(taught: Taught, *, markdown: bool = True) -> str:
    """What a member reads after correcting a track's genre (Discord and the console alike)."""
    title = f"**{literal(taught.track.title, 80)}**" if markdown else f"“{clip(taught.track.title, 80)}”"

    def named(genre: str) -> str:  # a server's own genre is a member's words
        return literal(display_name(genre)) if markdown else display_name(genre)

    said = named(taught.genre)
    if taught.decided is None:
        others = ", ".join(named(g) for g, _ in taught.votes if genre_key(g) != genre_key(taught.genre))
        text = _(
            "📝 Noted: you say {title} is {genre}, others say {others} — no majority yet, so one more answer decides."
        ).format(title=title, genre=said, others=others)
    elif genre_key(taught.decided) != genre_key(taught.genre):
        text = _("📝 Noted: you say {title} is {genre}, but most here say {decided}.").format(
            title=title, genre=said, decided=named(taught.decided)
        )
    else:
        text = _("✅ Thanks — {title} is {genre} in this server now.").format(title=title, genre=said)
    if taught.previous is not None and genre_key(taught.previous) != genre_key(taught.genre):
        text += " " + _("(That replaces your earlier answer, {genre}.)").format(genre=named(taught.previous))
    text += "\n" + _("I hear it as: {answer}.").format(
        answer=describe_answer(taught.track.genres, taught.track.confident)
    )
    if taught.relabelled:
        text += " " + ngettext(
            "I relabelled {count} track of this server with what you all taught me.",
            "I relabelled {count} tracks of this server with what you all taught me.",
            taught.relabelled,
        ).format(count=taught.relabelled)
    return text
