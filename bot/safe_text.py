"""Characters that break lines or hide text, and how a line of an export is kept whole.

A line-splitting reader ends a line at more than CR and LF: Python's ``str.splitlines`` and many
players also split at U+0085, U+2028, U+2029 and the C0 separators. Bidi controls (U+202A-E,
U+2066-9, the marks) reorder what a person reads without changing what a program reads. Links
carrying any of these are refused where they come in (:func:`bot.audio.address.check_url`);
text written into an export (a title from a web page, a name) is made one safe line here.
"""

from __future__ import annotations

import re

#: C0 and C1 controls (NUL, CR, LF, U+0085…), DEL, the line and paragraph separators, and the
#: bidi embeddings, overrides, isolates and marks.
_CLASS = "\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069"
UNSAFE = re.compile(f"[{_CLASS}]")
#: What a link line may not carry raw: the unsafe characters and any whitespace.
_LINK_UNSAFE = re.compile(rf"[\s{_CLASS}]")


def has_unsafe(text: str) -> bool:
    """Whether ``text`` carries a control, a line or paragraph separator or a bidi control."""
    return UNSAFE.search(text) is not None


def one_line(text: str) -> str:
    """``text`` as one line: each unsafe character becomes a space, runs of spaces one space."""
    return " ".join(UNSAFE.sub(" ", text).split())


def escaped_link(url: str) -> str:
    """``url`` as one line: unsafe characters and whitespace percent-encoded (as a browser does),
    and a leading ``#`` too, so that no reader takes the line for a comment or a directive."""
    escaped = _LINK_UNSAFE.sub(_percent, url)
    return "%23" + escaped[1:] if escaped.startswith("#") else escaped


def _percent(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group().encode("utf-8"))


def json_lines_safe(document: str) -> str:
    """A JSON text with the unsafe characters JSON leaves raw (U+0085, U+2028, DEL, bidi
    controls…) written as ``\\uXXXX`` escapes: the same data, and no reader splits a line in it.
    Such characters only occur inside JSON strings, where the escape means the same character; the
    line feeds of an indented document, between values, stay."""
    return UNSAFE.sub(lambda match: "\n" if match.group() == "\n" else f"\\u{ord(match.group()):04x}", document)
