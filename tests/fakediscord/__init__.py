"""A small protocol-level fake Discord for end-to-end tests of discord.py bots.

Modules:
    builders  - guild/channel/role/member fixtures and snowflakes
    state     - recorded messages, attachments, interactions, commands; waiting
    rest      - REST API + CDN (aiohttp handlers, regex router, Discord error shape)
    gateway   - gateway WebSocket (HELLO/IDENTIFY/READY/GUILD_CREATE/RESUME, zlib-stream)
    server    - FakeDiscord: server lifecycle and the test-facing API
    pointing  - point_discord_at(): how a bot targets the fake; voice_trusted() for the voice server
    voice     - voice server: TLS voice websocket (v8) and UDP endpoint recording the bot's audio

See README.md for a walkthrough.
"""

from .builders import (
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    default_guilds,
    make_guild,
    snowflake,
)
from .gateway import GatewaySession
from .pointing import discord_pointed_at, point_discord_at, voice_trusted
from .server import FakeDiscord
from .state import (
    COMPONENTS_V2,
    EPHEMERAL,
    LOADING,
    CallbackRecord,
    FakeInteraction,
    RecordedAttachment,
    RecordedMessage,
)
from .voice import Frame, VoiceServer, frame_rms

__all__ = [
    "COMPONENTS_V2",
    "EPHEMERAL",
    "LOADING",
    "CallbackRecord",
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeInteraction",
    "FakeMember",
    "FakeRole",
    "FakeUser",
    "Frame",
    "GatewaySession",
    "RecordedAttachment",
    "RecordedMessage",
    "VoiceServer",
    "default_guilds",
    "discord_pointed_at",
    "frame_rms",
    "make_guild",
    "point_discord_at",
    "snowflake",
    "voice_trusted",
]
