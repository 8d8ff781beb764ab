"""Crate's words in the members' language: gettext catalogs, and the language of the moment.

Every sentence is written in English in the code and marked: ``_("…")`` where it is said,
``N_("…")`` where it is only named (a class attribute, a table) and said later through ``_``.
The translations live in ``bot/locale/<language>/LC_MESSAGES/crate.po``; they are read with
Babel when a language is first asked for and compiled in memory to gettext's own
``GNUTranslations``, so a fresh clone needs no build step and the .po file stays the one source.

The language is a context variable: the Discord skin sets it once per interaction (from
``interaction.locale``, or a server's locale for a post to a channel) and everything said within
it, down to ``bot/present``, speaks that language. Outside any (the console, the command line,
logs) Crate speaks English.
"""

from __future__ import annotations

import calendar
import contextlib
import datetime
import gettext
import io
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "crate"
SOURCE = "en"

#: The catalogs Crate ships (directory names under ``bot/locale``), besides English.
LANGUAGES: tuple[str, ...] = ("de", "es", "pt_BR")

#: Discord's locale codes for each catalog (Discord has two Spanish locales, one Portuguese).
DISCORD_LOCALES: dict[str, str] = {"de": "de", "es-ES": "es", "es-419": "es", "pt-BR": "pt_BR"}

_current: ContextVar[str] = ContextVar("crate_language", default=SOURCE)
_loaded: dict[str, gettext.NullTranslations] = {}
_loading = threading.Lock()


def language_of(locale: object) -> str:
    """The catalog for a Discord locale (``"pt-BR"``, a ``discord.Locale``, None): English when
    Crate has no catalog for it."""
    code = str(getattr(locale, "value", locale) or "")
    if code in DISCORD_LOCALES:
        return DISCORD_LOCALES[code]
    if code.replace("-", "_") in LANGUAGES:
        return code.replace("-", "_")
    return DISCORD_LOCALES.get(code.split("-")[0], SOURCE)


def current() -> str:
    """The language Crate speaks in this context (a catalog name, or ``"en"``)."""
    return _current.get()


@contextlib.contextmanager
def speaking(locale: object) -> Iterator[str]:
    """Speak the language of ``locale`` (a Discord locale or a catalog name) within the block."""
    token = _current.set(language_of(locale))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def speak(locale: object) -> str:
    """Speak the language of ``locale`` for the rest of the current task (an interaction's task:
    nothing to undo, the task ends with it)."""
    language = language_of(locale)
    _current.set(language)
    return language


def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalog of ``language`` (read once); English is the code's own words."""
    if language == SOURCE or language not in LANGUAGES:
        return gettext.NullTranslations()
    found = _loaded.get(language)
    if found is None:
        with _loading:
            found = _loaded.get(language)
            if found is None:
                found = _loaded[language] = _compile(LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po", language)
    return found


def _compile(path: Path, language: str) -> gettext.NullTranslations:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    if not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    mo = io.BytesIO()
    write_mo(mo, catalog)  # fuzzy and empty translations are left out: English shows instead
    mo.seek(0)
    return gettext.GNUTranslations(mo)


def _(message: str) -> str:
    """``message`` in the current language."""
    return translations(_current.get()).gettext(message)


def N_(message: str) -> str:
    """Mark ``message`` for the catalogs where it is named, not said (it is said through ``_``)."""
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural sentence for ``n``, by the current language's plural rule."""
    return translations(_current.get()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """``message`` in the current language, as meant in ``context`` (a command's name, an option's)."""
    return translations(_current.get()).pgettext(context, message)


def month_year(year: int, month: int) -> str:
    """``"November 2026"`` in the current language (``"noviembre de 2026"``), by Babel's CLDR data."""
    language = _current.get()
    if language == SOURCE:
        return f"{calendar.month_name[month]} {year}"
    from babel.dates import format_skeleton

    return format_skeleton("yMMMM", datetime.date(year, month, 1), locale=language)


def number(value: float, digits: int = 0) -> str:
    """A number as the current language writes it, with ``digits`` decimals: ``100,000`` and
    ``0.8``; ``100.000`` and ``0,8`` in German, Spanish and Portuguese (where ``100,000`` reads as
    a hundred), by Babel's CLDR data."""
    language = _current.get()
    if language == SOURCE:
        return f"{value:,.{digits}f}"
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(round(value, digits), format=pattern, locale=language)


def translate(message: str, language: str, context: str | None = None) -> str:
    """``message`` in ``language`` (English when its catalog lacks it: the catalogs' test keeps
    them complete)."""
    catalog = translations(language)
    return catalog.pgettext(context, message) if context else catalog.gettext(message)
