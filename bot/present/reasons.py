"""A pick's reason (:class:`bot.reasons.Reason`) in words, with members named as the front end
shows them (Discord mentions, console names); a member without a name is "a listener"."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from bot.format import literal
from bot.i18n import _, ngettext
from bot.reasons import FROM_PLAYLIST, RADIO_SEED, Reason, ReasonKind

#: Members a similar-taste reason names at most.
NAMED_LIKERS = 3


def reason_text(reason: Reason | str | None, names: Mapping[int, str] | None = None, *, markdown: bool = False) -> str:
    """The sentence a member reads; a reason given as text (a playlist, the radio's seed) as it
    is, in the current language when it is one of :mod:`bot.reasons`' sentences.
    ``markdown``: for Discord, where a track's title and a genre are shown as the text they are
    (:func:`bot.format.literal`); ``names`` are then mentions, or names the caller made literal."""
    if reason is None or isinstance(reason, str):
        return _stored(reason, markdown=markdown) if reason else ""
    names = names if names is not None else {}
    kind, genre, title = reason.kind, reason.genre, reason.track_title
    to_title = reason.to_title
    if markdown:
        genre, title, to_title = literal(genre), literal(title), literal(to_title)
    who = _("everyone") if reason.everyone else join([name(names, u) for u in reason.member_ids])
    match kind:
        case ReasonKind.CLOSE_TO_LIKED:
            return _("close to “{title}” you liked").format(title=title)
        case ReasonKind.LIKED_GENRE:
            return _("you like {genre}").format(genre=genre)
        case ReasonKind.LIKED_GENRES | ReasonKind.NEW_TO_YOU:
            return _("new to you, from what this server shares")
        case ReasonKind.SIMILAR_TASTE:
            named = [names[u] for u in reason.member_ids if u in names]
            if named:
                return _("liked by people who share your taste ({names})").format(names=", ".join(named[:NAMED_LIKERS]))
            return ngettext(
                "{count} listener with your taste liked it", "{count} listeners with your taste liked it", reason.count
            ).format(count=reason.count)
        case ReasonKind.FILTER_NEW:
            return _("a {genre} track you haven't heard here").format(genre=genre)
        case ReasonKind.DIFFERENT:
            return _("something different: {genre} to widen your mix").format(genre=genre or _("a new sound"))
        case ReasonKind.CLOSE_TO:
            return _("close to “{title}”").format(title=title)
        case ReasonKind.MORE_OF_GENRE:
            return _("more {genre}, like “{title}”").format(genre=genre, title=title)
        case ReasonKind.POPULAR:
            return ngettext(
                "popular in this server ({count} like)", "popular in this server ({count} likes)", reason.count
            ).format(count=reason.count)
        case ReasonKind.STARTER:
            return _("a {genre} pick to start with").format(genre=genre)
        case ReasonKind.EXPLORE:
            if not genre:
                return _("a fresh pick to explore what this server shares")
            return _("a {genre} pick to explore what this server shares").format(genre=genre)
        case ReasonKind.GROUP_NEW:
            return _("something new for the group: {genre} nobody here turned down").format(
                genre=genre or _("a fresh sound")
            )
        case ReasonKind.EVERYONE_LIKED:
            return _("everyone here liked it")
        case ReasonKind.EVERYONE_INTO:
            return _("everyone's into {genre}").format(genre=genre)
        case ReasonKind.FOR_LIKED:
            return _("for {who}, who liked it").format(who=who)
        case ReasonKind.FOR_CLOSE_TO_LIKED:
            if set(reason.liked_by) >= set(reason.member_ids):
                return _("for {who}: close to “{title}” they liked").format(who=who, title=title)
            by = join([name(names, u) for u in reason.liked_by])
            return _("for {who}: close to “{title}” {by} liked").format(who=who, title=title, by=by)
        case ReasonKind.FOR_INTO:
            return _("for {who}: they're into {genre}").format(who=who, genre=genre)
        case ReasonKind.FOR:
            return _("for {who}").format(who=who)
        case ReasonKind.AFTER:
            if reason.everyone:
                return _("after “{title}”, for everyone").format(title=title)
            if reason.member_ids:
                return _("after “{title}”, for {who}").format(title=title, who=who)
            return _("after “{title}”").format(title=title)
        case ReasonKind.PATH:
            if reason.step <= 1:
                return _("the start of the path from “{start}” to “{end}”").format(start=title, end=to_title)
            if reason.step >= reason.steps:
                return _("the end of the path from “{start}” to “{end}”").format(start=title, end=to_title)
            return _("step {step} of {steps} on the path from “{start}” to “{end}”").format(
                step=reason.step, steps=reason.steps, start=title, end=to_title
            )
    raise ValueError(f"no words for a reason of kind {kind!r}")


_FROM_PLAYLIST = re.compile("^" + re.escape(FROM_PLAYLIST).replace(re.escape("{name}"), "(?P<name>.*)") + "$", re.S)


def _stored(reason: str, *, markdown: bool) -> str:
    """A reason stored as an English sentence, in the current language (any other text as it is)."""
    shown = literal if markdown else (lambda text: text)
    found = _FROM_PLAYLIST.match(reason)
    if found:
        return _(FROM_PLAYLIST).format(name=shown(found["name"]))
    return shown(_(RADIO_SEED) if reason == RADIO_SEED else reason)


def name(names: Mapping[int, str], user_id: int) -> str:
    return names.get(user_id) or _("a listener")  # never a raw id


def join(words: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(words) <= 1:
        return "".join(words)
    return _("{first} and {last}").format(first=", ".join(words[:-1]), last=words[-1])
