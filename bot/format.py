"""Human-readable text for messages people read: durations, file sizes, and counts, text cut to fit."""

from __future__ import annotations


def format_duration(seconds: float) -> str:
    """``0.4 s``, ``12 s``, ``3:25`` or ``2 h 05 min``.

    Under a minute the unit is spelled out (``"0:02"`` reads badly in a sentence such as
    "I need at least 5 s"); from an hour on, seconds are dropped.
    """
    seconds = max(0.0, float(seconds))
    if seconds < 10 and round(seconds, 1) != round(seconds):
        return f"{seconds:.1f} s"
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
    return f"{size:.1f} {unit}" if size < 10 and round(size, 1) != round(size) else f"{size:.0f} {unit}"


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in "…" when it was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 track``, ``2 tracks``, ``0 listeners``, ``1 match``/``3 matches`` (given ``plural_form``)."""
    return f"{count} {singular if count == 1 else (plural_form or singular + 's')}"
