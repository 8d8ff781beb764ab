"""Human-readable text for messages people read: durations, file sizes, and counts, text cut to fit."""

from __future__ import annotations

import re

from bot.i18n import number


def format_duration(seconds: float) -> str:
    """``0.4 s`` (``0,4 s`` in German), ``12 s``, ``3:25`` or ``2 h 05 min``.

    Under a minute the unit is spelled out (``"0:02"`` reads badly in a sentence such as
    "I need at least 5 s"); from an hour on, seconds are dropped.
    """
    seconds = max(0.0, float(seconds))
    if seconds < 10 and round(seconds, 1) != round(seconds):
        return f"{number(seconds, 1)} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60}:{whole % 60:02d}"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def format_bytes(n: int) -> str:
    """``512 bytes``, ``340 KB``, ``4.5 MB``, ``150 MB``, ``2.1 GB`` (binary units, as in AudioLimits)."""
    n = max(0, int(n))
    if n < 1024:
        return "1 byte" if n == 1 else f"{n} bytes"
    size = float(n)
    for unit in ("KB", "MB", "GB", "TB"):
        size /= 1024
        if size < 1024 or unit == "TB":
            break
    return f"{number(size, 1)} {unit}" if size < 10 and round(size, 1) != round(size) else f"{size:.0f} {unit}"


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in "…" when it was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def liking(value: float) -> str:
    """A liking (an affinity, 0..1) as people read it: ``71%``, or ``—`` for none (never negative)."""
    return f"{value:.0%}" if value > 0 else "—"


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 track``, ``2 tracks``, ``0 listeners``, ``1 match``/``3 matches`` (given ``plural_form``)."""
    return f"{count} {singular if count == 1 else (plural_form or singular + 's')}"


# A user-given string (a name, a title, a genre) shown in Discord: the two escapes of
# discord.utils (escape_markdown, escape_mentions), re-implemented here because bot/ never
# imports discord. AllowedMentions.none() stays the second fence. Unlike escape_markdown, every
# "[" is escaped, not only a whole masked link: a name cut to fit ("[x](http://exa…") would
# otherwise leave a "[" that the rest of the line could close into one.
_URL = r"(?P<url><[^: >]+:\/[^ >]+>|(?:https?|steam):\/\/[^\s<]+[^<.,:;\"\'\]\s])"
_MARKDOWN_COMMON = r"^>(?:>>)?\s|\[|^#{1,3}|^\s*-#|^\s*[-*+]\s|^\s*\d+\.\s"
_MARKDOWN = re.compile(rf"(?:{_URL}|(?P<markdown>[_\\~|\*`]|{_MARKDOWN_COMMON}))", re.MULTILINE)
_MENTION = re.compile(r"@(everyone|here|[!&]?[0-9]+)|<#(?=[0-9])")


def literal(text: str, limit: int | None = None) -> str:
    """``text`` as the text it is in Discord: markdown escaped (bare links kept, so they still
    work), mentions (``@everyone``, ``<@id>``, ``<@&role>``, ``<#channel>``) broken by a
    zero-width space; cut to ``limit`` characters (with "…") when given."""
    if limit is not None:
        text = clip(text, limit)

    def escaped(match: re.Match[str]) -> str:
        return match["url"] or "\\" + match["markdown"]

    text = _MARKDOWN.sub(escaped, text)
    return _MENTION.sub(lambda m: m[0][0] + "\u200b" + m[0][1:], text)
