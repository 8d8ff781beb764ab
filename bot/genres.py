"""The genre vocabulary, on the ground floor: family ids, their names for people, and matching.

Crate answers with one of fourteen *families* (:data:`FAMILIES`; ids in JSON, code and the
database, :data:`DISPLAY_NAMES` for people). A server may also teach its own genres ("city pop",
"vaporwave"): a track's ``genres`` are ``(name, probability)`` pairs where a name is a family id
*or* such a custom name, so every function here takes either and shows an unknown name as it is.

How sure Crate is travels with the distribution: :func:`describe_answer` says "electronic (83%)"
only when the answer is confident and "not sure — electronic or ambient?" otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cache

from bot.i18n import LANGUAGES, N_, _, current, translations

FAMILIES: tuple[str, ...] = (
    "rock",
    "metal",
    "pop",
    "hiphop",
    "electronic",
    "ambient",
    "jazz",
    "blues",
    "classical",
    "folk",
    "country",
    "soul",
    "reggae",
    "disco",
)

#: How each family is shown to people (in English; :func:`display_name` says it in the member's language).
DISPLAY_NAMES: dict[str, str] = {
    "rock": N_("Rock"),
    "metal": N_("Metal"),
    "pop": N_("Pop"),
    "hiphop": N_("Hip hop"),
    "electronic": N_("Electronic"),
    "ambient": N_("Ambient"),
    "jazz": N_("Jazz"),
    "blues": N_("Blues"),
    "classical": N_("Classical"),
    "folk": N_("Folk & world"),
    "country": N_("Country"),
    "soul": N_("Soul, R&B & funk"),
    "reggae": N_("Reggae"),
    "disco": N_("Disco"),
}

#: Other words people use for a family (matched like ids: case, spaces and punctuation ignored).
#: A family includes these styles (rock includes punk, folk world music, soul R&B and funk), so a
#: ``genre:`` filter for one of them means the family, not the tagger's tag of the same name.
ALIASES: dict[str, str] = {
    "hip hop": "hiphop",
    "hip-hop": "hiphop",
    "rap": "hiphop",
    "punk": "rock",
    "punk rock": "rock",
    "edm": "electronic",
    "new age": "ambient",
    "world": "folk",
    "world music": "folk",
    "folk and world": "folk",
    "r&b": "soul",
    "rnb": "soul",
    "rhythm and blues": "soul",
    "funk": "soul",
    "soul and r&b": "soul",
    "orchestral": "classical",
}

#: A family ("genre") answer is named as a fact only when confident; this word marks the others.
UNSURE = N_("unsure")


def key(text: str) -> str:
    """Match genre and tag names loosely: case, spaces, hyphens don't matter ("Hip Hop" = "hip-hop")."""
    return re.sub(r"[^0-9a-z]+", "", text.casefold())


_FAMILY_BY_KEY: dict[str, str] = {
    **{key(alias): family for alias, family in ALIASES.items()},
    **{key(name): family for family, name in DISPLAY_NAMES.items()},
    **{key(family): family for family in FAMILIES},
}


@cache
def _translated_keys() -> dict[str, str]:
    """The families' names in every language Crate speaks, keyed as :func:`key` does."""
    return {
        key(translations(language).gettext(name)): family
        for language in LANGUAGES
        for family, name in DISPLAY_NAMES.items()
    }


def family_of(text: str) -> str | None:
    """The family id that ``text`` names (its id, display name in any language Crate speaks, or
    an alias), or None."""
    found = key(text)
    return _FAMILY_BY_KEY.get(found) or _translated_keys().get(found)


def is_family(name: str) -> bool:
    return name in DISPLAY_NAMES


def display_name(name: str) -> str:
    """``"hiphop"`` -> ``"Hip hop"`` (in the current language); a server's custom genre is shown
    as it was written."""
    return _(DISPLAY_NAMES[name]) if name in DISPLAY_NAMES else name


def label(name: str) -> str:
    """The genre in running text: ``"hip hop"``, ``"soul, r&b & funk"``, ``"city pop"`` (German
    keeps its nouns' capitals: ``"Elektronische Musik"``)."""
    if name not in DISPLAY_NAMES:
        return name
    shown = _(DISPLAY_NAMES[name])
    return shown if current() in CAPITALIZED_NOUNS else shown.lower()


#: Languages whose genre names keep their capitals in running text.
CAPITALIZED_NOUNS = frozenset({"de"})


def describe_answer(genres: Sequence[tuple[str, float]], confident: bool) -> str:
    """``"electronic (83%)"`` when confident, else ``"not sure — electronic or ambient?"``."""
    if not genres:
        return _("unknown")
    top, probability = genres[0]
    if confident or len(genres) < 2:
        return f"{label(top)} ({probability:.0%})"
    return _("not sure — {first} or {second}?").format(first=label(top), second=label(genres[1][0]))


def short_answer(genres: Sequence[tuple[str, float]], confident: bool) -> str:
    """``"electronic"``, or ``"electronic?"`` when Crate is not sure (for one-line track lists)."""
    if not genres:
        return "?"
    return label(genres[0][0]) + ("" if confident else "?")


def mostly(weights: Iterable[tuple[str, float]], confident: bool) -> str:
    """A profile's genre line: ``"mostly electronic"`` or ``"mostly electronic (unsure)"``."""
    ranked = sorted(((g, w) for g, w in weights if w > 0), key=lambda gw: -gw[1])
    if not ranked:
        return _("no genre yet")
    return _("mostly {genre}").format(genre=label(ranked[0][0])) + ("" if confident else f" ({_(UNSURE)})")


def distribution(pairs: Iterable[tuple[object, object]]) -> tuple[tuple[str, float], ...]:
    """``(name, probability)`` pairs as stored (most probable first, ties by name), checked finite."""
    out = tuple((str(name), float(p)) for name, p in pairs)  # type: ignore[arg-type]
    if any(p != p or p in (float("inf"), float("-inf")) for _, p in out):
        raise ValueError("genre probabilities must be finite")
    return tuple(sorted(out, key=lambda pair: (-pair[1], pair[0])))
