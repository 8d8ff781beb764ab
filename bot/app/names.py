"""Names members give (playlists, the server's own genres): one Unicode form, nothing hidden,
no look-alike of a name the server already has.

A name is NFKC-normalized; refused when it holds a control character, a line or paragraph
separator or a bidirectional control (a right-to-left override turns "mp3.exe" around), or is
blank once zero-width characters are taken out; and refused when it looks like another name of
the server without being it ("City Pоp" with a Cyrillic о beside "City Pop"). Look-alikes are
found with the Unicode confusables table (UTS #39) that ``confusable_homoglyphs`` ships: each
character is read as its plainest homoglyph (an ASCII one when there is one), so both names reduce
to the same skeleton.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from functools import cache

from confusable_homoglyphs import confusables

from bot.errors import CrateError
from bot.i18n import N_
from bot.safe_text import UNSAFE

#: Invisible characters taken out of a name (word joiners, zero-width space, byte-order mark).
INVISIBLE = frozenset("\u200b\u2060\ufeff\u180e")
#: Joiners that some scripts need between letters: kept, but never enough to make a name.
JOINERS = frozenset("\u200c\u200d")


class BadName(CrateError):
    user_message = N_(
        "That name holds characters that can't be shown as they are (line breaks, control or direction characters)."
    )


class BlankName(CrateError):
    user_message = N_("That name is blank: give it some visible letters.")


class LookAlikeName(CrateError):
    def __init__(self, name: str, existing: str, **kwargs):
        super().__init__(
            N_(
                "“{name}” looks just like “{existing}”, which this server already has, but is spelt with other "
                "characters. Use that one, or pick a name that looks different."
            ),
            values={"name": name, "existing": existing},
            **kwargs,
        )


def clean_name(text: str) -> str:
    """``text`` NFKC-normalized, invisible characters out, spaces collapsed; raises
    :class:`BadName` or :class:`BlankName` (module docstring)."""
    name = unicodedata.normalize("NFKC", str(text))
    if unsafe := UNSAFE.search(name):  # controls, line/paragraph separators, bidi controls
        raise BadName(detail=f"name {text!r}: U+{ord(unsafe.group()):04X}")
    name = "".join(c for c in name if c not in INVISIBLE)
    if not "".join(c for c in name if c not in JOINERS).strip():
        raise BlankName(detail=f"name {text!r}")
    return " ".join(name.split())


@cache
def _plainest(c: str) -> str:
    def like(x: str) -> set[str]:
        return {x} | {g["c"] for g in confusables.confusables_data.get(x, ()) if len(g["c"]) == 1}

    glyphs = set().union(*(like(x) for x in like(c)))  # two steps: the table is not always symmetric
    ascii_ = sorted(g for g in glyphs if g.isascii() and g.isalnum()) or sorted(g for g in glyphs if g.isascii())
    return ascii_[0] if ascii_ else min(glyphs)


def skeleton(name: str) -> str:
    """What ``name`` looks like: case, width and homoglyphs folded, invisible characters out."""
    # homoglyphs first: NFKC turns a lunate "Ϲ" into "Σ", and Cherokee "Ꮯ" casefolds to no "c"
    plain = unicodedata.normalize("NFKC", "".join(_plainest(c) for c in name))
    folded = "".join(_plainest(c) for c in plain if c not in INVISIBLE | JOINERS and not c.isspace()).casefold()
    return "".join(_plainest(c) for c in folded)


def refuse_look_alike(name: str, existing: Iterable[str]) -> None:
    """Raise :class:`LookAlikeName` when ``name`` looks like one of ``existing`` without being it
    (the same name, in other case or spacing, is that name, not a look-alike)."""
    mine = skeleton(name)
    plain = " ".join(name.casefold().split())
    for other in existing:
        if skeleton(other) == mine and " ".join(other.casefold().split()) != plain:
            raise LookAlikeName(name, other, detail=f"{name!r} looks like {other!r}")
