"""Guild / channel / role / member fixtures for the fake Discord, plus snowflakes.

Everything here is plain data: small dataclasses that know how to render
themselves as the JSON objects Discord sends (``payload()``).  Tests normally
use :func:`default_guilds` (two guilds, each with ``#general``, ``#music``, a
``Lounge`` voice channel and the members alice, bob and carol) or build their
own with :func:`make_guild`.

IDs are realistic snowflakes (timestamp-based, strictly increasing), so
discord.py's ``created_at`` helpers behave normally.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1420070400000

# Channel types (https://discord.com/developers/docs/resources/channel#channel-object-channel-types)
TEXT, DM, VOICE, CATEGORY, PUBLIC_THREAD = 0, 1, 2, 4, 11

# A plain member's permissions: view, send, read history, embed, attach,
# add reactions, connect, speak, use application commands, use voice activity.
DEFAULT_PERMISSIONS = (
    (1 << 10) | (1 << 11) | (1 << 16) | (1 << 14) | (1 << 15) | (1 << 6) | (1 << 20) | (1 << 21) | (1 << 31) | (1 << 25)
)
ADMINISTRATOR = 1 << 3
ALL_PERMISSIONS = (1 << 53) - 1


class SnowflakeFactory:
    """Generates unique, increasing Discord snowflakes from the current time."""

    def __init__(self, worker: int = 1, process: int = 0) -> None:
        self._lock = threading.Lock()
        self._last = 0
        self._worker = worker & 0x1F
        self._process = process & 0x1F
        self._increment = itertools.count()

    def __call__(self) -> int:
        with self._lock:
            ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
            value = (ms << 22) | (self._worker << 17) | (self._process << 12) | (next(self._increment) & 0xFFF)
            if value <= self._last:
                value = self._last + 1
            self._last = value
            return value


snowflake = SnowflakeFactory()


def iso_now() -> str:
    """Current time as Discord formats timestamps."""
    return datetime.now(UTC).isoformat()


@dataclass
class FakeUser:
    id: int
    username: str
    global_name: str | None = None
    bot: bool = False
    avatar: str | None = None
    #: The language of the user's Discord client: each interaction's ``locale``.
    locale: str = "en-US"

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "global_name": self.global_name if self.global_name is not None else self.username.title(),
            "discriminator": "0",
            "avatar": self.avatar,
            "public_flags": 0,
            "flags": 0,
        }
        if self.bot:
            data["bot"] = True
            data["global_name"] = None
        return data


@dataclass
class FakeRole:
    id: int
    name: str
    permissions: int = DEFAULT_PERMISSIONS
    position: int = 0
    color: int = 0
    managed: bool = False

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": self.color,
            "colors": {"primary_color": self.color, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": self.managed,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }


@dataclass
class FakeChannel:
    id: int
    name: str
    type: int = TEXT
    guild_id: int | None = None
    position: int = 0
    parent_id: int | None = None
    topic: str | None = None
    owner_id: int | None = None  # a thread's: who started it

    @property
    def is_voice(self) -> bool:
        return self.type == VOICE

    @property
    def is_thread(self) -> bool:
        return self.type == PUBLIC_THREAD

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [],
            "parent_id": str(self.parent_id) if self.parent_id else None,
            "nsfw": False,
            "flags": 0,
        }
        if self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        if self.type == TEXT:
            data.update(topic=self.topic, last_message_id=None, rate_limit_per_user=0)
        elif self.type == VOICE:
            data.update(bitrate=64000, user_limit=0, rtc_region=None, last_message_id=None, rate_limit_per_user=0)
        elif self.type == PUBLIC_THREAD:  # in a text channel (``parent_id``), open
            data.update(
                owner_id=str(self.owner_id or 0),
                last_message_id=None,
                rate_limit_per_user=0,
                message_count=0,
                member_count=0,
                thread_metadata={"archived": False, "auto_archive_duration": 1440, "archive_timestamp": iso_now()},
            )
        return data


@dataclass
class FakeMember:
    user: FakeUser
    guild_id: int
    role_ids: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=iso_now)
    voice_channel_id: int | None = None
    self_deaf: bool = False

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def name(self) -> str:
        return self.user.username

    def payload(self, *, permissions: int | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "user": self.user.payload(),
            "roles": [str(r) for r in self.role_ids],
            "nick": self.nick,
            "avatar": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass
class FakeGuild:
    id: int
    name: str
    owner_id: int
    roles: list[FakeRole] = field(default_factory=list)
    channels: list[FakeChannel] = field(default_factory=list)
    members: list[FakeMember] = field(default_factory=list)
    #: The server's language (Server Settings ▸ Community): ``preferred_locale``, interactions' ``guild_locale``.
    preferred_locale: str = "en-US"

    # ---- lookups -----------------------------------------------------
    def channel(self, name_or_id: str | int) -> FakeChannel:
        for ch in self.channels:
            if ch.name == name_or_id or ch.id == name_or_id or str(ch.id) == str(name_or_id):
                return ch
        raise KeyError(f"guild {self.name!r} has no channel {name_or_id!r}; have {[c.name for c in self.channels]}")

    def member(self, name_or_id: str | int) -> FakeMember:
        for m in self.members:
            if m.name == name_or_id or m.id == name_or_id or str(m.id) == str(name_or_id):
                return m
        raise KeyError(f"guild {self.name!r} has no member {name_or_id!r}; have {[m.name for m in self.members]}")

    def role(self, name_or_id: str | int) -> FakeRole:
        for r in self.roles:
            if r.name == name_or_id or r.id == name_or_id or str(r.id) == str(name_or_id):
                return r
        raise KeyError(f"guild {self.name!r} has no role {name_or_id!r}")

    @property
    def everyone(self) -> FakeRole:
        return self.role(self.id)  # @everyone has the guild's id

    @property
    def text_channels(self) -> list[FakeChannel]:
        return [c for c in self.channels if c.type == TEXT]

    @property
    def voice_channels(self) -> list[FakeChannel]:
        return [c for c in self.channels if c.type == VOICE]

    def permissions_of(self, member: FakeMember) -> int:
        """Guild-level permissions (owner and administrators get everything)."""
        if member.id == self.owner_id:
            return ALL_PERMISSIONS
        perms = self.everyone.permissions
        for rid in member.role_ids:
            perms |= self.role(rid).permissions
        return ALL_PERMISSIONS if perms & ADMINISTRATOR else perms

    def add_member(self, user: FakeUser, *, roles: Iterable[int] = ()) -> FakeMember:
        member = FakeMember(user=user, guild_id=self.id, role_ids=list(roles))
        self.members.append(member)
        return member

    # ---- payloads ----------------------------------------------------
    def payload(self) -> dict[str, Any]:
        """A full GUILD_CREATE payload."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "region": None,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": self.preferred_locale,
            "system_channel_id": str(self.text_channels[0].id) if self.text_channels else None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "features": [],
            "emojis": [],
            "stickers": [],
            "roles": [r.payload() for r in self.roles],
            "joined_at": iso_now(),
            "large": False,
            "unavailable": False,
            "lazy": True,
            "member_count": len(self.members),
            "members": [m.payload() for m in self.members],
            "channels": [c.payload() for c in self.channels if not c.is_thread],
            "threads": [c.payload() for c in self.channels if c.is_thread],
            "presences": [],
            "voice_states": [voice_state_payload(self.id, m) for m in self.members if m.voice_channel_id],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "application_command_counts": {},
            "max_members": 500000,
            "max_video_channel_users": 25,
        }


def voice_state_payload(guild_id: int, member: FakeMember, session_id: str = "fake-voice-session") -> dict[str, Any]:
    return {
        "guild_id": str(guild_id),
        "channel_id": str(member.voice_channel_id) if member.voice_channel_id else None,
        "user_id": str(member.id),
        "member": member.payload(),
        "session_id": session_id,
        "deaf": False,
        "mute": False,
        "self_deaf": member.self_deaf,
        "self_mute": False,
        "self_video": False,
        "suppress": False,
        "request_to_speak_timestamp": None,
    }


def make_guild(
    name: str,
    *,
    members: Iterable[str] = ("alice", "bob", "carol"),
    text_channels: Iterable[str] = ("general", "music"),
    voice_channels: Iterable[str] = ("Lounge",),
    owner: str | None = None,
    users: dict[str, FakeUser] | None = None,
) -> FakeGuild:
    """Build a guild.  The first member is the owner unless ``owner`` says otherwise.

    ``users`` lets several guilds share the same user objects (same ids), as on
    real Discord where alice is one account in many servers.
    """
    users = users if users is not None else {}
    gid = snowflake()
    member_names = list(members)
    for n in member_names:
        if n not in users:
            users[n] = FakeUser(id=snowflake(), username=n)
    owner_name = owner or (member_names[0] if member_names else None)
    owner_id = users[owner_name].id if owner_name else snowflake()
    guild = FakeGuild(id=gid, name=name, owner_id=owner_id)
    guild.roles.append(FakeRole(id=gid, name="@everyone", permissions=DEFAULT_PERMISSIONS, position=0))
    guild.roles.append(FakeRole(id=snowflake(), name="DJ", permissions=0, position=1, color=0x1ABC9C))
    text_cat = FakeChannel(id=snowflake(), name="Text Channels", type=CATEGORY, guild_id=gid, position=0)
    voice_cat = FakeChannel(id=snowflake(), name="Voice Channels", type=CATEGORY, guild_id=gid, position=1)
    guild.channels += [text_cat, voice_cat]
    for pos, ch in enumerate(text_channels):
        guild.channels.append(
            FakeChannel(id=snowflake(), name=ch, type=TEXT, guild_id=gid, position=pos, parent_id=text_cat.id)
        )
    for pos, ch in enumerate(voice_channels):
        guild.channels.append(
            FakeChannel(id=snowflake(), name=ch, type=VOICE, guild_id=gid, position=pos, parent_id=voice_cat.id)
        )
    for n in member_names:
        guild.add_member(users[n])
    return guild


def default_guilds() -> list[FakeGuild]:
    """Two guilds ("Guild One", "Guild Two") sharing the users alice (owner), bob and carol."""
    users: dict[str, FakeUser] = {}
    return [make_guild("Guild One", users=users), make_guild("Guild Two", users=users)]
