"""The fake gateway: one aiohttp WebSocket endpoint speaking Discord's gateway v10.

Supported:

* ``encoding=json`` only (discord.py's default); ``compress=zlib-stream`` (what
  discord.py 2.7 asks for when the ``zstandard`` package is absent): every
  outgoing message goes through one per-connection ``zlib.compressobj`` and is
  flushed with ``Z_SYNC_FLUSH``.  ``zstd-stream`` is implemented on top of the
  optional ``zstandard`` package (best effort, untested here).  Without
  ``compress`` frames are plain text.
* HELLO -> IDENTIFY -> READY + one GUILD_CREATE per guild; HEARTBEAT ->
  HEARTBEAT_ACK; RESUME (replays missed dispatches, then RESUMED; unknown
  sessions get INVALID_SESSION); REQUEST_GUILD_MEMBERS -> GUILD_MEMBERS_CHUNK;
  presence and voice-state updates are recorded; with ``FakeDiscord(voice=True)`` joining a voice
  channel is answered with VOICE_SERVER_UPDATE, pointing at the voice server in ``voice.py``.
* Sharding: IDENTIFY's ``shard: [id, count]`` (default ``[0, 1]``; an id outside
  ``0..count-1`` is closed with 4010 "Invalid shard"). READY lists, and GUILD_CREATE is sent for,
  the guilds of that shard only, and every event of a guild (interactions, voice states,
  messages) goes only to the connection of the shard that owns it, ``(guild_id >> 22) % count``,
  as Discord routes them; events without a guild go to shard 0.
* :meth:`Gateway.dispatch` sends an event to every live, identified session that should get it.
* The message-content rule: a session that did not identify with the privileged
  MESSAGE_CONTENT intent gets MESSAGE_CREATE / MESSAGE_UPDATE with empty ``content``,
  ``embeds``, ``attachments`` and ``components`` (and no ``poll``), except for the bot's own
  messages, direct messages and messages that mention the bot. (A message command's
  interaction still carries its target message whole, in ``data.resolved.messages``.)
"""

from __future__ import annotations

import json
import logging
import secrets
import time
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from .builders import voice_state_payload

if TYPE_CHECKING:
    from .server import FakeDiscord

log = logging.getLogger("fakediscord.gateway")

# opcodes
DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE, VOICE_STATE, RESUME, RECONNECT = 0, 1, 2, 3, 4, 6, 7
REQUEST_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 8, 9, 10, 11

GUILD_MEMBERS = 1 << 1
GUILD_MESSAGES = 1 << 9
MESSAGE_CONTENT = 1 << 15
_CONTENT_EVENTS = frozenset({"MESSAGE_CREATE", "MESSAGE_UPDATE"})


def without_content(data: dict[str, Any], bot_id: int) -> dict[str, Any]:
    """A message event as a bot without the MESSAGE_CONTENT intent receives it."""
    author = str((data.get("author") or {}).get("id", ""))
    mentioned = any(str(m.get("id")) == str(bot_id) for m in data.get("mentions") or [])
    mentioned = (
        mentioned or f"<@{bot_id}>" in (data.get("content") or "") or f"<@!{bot_id}>" in (data.get("content") or "")
    )
    if author == str(bot_id) or mentioned or "guild_id" not in data:
        return data
    redacted = {**data, "content": "", "embeds": [], "attachments": [], "components": []}
    redacted.pop("poll", None)
    return redacted


class _Compressor:
    def __init__(self, kind: str | None) -> None:
        self.kind = kind
        if kind == "zlib-stream":
            self._z = zlib.compressobj()
        elif kind == "zstd-stream":
            import zstandard  # type: ignore[import-not-found]

            self._zstd = zstandard.ZstdCompressor().compressobj()
            self._flush = zstandard.COMPRESSOBJ_FLUSH_BLOCK
        elif kind is not None:
            raise ValueError(f"unsupported gateway compression {kind!r}")

    def __call__(self, text: str) -> bytes:
        raw = text.encode()
        if self.kind == "zlib-stream":
            return self._z.compress(raw) + self._z.flush(zlib.Z_SYNC_FLUSH)
        return self._zstd.compress(raw) + self._zstd.flush(self._flush)


@dataclass
class GatewaySession:
    """One gateway session (survives a dropped socket so it can be RESUMEd)."""

    session_id: str
    token: str
    intents: int
    identify: dict[str, Any]
    created_at: float = field(default_factory=time.monotonic)
    seq: int = 0
    ws: web.WebSocketResponse | None = None
    compressor: _Compressor | None = None
    ready: bool = False  # READY and every GUILD_CREATE were sent
    sent: list[dict[str, Any]] = field(default_factory=list)  # dispatches, for RESUME replay
    heartbeats: int = 0
    presence: dict[str, Any] | None = None
    voice_requests: list[dict[str, Any]] = field(default_factory=list)
    resumes: int = 0
    compress: str | None = None  # what the client asked for: zlib-stream / zstd-stream / None

    @property
    def live(self) -> bool:
        return self.ws is not None and not self.ws.closed

    @property
    def shard(self) -> tuple[int, int]:
        """(shard id, shard count) from IDENTIFY."""
        shard = self.identify.get("shard") or [0, 1]
        return int(shard[0]), int(shard[1])

    def owns(self, guild_id: int | None) -> bool:
        """Whether Discord routes this guild's events to this session (guildless ones: shard 0)."""
        shard_id, count = self.shard
        if guild_id is None:
            return shard_id == 0
        return (guild_id >> 22) % count == shard_id


class Gateway:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.sessions: dict[str, GatewaySession] = {}
        self.connections: list[web.WebSocketResponse] = []
        self.heartbeat_interval_ms = 41250

    # ---- helpers --------------------------------------------------------
    @property
    def live_sessions(self) -> list[GatewaySession]:
        return [s for s in self.sessions.values() if s.live and s.ready]

    async def _send(self, ws: web.WebSocketResponse, comp: _Compressor | None, payload: dict[str, Any]) -> None:
        text = json.dumps(payload, separators=(",", ":"))
        if ws.closed:
            return
        if comp is not None and comp.kind is not None:
            await ws.send_bytes(comp(text))
        else:
            await ws.send_str(text)

    async def _dispatch_to(self, session: GatewaySession, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        payload = {"op": DISPATCH, "t": event, "s": session.seq, "d": data}
        session.sent.append(payload)
        if session.ws is not None:
            await self._send(session.ws, session.compressor, payload)

    async def dispatch(self, event: str, data: dict[str, Any], *, require_listener: bool = True) -> int:
        """Send a dispatch event to every live, identified session.  Returns how many got it."""
        guild_id = _guild_of(event, data)
        targets = [s for s in self.live_sessions if s.owns(guild_id)]
        if event == "MESSAGE_CREATE":
            targets = [s for s in targets if s.intents & GUILD_MESSAGES]
        if not targets and require_listener:
            raise RuntimeError(f"cannot dispatch {event}: no bot is connected to the fake gateway")
        for session in targets:
            sent = data
            if event in _CONTENT_EVENTS and not session.intents & MESSAGE_CONTENT:
                sent = without_content(data, self.fake.bot_user.id)
            await self._dispatch_to(session, event, sent)
        return len(targets)

    async def reconnect_all(self) -> None:
        """Send op 7 RECONNECT to every live session (the client should reconnect and RESUME)."""
        for session in self.live_sessions:
            await self._send(session.ws, session.compressor, {"op": RECONNECT, "d": None, "s": None, "t": None})  # type: ignore[arg-type]

    async def close_all(self, code: int = 1001) -> None:
        for ws in list(self.connections):
            if not ws.closed:
                await ws.close(code=code, message=b"fake discord shutting down")

    # ---- the websocket handler -----------------------------------------
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        q = request.query
        compress = q.get("compress")
        if q.get("encoding", "json") != "json":
            await ws.close(code=4002, message=b"fake discord only speaks encoding=json")
            return ws
        try:
            comp = _Compressor(compress)
        except (ValueError, ImportError) as exc:
            log.error("gateway: %s", exc)
            await ws.close(code=4000, message=str(exc).encode()[:120])
            return ws
        self.connections.append(ws)
        log.info("gateway connection v=%s encoding=%s compress=%s", q.get("v"), q.get("encoding"), compress)
        session: GatewaySession | None = None
        try:
            await self._send(
                ws, comp, {"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}, "s": None, "t": None}
            )
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    if msg.type == WSMsgType.ERROR:
                        log.warning("gateway ws error: %s", ws.exception())
                    continue
                frame = json.loads(msg.data)
                op, d = frame.get("op"), frame.get("d")
                if op == HEARTBEAT:
                    if session:
                        session.heartbeats += 1
                    await self._send(ws, comp, {"op": HEARTBEAT_ACK, "d": None, "s": None, "t": None})
                elif op == IDENTIFY:
                    session = await self._identify(ws, comp, d)
                    if session is None:
                        break
                elif op == RESUME:
                    session = await self._resume(ws, comp, d)
                elif op == REQUEST_MEMBERS and session:
                    await self._request_members(session, d)
                elif op == PRESENCE and session:
                    session.presence = d
                elif op == VOICE_STATE and session:
                    await self._voice_state(session, d)
                else:
                    log.info("gateway: ignoring op %s", op)
        finally:
            if ws in self.connections:
                self.connections.remove(ws)
            if session is not None and session.ws is ws:
                session.ws = None
            self.fake.state.notifier.notify()
        return ws

    async def _identify(self, ws: web.WebSocketResponse, comp: _Compressor, d: dict[str, Any]) -> GatewaySession | None:
        token = d.get("token", "")
        if self.fake.token is not None and token != self.fake.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        shard = d.get("shard") or [0, 1]
        if len(shard) != 2 or not 0 <= int(shard[0]) < int(shard[1]):
            await ws.close(code=4010, message=b"Invalid shard.")
            return None
        session = GatewaySession(
            session_id=secrets.token_hex(16),
            token=token,
            intents=int(d.get("intents", 0)),
            identify=d,
            ws=ws,
            compressor=comp,
            compress=comp.kind,
        )
        self.sessions[session.session_id] = session
        fake = self.fake
        guilds = [g for g in fake.guilds if session.owns(g.id)]
        ready = {
            "v": 10,
            "user": {**fake.bot_user.payload(), "verified": True, "mfa_enabled": False, "email": None},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": fake.gateway_url,
            "shard": d.get("shard") or [0, 1],
            "application": {"id": str(fake.application_id), "flags": fake.application_flags},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["fake"],
            "auth_session_id_hash": secrets.token_hex(8),
        }
        await self._dispatch_to(session, "READY", ready)
        for guild in guilds:
            await self._dispatch_to(session, "GUILD_CREATE", self._guild_create(guild, session))
        session.ready = True
        log.info(
            "gateway: session %s identified (intents=%s, shard %s)", session.session_id, session.intents, session.shard
        )
        fake.state.notifier.notify()
        return session

    def _guild_create(self, guild: Any, session: GatewaySession) -> dict[str, Any]:
        """GUILD_CREATE as Discord sends it: without the privileged GUILD_MEMBERS intent the member
        list holds only the bot itself and members in a voice channel (member_count stays true)."""
        payload = guild.payload()
        if not session.intents & GUILD_MEMBERS:
            bot_id = str(self.fake.bot_user.id)
            payload["members"] = [
                m
                for m, fm in zip(payload["members"], guild.members)
                if m["user"]["id"] == bot_id or fm.voice_channel_id
            ]
        return payload

    async def _resume(self, ws: web.WebSocketResponse, comp: _Compressor, d: dict[str, Any]) -> GatewaySession | None:
        session = self.sessions.get(d.get("session_id", ""))
        if session is None or session.token != d.get("token"):
            await self._send(ws, comp, {"op": INVALID_SESSION, "d": False, "s": None, "t": None})
            return None
        if session.ws is not None and session.ws is not ws:  # the new socket takes the session over
            old, session.ws = session.ws, None
            await old.close(code=4000, message=b"session resumed elsewhere")
        last = int(d.get("seq") or 0)
        session.ws, session.compressor = ws, comp
        session.resumes += 1
        for payload in session.sent:
            if payload["s"] > last:
                await self._send(ws, comp, payload)
        await self._dispatch_to(session, "RESUMED", {})
        self.fake.state.notifier.notify()
        return session

    async def _request_members(self, session: GatewaySession, d: dict[str, Any]) -> None:
        guild_ids = d.get("guild_id")
        guild_ids = guild_ids if isinstance(guild_ids, list) else [guild_ids]
        for gid in guild_ids:
            guild = self.fake.guild(int(gid))
            members = guild.members
            if not session.intents & GUILD_MEMBERS and not d.get("user_ids"):
                # Discord closes the connection (4014) when the whole list is asked without the intent
                await session.ws.close(code=4014, message=b"Disallowed intent(s).")  # type: ignore[union-attr]
                return
            if d.get("user_ids"):
                wanted = {int(u) for u in d["user_ids"]}
                members = [m for m in members if m.id in wanted]
            elif d.get("query"):
                members = [m for m in members if m.name.lower().startswith(str(d["query"]).lower())]
            chunk: dict[str, Any] = {
                "guild_id": str(guild.id),
                "members": [m.payload() for m in members],
                "chunk_index": 0,
                "chunk_count": 1,
                "not_found": [],
            }
            if d.get("nonce") is not None:
                chunk["nonce"] = d["nonce"]
            await self._dispatch_to(session, "GUILD_MEMBERS_CHUNK", chunk)

    async def _voice_state(self, session: GatewaySession, d: dict[str, Any]) -> None:
        """Record the request and echo a VOICE_STATE_UPDATE for the bot; with a voice server
        (``FakeDiscord(voice=True)``), joining a channel is also answered with a VOICE_SERVER_UPDATE
        naming it (a fresh token, the endpoint ``127.0.0.1:PORT``), as Discord does."""
        session.voice_requests.append(d)
        self.fake.voice_requests.append(d)
        guild = self.fake.guild(int(d["guild_id"]))
        me = guild.member(self.fake.bot_user.id)
        me.voice_channel_id = int(d["channel_id"]) if d.get("channel_id") else None
        me.self_deaf = bool(d.get("self_deaf"))
        await self._dispatch_to(session, "VOICE_STATE_UPDATE", voice_state_payload(guild.id, me, session.session_id))
        voice = self.fake.voice
        if voice is not None and me.voice_channel_id is not None:
            await self.voice_server_update(session, guild.id)
        self.fake.state.notifier.notify()

    async def voice_server_update(self, session: GatewaySession, guild_id: int) -> None:
        """Send VOICE_SERVER_UPDATE for a guild: a fresh token on the fake voice server."""
        voice = self.fake.voice
        assert voice is not None, "FakeDiscord(voice=True) runs a voice server"
        update = {"token": voice.new_token(guild_id), "guild_id": str(guild_id), "endpoint": voice.endpoint}
        await self._dispatch_to(session, "VOICE_SERVER_UPDATE", update)


def _guild_of(event: str, data: dict[str, Any]) -> int | None:
    """The guild an event belongs to (GUILD_* events carry it as ``id``), None for none."""
    raw = data.get("guild_id")
    if raw is None and event.startswith("GUILD_") and "id" in data:
        raw = data["id"]
    return int(raw) if raw is not None else None
