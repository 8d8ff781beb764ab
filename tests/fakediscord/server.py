"""`FakeDiscord`: the in-process server plus the test-facing API.

Typical use::

    async with FakeDiscord() as discord:            # binds 127.0.0.1:<ephemeral>
        point_discord_at(discord.api_base, discord.gateway_url)
        ... start the bot ...
        await discord.wait_ready()
        await discord.wait_commands_synced(guild_id=discord.guilds[0].id)
        ix = await discord.slash("Guild One", "general", "alice", "ping")
        resp = await ix.wait_response()
        assert ix.ack_latency < 3
        msg = await ix.wait_original()

Guild/channel/user arguments accept the fixture objects from
:mod:`.builders`, their ids, or their names (``"Guild One"``, ``"general"``,
``"alice"``).  Messages accept a :class:`RecordedMessage` or an id.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .builders import (
    ALL_PERMISSIONS,
    DEFAULT_PERMISSIONS,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    default_guilds,
    snowflake,
    voice_state_payload,
)
from .components import check_modal_answer
from .gateway import Gateway, GatewaySession
from .rest import RestApi, make_app
from .state import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    FakeInteraction,
    FakeState,
    RecordedMessage,
)
from .voice import Frame, VoiceServer

log = logging.getLogger("fakediscord")

GuildRef = FakeGuild | int | str
ChannelRef = FakeChannel | int | str
UserRef = FakeMember | FakeUser | int | str
MessageRef = RecordedMessage | int
# attachment option value: (filename, data) or (filename, data, content_type)
AttachmentSpec = tuple[str, bytes] | tuple[str, bytes, str]

OPTION_TYPES = {
    1: "SUB_COMMAND",
    2: "SUB_COMMAND_GROUP",
    3: "STRING",
    4: "INTEGER",
    5: "BOOLEAN",
    6: "USER",
    7: "CHANNEL",
    8: "ROLE",
    9: "MENTIONABLE",
    10: "NUMBER",
    11: "ATTACHMENT",
}
SELECT_TYPES = {3, 5, 6, 7, 8}

GUILD_MEMBERS_INTENT = 1 << 1
# application command types
CHAT_INPUT, USER_COMMAND, MESSAGE_COMMAND = 1, 2, 3
COMMAND_TYPES = {CHAT_INPUT: "chat input", USER_COMMAND: "user", MESSAGE_COMMAND: "message"}
TOKEN_LIFETIME = 15 * 60  # seconds an interaction token accepts follow-ups and edits


@dataclass
class RateLimit:
    """One rule made by :meth:`FakeDiscord.rate_limit`: ``times`` requests answer 429."""

    method: str
    pattern: re.Pattern[str]
    retry_after: float
    times: int
    is_global: bool = False

    def response(self) -> web.Response:
        body = {"message": "You are being rate limited.", "retry_after": self.retry_after, "global": self.is_global}
        headers = {
            "Content-Type": "application/json",
            "Via": "1.1 google",  # discord.py treats a 429 without Via as a Cloudflare ban
            "Retry-After": str(max(1, round(self.retry_after))),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": str(self.retry_after),
            "X-RateLimit-Bucket": "fake-" + self.pattern.pattern[:20],
            "X-RateLimit-Scope": "global" if self.is_global else "user",
        }
        if self.is_global:
            headers["X-RateLimit-Global"] = "true"
        return web.Response(body=json.dumps(body).encode(), status=429, headers=headers)


class FakeDiscord:
    """A fake Discord (REST + gateway + CDN) on 127.0.0.1 for end-to-end bot tests.

    Args:
        guilds: fixtures the bot is a member of (default: :func:`default_guilds`).
        token: if given, REST calls and IDENTIFY must use it (else 401 / close 4004).
        bot_name: username of the bot account.
        ack_deadline: seconds within which an interaction must be acknowledged;
            later callbacks get Discord's 404 "Unknown interaction" (None disables).
        heartbeat_interval_ms: sent in HELLO.
        shard_count: the shard count GET /gateway/bot recommends (sessions are routed by the
            ``shard`` each one IDENTIFYs with, whatever this says).
        voice: also run a voice server (:mod:`.voice`: a TLS voice websocket and a UDP endpoint
            that records what the bot plays); the bot's process must trust its certificate
            (``pointing.voice_trusted(fake.voice.certificate)``).
    """

    def __init__(
        self,
        guilds: Sequence[FakeGuild] | None = None,
        *,
        token: str | None = None,
        bot_name: str = "Crate",
        ack_deadline: float | None = 3.0,
        heartbeat_interval_ms: int = 41250,
        host: str = "127.0.0.1",
        port: int = 0,
        shard_count: int = 1,
        voice: bool = False,
    ) -> None:
        self.guilds: list[FakeGuild] = list(guilds) if guilds is not None else default_guilds()
        #: What GET /gateway/bot recommends (the gateway routes by each session's own IDENTIFY).
        self.shard_count = shard_count
        self.token = token
        self.ack_deadline = ack_deadline
        #: (guild id, command name): shown to everyone despite default_member_permissions (allow_for_everyone).
        self.allowed_for_everyone: set[tuple[int, str]] = set()
        self.application_id = snowflake()
        self.application_flags = (1 << 19) | (
            1 << 15
        )  # GATEWAY_MESSAGE_CONTENT_LIMITED | GATEWAY_GUILD_MEMBERS_LIMITED
        self.owner_user_id = snowflake()
        self.bot_user = FakeUser(id=self.application_id, username=bot_name, bot=True)
        for guild in self.guilds:
            role = FakeRole(
                id=snowflake(),
                name=bot_name,
                managed=True,
                position=len(guild.roles),
                permissions=DEFAULT_PERMISSIONS | (1 << 13) | (1 << 22) | (1 << 23),
            )
            guild.roles.append(role)
            guild.add_member(self.bot_user, roles=[role.id])
        self.state = FakeState(application_id=self.application_id, bot_user=self.bot_user)
        self.gateway = Gateway(self)
        self.gateway.heartbeat_interval_ms = heartbeat_interval_ms
        self.rest = RestApi(self)
        self.voice: VoiceServer | None = VoiceServer(self, host) if voice else None
        self.voice_requests: list[dict[str, Any]] = []
        self.late_acks: list[FakeInteraction] = []
        self.token_lifetime: float = TOKEN_LIFETIME
        self.rate_limits: list[RateLimit] = []
        self.rate_limited: list[str] = []  # "METHOD /path" of every request answered 429
        self.expired_cdn_requests: list[str] = []  # CDN requests refused for an expired/unsigned link
        self.expired_tokens: list[FakeInteraction] = []  # follow-ups/edits refused after 15 minutes
        #: Channels the bot may not send messages in (its role lacks Send Messages there): 403 50013.
        self.forbidden_channels: set[int] = set()
        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # ------------------------------------------------------------------ life cycle
    async def start(self) -> FakeDiscord:
        app = make_app(self.rest, self.gateway.handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://{self._host}:{port}"
        if self.voice is not None:
            await self.voice.start()
        log.info("fake discord listening on %s", self.base_url)
        return self

    async def close(self) -> None:
        if self.voice is not None:
            await self.voice.close()
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def api_base(self) -> str:
        """Value for DISCORD_API_BASE, e.g. ``http://127.0.0.1:PORT/api/v10``."""
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        """Value for DISCORD_GATEWAY_URL, e.g. ``ws://127.0.0.1:PORT/gateway``."""
        return self.base_url.replace("http://", "ws://", 1) + "/gateway"

    # ------------------------------------------------------------------ Discord's limits
    @property
    def clock(self):  # -> state.Clock
        """The fake's wall clock: ``fake.clock.advance(25 * 3600)`` expires CDN links and tokens."""
        return self.state.clock

    @property
    def members_intent(self) -> bool:
        """Did the connected bot identify with the privileged GUILD_MEMBERS intent?"""
        return any(s.intents & GUILD_MEMBERS_INTENT for s in self.gateway.sessions.values())

    def rate_limit(
        self, method: str, path: str, *, retry_after: float = 0.1, times: int = 1, is_global: bool = False
    ) -> RateLimit:
        """Answer the next ``times`` REST requests ``method path`` (a regex over the path after
        ``/api/vN``, e.g. ``r"/channels/\\d+/messages"``) with 429 and ``retry_after``."""
        rule = RateLimit(method.upper(), re.compile(path + r"/?$"), retry_after, times, is_global)
        self.rate_limits.append(rule)
        return rule

    def take_rate_limit(self, method: str, path: str) -> RateLimit | None:
        for rule in self.rate_limits:
            if rule.times > 0 and rule.method == method and rule.pattern.match(path):
                rule.times -= 1
                return rule
        return None

    # ------------------------------------------------------------------ lookups
    def guild(self, ref: GuildRef) -> FakeGuild:
        if isinstance(ref, FakeGuild):
            return ref
        for g in self.guilds:
            if g.id == ref or g.name == ref or str(g.id) == str(ref):
                return g
        raise KeyError(f"no guild {ref!r}; have {[g.name for g in self.guilds]}")

    def channel(self, ref: ChannelRef, guild: GuildRef | None = None) -> FakeChannel:
        """A channel by fixture, id or name.  Names are ambiguous across guilds, so pass ``guild``."""
        if isinstance(ref, FakeChannel):
            return ref
        guilds = [self.guild(guild)] if guild is not None else self.guilds
        found: list[FakeChannel] = []
        for g in guilds:
            with contextlib.suppress(KeyError):
                found.append(g.channel(ref))
        if len(found) == 1:
            return found[0]
        if not found:
            raise KeyError(f"no channel {ref!r}")
        raise ValueError(f"channel name {ref!r} exists in several guilds; pass guild= or a FakeChannel")

    def member(self, guild: GuildRef, ref: UserRef) -> FakeMember:
        g = self.guild(guild)
        if isinstance(ref, FakeMember):
            return ref if ref.guild_id == g.id else g.member(ref.id)
        if isinstance(ref, FakeUser):
            return g.member(ref.id)
        return g.member(ref)

    def user(self, user_id: int) -> FakeUser:
        if user_id == self.bot_user.id:
            return self.bot_user
        for g in self.guilds:
            for m in g.members:
                if m.id == user_id:
                    return m.user
        raise KeyError(f"no user {user_id}")

    def guild_id_of_channel(self, channel_id: int) -> int | None:
        for g in self.guilds:
            if any(c.id == channel_id for c in g.channels):
                return g.id
        return None

    def check_channel(self, channel_id: int) -> None:
        if self.guild_id_of_channel(channel_id) is None and channel_id not in self.state.dm_channels.values():
            raise KeyError(f"no channel {channel_id}")

    def message(self, ref: MessageRef) -> RecordedMessage:
        return ref if isinstance(ref, RecordedMessage) else self.state.messages[int(ref)]

    # ------------------------------------------------------------------ recorded state
    @property
    def requests(self) -> list[str]:
        """Every REST request as ``"METHOD /path"`` (without /api/vN)."""
        return self.state.requests

    @property
    def unknown_requests(self) -> list[str]:
        """REST requests no route handled (answered with 404)."""
        return self.state.unknown_requests

    @property
    def sessions(self) -> list[GatewaySession]:
        return list(self.gateway.sessions.values())

    def channel_messages(
        self,
        channel: ChannelRef,
        guild: GuildRef | None = None,
        *,
        include_ephemeral: bool = False,
        include_deleted: bool = False,
    ) -> list[RecordedMessage]:
        """Messages in a channel (bot sends, interaction responses, follow-ups, simulated user
        messages), oldest first.  Ephemeral and deleted ones only on request."""
        cid = channel if isinstance(channel, int) else self.channel(channel, guild).id
        msgs = self.state.channel_messages(cid, include_deleted=include_deleted)
        return [m for m in msgs if include_ephemeral or not m.ephemeral]

    def commands(self, guild: GuildRef | None = None) -> list[dict[str, Any]]:
        """Registered application commands (global when ``guild`` is None)."""
        scope = self.guild(guild).id if guild is not None else None
        return list(self.state.commands.get(scope, {}).values())

    # ------------------------------------------------------------------ waiting
    async def wait_ready(self, timeout: float = 10.0, *, count: int = 1) -> GatewaySession:
        """Wait until ``count`` sessions in total have identified (READY + GUILD_CREATEs sent)
        and the newest is still connected; returns it.  Use ``count=2`` after restarting a bot."""

        def check() -> GatewaySession | None:
            ready = [s for s in self.gateway.sessions.values() if s.ready]
            if len(ready) < count:
                return None
            newest = max(ready, key=lambda s: s.created_at)
            return newest if newest.live else None

        return await self.state.notifier.wait_until(
            check, timeout, lambda: f"{count} identified gateway session(s) (have {len(self.gateway.sessions)})"
        )

    async def wait_disconnected(self, timeout: float = 10.0) -> None:
        """Wait until no bot is connected to the gateway."""
        await self.state.notifier.wait_until(
            lambda: not any(s.live for s in self.gateway.sessions.values()), timeout, lambda: "all sessions to close"
        )

    async def wait_commands_synced(
        self, guild_id: GuildRef | None = None, timeout: float = 10.0, *, count: int = 1
    ) -> list[dict[str, Any]]:
        """Wait for the ``count``-th bulk overwrite (``tree.sync``) of global or guild commands."""
        scope = self.guild(guild_id).id if guild_id is not None else None
        await self.state.notifier.wait_until(
            lambda: self.state.sync_counts.get(scope, 0) >= count,
            timeout,
            lambda: (
                f"command sync #{count} for {'global' if scope is None else scope} "
                f"(syncs so far: {self.state.sync_counts})"
            ),
        )
        return self.commands(guild_id)

    async def wait_channel_message(
        self,
        channel: ChannelRef,
        predicate: Callable[[RecordedMessage], bool] | None = None,
        timeout: float = 5.0,
        *,
        guild: GuildRef | None = None,
    ) -> RecordedMessage:
        """Wait for a (non-ephemeral) message in ``channel`` matching ``predicate``; returns the newest match."""
        cid = channel if isinstance(channel, int) else self.channel(channel, guild).id

        def check() -> RecordedMessage | None:
            matches = [m for m in self.channel_messages(cid) if predicate is None or predicate(m)]
            return matches[-1] if matches else None

        return await self.state.notifier.wait_until(
            check, timeout, lambda: f"a message in {channel!r} (have {self.channel_messages(cid)})"
        )

    # ------------------------------------------------------------------ interactions
    def _base_interaction(self, itype: int, guild: GuildRef, channel: ChannelRef, user: UserRef) -> FakeInteraction:
        g = self.guild(guild)
        ch = self.channel(channel, g)
        member = self.member(g, user)
        perms = g.permissions_of(member)
        bot_perms = g.permissions_of(g.member(self.bot_user.id))
        iid = snowflake()
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(64)
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": itype,
            "token": token,
            "version": 1,
            "guild_id": str(g.id),
            "guild": {"id": str(g.id), "locale": g.preferred_locale, "features": []},
            "channel_id": str(ch.id),
            "channel": {**ch.payload(), "permissions": str(perms)},
            "member": member.payload(permissions=perms),
            "app_permissions": str(bot_perms),
            "locale": member.user.locale,
            "guild_locale": g.preferred_locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": str(g.id)},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        return FakeInteraction(state=self.state, id=iid, token=token, type=itype, payload=payload)

    async def _send(self, ix: FakeInteraction) -> FakeInteraction:
        self.state.interactions[ix.token] = ix
        ix.dispatched_at = time.monotonic()
        ix.created_at = self.clock.now()
        await self.gateway.dispatch("INTERACTION_CREATE", ix.payload)
        return ix

    def find_command(self, guild: GuildRef, name: str, type: int = CHAT_INPUT) -> dict[str, Any]:
        """The registered command ``name`` of ``type`` (1 chat input, 2 user menu, 3 message menu):
        the guild's command first, then the global one."""
        g = self.guild(guild)
        for scope in (g.id, None):
            cmd = self.state.commands.get(scope, {}).get(f"{name}:{type}")
            if cmd is not None:
                return cmd
        known = sorted(
            {
                f"{c['name']} (type {c.get('type', 1)})"
                for s in (g.id, None)
                for c in self.state.commands.get(s, {}).values()
            }
        )
        what = f"/{name}" if type == CHAT_INPUT else f"the {COMMAND_TYPES.get(type, type)} menu {name!r}"
        raise KeyError(f"command {what} is not registered for {g.name!r} or globally; registered: {known}")

    def _command_data(
        self,
        g: FakeGuild,
        ix: FakeInteraction,
        command: str,
        options: Mapping[str, Any] | None,
        attachments: Mapping[str, AttachmentSpec] | None,
        focused: tuple[str, Any] | None = None,
    ) -> dict[str, Any]:
        parts = command.split()
        cmd = self.find_command(g, parts[0])
        schema = cmd.get("options") or []
        chain: list[dict[str, Any]] = []
        for part in parts[1:]:
            sub = next((o for o in schema if o["name"] == part and o["type"] in (1, 2)), None)
            if sub is None:
                subs = [o["name"] for o in schema if o["type"] in (1, 2)]
                raise ValueError(f"/{' '.join(parts[: len(chain) + 1])} has no subcommand {part!r}; has {subs}")
            chain.append(sub)
            schema = sub.get("options") or []
        if any(o["type"] in (1, 2) for o in schema):
            raise ValueError(f"/{command} is a group; pick one of {[o['name'] for o in schema]}")

        given: dict[str, Any] = dict(options or {})
        for name, spec in (attachments or {}).items():
            given[name] = spec
        if focused is not None:
            given[focused[0]] = focused[1]
        names = {o["name"]: o for o in schema}
        for name in given:
            if name not in names:
                raise ValueError(f"/{command} has no option {name!r}; options: {list(names)}")
        resolved: dict[str, dict[str, Any]] = {}
        leaf: list[dict[str, Any]] = []
        for opt in schema:  # Discord sends options in schema order
            name = opt["name"]
            if name not in given:
                if opt.get("required") and focused is None:
                    raise ValueError(f"/{command}: required option {name!r} missing")
                continue
            if focused is not None and name == focused[0]:
                leaf.append({"type": opt["type"], "name": name, "value": str(given[name]), "focused": True})
                continue
            value = self._option_value(g, ix, opt, given[name], resolved, command)
            leaf.append({"type": opt["type"], "name": name, "value": value})
        nested = leaf
        for sub in reversed(chain):
            nested = [{"type": sub["type"], "name": sub["name"], "options": nested}]
        data: dict[str, Any] = {"id": cmd["id"], "name": cmd["name"], "type": 1, "options": nested}
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        if resolved:
            data["resolved"] = resolved
        return data

    def _resolve_user(self, g: FakeGuild, ref: UserRef, resolved: dict[str, dict[str, Any]]) -> str:
        member = self.member(g, ref)
        resolved.setdefault("users", {})[str(member.id)] = member.user.payload()
        mp = member.payload(permissions=g.permissions_of(member))
        mp.pop("user")
        resolved.setdefault("members", {})[str(member.id)] = mp
        return str(member.id)

    def _resolve_role(self, g: FakeGuild, ref: FakeRole | int | str, resolved: dict[str, dict[str, Any]]) -> str:
        role = ref if isinstance(ref, FakeRole) else g.role(ref)
        resolved.setdefault("roles", {})[str(role.id)] = role.payload()
        return str(role.id)

    def _resolve_channel(self, g: FakeGuild, ref: ChannelRef, resolved: dict[str, dict[str, Any]]) -> str:
        ch = self.channel(ref, g)
        data = {
            k: v
            for k, v in ch.payload().items()
            if k in ("id", "name", "type", "parent_id", "guild_id", "nsfw", "flags")
        }
        data["permissions"] = str(ALL_PERMISSIONS)
        resolved.setdefault("channels", {})[str(ch.id)] = data
        return str(ch.id)

    def _option_value(
        self,
        g: FakeGuild,
        ix: FakeInteraction,
        opt: dict[str, Any],
        value: Any,
        resolved: dict[str, dict[str, Any]],
        command: str,
    ) -> Any:
        t = opt["type"]
        if t == 3:
            value = str(value)
        elif t == 4:
            if isinstance(value, bool) or int(value) != value:
                raise ValueError(f"/{command} {opt['name']}: expected an integer, got {value!r}")
            value = int(value)
        elif t == 10:
            value = float(value) if not isinstance(value, int) else value
        elif t == 5:
            value = bool(value)
        elif t == 6:
            return self._resolve_user(g, value, resolved)
        elif t == 7:
            return self._resolve_channel(g, value, resolved)
        elif t == 8:
            return self._resolve_role(g, value, resolved)
        elif t == 9:
            if isinstance(value, FakeRole):
                return self._resolve_role(g, value, resolved)
            return self._resolve_user(g, value, resolved)
        elif t == 11:
            if not isinstance(value, tuple) or len(value) not in (2, 3):
                raise ValueError(f"/{command} {opt['name']}: attachment must be (filename, bytes[, content_type])")
            filename, data = value[0], value[1]
            ctype = value[2] if len(value) == 3 else "application/octet-stream"
            att = self.state.new_attachment(self.base_url, ix.channel_id, filename, bytes(data), ctype)
            resolved.setdefault("attachments", {})[str(att.id)] = {**att.payload(), "ephemeral": True}
            return str(att.id)
        choices = opt.get("choices")
        if choices and value not in [c["value"] for c in choices]:
            raise ValueError(
                f"/{command} {opt['name']}: {value!r} is not one of the choices {[c['value'] for c in choices]}"
            )
        return value

    async def slash(
        self,
        guild: GuildRef,
        channel: ChannelRef,
        user: UserRef,
        command: str,
        options: Mapping[str, Any] | None = None,
        *,
        attachments: Mapping[str, AttachmentSpec] | None = None,
    ) -> FakeInteraction:
        """Invoke ``/command`` (``"session start"`` for subcommands) as ``user``.

        The interaction is built from the registered schema: option names are
        checked, values converted (users/channels/roles by fixture, id or name,
        with ``resolved`` data), ``attachments`` are uploaded to the fake CDN.
        Returns once INTERACTION_CREATE was sent; use ``ix.wait_response()``.
        """
        g = self.guild(guild)
        self._check_visible(g, user, command)
        ix = self._base_interaction(APPLICATION_COMMAND, g, channel, user)
        ix.payload["data"] = self._command_data(g, ix, command, options, attachments)
        return await self._send(ix)

    async def context_menu(
        self,
        guild: GuildRef,
        channel: ChannelRef,
        user: UserRef,
        name: str,
        target: MessageRef | UserRef,
    ) -> FakeInteraction:
        """Use the context-menu command ``name`` as ``user``: on a message (a
        :class:`RecordedMessage`: a MESSAGE command, type 3) or on a member (fixture, id or
        name: a USER command, type 2).

        As on Discord, ``data`` carries ``target_id`` and the target in ``resolved``: the member
        (``users`` + ``members``), or the whole message (``messages``: content, attachments and
        embeds included, whatever the bot's intents; its author in ``users``).
        """
        g = self.guild(guild)
        ix = self._base_interaction(APPLICATION_COMMAND, g, channel, user)
        resolved: dict[str, dict[str, Any]] = {}
        if isinstance(target, RecordedMessage):
            cmd = self.find_command(g, name, MESSAGE_COMMAND)
            if target.deleted:
                raise ValueError(f"message {target.id} was deleted")
            resolved["messages"] = {str(target.id): target.payload()}
            target_id = str(target.id)
        else:
            cmd = self.find_command(g, name, USER_COMMAND)
            target_id = self._resolve_user(g, target, resolved)
        data: dict[str, Any] = {
            "id": cmd["id"],
            "name": cmd["name"],
            "type": cmd["type"],
            "target_id": target_id,
            "resolved": resolved,
        }
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        ix.payload["data"] = data
        return await self._send(ix)

    def can_see(self, guild: GuildRef, user: UserRef, command: str) -> bool:
        """Whether Discord shows ``/command`` to ``user`` in ``guild``: a command with
        ``default_member_permissions`` is listed only for members who have all of those
        permissions (administrators and the owner have every one; ``"0"``: administrators only)."""
        g = self.guild(guild)
        name = command.split()[0]
        required = self.find_command(g, name).get("default_member_permissions")
        if required is None or (g.id, name) in self.allowed_for_everyone:
            return True
        needed = int(required)
        have = g.permissions_of(self.member(g, user))
        return have == ALL_PERMISSIONS or (needed != 0 and have & needed == needed)

    def allow_for_everyone(self, guild: GuildRef, command: str) -> None:
        """A server admin's override (Server Settings -> Integrations): ``/command`` is shown to
        every member whatever its ``default_member_permissions`` — so a bot must check again."""
        self.allowed_for_everyone.add((self.guild(guild).id, command.split()[0]))

    def visible_commands(self, guild: GuildRef, user: UserRef) -> list[str]:
        """The names of the chat-input commands ``user`` sees in ``guild`` (guild ones, then global)."""
        g = self.guild(guild)
        names = {
            c["name"]
            for scope in (g.id, None)
            for c in self.state.commands.get(scope, {}).values()
            if c.get("type", 1) == 1
        }
        return sorted(n for n in names if self.can_see(g, user, n))

    def _check_visible(self, g: FakeGuild, user: UserRef, command: str) -> None:
        if not self.can_see(g, user, command):
            raise PermissionError(
                f"Discord does not show /{command.split()[0]} to {user!r} in {g.name!r}: its"
                " default_member_permissions are not all theirs"
            )

    async def autocomplete_interaction(
        self,
        guild: GuildRef,
        channel: ChannelRef,
        user: UserRef,
        command: str,
        focused: str,
        value: Any = "",
        options: Mapping[str, Any] | None = None,
    ) -> FakeInteraction:
        """Send APPLICATION_COMMAND_AUTOCOMPLETE for option ``focused`` typed as ``value``."""
        g = self.guild(guild)
        self._check_visible(g, user, command)
        ix = self._base_interaction(AUTOCOMPLETE, g, channel, user)
        ix.payload["data"] = self._command_data(g, ix, command, options, None, focused=(focused, value))
        return await self._send(ix)

    async def autocomplete(
        self,
        guild: GuildRef,
        channel: ChannelRef,
        user: UserRef,
        command: str,
        focused: str,
        value: Any = "",
        options: Mapping[str, Any] | None = None,
        timeout: float = 5.0,
    ) -> list[dict[str, Any]]:
        """Like :meth:`autocomplete_interaction` but waits and returns the choices ``[{name, value}, ...]``."""
        ix = await self.autocomplete_interaction(guild, channel, user, command, focused, value, options)
        return await ix.wait_choices(timeout)

    def _component_interaction(
        self, guild: GuildRef, channel: ChannelRef | None, user: UserRef, message: MessageRef
    ) -> tuple[FakeInteraction, RecordedMessage]:
        msg = self.message(message)
        if msg.deleted:
            raise ValueError(f"message {msg.id} was deleted")
        ix = self._base_interaction(MESSAGE_COMPONENT, guild, channel if channel is not None else msg.channel_id, user)
        ix.payload["message"] = msg.payload()
        ix.source_message_id = msg.id
        return ix, msg

    async def click(
        self,
        guild: GuildRef,
        channel: ChannelRef | None,
        user: UserRef,
        message: MessageRef,
        custom_id: str | None = None,
        *,
        label: str | None = None,
    ) -> FakeInteraction:
        """Click the button with ``custom_id`` (or ``label``) on a recorded message."""
        ix, msg = self._component_interaction(guild, channel, user, message)
        comp = msg.component(custom_id, label=label)
        if comp.get("type") != 2 or "custom_id" not in comp:
            raise ValueError(f"{comp} is not a clickable (non-link) button")
        if comp.get("disabled"):
            raise ValueError(f"button {comp['custom_id']!r} is disabled")
        data: dict[str, Any] = {"custom_id": comp["custom_id"], "component_type": 2}
        if "id" in comp:
            data["id"] = comp["id"]
        ix.payload["data"] = data
        return await self._send(ix)

    async def select(
        self,
        guild: GuildRef,
        channel: ChannelRef | None,
        user: UserRef,
        message: MessageRef,
        custom_id: str,
        values: Iterable[Any],
    ) -> FakeInteraction:
        """Choose ``values`` in a select menu (string selects: option values; user/role/channel
        selects: fixtures, ids or names)."""
        ix, msg = self._component_interaction(guild, channel, user, message)
        comp = msg.component(custom_id)
        ctype = comp.get("type")
        if ctype not in SELECT_TYPES:
            raise ValueError(f"{custom_id!r} is not a select menu: {comp}")
        if comp.get("disabled"):
            raise ValueError(f"select {custom_id!r} is disabled")
        values = list(values)
        lo, hi = comp.get("min_values", 1), comp.get("max_values", 1)
        if not lo <= len(values) <= hi:
            raise ValueError(f"select {custom_id!r} takes {lo}..{hi} values, got {len(values)}")
        g = self.guild(guild)
        resolved: dict[str, dict[str, Any]] = {}
        out: list[str] = []
        for v in values:
            if ctype == 3:
                allowed = [o["value"] for o in comp.get("options", [])]
                if v not in allowed:
                    raise ValueError(f"{v!r} is not an option of {custom_id!r}: {allowed}")
                out.append(v)
            elif ctype == 5:
                out.append(self._resolve_user(g, v, resolved))
            elif ctype == 6:
                out.append(self._resolve_role(g, v, resolved))
            elif ctype == 8:
                out.append(self._resolve_channel(g, v, resolved))
            else:  # mentionable
                out.append(
                    self._resolve_role(g, v, resolved)
                    if isinstance(v, FakeRole)
                    else self._resolve_user(g, v, resolved)
                )
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": ctype, "values": out}
        if resolved:
            data["resolved"] = resolved
        ix.payload["data"] = data
        return await self._send(ix)

    async def submit_modal(
        self, guild: GuildRef, channel: ChannelRef, user: UserRef, opened_by: FakeInteraction, values: Mapping[str, Any]
    ) -> FakeInteraction:
        """Submit the modal the bot opened in response to ``opened_by``; ``values`` maps text-input
        (or select) custom_ids to the typed text (or list of chosen values)."""
        modal = opened_by.modal
        if modal is None:
            raise ValueError(f"{opened_by!r} did not open a modal")
        check_modal_answer(modal, dict(values))
        ix = self._base_interaction(MODAL_SUBMIT, guild, channel, user)
        if opened_by.source_message_id is not None:
            ix.payload["message"] = self.message(opened_by.source_message_id).payload()
            ix.source_message_id = opened_by.source_message_id

        def answer(comp: dict[str, Any]) -> dict[str, Any]:
            cid = comp.get("custom_id")
            if comp.get("type") == 4:
                return {"type": 4, "custom_id": cid, "value": str(values.get(cid, comp.get("value") or ""))}
            if comp.get("type") in SELECT_TYPES:
                return {"type": comp["type"], "custom_id": cid, "values": list(values.get(cid, []))}
            return {k: v for k, v in comp.items() if k in ("type", "id")}

        components: list[dict[str, Any]] = []
        for top in modal.get("components", []):
            if top.get("type") == 1:
                components.append({"type": 1, "components": [answer(c) for c in top.get("components", [])]})
            elif top.get("type") == 18 and isinstance(top.get("component"), dict):
                components.append({"type": 18, "id": top.get("id"), "component": answer(top["component"])})
            else:
                components.append({k: v for k, v in top.items() if k in ("type", "id")})
        ix.payload["data"] = {"custom_id": modal["custom_id"], "components": components}
        return await self._send(ix)

    async def drop_connections(self, *, code: int = 4000, reconnect_op: bool = False) -> None:
        """Simulate a gateway hiccup: close every socket with ``code`` (4000 = "unknown error",
        which discord.py answers with a RESUME), or with ``reconnect_op`` send op 7 RECONNECT instead.
        Sessions stay resumable; check ``session.resumes`` afterwards."""
        if reconnect_op:
            await self.gateway.reconnect_all()
        else:
            await self.gateway.close_all(code=code)

    async def wait_resumed(self, count: int = 1, timeout: float = 10.0) -> GatewaySession:
        """Wait until some session was RESUMEd ``count`` times and is live again."""
        return await self.state.notifier.wait_until(
            lambda: next((s for s in self.gateway.sessions.values() if s.resumes >= count and s.live), None),
            timeout,
            lambda: f"a session resumed {count}x",
        )

    # ------------------------------------------------------------------ other user activity
    async def send_user_message(
        self,
        guild: GuildRef,
        channel: ChannelRef,
        user: UserRef,
        content: str,
        *,
        attachments: Iterable[AttachmentSpec] = (),
    ) -> RecordedMessage:
        """A member posts a message (MESSAGE_CREATE), e.g. to test prefix commands or on_message.

        ``attachments`` are uploaded to the fake CDN with the message. A bot without the
        MESSAGE_CONTENT intent receives the event with its content and attachments emptied
        (see :mod:`.gateway`); the recorded message keeps them.
        """
        g = self.guild(guild)
        ch = self.channel(channel, g)
        member = self.member(g, user)
        files = []
        for spec in attachments:
            filename, data = spec[0], spec[1]
            ctype = spec[2] if len(spec) == 3 else "application/octet-stream"  # type: ignore[misc]
            files.append(self.state.new_attachment(self.base_url, ch.id, filename, bytes(data), ctype))
        msg = RecordedMessage(
            id=snowflake(), channel_id=ch.id, guild_id=g.id, author=member.user, content=content, attachments=files
        )
        self.state.messages[msg.id] = msg
        mp = member.payload()
        mp.pop("user")
        await self.gateway.dispatch("MESSAGE_CREATE", {**msg.payload(), "member": mp})
        self.state.notifier.notify()
        return msg

    async def add_role(self, guild: GuildRef, name: str, permissions: int = 0) -> FakeRole:
        """Create a role (GUILD_ROLE_CREATE, so the bot's cache knows it, as on Discord)."""
        g = self.guild(guild)
        role = FakeRole(id=snowflake(), name=name, permissions=permissions, position=len(g.roles))
        g.roles.append(role)
        await self.gateway.dispatch(
            "GUILD_ROLE_CREATE", {"guild_id": str(g.id), "role": role.payload()}, require_listener=False
        )
        return role

    def give_role(self, guild: GuildRef, user: UserRef, role: FakeRole | int | str) -> None:
        """Give a member a role: their next interactions carry it (and its permissions)."""
        g = self.guild(guild)
        member = self.member(g, user)
        found = role if isinstance(role, FakeRole) else g.role(role)
        if found.id not in member.role_ids:
            member.role_ids.append(found.id)

    async def set_voice_state(self, guild: GuildRef, user: UserRef, channel: ChannelRef | None) -> None:
        """Move a member into (or, with None, out of) a voice channel: VOICE_STATE_UPDATE."""
        g = self.guild(guild)
        member = self.member(g, user)
        member.voice_channel_id = self.channel(channel, g).id if channel is not None else None
        await self.gateway.dispatch("VOICE_STATE_UPDATE", voice_state_payload(g.id, member), require_listener=False)

    # ------------------------------------------------------------------ voice (FakeDiscord(voice=True))
    def _voice_server(self) -> VoiceServer:
        if self.voice is None:
            raise RuntimeError("this fake has no voice server: FakeDiscord(voice=True)")
        return self.voice

    def voice_channel_of(self, guild: GuildRef, user: UserRef) -> FakeChannel | None:
        """The voice channel a member (or the bot: ``fake.bot_user``) is in, as Discord's voice
        states say, or None."""
        g = self.guild(guild)
        channel_id = self.member(g, user).voice_channel_id
        return self.channel(channel_id, g) if channel_id is not None else None

    async def disconnect_from_voice(self, guild: GuildRef, user: UserRef) -> None:
        """A moderator disconnects a member (or the bot) from voice: VOICE_STATE_UPDATE with
        ``channel_id`` null and, for the bot, its voice websocket closed with 4014, as Discord does."""
        g = self.guild(guild)
        await self.set_voice_state(g, user, None)
        if self.member(g, user).id == self.bot_user.id and self.voice is not None:
            await self.voice.drop(g.id, code=4014)

    async def move_voice(self, guild: GuildRef, user: UserRef, channel: ChannelRef) -> None:
        """A moderator moves a member (or the bot) to another voice channel: VOICE_STATE_UPDATE with
        the new ``channel_id``. For the bot it carries the bot's own voice ``session_id`` (as Discord
        sends it), and nothing else: on the same voice server the voice connection stays (Discord
        sends a VOICE_SERVER_UPDATE only for a channel on another server: ``change_voice_server``)."""
        g = self.guild(guild)
        member = self.member(g, user)
        if member.id != self.bot_user.id:
            await self.set_voice_state(g, member, channel)
            return
        member.voice_channel_id = self.channel(channel, g).id
        sessions = [s for s in self.gateway.live_sessions if s.owns(g.id)]
        if not sessions:
            raise RuntimeError("no bot is connected to the fake gateway")
        for session in sessions:
            payload = voice_state_payload(g.id, member, session.session_id)
            await self.gateway._dispatch_to(session, "VOICE_STATE_UPDATE", payload)
        self.state.notifier.notify()

    async def change_voice_server(self, guild: GuildRef) -> None:
        """Discord moves the guild's voice to another server: a second VOICE_SERVER_UPDATE (a new
        token) to the bot, which closes its voice websocket and connects again."""
        g = self.guild(guild)
        self._voice_server()
        sessions = [s for s in self.gateway.live_sessions if s.owns(g.id)]
        if not sessions:
            raise RuntimeError("no bot is connected to the fake gateway")
        for session in sessions:
            await self.gateway.voice_server_update(session, g.id)

    def voice_frames(self, guild: GuildRef, since: float | None = None) -> list[Frame]:
        """The opus frames the bot sent in a guild (arrival time ``time.monotonic()``), oldest first."""
        return self._voice_server().frames(self.guild(guild).id, since)

    async def wait_voice_frames(
        self, guild: GuildRef, count: int, *, since: float | None = None, timeout: float = 10.0
    ) -> list[Frame]:
        """Wait until the bot has sent ``count`` frames in a guild (after ``since``); returns them."""
        gid = self.guild(guild).id
        server = self._voice_server()
        return await self.state.notifier.wait_until(
            lambda: (lambda got: got if len(got) >= count else None)(server.frames(gid, since)),
            timeout,
            lambda: f"{count} voice frames (have {len(server.frames(gid, since))})",
        )

    async def wait_voice_connected(self, guild: GuildRef, *, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until the bot has identified on the voice websocket ``count`` times in a guild and
        holds a live connection there."""
        gid = self.guild(guild).id
        server = self._voice_server()

        def check() -> bool:
            made = [c for c in server.connections if c.guild_id == gid]
            return len(made) >= count and server.live(gid) is not None and server.live(gid).mode is not None  # type: ignore[union-attr]

        await self.state.notifier.wait_until(
            check, timeout, lambda: f"voice connection #{count} in {gid} ({len(server.connections)} so far)"
        )
