"""A small protocol-level fake Discord for end-to-end tests of discord.py bots.

Modules:
    builders  - guild/channel/role/member fixtures and snowflakes
    state     - recorded messages, attachments, interactions, commands; waiting
    rest      - REST API + CDN (aiohttp handlers, regex router, Discord error shape)
    gateway   - gateway WebSocket (HELLO/IDENTIFY/READY/GUILD_CREATE/RESUME, zlib-stream)
    server    - FakeDiscord: server lifecycle and the test-facing API
    pointing  - point_discord_at(): how a bot targets the fake

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
from .pointing import discord_pointed_at, point_discord_at
from .server import FakeDiscord
from .state import EPHEMERAL, LOADING, CallbackRecord, FakeInteraction, RecordedAttachment, RecordedMessage

__all__ = [
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
    "GatewaySession",
    "RecordedAttachment",
    "RecordedMessage",
    "default_guilds",
    "discord_pointed_at",
    "make_guild",
    "point_discord_at",
    "snowflake",
]
