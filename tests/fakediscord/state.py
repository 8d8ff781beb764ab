"""What the fake Discord remembers: messages, attachments, interactions, commands.

The REST and gateway layers mutate a single :class:`FakeState`; tests read it
through the record classes defined here (:class:`RecordedMessage`,
:class:`FakeInteraction`, ...).  Every mutation calls :meth:`Notifier.notify`
so that the ``wait_*`` helpers wake up and re-check their condition.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import secrets
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .builders import FakeUser, iso_now, snowflake

EPHEMERAL = 1 << 6
LOADING = 1 << 7
SUPPRESS_EMBEDS = 1 << 2
COMPONENTS_V2 = 1 << 15  # IS_COMPONENTS_V2: the message is a layout of components, no content or embeds

# Interaction types
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5

# Interaction callback types
PONG = 1
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
MODAL = 9


class Notifier:
    """Wakes up waiters whenever the fake's state changes."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()

    def notify(self) -> None:
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(None)
        self._waiters.clear()

    async def wait_until(self, check: Callable[[], Any], timeout: float, describe: Callable[[], str]) -> Any:
        """Return ``check()`` as soon as it is truthy; raise ``TimeoutError`` with ``describe()`` otherwise."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = check()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {describe()}")
            fut: asyncio.Future[None] = loop.create_future()
            self._waiters.add(fut)
            try:
                await asyncio.wait_for(fut, remaining)
            except TimeoutError:
                pass
            finally:
                self._waiters.discard(fut)


class Clock:
    """Wall-clock time as the fake sees it; tests move it forward with :meth:`advance`.

    Everything that expires on Discord (CDN links, interaction tokens) reads this clock,
    so a test can jump a day ahead without waiting.
    """

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class UrlSigner:
    """Discord's signed CDN links: ``?ex=<expiry hex>&is=<issued hex>&hm=<hmac hex>``.

    A link is valid until ``ex``; afterwards the CDN answers 404 and only a fresh link (from
    fetching the message again or ``POST /attachments/refresh-urls``) works.
    """

    def __init__(self, clock: Clock, ttl: float = 24 * 3600) -> None:
        self.clock = clock
        self.ttl = ttl
        self._key = secrets.token_bytes(32)

    def _mac(self, path: str, ex: str, issued: str) -> str:
        return hmac.new(self._key, f"{path}|{ex}|{issued}".encode(), hashlib.sha256).hexdigest()

    def sign(self, path_url: str) -> str:
        """``path_url`` (``http://host/attachments/c/a/name``) with a fresh signature."""
        now = int(self.clock.now())
        ex, issued = format(now + int(self.ttl), "x"), format(now, "x")
        path = path_url.split("/attachments/", 1)[-1]
        return f"{path_url}?ex={ex}&is={issued}&hm={self._mac(path, ex, issued)}"

    def valid(self, path: str, query: Any) -> bool:
        """Is this request (``channel/attachment/filename`` + its query) a live, untampered link?"""
        ex, issued, hm = query.get("ex"), query.get("is"), query.get("hm")
        if not (ex and issued and hm):
            return False
        if not hmac.compare_digest(self._mac(path, ex, issued), hm):
            return False
        try:
            return self.clock.now() < int(ex, 16)
        except ValueError:
            return False


@dataclass
class RecordedAttachment:
    """A file the bot uploaded (or a test supplied), served by the fake CDN.

    ``url`` is signed afresh each time it is read (as Discord signs the links in every message
    it returns); ``path_url`` is the unsigned address, which the CDN refuses.
    """

    id: int
    filename: str
    data: bytes
    content_type: str
    path_url: str
    signer: UrlSigner | None = None
    description: str | None = None
    width: int | None = None
    height: int | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def url(self) -> str:
        return self.signer.sign(self.path_url) if self.signer is not None else self.path_url

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "proxy_url": self.url,
            "content_type": self.content_type,
        }
        if self.description is not None:
            out["description"] = self.description
        if self.width is not None:
            out.update(width=self.width, height=self.height)
        return out


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width/height of a PNG (Discord reports these for image attachments)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        w, h = struct.unpack(">II", data[16:24])
        return w, h
    return None


def iter_components(components: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Depth-first walk over (possibly nested, components-v2) component dicts."""
    for comp in components or []:
        yield comp
        for key in ("components",):
            yield from iter_components(comp.get(key) or [])
        for key in ("accessory", "component"):
            if isinstance(comp.get(key), dict):
                yield from iter_components([comp[key]])


def _media_of(component: dict[str, Any]) -> list[dict[str, Any]]:
    """The media objects of a V2 component: gallery items', a thumbnail's, a file's."""
    found = [item["media"] for item in component.get("items") or [] if isinstance(item.get("media"), dict)]
    for key in ("media", "file"):
        if isinstance(component.get(key), dict):
            found.append(component[key])
    return found


def embed_text(embed: dict[str, Any]) -> str:
    """What a reader sees of an embed, as lines: author, title, description, fields, footer."""
    parts = [
        (embed.get("author") or {}).get("name") or "",
        embed.get("title") or "",
        embed.get("description") or "",
    ]
    parts += [f"{f.get('name', '')}\n{f.get('value', '')}" for f in embed.get("fields") or []]
    parts.append((embed.get("footer") or {}).get("text") or "")
    return "\n".join(p for p in parts if p)


@dataclass
class RecordedMessage:
    """A message the bot created (channel message, interaction response or follow-up).

    ``history`` holds every previous version (as message payloads) so tests can
    assert on intermediate states such as "Thinking..." -> final embed.
    """

    id: int
    channel_id: int
    guild_id: int | None
    author: FakeUser
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[RecordedAttachment] = field(default_factory=list)
    flags: int = 0
    type: int = 0
    timestamp: str = field(default_factory=iso_now)
    edited_timestamp: str | None = None
    interaction_id: int | None = None  # interaction that produced it, if any
    interaction_metadata: dict[str, Any] | None = None
    webhook_id: int | None = None
    application_id: int | None = None
    message_reference: dict[str, Any] | None = None
    poll: dict[str, Any] | None = None
    tts: bool = False
    deleted: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    reactions: list[str] = field(default_factory=list)

    # ---- convenience ---------------------------------------------------
    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        """True while this is the "Bot is thinking..." placeholder of a deferred response."""
        return bool(self.flags & LOADING)

    @property
    def edits(self) -> int:
        return len(self.history)

    @property
    def embed(self) -> dict[str, Any] | None:
        return self.embeds[0] if self.embeds else None

    def all_components(self) -> list[dict[str, Any]]:
        return list(iter_components(self.components))

    @property
    def components_v2(self) -> bool:
        """Sent with IS_COMPONENTS_V2: a layout (containers, text displays...) instead of content and embeds."""
        return bool(self.flags & COMPONENTS_V2)

    @property
    def shown(self) -> bool:
        """Does it show an answer yet: embeds, or a V2 layout (not only a "thinking…" or progress text)?"""
        return bool(self.embeds) or self.components_v2

    @property
    def text_displays(self) -> list[str]:
        """The contents of every text display (type 10), nested ones included, in reading order."""
        return [c.get("content") or "" for c in self.all_components() if c.get("type") == 10]

    @property
    def text(self) -> str:
        """The message's visible text, V1 or V2: content and embeds (author, title, description,
        each field's name and value, footer), or the layout's text displays, one per line."""
        parts = [self.content] + [embed_text(e) for e in self.embeds] + self.text_displays
        return "\n".join(p for p in parts if p)

    @property
    def media(self) -> list[dict[str, Any]]:
        """The media a V2 layout shows (gallery items, thumbnails, files), as the message payload
        returns them: ``url`` (a fresh CDN link for an ``attachment://``), ``attachment_id``,
        ``width``/``height``, ``description`` if any, and ``kind`` (``gallery``, ``thumbnail`` or
        ``file``) for tests; :meth:`media_attachments` gives the files themselves."""
        found: list[dict[str, Any]] = []
        for component in iter_components(self._components_payload()):
            kind = component.get("type")
            if kind == 12:
                found += [
                    {**item["media"], "description": item.get("description"), "kind": "gallery"}
                    for item in component.get("items") or []
                ]
            elif kind == 11:
                found.append({**component["media"], "description": component.get("description"), "kind": "thumbnail"})
            elif kind == 13:
                found.append({**component["file"], "kind": "file"})
        return found

    def media_attachments(self) -> list[RecordedAttachment]:
        """The attachments the layout shows (referenced by ``attachment://``), in order."""
        by_id = {a.id: a for a in self.attachments}
        return [by_id[int(m["attachment_id"])] for m in self.media if m.get("attachment_id")]

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """Every button (type 2), in rows or as a section's accessory, in order."""
        return [c for c in self.all_components() if c.get("type") == 2]

    @property
    def custom_ids(self) -> list[str]:
        """custom_ids of every interactive component (buttons, selects, ...), in order."""
        return [c["custom_id"] for c in self.all_components() if "custom_id" in c]

    def component(self, custom_id: str | None = None, *, label: str | None = None) -> dict[str, Any]:
        """Find a component by custom_id or (button) label."""
        for c in self.all_components():
            if custom_id is not None and c.get("custom_id") == custom_id:
                return c
            if label is not None and c.get("label") == label:
                return c
        raise KeyError(
            f"message {self.id} has no component custom_id={custom_id!r} label={label!r}; has {self.custom_ids}"
        )

    def attachment(self, filename: str) -> RecordedAttachment:
        for a in self.attachments:
            if a.filename == filename:
                return a
        raise KeyError(
            f"message {self.id} has no attachment {filename!r}; has {[a.filename for a in self.attachments]}"
        )

    @property
    def filenames(self) -> list[str]:
        return [a.filename for a in self.attachments]

    def payload(self) -> dict[str, Any]:
        """The message object as Discord would return it."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "type": self.type,
            "author": self.author.payload(),
            "content": self.content,
            "embeds": copy.deepcopy(self.embeds),
            "components": self._components_payload(),
            "attachments": [a.payload() for a in self.attachments],
            "flags": self.flags,
            "timestamp": self.timestamp,
            "edited_timestamp": self.edited_timestamp,
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": self.tts,
            "reactions": [],
        }
        if self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        if self.webhook_id is not None:
            data["webhook_id"] = str(self.webhook_id)
        if self.application_id is not None:
            data["application_id"] = str(self.application_id)
        if self.interaction_metadata is not None:
            data["interaction_metadata"] = copy.deepcopy(self.interaction_metadata)
        if self.message_reference is not None:
            data["message_reference"] = dict(self.message_reference)
        if self.poll is not None:
            data["poll"] = copy.deepcopy(self.poll)
        return data

    def _components_payload(self) -> list[dict[str, Any]]:
        """The components as Discord returns them: ``attachment://`` media resolved to the
        attachment's (freshly signed) link, with its id, size and type."""
        out = copy.deepcopy(self.components)
        by_name = {a.filename: a for a in self.attachments}
        for component in iter_components(out):
            for media in _media_of(component):
                url = media.get("url")
                if isinstance(url, str) and url.startswith("attachment://"):
                    att = by_name.get(url[len("attachment://") :])
                    if att is not None:
                        link = att.url
                        media.update(url=link, proxy_url=link, attachment_id=str(att.id), content_type=att.content_type)
                        if att.width:
                            media.update(width=att.width, height=att.height)
                        if component.get("type") == 13:
                            component.update(name=att.filename, size=att.size)
        return out

    def __repr__(self) -> str:
        return (
            f"<RecordedMessage id={self.id} content={self.content[:40]!r} embeds={len(self.embeds)} "
            f"texts={len(self.text_displays)} custom_ids={self.custom_ids} files={self.filenames} flags={self.flags}>"
        )


@dataclass
class CallbackRecord:
    """One POST /interactions/{id}/{token}/callback the bot made."""

    type: int
    data: dict[str, Any]
    files: list[RecordedAttachment]
    at: float  # time.monotonic() when it arrived
    latency: float  # seconds since the interaction was dispatched

    @property
    def ephemeral(self) -> bool:
        return bool(self.data.get("flags", 0) & EPHEMERAL)


class FakeInteraction:
    """An interaction the fake dispatched to the bot, and everything the bot did with it."""

    def __init__(self, *, state: FakeState, id: int, token: str, type: int, payload: dict[str, Any]):
        self._state = state
        self.id = id
        self.token = token
        self.type = type
        self.payload = payload  # the INTERACTION_CREATE data sent to the bot
        self.dispatched_at: float = time.monotonic()
        self.created_at: float = state.clock.now()  # wall clock (fake), for the 15-minute token life
        self.callbacks: list[CallbackRecord] = []
        self.original_id: int | None = None
        self.followup_ids: list[int] = []
        # for component interactions: the message the component is on
        self.source_message_id: int | None = int(payload["message"]["id"]) if "message" in payload else None

    # ---- plain properties ---------------------------------------------
    @property
    def guild_id(self) -> int | None:
        return int(self.payload["guild_id"]) if self.payload.get("guild_id") else None

    @property
    def channel_id(self) -> int:
        return int(self.payload["channel_id"])

    @property
    def response(self) -> CallbackRecord | None:
        """The (first) interaction callback, or None if the bot hasn't acknowledged yet."""
        return self.callbacks[0] if self.callbacks else None

    @property
    def ack_latency(self) -> float | None:
        """Seconds between dispatching the interaction and the bot's callback."""
        return self.callbacks[0].latency if self.callbacks else None

    @property
    def original(self) -> RecordedMessage | None:
        """Current state of the original response message (None if there is none)."""
        return self._state.messages.get(self.original_id) if self.original_id else None

    @property
    def followups(self) -> list[RecordedMessage]:
        return [self._state.messages[i] for i in self.followup_ids]

    @property
    def choices(self) -> list[dict[str, Any]] | None:
        """Autocomplete choices returned by the bot (callback type 8)."""
        for cb in self.callbacks:
            if cb.type == AUTOCOMPLETE_RESULT:
                return cb.data.get("choices", [])
        return None

    @property
    def modal(self) -> dict[str, Any] | None:
        """The modal the bot opened (callback type 9): {custom_id, title, components}."""
        for cb in self.callbacks:
            if cb.type == MODAL:
                return cb.data
        return None

    # ---- waiting ------------------------------------------------------
    async def wait_response(self, timeout: float = 5.0) -> CallbackRecord:
        """Wait for the interaction callback (ACK) and return it."""
        return await self._state.notifier.wait_until(
            lambda: self.response, timeout, lambda: f"a callback for interaction {self.describe()}"
        )

    async def wait_original(
        self,
        predicate: Callable[[RecordedMessage], bool] | None = None,
        timeout: float = 5.0,
        *,
        allow_loading: bool = False,
    ) -> RecordedMessage:
        """Wait until the original response exists, is no longer "thinking" and matches ``predicate``."""

        def check() -> RecordedMessage | None:
            msg = self.original
            if msg is None or (msg.loading and not allow_loading):
                return None
            if predicate is not None and not predicate(msg):
                return None
            return msg

        return await self._state.notifier.wait_until(
            check, timeout, lambda: f"the original response of {self.describe()} (currently {self.original!r})"
        )

    async def wait_answer(
        self, predicate: Callable[[RecordedMessage], bool] | None = None, timeout: float = 5.0
    ) -> RecordedMessage:
        """The answer to a deferred command, wherever the bot gave it: the original response once
        it matches ``predicate`` (and was not deleted), or else the first follow-up (a bot that
        replaces its public "thinking…" with a private answer deletes the original)."""

        def check() -> RecordedMessage | None:
            msg = self.original
            if msg is not None and not msg.deleted and not msg.loading and (predicate is None or predicate(msg)):
                return msg
            return self.followups[0] if self.followups else None

        return await self._state.notifier.wait_until(
            check, timeout, lambda: f"an answer to {self.describe()} (original {self.original!r})"
        )

    async def wait_followups(self, count: int = 1, timeout: float = 5.0) -> list[RecordedMessage]:
        """Wait until at least ``count`` follow-up messages were sent; return them all."""
        await self._state.notifier.wait_until(
            lambda: len(self.followup_ids) >= count,
            timeout,
            lambda: f"{count} follow-ups of {self.describe()} (have {len(self.followup_ids)})",
        )
        return self.followups

    async def wait_choices(self, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait for the autocomplete result (callback type 8) and return its choices."""
        await self._state.notifier.wait_until(
            lambda: self.choices is not None, timeout, lambda: f"autocomplete choices for {self.describe()}"
        )
        return self.choices or []

    def describe(self) -> str:
        data = self.payload.get("data", {})
        what = data.get("name") or data.get("custom_id") or "?"
        return f"#{self.id} (type {self.type}, {what!r})"

    def __repr__(self) -> str:
        return f"<FakeInteraction {self.describe()} callbacks={[c.type for c in self.callbacks]}>"


@dataclass
class FakeState:
    """All mutable state of one fake Discord instance."""

    application_id: int
    bot_user: FakeUser
    notifier: Notifier = field(default_factory=Notifier)
    messages: dict[int, RecordedMessage] = field(default_factory=dict)
    attachments: dict[int, RecordedAttachment] = field(default_factory=dict)
    interactions: dict[str, FakeInteraction] = field(default_factory=dict)  # by token
    # scope (None = global, else guild id) -> name -> command payload (with ids)
    commands: dict[int | None, dict[str, dict[str, Any]]] = field(default_factory=dict)
    sync_counts: dict[int | None, int] = field(default_factory=dict)
    unknown_requests: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dm_channels: dict[int, int] = field(default_factory=dict)  # user id -> dm channel id
    clock: Clock = field(default_factory=Clock)
    signer: UrlSigner | None = None

    def __post_init__(self) -> None:
        if self.signer is None:
            self.signer = UrlSigner(self.clock)

    def channel_messages(self, channel_id: int, *, include_deleted: bool = False) -> list[RecordedMessage]:
        return [m for m in self.messages.values() if m.channel_id == channel_id and (include_deleted or not m.deleted)]

    def new_attachment(
        self,
        base_url: str,
        channel_id: int,
        filename: str,
        data: bytes,
        content_type: str,
        description: str | None = None,
    ) -> RecordedAttachment:
        aid = snowflake()
        size = image_size(data)
        att = RecordedAttachment(
            id=aid,
            filename=filename,
            data=data,
            content_type=content_type,
            path_url=f"{base_url}/attachments/{channel_id}/{aid}/{quote(filename)}",  # any name: a valid link
            signer=self.signer,
            description=description,
            width=size[0] if size else None,
            height=size[1] if size else None,
        )
        self.attachments[aid] = att
        return att
