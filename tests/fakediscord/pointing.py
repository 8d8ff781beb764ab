"""How a discord.py 2.7 bot points itself at a non-default Discord (this fake).

discord.py has no constructor/connect parameter for either URL, but both are
single class attributes that every request / connection reads at use time:

* ``discord.http.Route.BASE`` - prefix of every REST URL.  ``Route`` is also what
  the webhook adapter (``discord/webhook/async_.py``) uses for interaction
  callbacks (``/interactions/{id}/{token}/callback``) and follow-ups
  (``/webhooks/{app_id}/{token}...``), so one assignment covers all of REST.
  (Only the informational ``Webhook.url`` property hard-codes discord.com.)
* ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` - ``Client.connect`` never
  asks REST for the gateway (``GET /gateway`` is only used by
  ``AutoShardedClient`` for the shard count); ``DiscordWebSocket.from_client``
  uses ``gateway or DEFAULT_GATEWAY`` and INVALID_SESSION resets to it.
  Reconnect/RESUME use READY's ``resume_gateway_url``, which the fake sets to
  itself.  discord.py appends ``?v=10&encoding=json&compress=zlib-stream``
  (``zstd-stream`` if the ``zstandard`` package is installed).

Both are process-global; set them before ``login()``/``start()``.

Voice has no such attribute: ``DiscordVoiceWebSocket.from_connection_state`` dials
``f"wss://{endpoint}/?v=8"`` with the endpoint of VOICE_SERVER_UPDATE, always TLS. So the fake's
voice websocket speaks TLS too, and :func:`voice_trusted` makes the process trust its self-signed
certificate: aiohttp verifies every ``https``/``wss`` connection of a connector made with the
default ``ssl=True`` (discord.py's ``TCPConnector(limit=0)``) against one module-level context,
``aiohttp.connector._SSL_CONTEXT_VERIFIED``, read at each connection; ``voice_trusted`` swaps in
a context that trusts the system's authorities plus the fake's certificate, and restores it.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator
from pathlib import Path


def point_discord_at(api_base: str | None, gateway_url: str | None) -> None:
    """Point discord.py at another REST base / gateway URL (None leaves that one unchanged).

    api_base:    e.g. "http://127.0.0.1:PORT/api/v10" (no trailing slash needed)
    gateway_url: e.g. "ws://127.0.0.1:PORT/gateway"
    """
    import yarl
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    if api_base:
        Route.BASE = api_base.rstrip("/")
    if gateway_url:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


@contextlib.contextmanager
def discord_pointed_at(api_base: str | None, gateway_url: str | None) -> Iterator[None]:
    """Test helper: :func:`point_discord_at` for the duration of a ``with`` block, then restore."""
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    saved = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    point_discord_at(api_base, gateway_url)
    try:
        yield
    finally:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved


@contextlib.contextmanager
def voice_trusted(certificate: Path | str) -> Iterator[None]:
    """Test helper: trust the fake voice server's self-signed ``certificate`` (PEM) for the
    ``wss://`` connections discord.py makes in this process, for the duration of a ``with`` block."""
    from aiohttp import connector

    saved = connector._SSL_CONTEXT_VERIFIED
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=str(certificate))
    context.set_alpn_protocols(("http/1.1",))
    connector._SSL_CONTEXT_VERIFIED = context
    try:
        yield
    finally:
        connector._SSL_CONTEXT_VERIFIED = saved
