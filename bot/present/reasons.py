"""A pick's reason (:class:`bot.reasons.Reason`) in words, with members named as the front end
shows them (Discord mentions, console names); a member without a name is "a listener"."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.format import literal
from bot.reasons import Reason, ReasonKind

#: Members a similar-taste reason names at most.
NAMED_LIKERS = 3


def reason_text(reason: Reason | str | None, names: Mapping[int, str] | None = None, *, markdown: bool = False) -> str:
    """The sentence a member reads; a reason given as text (a playlist, the radio's seed) as it is.
    ``markdown``: for Discord, where a track's title and a genre are shown as the text they are
    (:func:`bot.format.literal`); ``names`` are then mentions, or names the caller made literal."""
    if reason is None or isinstance(reason, str):
        return (literal(reason) if markdown else reason) if reason else ""
    names = names if names is not None else {}
    kind, genre, title = reason.kind, reason.genre, reason.track_title
    to_title = reason.to_title
    if markdown:
        genre, title, to_title = literal(genre), literal(title), literal(to_title)
    who = "everyone" if reason.everyone else join([name(names, u) for u in reason.member_ids])
    match kind:
        case ReasonKind.CLOSE_TO_LIKED:
            return f"close to “{title}” you liked"
        case ReasonKind.LIKED_GENRE:
            return f"you like {genre}"
        case ReasonKind.LIKED_GENRES | ReasonKind.NEW_TO_YOU:
            return "new to you, from what this server shares"
        case ReasonKind.SIMILAR_TASTE:
            named = [names[u] for u in reason.member_ids if u in names]
            if named:
                return f"liked by people who share your taste ({', '.join(named[:NAMED_LIKERS])})"
            return f"{reason.count} listener{'s' if reason.count != 1 else ''} with your taste liked it"
        case ReasonKind.FILTER_NEW:
            return f"a {genre} track you haven't heard here"
        case ReasonKind.DIFFERENT:
            return f"something different: {genre or 'a new sound'} to widen your mix"
        case ReasonKind.CLOSE_TO:
            return f"close to “{title}”"
        case ReasonKind.MORE_OF_GENRE:
            return f"more {genre}, like “{title}”"
        case ReasonKind.POPULAR:
            return f"popular in this server ({reason.count} like{'s' if reason.count != 1 else ''})"
        case ReasonKind.STARTER:
            return f"a {genre} pick to start with"
        case ReasonKind.EXPLORE:
            return f"a {genre or 'fresh'} pick to explore what this server shares"
        case ReasonKind.GROUP_NEW:
            return f"something new for the group: {genre or 'a fresh sound'} nobody here turned down"
        case ReasonKind.EVERYONE_LIKED:
            return "everyone here liked it"
        case ReasonKind.EVERYONE_INTO:
            return f"everyone's into {genre}"
        case ReasonKind.FOR_LIKED:
            return f"for {who}, who liked it"
        case ReasonKind.FOR_CLOSE_TO_LIKED:
            by = (
                "they"
                if set(reason.liked_by) >= set(reason.member_ids)
                else join([name(names, u) for u in reason.liked_by])
            )
            return f"for {who}: close to “{title}” {by} liked"
        case ReasonKind.FOR_INTO:
            return f"for {who}: they're into {genre}"
        case ReasonKind.FOR:
            return f"for {who}"
        case ReasonKind.AFTER:
            if reason.everyone:
                return f"after “{title}”, for everyone"
            return f"after “{title}”, for {who}" if reason.member_ids else f"after “{title}”"
        case ReasonKind.PATH:
            if reason.step <= 1:
                return f"the start of the path from “{title}” to “{to_title}”"
            if reason.step >= reason.steps:
                return f"the end of the path from “{title}” to “{to_title}”"
            return f"step {reason.step} of {reason.steps} on the path from “{title}” to “{to_title}”"
    raise ValueError(f"no words for a reason of kind {kind!r}")


def name(names: Mapping[int, str], user_id: int) -> str:
    return names.get(user_id) or "a listener"  # never a raw id


def join(words: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"
