"""The fake REST API (``/api/v{9,10}/...``) and CDN (``/attachments/...``).

All API requests go through one catch-all aiohttp route and a tiny regex
router (:data:`RestApi.ROUTES`), so a request nobody handles is logged as a
warning, recorded in ``FakeDiscord.unknown_requests`` and answered with
Discord's error shape: ``404 {"message": "404: Not Found", "code": 0}``.

Message semantics follow Discord closely enough for discord.py:

* JSON or ``multipart/form-data`` bodies (``payload_json`` + ``files[n]``);
  ``attachments: [{"id": n}]`` entries refer to uploaded ``files[n]``, entries
  with a real snowflake keep an existing attachment, omitted ones are removed
  on edit.
* ``attachment://name`` URLs in embeds are rewritten to CDN URLs, as Discord does.
* Interaction callbacks honour the 3 second deadline (``ack_deadline``) and
  "already acknowledged" (400 / code 40060); the first follow-up after a
  deferred ("thinking") response replaces the placeholder and keeps the defer's
  visibility (its own ephemeral flag is ignored), as on Discord.
* Interaction tokens (follow-ups, ``@original`` edits) expire 15 minutes after
  the interaction, on the fake's clock (``FakeDiscord.clock``).
* CDN links are signed and expire (``ex``/``is``/``hm``); an expired or unsigned
  link answers 404. Fetching a message or ``POST /attachments/refresh-urls``
  gives fresh links.
* ``FakeDiscord.rate_limit()`` makes a route answer 429 with ``retry_after``.
* Without the GUILD_MEMBERS intent ``GET /guilds/{id}/members`` is refused (403).
"""

from __future__ import annotations

import copy
import json
import logging
import mimetypes
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web

from .builders import DM, FakeUser, iso_now, snowflake
from .components import (
    ComponentError,
    attachment_references,
    check_message_components,
    check_modal,
    check_v2_components,
    number_components,
)
from .state import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    AUTOCOMPLETE_RESULT,
    CHANNEL_MESSAGE,
    COMPONENTS_V2,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE_MESSAGE,
    EPHEMERAL,
    LOADING,
    MODAL,
    MODAL_SUBMIT,
    SUPPRESS_EMBEDS,
    UPDATE_MESSAGE,
    CallbackRecord,
    FakeInteraction,
    RecordedAttachment,
    RecordedMessage,
)

if TYPE_CHECKING:
    from .server import FakeDiscord

log = logging.getLogger("fakediscord.rest")

Handler = Callable[..., Awaitable[web.StreamResponse]]


class DiscordError(Exception):
    """Raised by handlers; rendered as Discord's JSON error body."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def unknown(what: str, code: int) -> DiscordError:
    return DiscordError(404, code, f"Unknown {what}")


#: Discord's rules for application command names: chat input names are lowercase words; context
#: menu names (USER = 2, MESSAGE = 3) may have capitals and spaces, and take no description or options.
_CHAT_INPUT_NAME = re.compile(r"^[-_'\w]{1,32}$")
MAX_MENUS_PER_TYPE = 15


def check_commands(commands: list[dict[str, Any]]) -> None:
    """Refuse what Discord refuses in a bulk overwrite (50035 Invalid Form Body)."""
    seen: set[tuple[str, int]] = set()
    seen_localized: set[tuple[str, str, int]] = set()
    per_type: dict[int, int] = {}
    for command in commands:
        name, kind = str(command.get("name", "")), int(command.get("type", 1))
        if kind not in (1, 2, 3):
            raise DiscordError(400, 50035, f"Invalid Form Body: unknown command type {kind}")
        if kind == 1:
            if not _CHAT_INPUT_NAME.match(name) or name != name.lower():
                raise DiscordError(400, 50035, f"Invalid Form Body: invalid chat input command name {name!r}")
        else:
            if not 1 <= len(name) <= 32:
                raise DiscordError(400, 50035, f"Invalid Form Body: context menu name {name!r} must be 1-32 characters")
            if command.get("description") or command.get("options"):
                raise DiscordError(
                    400, 50035, f"Invalid Form Body: context menu {name!r} takes no description or options"
                )
            per_type[kind] = per_type.get(kind, 0) + 1
            if per_type[kind] > MAX_MENUS_PER_TYPE:
                raise DiscordError(400, 30032, f"Maximum number of type {kind} commands reached ({MAX_MENUS_PER_TYPE})")
        if (name, kind) in seen:
            raise DiscordError(400, 50035, f"Invalid Form Body: application command names must be unique ({name!r})")
        seen.add((name, kind))
        check_localizations(command, chat_input=kind == 1)
        for locale, localized in (command.get("name_localizations") or {}).items():
            if (locale, localized, kind) in seen_localized:
                raise DiscordError(
                    400, 50035, f"Invalid Form Body: command names must be unique in {locale} ({localized!r})"
                )
            seen_localized.add((locale, localized, kind))


#: The locales Discord accepts as keys of ``name_localizations`` and ``description_localizations``.
DISCORD_LOCALES = frozenset(
    {"id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu", "nl", "no", "pl", "pt-BR"}
    | {"ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru", "uk", "hi", "th", "zh-CN", "ja", "zh-TW", "ko"}
)
#: A localized chat input name: Discord's ``^[-_\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$``, lowercase
#: (``\w`` is letters, digits and ``_`` in any script; ``'`` as Discord allows it in names).
_LOCALIZED_NAME = re.compile(r"^[-_'\w]{1,32}$")


def _invalid(where: str, why: str) -> DiscordError:
    return DiscordError(400, 50035, f"Invalid Form Body: {where}: {why}")


def check_localizations(item: dict[str, Any], *, chat_input: bool, where: str = "") -> None:
    """Refuse localizations as Discord does: known locale keys; a chat input command's, option's
    or subcommand's localized name lowercase, 1-32 letters, digits, ``-`` or ``_``; a context
    menu's 1-32 characters; descriptions 1-100 characters; a choice's name 1-100 characters;
    sibling options' names unique in every locale. Recurses into options and choices."""
    where = f"{where}/{item.get('name', '?')}"
    for field in ("name_localizations", "description_localizations"):
        localized = item.get(field) or {}
        if not isinstance(localized, dict):
            raise _invalid(where, f"{field} must be an object")
        for locale, text in localized.items():
            if locale not in DISCORD_LOCALES:
                raise _invalid(where, f"{field} has an unknown locale {locale!r}")
            if not isinstance(text, str):
                raise _invalid(where, f"{field}[{locale}] must be a string")
            if field == "description_localizations":
                if not 1 <= len(text) <= 100:
                    raise _invalid(where, f"{field}[{locale}] must be 1-100 characters, not {len(text)}: {text!r}")
            elif chat_input and not (_LOCALIZED_NAME.match(text) and text == text.lower()):
                raise _invalid(where, f"{field}[{locale}] {text!r} is not a valid chat input name")
            elif not 1 <= len(text) <= 32:
                raise _invalid(where, f"{field}[{locale}] {text!r} must be 1-32 characters")
    options = item.get("options") or []
    for locale in DISCORD_LOCALES:
        names = [(o.get("name_localizations") or {}).get(locale, o.get("name")) for o in options]
        if len(names) != len(set(names)):
            raise _invalid(where, f"option names must be unique in {locale}: {names}")
    for option in options:
        check_localizations(option, chat_input=True, where=where)
    for choice in item.get("choices") or []:
        for locale, text in (choice.get("name_localizations") or {}).items():
            if locale not in DISCORD_LOCALES or not isinstance(text, str) or not 1 <= len(text) <= 100:
                raise _invalid(f"{where}/{choice.get('name')}", f"choice name_localizations[{locale}] {text!r}")


@dataclass
class Upload:
    index: int
    filename: str
    data: bytes
    content_type: str


def json_response(data: Any, status: int = 200) -> web.Response:
    # discord.py's json_or_text() only parses bodies whose Content-Type is exactly
    # "application/json" (aiohttp's json_response would add "; charset=utf-8").
    return web.Response(body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"})


async def read_body(request: web.Request) -> tuple[dict[str, Any], list[Upload]]:
    """JSON body or multipart (``payload_json`` + ``files[n]``)."""
    if request.content_type.startswith("multipart/"):
        payload: dict[str, Any] = {}
        uploads: list[Upload] = []
        reader = await request.multipart()
        async for part in reader:
            name = part.name or ""
            if name == "payload_json":
                payload = json.loads(await part.text())  # type: ignore[union-attr]
            elif part.filename is not None:
                m = re.match(r"files\[(\d+)\]", name)
                index = int(m.group(1)) if m else len(uploads)
                data = bytes(await part.read())  # type: ignore[union-attr]
                ctype = part.headers.get("Content-Type") or "application/octet-stream"
                if ctype == "application/octet-stream":
                    ctype = mimetypes.guess_type(part.filename)[0] or ctype
                uploads.append(Upload(index, part.filename, data, ctype))
        return payload, uploads
    if request.body_exists:
        text = await request.text()
        return (json.loads(text) if text else {}), []
    return {}, []


class RestApi:
    """Handlers for the REST routes; ``fake`` is the owning :class:`FakeDiscord`."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.state = fake.state
        S = r"(?P<{}>\d+)"
        T = r"(?P<token>[^/]+)"
        A = r"(?P<app>\d+)"
        G, C, M = S.format("guild"), S.format("channel"), S.format("message")
        self.routes: list[tuple[str, re.Pattern[str], Handler, bool]] = []
        table: list[tuple[str, str, Handler, bool]] = [
            # (method, path regex, handler, needs bot auth)
            ("GET", r"/gateway", self.get_gateway, False),
            ("GET", r"/gateway/bot", self.get_gateway_bot, True),
            ("GET", r"/users/@me", self.get_me, True),
            ("PATCH", r"/users/@me", self.get_me, True),
            ("POST", r"/users/@me/channels", self.create_dm, True),
            ("GET", r"/users/(?P<user>\d+)", self.get_user, True),
            ("GET", r"/oauth2/applications/@me", self.get_application, True),
            ("GET", r"/applications/@me", self.get_application, True),
            ("PATCH", r"/applications/@me", self.get_application, True),
            ("GET", rf"/applications/{A}/emojis", self.empty_items, True),
            ("GET", rf"/applications/{A}/entitlements", self.empty_list, True),
            ("GET", rf"/applications/{A}/skus", self.empty_list, True),
            ("GET", rf"/applications/{A}/guilds/{G}/commands/permissions", self.empty_list, True),
            ("GET", rf"/applications/{A}(?:/guilds/{G})?/commands", self.get_commands, True),
            ("PUT", rf"/applications/{A}(?:/guilds/{G})?/commands", self.put_commands, True),
            ("POST", rf"/applications/{A}(?:/guilds/{G})?/commands", self.post_command, True),
            ("GET", rf"/applications/{A}(?:/guilds/{G})?/commands/(?P<command>\d+)", self.get_command, True),
            ("PATCH", rf"/applications/{A}(?:/guilds/{G})?/commands/(?P<command>\d+)", self.patch_command, True),
            ("DELETE", rf"/applications/{A}(?:/guilds/{G})?/commands/(?P<command>\d+)", self.delete_command, True),
            ("POST", rf"/interactions/(?P<interaction>\d+)/{T}/callback", self.interaction_callback, False),
            ("POST", rf"/webhooks/{A}/{T}", self.followup_create, False),
            ("GET", rf"/webhooks/{A}/{T}/messages/(?P<message>@original|\d+)", self.webhook_message_get, False),
            ("PATCH", rf"/webhooks/{A}/{T}/messages/(?P<message>@original|\d+)", self.webhook_message_edit, False),
            ("DELETE", rf"/webhooks/{A}/{T}/messages/(?P<message>@original|\d+)", self.webhook_message_delete, False),
            ("GET", rf"/channels/{C}", self.get_channel, True),
            ("GET", rf"/channels/{C}/messages", self.channel_history, True),
            ("POST", rf"/channels/{C}/messages", self.channel_send, True),
            ("GET", rf"/channels/{C}/messages/{M}", self.channel_message_get, True),
            ("PATCH", rf"/channels/{C}/messages/{M}", self.channel_message_edit, True),
            ("DELETE", rf"/channels/{C}/messages/{M}", self.channel_message_delete, True),
            ("PUT", rf"/channels/{C}/messages/{M}/reactions/(?P<emoji>[^/]+)/@me", self.add_reaction, True),
            ("DELETE", rf"/channels/{C}/messages/{M}/reactions/(?P<emoji>[^/]+)/@me", self.no_content, True),
            ("POST", rf"/channels/{C}/typing", self.no_content, True),
            ("GET", rf"/guilds/{G}", self.get_guild, True),
            ("GET", rf"/guilds/{G}/channels", self.get_guild_channels, True),
            ("GET", rf"/guilds/{G}/roles", self.get_guild_roles, True),
            ("GET", rf"/guilds/{G}/members", self.get_guild_members, True),
            ("GET", rf"/guilds/{G}/members/(?P<user>\d+)", self.get_guild_member, True),
            ("POST", r"/attachments/refresh-urls", self.refresh_urls, True),
        ]
        for method, pattern, handler, auth in table:
            self.routes.append((method, re.compile(pattern + r"/?$"), handler, auth))

    # ---- plumbing --------------------------------------------------------
    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        entry = f"{request.method} {path}"
        self.state.requests.append(entry)
        for method, pattern, handler, auth in self.routes:
            if method != request.method:
                continue
            m = pattern.match(path)
            if not m:
                continue
            limited = self.fake.take_rate_limit(request.method, path)
            if limited is not None:
                self.fake.rate_limited.append(entry)
                log.info("%s -> 429 (retry after %.2fs)", entry, limited.retry_after)
                return limited.response()
            try:
                if (
                    auth
                    and self.fake.token is not None
                    and request.headers.get("Authorization") != f"Bot {self.fake.token}"
                ):
                    raise DiscordError(401, 0, "401: Unauthorized")
                params = {k: v for k, v in m.groupdict().items() if v is not None}
                return await handler(request, **params)
            except KeyError as exc:  # fake.guild()/channel()/user() lookups
                log.info("%s -> 404 %s", entry, exc)
                return json_response({"message": f"Unknown object: {exc}", "code": 10000}, status=404)
            except DiscordError as exc:
                log.info("%s -> %s %s", entry, exc.status, exc.message)
                return json_response({"message": exc.message, "code": exc.code}, status=exc.status)
            finally:
                self.state.notifier.notify()
        log.warning("fake discord: unhandled route %s (query %s)", entry, dict(request.query))
        self.state.unknown_requests.append(entry)
        return json_response({"message": "404: Not Found", "code": 0}, status=404)

    async def cdn(self, request: web.Request) -> web.StreamResponse:
        info = request.match_info
        att = self.state.attachments.get(int(info["attachment"]))
        if att is None or att.filename != info["filename"]:
            return web.Response(status=404, text="Not Found")
        path = f"{info['channel']}/{info['attachment']}/{quote(info['filename'])}"  # as signed: percent-encoded
        if not self.state.signer.valid(path, request.query):  # type: ignore[union-attr]
            self.fake.expired_cdn_requests.append(str(request.rel_url))
            return web.Response(status=404, text="This content is no longer available.")
        return web.Response(body=att.data, content_type=att.content_type.split(";")[0])

    async def refresh_urls(self, request: web.Request) -> web.Response:
        """``{"attachment_urls": [...]}`` -> ``{"refreshed_urls": [{"original", "refreshed"}]}``."""
        body, _ = await read_body(request)
        out = []
        for original in body.get("attachment_urls") or []:
            m = re.search(r"/attachments/\d+/(\d+)/([^?]+)", str(original))
            att = self.state.attachments.get(int(m.group(1))) if m else None
            if att is None:
                raise DiscordError(400, 50035, f"Invalid Form Body: {original!r} is not an attachment link")
            out.append({"original": original, "refreshed": att.url})
        return json_response({"refreshed_urls": out})

    # ---- simple endpoints ------------------------------------------------
    async def no_content(self, request: web.Request, **_: str) -> web.Response:
        return web.Response(status=204)

    async def empty_list(self, request: web.Request, **_: str) -> web.Response:
        return json_response([])

    async def empty_items(self, request: web.Request, **_: str) -> web.Response:
        return json_response({"items": []})

    async def get_gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.fake.gateway_url})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "url": self.fake.gateway_url,
                "shards": self.fake.shard_count,
                "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 14400000, "max_concurrency": 1},
            }
        )

    async def get_me(self, request: web.Request) -> web.Response:
        return json_response({**self.fake.bot_user.payload(), "verified": True, "mfa_enabled": False, "bio": ""})

    async def get_user(self, request: web.Request, user: str) -> web.Response:
        return json_response(self.fake.user(int(user)).payload())

    async def get_application(self, request: web.Request) -> web.Response:
        fake = self.fake
        owner = FakeUser(id=fake.owner_user_id, username="crate-owner")
        return json_response(
            {
                "id": str(fake.application_id),
                "name": fake.bot_user.username,
                "icon": None,
                "description": "Fake application",
                "summary": "",
                "type": None,
                "hook": True,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "owner": owner.payload(),
                "team": None,
                "flags": fake.application_flags,
                "bot": fake.bot_user.payload(),
                "interactions_endpoint_url": None,
                "install_params": None,
                "approximate_guild_count": len(fake.guilds),
                "redirect_uris": [],
                "tags": [],
            }
        )

    async def create_dm(self, request: web.Request) -> web.Response:
        body, _ = await read_body(request)
        uid = int(body["recipient_id"])
        user = self.fake.user(uid)
        cid = self.state.dm_channels.setdefault(uid, snowflake())
        return json_response(
            {
                "id": str(cid),
                "type": DM,
                "last_message_id": None,
                "flags": 0,
                "recipients": [user.payload()],
            }
        )

    # ---- guild objects --------------------------------------------------
    async def get_guild(self, request: web.Request, guild: str) -> web.Response:
        payload = self.fake.guild(int(guild)).payload()
        for key in (
            "members",
            "channels",
            "threads",
            "presences",
            "voice_states",
            "joined_at",
            "large",
            "member_count",
        ):
            payload.pop(key, None)
        return json_response(payload)

    async def get_guild_channels(self, request: web.Request, guild: str) -> web.Response:
        return json_response([c.payload() for c in self.fake.guild(int(guild)).channels])

    async def get_guild_roles(self, request: web.Request, guild: str) -> web.Response:
        return json_response([r.payload() for r in self.fake.guild(int(guild)).roles])

    async def get_guild_members(self, request: web.Request, guild: str) -> web.Response:
        if not self.fake.members_intent:
            raise DiscordError(403, 50001, "Missing Access")  # listing members needs GUILD_MEMBERS
        return json_response([m.payload() for m in self.fake.guild(int(guild)).members])

    async def get_guild_member(self, request: web.Request, guild: str, user: str) -> web.Response:
        g = self.fake.guild(int(guild))
        try:
            return json_response(g.member(int(user)).payload())
        except KeyError:
            raise unknown("Member", 10007) from None

    async def get_channel(self, request: web.Request, channel: str) -> web.Response:
        cid = int(channel)
        for uid, dm in self.state.dm_channels.items():
            if dm == cid:
                return json_response(
                    {"id": channel, "type": DM, "recipients": [self.fake.user(uid).payload()], "flags": 0}
                )
        return json_response(self.fake.channel(cid).payload())

    # ---- application commands ------------------------------------------
    def _check_app(self, app: str) -> None:
        if int(app) != self.fake.application_id:
            raise DiscordError(403, 50001, "Missing Access")

    def _scope(self, guild: str | None) -> dict[str, dict[str, Any]]:
        scope = int(guild) if guild else None
        if scope is not None:
            self.fake.guild(scope)  # 404 for unknown guilds
        return self.state.commands.setdefault(scope, {})

    def _store_command(
        self, scope: dict[str, dict[str, Any]], data: dict[str, Any], guild: str | None
    ) -> dict[str, Any]:
        key = f"{data['name']}:{data.get('type', 1)}"
        existing = scope.get(key)
        cmd = {
            "type": 1,
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "dm_permission": True,
            "nsfw": False,
            "integration_types": [0],
            "contexts": None,
            **copy.deepcopy(data),
            "id": existing["id"] if existing else str(snowflake()),
            "application_id": str(self.fake.application_id),
            "version": str(snowflake()),
        }
        if cmd.get("default_member_permissions") is not None:  # Discord answers a permission bitfield as a string
            cmd["default_member_permissions"] = str(cmd["default_member_permissions"])
        if guild:
            cmd["guild_id"] = guild
        scope[key] = cmd
        return cmd

    async def get_commands(self, request: web.Request, app: str, guild: str | None = None) -> web.Response:
        self._check_app(app)
        return json_response(list(self._scope(guild).values()))

    async def put_commands(self, request: web.Request, app: str, guild: str | None = None) -> web.Response:
        self._check_app(app)
        body, _ = await read_body(request)
        scope = self._scope(guild)
        check_commands(body)
        old = dict(scope)
        scope.clear()
        for data in body:
            key = f"{data['name']}:{data.get('type', 1)}"
            if key in old:
                scope[key] = old[key]  # keep the id on overwrite, as Discord does
        result = [self._store_command(scope, data, guild) for data in body]
        sid = int(guild) if guild else None
        self.state.sync_counts[sid] = self.state.sync_counts.get(sid, 0) + 1
        log.info("commands synced for %s: %s", guild or "global", [c["name"] for c in result])
        return json_response(result)

    async def post_command(self, request: web.Request, app: str, guild: str | None = None) -> web.Response:
        self._check_app(app)
        body, _ = await read_body(request)
        check_commands([body])
        return json_response(self._store_command(self._scope(guild), body, guild), status=201)

    def _find_command(self, guild: str | None, command: str) -> tuple[str, dict[str, Any]]:
        for key, cmd in self._scope(guild).items():
            if cmd["id"] == command:
                return key, cmd
        raise unknown("application command", 10063)

    async def get_command(self, request: web.Request, app: str, command: str, guild: str | None = None) -> web.Response:
        return json_response(self._find_command(guild, command)[1])

    async def patch_command(
        self, request: web.Request, app: str, command: str, guild: str | None = None
    ) -> web.Response:
        body, _ = await read_body(request)
        _, cmd = self._find_command(guild, command)
        return json_response(self._store_command(self._scope(guild), {**cmd, **body}, guild))

    async def delete_command(
        self, request: web.Request, app: str, command: str, guild: str | None = None
    ) -> web.Response:
        key, _ = self._find_command(guild, command)
        del self._scope(guild)[key]
        return web.Response(status=204)

    # ---- message building ----------------------------------------------
    def _resolve_attachments(
        self, msg_channel: int, body: dict[str, Any], uploads: list[Upload], current: list[RecordedAttachment]
    ) -> list[RecordedAttachment] | None:
        """New attachment list, or None when the body doesn't touch attachments."""
        by_index = {u.index: u for u in uploads}
        if "attachments" not in body:
            if not uploads:
                return None
            entries: list[dict[str, Any]] = [{"id": u.index} for u in uploads]
            keep = list(current)
        else:
            entries = body["attachments"] or []
            keep = []
        known = {a.id: a for a in current}
        for entry in entries:
            aid = int(entry["id"])
            if aid in by_index:
                up = by_index[aid]
                keep.append(
                    self.state.new_attachment(
                        self.fake.base_url,
                        msg_channel,
                        entry.get("filename") or up.filename,
                        up.data,
                        up.content_type,
                        entry.get("description"),
                    )
                )
            elif aid in known:
                keep.append(known[aid])
            elif aid in self.state.attachments:
                keep.append(self.state.attachments[aid])
            else:
                raise DiscordError(400, 50035, f"Invalid Form Body: attachments id {aid} refers to no file")
        return keep

    @staticmethod
    def _rewrite_embeds(embeds: list[dict[str, Any]], attachments: list[RecordedAttachment]) -> list[dict[str, Any]]:
        by_name = {a.filename: a for a in attachments}
        out = copy.deepcopy(embeds)
        for embed in out:
            embed.setdefault("type", "rich")
            for key in ("image", "thumbnail", "author", "footer"):
                part = embed.get(key)
                if not isinstance(part, dict):
                    continue
                url_key = "url" if key in ("image", "thumbnail") else "icon_url"
                url = part.get(url_key)
                if isinstance(url, str) and url.startswith("attachment://"):
                    att = by_name.get(url[len("attachment://") :])
                    if att is not None:
                        part[url_key] = att.url
                        part["proxy_" + url_key] = att.url
                        if att.width and key in ("image", "thumbnail"):
                            part.update(width=att.width, height=att.height)
        return out

    def create_message(
        self,
        channel_id: int,
        body: dict[str, Any],
        uploads: list[Upload],
        *,
        interaction: FakeInteraction | None = None,
        flags: int | None = None,
        msg_type: int = 0,
    ) -> RecordedMessage:
        guild_id = self.fake.guild_id_of_channel(channel_id)
        msg = RecordedMessage(
            id=snowflake(),
            channel_id=channel_id,
            guild_id=guild_id,
            author=self.fake.bot_user,
            type=msg_type,
        )
        if interaction is not None:
            msg.interaction_id = interaction.id
            msg.webhook_id = self.fake.application_id
            msg.application_id = self.fake.application_id
            user = interaction.payload.get("member", {}).get("user") or interaction.payload.get("user")
            msg.interaction_metadata = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": user,
                "authorizing_integration_owners": interaction.payload.get("authorizing_integration_owners", {}),
            }
            if interaction.type == APPLICATION_COMMAND and msg_type == 0:
                msg.type = 20  # CHAT_INPUT_COMMAND reply
        if body.get("message_reference"):
            msg.message_reference = {**body["message_reference"], "channel_id": str(channel_id)}
        self._apply(msg, body, uploads, creating=True)
        if flags is not None:
            msg.flags = flags
        self.state.messages[msg.id] = msg
        return msg

    def _apply(self, msg: RecordedMessage, body: dict[str, Any], uploads: list[Upload], *, creating: bool) -> None:
        """Create or edit ``msg`` from a request body, all or nothing: what Discord refuses
        (400) leaves the message as it was."""
        flags = self._flags_after(msg, body, creating=creating)
        v2 = bool(flags & COMPONENTS_V2)
        content = (body.get("content") or "") if "content" in body else msg.content
        embeds = (body.get("embeds") or []) if "embeds" in body else msg.embeds
        components = copy.deepcopy(body.get("components") or []) if "components" in body else msg.components
        atts = self._resolve_attachments(msg.channel_id, body, uploads, msg.attachments)
        attachments = atts if atts is not None else msg.attachments
        try:
            if v2:
                self._check_v2_message(body, content, embeds, components, attachments)
            elif "components" in body:
                check_message_components(components)
        except ComponentError as error:
            raise DiscordError(400, 50035, f"Invalid Form Body: {error}") from None
        if v2:
            number_components(components)
        if not creating:
            msg.history.append(msg.payload())
            msg.edited_timestamp = iso_now()
        msg.content, msg.components, msg.attachments, msg.flags = content, components, attachments, flags
        if body.get("tts"):
            msg.tts = True
        if "poll" in body:
            msg.poll = body["poll"]
        msg.embeds = self._rewrite_embeds(embeds, msg.attachments)

    @staticmethod
    def _flags_after(msg: RecordedMessage, body: dict[str, Any], *, creating: bool) -> int:
        """The message's flags once ``body`` is applied: an edit changes only SUPPRESS_EMBEDS and
        may set IS_COMPONENTS_V2, never clear it (Discord: the flag cannot be removed once set)."""
        asked = body.get("flags")
        if creating:
            return int(asked or 0) & ~LOADING
        flags = msg.flags & ~LOADING
        if asked is None:
            return flags
        asked = int(asked)
        if flags & COMPONENTS_V2 and not asked & COMPONENTS_V2:
            raise DiscordError(400, 50035, "Invalid Form Body: flags: the IS_COMPONENTS_V2 flag cannot be removed")
        return (flags & ~SUPPRESS_EMBEDS) | (asked & (SUPPRESS_EMBEDS | COMPONENTS_V2))

    @staticmethod
    def _check_v2_message(
        body: dict[str, Any],
        content: str,
        embeds: list[dict[str, Any]],
        components: list[dict[str, Any]],
        attachments: list[RecordedAttachment],
    ) -> None:
        """Discord's rules for a message with IS_COMPONENTS_V2: no legacy content beside the layout."""
        legacy = {
            "content": content,
            "embeds": embeds,
            "sticker_ids": body.get("sticker_ids"),
            "poll": body.get("poll"),
        }
        for name, value in legacy.items():
            if value:
                raise ComponentError(
                    f"{name}: the {name!r} field cannot be used when using MessageFlags.IS_COMPONENTS_V2"
                    " (MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2)"
                )
        if not components:
            raise DiscordError(400, 50006, "Cannot send an empty message")
        check_v2_components(components)
        names = {a.filename for a in attachments}
        for name in attachment_references(components):
            if name not in names:
                raise ComponentError(
                    f"components: attachment://{name} refers to no attachment of the message (upload it with it)"
                )

    def _message(self, mid: int, channel_id: int | None = None) -> RecordedMessage:
        msg = self.state.messages.get(mid)
        if msg is None or msg.deleted or (channel_id is not None and msg.channel_id != channel_id):
            raise unknown("Message", 10008)
        return msg

    # ---- channel messages ------------------------------------------------
    async def channel_send(self, request: web.Request, channel: str) -> web.Response:
        cid = int(channel)
        self.fake.check_channel(cid)
        if cid in self.fake.forbidden_channels:
            raise DiscordError(403, 50013, "Missing Permissions")
        body, uploads = await read_body(request)
        if not (
            body.get("content")
            or body.get("embeds")
            or uploads
            or body.get("components")
            or body.get("sticker_ids")
            or body.get("poll")
        ):
            raise DiscordError(400, 50006, "Cannot send an empty message")
        msg = self.create_message(cid, body, uploads)
        if msg.guild_id is not None:
            await self.fake.gateway.dispatch(
                "MESSAGE_CREATE",
                {**msg.payload(), "member": self._bot_member_payload(msg.guild_id)},
                require_listener=False,
            )
        return json_response(msg.payload())

    def _bot_member_payload(self, guild_id: int) -> dict[str, Any]:
        payload = self.fake.guild(guild_id).member(self.fake.bot_user.id).payload()
        payload.pop("user", None)
        return payload

    async def channel_history(self, request: web.Request, channel: str) -> web.Response:
        msgs = self.state.channel_messages(int(channel))
        msgs = [m for m in msgs if not m.ephemeral]
        limit = int(request.query.get("limit", 50))
        if "before" in request.query:
            msgs = [m for m in msgs if m.id < int(request.query["before"])]
        if "after" in request.query:
            msgs = [m for m in msgs if m.id > int(request.query["after"])]
        msgs.sort(key=lambda m: m.id, reverse=True)
        return json_response([m.payload() for m in msgs[:limit]])

    async def channel_message_get(self, request: web.Request, channel: str, message: str) -> web.Response:
        return json_response(self._message(int(message), int(channel)).payload())

    async def channel_message_edit(self, request: web.Request, channel: str, message: str) -> web.Response:
        msg = self._message(int(message), int(channel))
        body, uploads = await read_body(request)
        self._apply(msg, body, uploads, creating=False)
        return json_response(msg.payload())

    async def channel_message_delete(self, request: web.Request, channel: str, message: str) -> web.Response:
        self._message(int(message), int(channel)).deleted = True
        return web.Response(status=204)

    async def add_reaction(self, request: web.Request, channel: str, message: str, emoji: str) -> web.Response:
        self._message(int(message), int(channel)).reactions.append(emoji)
        return web.Response(status=204)

    # ---- interactions ----------------------------------------------------
    def _interaction(self, token: str, interaction_id: str | None = None) -> FakeInteraction:
        ix = self.state.interactions.get(token)
        if ix is None or (interaction_id is not None and ix.id != int(interaction_id)):
            raise unknown("interaction", 10062)
        return ix

    def _callback_payload(self, ix: FakeInteraction, cb_type: int, with_response: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"interaction": {"id": str(ix.id), "type": ix.type}}
        msg = self.state.messages.get(ix.original_id) if ix.original_id else None
        if msg is not None and cb_type in (
            CHANNEL_MESSAGE,
            DEFERRED_CHANNEL_MESSAGE,
            UPDATE_MESSAGE,
            DEFERRED_UPDATE_MESSAGE,
        ):
            out["interaction"].update(
                response_message_id=str(msg.id),
                response_message_loading=msg.loading,
                response_message_ephemeral=msg.ephemeral,
            )
            if with_response and cb_type in (CHANNEL_MESSAGE, UPDATE_MESSAGE):
                out["resource"] = {"type": cb_type, "message": msg.payload()}
            else:
                out["resource"] = {"type": cb_type}
        else:
            out["resource"] = {"type": cb_type}
        return out

    async def interaction_callback(self, request: web.Request, interaction: str, token: str) -> web.Response:
        ix = self._interaction(token, interaction)
        body, uploads = await read_body(request)
        now = time.monotonic()
        latency = now - ix.dispatched_at
        if ix.callbacks:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        deadline = self.fake.ack_deadline
        if deadline is not None and latency > deadline:
            log.warning(
                "interaction %s acknowledged after %.2fs (> %.1fs): answering 404 like Discord",
                ix.id,
                latency,
                deadline,
            )
            self.fake.late_acks.append(ix)
            raise unknown("interaction", 10062)
        cb_type = int(body.get("type", 0))
        data = body.get("data") or {}
        files: list[RecordedAttachment] = []
        channel_id = ix.channel_id
        if cb_type == CHANNEL_MESSAGE:
            msg = self.create_message(channel_id, data, uploads, interaction=ix)
            ix.original_id = msg.id
            files = msg.attachments
        elif cb_type == DEFERRED_CHANNEL_MESSAGE:
            flags = LOADING | (int(data.get("flags", 0)) & EPHEMERAL)
            msg = self.create_message(channel_id, {}, [], interaction=ix, flags=flags)
            ix.original_id = msg.id
        elif cb_type in (DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE):
            if ix.source_message_id is None:
                raise DiscordError(400, 50035, "Invalid Form Body: update responses need a component/modal interaction")
            ix.original_id = ix.source_message_id
            if cb_type == UPDATE_MESSAGE:
                msg = self._message(ix.source_message_id)
                self._apply(msg, data, uploads, creating=False)
                files = msg.attachments
        elif cb_type == MODAL:
            if ix.type in (MODAL_SUBMIT, AUTOCOMPLETE):
                raise DiscordError(
                    400, 50035, f"Invalid Form Body: a modal cannot answer an interaction of type {ix.type}"
                )
            try:
                check_modal(data)
            except ComponentError as error:
                raise DiscordError(400, 50035, f"Invalid Form Body: {error}") from None
        elif cb_type == AUTOCOMPLETE_RESULT:
            pass
        elif cb_type == 1:
            raise DiscordError(400, 50035, "Invalid Form Body: PONG is only valid for PING interactions")
        else:
            log.info("interaction %s: callback type %s recorded but not emulated", ix.id, cb_type)
        ix.callbacks.append(CallbackRecord(type=cb_type, data=data, files=list(files), at=now, latency=latency))
        with_response = request.query.get("with_response") in ("1", "true", "True")
        if with_response:
            return json_response(self._callback_payload(ix, cb_type, True))
        return web.Response(status=204)

    def _webhook_interaction(self, app: str, token: str) -> FakeInteraction:
        if int(app) != self.fake.application_id:
            raise unknown("Webhook", 10015)
        ix = self._interaction(token)
        if not ix.callbacks:
            raise unknown("Webhook", 10015)  # no follow-ups before the interaction was acknowledged
        if self.state.clock.now() - ix.created_at > self.fake.token_lifetime:
            self.fake.expired_tokens.append(ix)
            raise unknown("Webhook", 10015)  # interaction tokens live 15 minutes
        return ix

    def _webhook_message(self, ix: FakeInteraction, message: str) -> RecordedMessage:
        if message == "@original":
            if ix.original_id is None:
                raise unknown("Message", 10008)
            return self._message(ix.original_id)
        mid = int(message)
        if mid != ix.original_id and mid not in ix.followup_ids:
            raise unknown("Message", 10008)
        return self._message(mid)

    async def followup_create(self, request: web.Request, app: str, token: str) -> web.Response:
        ix = self._webhook_interaction(app, token)
        body, uploads = await read_body(request)
        original = self.state.messages.get(ix.original_id) if ix.original_id else None
        if (
            original is not None
            and original.loading
            and not original.deleted
            and not ix.followup_ids
            and original.interaction_id == ix.id
        ):
            # Discord: the first follow-up to a deferred response replaces the "thinking" message.
            self._apply(original, body, uploads, creating=False)
            msg = original
        else:
            msg = self.create_message(ix.channel_id, body, uploads, interaction=ix)
            msg.flags = int(body.get("flags") or 0) & (EPHEMERAL | SUPPRESS_EMBEDS | (1 << 12) | COMPONENTS_V2)
        ix.followup_ids.append(msg.id)
        if request.query.get("wait") in ("1", "true", "True"):
            return json_response(msg.payload())
        return web.Response(status=204)

    async def webhook_message_get(self, request: web.Request, app: str, token: str, message: str) -> web.Response:
        ix = self._webhook_interaction(app, token)
        return json_response(self._webhook_message(ix, message).payload())

    async def webhook_message_edit(self, request: web.Request, app: str, token: str, message: str) -> web.Response:
        ix = self._webhook_interaction(app, token)
        msg = self._webhook_message(ix, message)
        body, uploads = await read_body(request)
        self._apply(msg, body, uploads, creating=False)
        return json_response(msg.payload())

    async def webhook_message_delete(self, request: web.Request, app: str, token: str, message: str) -> web.Response:
        ix = self._webhook_interaction(app, token)
        self._webhook_message(ix, message).deleted = True
        return web.Response(status=204)


def make_app(api: RestApi, gateway_handler: Handler) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", r"/api/v{version:\d+}/{tail:.*}", api.dispatch)
    app.router.add_get(r"/attachments/{channel:\d+}/{attachment:\d+}/{filename}", api.cdn)
    app.router.add_get("/gateway", gateway_handler)
    app.router.add_get("/gateway/", gateway_handler)
    return app
