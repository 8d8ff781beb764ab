"""The fake's voice server: a voice gateway (v8) on a TLS websocket and a UDP endpoint for RTP.

What discord.py 2.7 does to play in a voice channel, and what this answers:

1. On the main gateway the bot sends op 4 (VOICE_STATE_UPDATE); the fake gateway answers with the
   bot's VOICE_STATE_UPDATE (its voice ``session_id``) and a VOICE_SERVER_UPDATE (a ``token`` and the
   ``endpoint`` ``127.0.0.1:PORT`` of :class:`VoiceServer`), see ``gateway.Gateway._voice_state``.
2. discord.py dials ``wss://{endpoint}/?v=8`` (``DiscordVoiceWebSocket.from_connection_state``
   forces ``wss://``), so the voice websocket speaks TLS, with a throw-away self-signed certificate
   for 127.0.0.1 (:func:`voice_certificate`, made with the ``openssl`` command) that the bot's
   process trusts inside ``pointing.voice_trusted`` — no discord.py code is replaced.
3. HELLO (op 8) on connect; IDENTIFY (op 0: server_id, user_id, session_id, token) -> READY (op 2:
   ssrc, ip, port, modes); SELECT_PROTOCOL (op 1) -> SESSION_DESCRIPTION (op 4: the mode, a fresh
   32-byte ``secret_key``, ``dave_protocol_version`` 0); HEARTBEAT (op 3, with ``seq_ack``) ->
   HEARTBEAT_ACK (op 6); SPEAKING (op 5) is recorded; RESUME (op 7) -> RESUMED (op 9). Messages the
   server sends carry ``seq`` (v8), which the client echoes as ``seq_ack``.
4. UDP: a 74-byte IP-discovery request (type 1) is answered (type 2) with the address the packet
   came from; every other packet is RTP, decrypted in the negotiated mode
   (``aead_xchacha20_poly1305_rtpsize``: the 12-byte header is the associated data, the last 4
   bytes the nonce's first 4) and recorded as a :class:`Frame` with its arrival time.

**DAVE is not emulated.** Discord has required DAVE (end-to-end encryption over MLS) since March
2026; here SESSION_DESCRIPTION says protocol version 0, so discord.py starts no MLS session and
sends the opus frames under transport encryption only. That discord.py ships with ``davey`` is
checked by tests/test_packaging.py (``test_voice_dependencies_support_dave``).

Tests read what was heard through :meth:`VoiceServer.frames` and :meth:`VoiceServer.pcm` (opus
decoded by ``discord.opus.Decoder``, 48-kHz stereo s16le), or :func:`frame_rms` for loudness.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import shutil
import ssl
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from .server import FakeDiscord

log = logging.getLogger("fakediscord.voice")

# voice gateway opcodes (v8)
IDENTIFY, SELECT_PROTOCOL, READY, HEARTBEAT, SESSION_DESCRIPTION, SPEAKING = 0, 1, 2, 3, 4, 5
HEARTBEAT_ACK, RESUME, HELLO, RESUMED = 6, 7, 8, 9

MODE = "aead_xchacha20_poly1305_rtpsize"
FRAME_SECONDS = 0.02  # discord.py sends one 20-ms opus frame a packet
RTP_HEADER = 12

_certificate: tuple[Path, Path] | None = None


def voice_certificate() -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (PEM files), made once a process."""
    global _certificate
    if _certificate is None:
        openssl = shutil.which("openssl")
        if openssl is None:
            raise RuntimeError("the fake voice server needs the openssl command for its TLS certificate")
        folder = Path(tempfile.mkdtemp(prefix="fakediscord-voice-"))
        cert, key = folder / "cert.pem", folder / "key.pem"
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True,
        )  # fmt: skip
        _certificate = cert, key
    return _certificate


@dataclass
class Frame:
    """One RTP packet the bot sent: its opus payload, when it arrived, and its RTP fields."""

    guild_id: int
    ssrc: int
    sequence: int
    timestamp: int
    opus: bytes
    at: float  # time.monotonic() at arrival


@dataclass
class VoiceConnection:
    """One voice websocket session of the bot (a new one after each voice-server change)."""

    guild_id: int
    user_id: int
    session_id: str
    token: str
    ssrc: int
    secret_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    mode: str | None = None
    ws: web.WebSocketResponse | None = None
    seq: int = 0
    seq_ack: int = -1
    heartbeats: int = 0
    speaking: list[int] = field(default_factory=list)
    resumes: int = 0
    client_address: tuple[str, int] | None = None  # the bot's UDP address (IP discovery)
    dave_version: int = 0  # what the bot offered (max_dave_protocol_version); the fake answers 0

    @property
    def live(self) -> bool:
        return self.ws is not None and not self.ws.closed


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: VoiceServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.server.datagram(data, addr)


class VoiceServer:
    """The fake's voice websocket (TLS) and UDP endpoint; see the module's docstring."""

    def __init__(self, fake: FakeDiscord, host: str = "127.0.0.1") -> None:
        self.fake = fake
        self.host = host
        self.port = 0  # the websocket's
        self.udp_port = 0
        self.connections: list[VoiceConnection] = []
        self.tokens: dict[str, int] = {}  # token -> guild id, from VOICE_SERVER_UPDATE
        self.received: list[Frame] = []
        self.undecryptable = 0  # RTP packets that did not decrypt (wrong key, mode or layout)
        self.heartbeat_interval_ms = 13750
        self._runner: web.AppRunner | None = None
        self._udp: _Udp | None = None
        self._decoded: dict[int, tuple[int, list[bytes]]] = {}  # guild -> (frames decoded, pcm)
        self._decoders: dict[int, Any] = {}  # ssrc -> discord.opus.Decoder (opus decoding keeps state)

    async def start(self) -> None:
        cert, key = voice_certificate()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        app = web.Application()
        app.router.add_get("/", self.handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0, ssl_context=context)
        await site.start()
        self.port = self._runner.addresses[0][1]
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_datagram_endpoint(lambda: _Udp(self), local_addr=(self.host, 0))
        self._udp = protocol
        assert protocol.transport is not None
        self.udp_port = protocol.transport.get_extra_info("sockname")[1]
        log.info("fake voice server on wss://%s:%s (udp %s)", self.host, self.port, self.udp_port)

    async def close(self) -> None:
        for connection in self.connections:
            if connection.live:
                await connection.ws.close(code=1001)  # type: ignore[union-attr]
        if self._udp is not None and self._udp.transport is not None:
            self._udp.transport.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def endpoint(self) -> str:
        """VOICE_SERVER_UPDATE's ``endpoint`` (host:port, no scheme, as Discord sends it)."""
        return f"{self.host}:{self.port}"

    @property
    def certificate(self) -> Path:
        return voice_certificate()[0]

    def new_token(self, guild_id: int) -> str:
        token = secrets.token_hex(8)
        self.tokens[token] = guild_id
        return token

    def live(self, guild_id: int) -> VoiceConnection | None:
        """The bot's live voice websocket in a guild, if any."""
        return next((c for c in reversed(self.connections) if c.guild_id == guild_id and c.live), None)

    async def drop(self, guild_id: int, code: int = 4014) -> None:
        """Close the guild's voice websocket as Discord does when the bot is disconnected (4014)."""
        for connection in self.connections:
            if connection.guild_id == guild_id and connection.live:
                await connection.ws.close(code=code)  # type: ignore[union-attr]

    # ---- what was heard -------------------------------------------------
    def frames(self, guild_id: int, since: float | None = None) -> list[Frame]:
        return [f for f in self.received if f.guild_id == guild_id and (since is None or f.at >= since)]

    def pcm(self, guild_id: int) -> list[bytes]:
        """Every frame received for the guild, decoded (48-kHz stereo s16le, 3840 bytes a frame)."""
        from discord import opus

        if not opus.is_loaded():
            opus._load_default()
        frames = self.frames(guild_id)
        done, decoded = self._decoded.get(guild_id, (0, []))
        for frame in frames[done:]:
            decoder = self._decoders.get(frame.ssrc) or self._decoders.setdefault(frame.ssrc, opus.Decoder())
            decoded.append(decoder.decode(frame.opus, fec=False))
        self._decoded[guild_id] = (len(frames), decoded)
        return decoded

    # ---- UDP --------------------------------------------------------------
    def datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        transport = self._udp.transport if self._udp is not None else None
        if len(data) == 74 and data[:2] == b"\x00\x01":  # IP discovery request
            ssrc = struct.unpack_from(">I", data, 4)[0]
            for connection in self.connections:
                if connection.ssrc == ssrc:
                    connection.client_address = addr
            answer = bytearray(74)
            struct.pack_into(">HHI", answer, 0, 2, 70, ssrc)
            answer[8 : 8 + len(addr[0])] = addr[0].encode("ascii")
            struct.pack_into(">H", answer, 72, addr[1])
            if transport is not None:
                transport.sendto(bytes(answer), addr)
            return
        if len(data) < RTP_HEADER + 16 + 4 or data[0] != 0x80 or data[1] != 0x78:
            return
        sequence, timestamp, ssrc = struct.unpack_from(">HII", data, 2)
        sender = next((c for c in reversed(self.connections) if c.ssrc == ssrc), None)
        if sender is None or sender.mode != MODE:
            self.undecryptable += 1
            return
        opus = decrypt_rtpsize(sender.secret_key, data)
        if opus is None:
            self.undecryptable += 1
            return
        self.received.append(Frame(sender.guild_id, ssrc, sequence, timestamp, opus, time.monotonic()))
        self.fake.state.notifier.notify()

    # ---- the websocket ----------------------------------------------------
    async def _send(self, connection: VoiceConnection | None, ws: web.WebSocketResponse, op: int, d: Any) -> None:
        payload: dict[str, Any] = {"op": op, "d": d}
        if connection is not None:
            connection.seq += 1
            payload["seq"] = connection.seq
        if not ws.closed:
            await ws.send_str(json.dumps(payload))

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        if request.query.get("v") != "8":
            await ws.close(code=4012, message=b"Unknown protocol version")
            return ws
        connection: VoiceConnection | None = None
        await self._send(None, ws, HELLO, {"heartbeat_interval": self.heartbeat_interval_ms})
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue  # binary frames are DAVE's (MLS), which the fake does not speak
                frame = json.loads(msg.data)
                op, d = frame.get("op"), frame.get("d") or {}
                if op == IDENTIFY:
                    connection = await self._identify(ws, d)
                    if connection is None:
                        break
                elif op == RESUME:
                    connection = await self._resume(ws, d)
                    if connection is None:
                        break
                elif connection is None:
                    await ws.close(code=4003, message=b"Not authenticated.")
                    break
                elif op == HEARTBEAT:
                    connection.heartbeats += 1
                    connection.seq_ack = int(d.get("seq_ack", -1)) if isinstance(d, dict) else -1
                    await self._send(None, ws, HEARTBEAT_ACK, {"t": d.get("t") if isinstance(d, dict) else d})
                elif op == SELECT_PROTOCOL:
                    mode = (d.get("data") or {}).get("mode")
                    if mode != MODE:
                        await ws.close(code=4016, message=b"Unknown encryption mode.")
                        break
                    connection.mode = mode
                    description = {
                        "mode": mode,
                        "secret_key": list(connection.secret_key),
                        "dave_protocol_version": 0,
                        "media_session_id": secrets.token_hex(8),
                    }
                    await self._send(connection, ws, SESSION_DESCRIPTION, description)
                elif op == SPEAKING:
                    connection.speaking.append(int(d.get("speaking", 0)))
                else:
                    log.debug("voice: ignoring op %s", op)
        finally:
            self.fake.state.notifier.notify()
        return ws

    def _session_ok(self, d: dict[str, Any]) -> tuple[int, int] | None:
        """(guild id, user id) if the token is one VOICE_SERVER_UPDATE gave for that guild and the
        session id is the bot's voice state's."""
        guild_id = int(d.get("server_id") or 0)
        if self.tokens.get(str(d.get("token"))) != guild_id:
            return None
        if d.get("session_id") not in {s.session_id for s in self.fake.gateway.sessions.values()}:
            return None
        return guild_id, int(d.get("user_id") or self.fake.bot_user.id)

    async def _identify(self, ws: web.WebSocketResponse, d: dict[str, Any]) -> VoiceConnection | None:
        who = self._session_ok(d)
        if who is None:
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        connection = VoiceConnection(
            guild_id=who[0], user_id=who[1], session_id=str(d["session_id"]), token=str(d["token"]),
            ssrc=secrets.randbelow(2**31) + 1, ws=ws, dave_version=int(d.get("max_dave_protocol_version") or 0),
        )  # fmt: skip
        self.connections.append(connection)
        ready = {
            "ssrc": connection.ssrc,
            "ip": self.host,
            "port": self.udp_port,
            "modes": [MODE, "aead_aes256_gcm_rtpsize"],
            "heartbeat_interval": self.heartbeat_interval_ms,
        }
        await self._send(connection, ws, READY, ready)
        self.fake.state.notifier.notify()
        return connection

    async def _resume(self, ws: web.WebSocketResponse, d: dict[str, Any]) -> VoiceConnection | None:
        found = next(
            (
                c
                for c in reversed(self.connections)
                if c.session_id == d.get("session_id") and c.token == d.get("token")
            ),
            None,
        )
        if found is None or self._session_ok(d) is None:
            await ws.close(code=4006, message=b"Session no longer valid.")
            return None
        found.ws, found.resumes = ws, found.resumes + 1
        await self._send(found, ws, RESUMED, None)
        return found


def decrypt_rtpsize(key: bytes, packet: bytes) -> bytes | None:
    """The opus payload of an ``aead_xchacha20_poly1305_rtpsize`` packet (discord.py's
    ``VoiceClient._encrypt_aead_xchacha20_poly1305_rtpsize`` inverted), None if it does not decrypt."""
    import nacl.exceptions
    import nacl.secret

    header, body, nonce = packet[:RTP_HEADER], packet[RTP_HEADER:-4], packet[-4:] + bytes(20)
    try:
        return nacl.secret.Aead(key).decrypt(body, header, nonce)
    except nacl.exceptions.CryptoError:
        return None


def frame_rms(pcm: bytes) -> float:
    """The loudness of one decoded frame (RMS of its s16 samples, 0..32768)."""
    import numpy as np

    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0
