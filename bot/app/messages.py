""" "Analyze with Crate" on a message: every audio attachment and link in it, as ``/genre`` would.

A :class:`PostedMessage` is what Discord tells of a message (for a message command it delivers the
target message whole, so Crate needs no message-content intent). :func:`audio_sources` picks the
audio in it: attachments that look like audio or video (by content type, else by extension;
pictures and text are passed over) and the http(s) links in its text (except links to pictures),
at most :data:`MAX_ITEMS`, attachments first. :func:`analyze_message` shares each through
:meth:`bot.app.crate.Crate.share`, one after the other (the member's admission places are not
taken all at once): the member who asked waits in the queues, the message's author is credited
with the share. One item failing (a page without audio) does not stop the others.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from bot.app.crate import Crate
from bot.app.sharing import SharedTrack, Source, Stage
from bot.audio.errors import PlaylistLink
from bot.audio.fetch import looks_like_audio_file
from bot.errors import CrateError
from bot.format import clip
from bot.i18n import N_, _, ngettext

#: At most this many items of one message are analyzed.
MAX_ITEMS = 5

_LINK = re.compile(r"https?://[^\s<>\"'`|]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}*_~"
_PICTURES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".bmp", ".avif"})


class NoAudioInMessage(CrateError):
    user_message = N_(
        "I found no audio in that message: it has no audio attachment and no link. "
        "Use it on a message with a song attached or a link to one (or share one with /genre)."
    )


@dataclass(frozen=True)
class PostedFile:
    """An attachment of a message, as Discord describes it."""

    url: str
    filename: str
    size: int | None
    content_type: str | None


@dataclass(frozen=True)
class PostedMessage:
    guild_id: int
    channel_id: int
    message_id: int
    author_id: int
    content: str
    attachments: tuple[PostedFile, ...] = ()


@dataclass(frozen=True)
class MessageItem:
    """One audio item of the message and what became of it: a track, or the error to tell."""

    source: Source
    label: str  # the file name, or the link
    shared: SharedTrack | None = None
    error: Exception | None = None


#: (item number from 1, how many, label, stage) -> None: progress of a message's analysis.
ItemProgress = Callable[[int, int, str, Stage], Awaitable[None]]


async def _no_progress(number: int, total: int, label: str, stage: Stage) -> None:
    return None


def links_in(text: str) -> list[str]:
    """The http(s) links in a message's text, in order, once each, without trailing punctuation
    (Discord's ``<link>`` form included) and without links to pictures."""
    found: list[str] = []
    for match in _LINK.finditer(text or ""):
        link = match.group(0).rstrip(_TRAILING)
        if PurePosixPath(urlsplit(link).path).suffix.lower() in _PICTURES:
            continue
        if link not in found:
            found.append(link)
    return found


def audio_sources(message: PostedMessage) -> list[tuple[Source, str]]:
    """(source, label) of every audio item of the message, attachments first, at most MAX_ITEMS."""
    items = [
        (
            Source.attachment(
                file.url,
                filename=file.filename,
                size=file.size,
                content_type=file.content_type,
                channel_id=message.channel_id,
                message_id=message.message_id,
            ),
            clip(file.filename, 80),
        )
        for file in message.attachments
        if looks_like_audio_file(file.filename, file.content_type)
    ]
    items += [(Source.link(link), clip(link, 80)) for link in links_in(message.content)]
    return items[:MAX_ITEMS]


async def analyze_message(
    crate: Crate, message: PostedMessage, requester_id: int, progress: ItemProgress = _no_progress
) -> list[MessageItem]:
    """Analyze every audio item of ``message`` for ``requester_id``, crediting its author.

    Raises :class:`NoAudioInMessage` when there is nothing to analyze; errors of single items
    are returned in their :class:`MessageItem` (an unexpected one too: the caller logs it).
    """
    sources = audio_sources(message)
    if not sources:
        raise NoAudioInMessage(detail=f"message {message.message_id}")
    results = []
    for number, (source, label) in enumerate(sources, 1):

        async def step(stage: Stage, number: int = number, label: str = label) -> None:
            await progress(number, len(sources), label, stage)

        try:
            shared = await crate.sharing.share(
                message.guild_id, requester_id, source, step, credit_to=message.author_id
            )
        except Exception as error:
            results.append(MessageItem(source, label, error=error))
        else:
            results.append(MessageItem(source, label, shared=shared))
    return results


def summary_line(items: Sequence[MessageItem]) -> str:
    """``2 tracks analyzed, 1 album to pick from, 1 failed`` for the message's items."""
    done = sum(item.shared is not None for item in items)
    albums = sum(isinstance(item.error, PlaylistLink) and item.error.tracks is not None for item in items)
    failed = len(items) - done - albums
    parts = [ngettext("{count} track analyzed", "{count} tracks analyzed", done).format(count=done)]
    if albums:
        parts.append(
            ngettext(
                "{count} album or playlist to pick from", "{count} albums or playlists to pick from", albums
            ).format(count=albums)
        )
    if failed:
        parts.append(_("{count} failed").format(count=failed))
    return ", ".join(parts)
