"""Per-server settings (``/settings``), with defaults from the environment: no Discord in sight.

:class:`ServerSettings` is what a server runs with: the stored choice of its managers
(:mod:`bot.store.settings`) over Crate's defaults (:class:`bot.config.Settings`, from ``.env``):

* ``dj_role_id`` — members with this role may skip (at once, no vote) and end any session
  (default: none; ``CRATE_DJ_ROLE_ID`` only for a one-server install).
* ``voice_idle_timeout`` / ``stay_in_voice`` — how long Crate stays in a voice channel nobody
  listens in, or never leaves (24/7) (``CRATE_VOICE_IDLE_TIMEOUT``, ``CRATE_STAY_IN_VOICE``).
* ``member_analysis_limit`` — tracks one member may have analyzed at once
  (``CRATE_MEMBER_CONCURRENT``; at most ``CRATE_SERVER_CONCURRENT``), see :mod:`bot.jobs.admission`.
* ``profiles_public`` — whether ``/profile member:`` may show another member's taste
  (``CRATE_PROFILES_PUBLIC``).
* ``announce_channel_id`` — where Crate also announces new sessions (default: nowhere else), and
  posts the monthly recap.
* ``recap_monthly`` — whether Crate posts the server's recap of the month just ended on the 1st
  of each month (:mod:`bot.app.recap`), in the announcements channel, else in the server's system
  channel (default: off).

Only a :class:`~bot.caller.Caller` who manages the server may change them
(:class:`NotServerManager`, checked here whatever Discord shows).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from bot.caller import Caller
from bot.config import Settings
from bot.errors import CrateError
from bot.format import format_duration
from bot.i18n import N_, _, ngettext
from bot.jobs.admission import Admission
from bot.store import settings as store
from bot.store.database import Database
from bot.store.settings import StoredSettings


class NotServerManager(CrateError):
    user_message = N_("Only members with the Manage Server permission can change Crate's settings here.")


class InvalidSetting(CrateError):
    user_message = N_("That setting's value is out of range.")


class NotThisServersRole(InvalidSetting):
    user_message = N_(
        "That role isn't one of this server's roles, so I can't make it the DJ role. Pick a role of this server."
    )


class NotThisServersChannel(InvalidSetting):
    user_message = N_(
        "That channel isn't one of this server's text channels, so I can't announce there. "
        "Pick a text channel of this server."
    )


#: The longest idle timeout a server may choose (a day); "stay in voice" is the way to never leave.
MAX_IDLE_TIMEOUT = 24 * 3600.0


@dataclass(frozen=True)
class ServerSettings:
    dj_role_id: int | None
    voice_idle_timeout: float
    stay_in_voice: bool
    member_analysis_limit: int
    profiles_public: bool
    announce_channel_id: int | None
    recap_monthly: bool = False

    def is_dj(self, caller: Caller) -> bool:
        return caller.has_role(self.dj_role_id)

    @property
    def idle_timeout(self) -> float | None:
        """Seconds before leaving an empty voice channel; None: stay (24/7)."""
        return None if self.stay_in_voice else self.voice_idle_timeout

    def lines(self) -> list[tuple[str, str]]:
        """(name, value) pairs to show, in words (roles and channels as Discord mentions)."""
        idle = _("leave after {time} idle").format(time=format_duration(self.voice_idle_timeout))
        voice = _("stay (24/7); with 24/7 off: {idle}").format(idle=idle) if self.stay_in_voice else idle
        limit = self.member_analysis_limit
        return [
            (_("DJ role"), f"<@&{self.dj_role_id}>" if self.dj_role_id else _("none (only the session's host)")),
            (_("Voice"), voice),
            (
                _("Analysis limit"),
                ngettext("{count} track at once per member", "{count} tracks at once per member", limit).format(
                    count=limit
                ),
            ),
            (
                _("Profiles"),
                _("members may see each other's taste") if self.profiles_public else _("private (yours only)"),
            ),
            (
                _("Announcements"),
                f"<#{self.announce_channel_id}>" if self.announce_channel_id else _("in the session's channel only"),
            ),
            (_("Monthly recap"), self.recap_line()),
        ]

    def recap_line(self) -> str:
        if not self.recap_monthly:
            return _("off")
        if self.announce_channel_id:
            return _("posted on the 1st of each month in {channel}").format(channel=f"<#{self.announce_channel_id}>")
        return _("posted on the 1st of each month in the server's system channel")


def idle_timeout_note(chosen: ServerSettings) -> str | None:
    """What a member who just set the idle timeout must know when 24/7 overrides it, else None."""
    if not chosen.stay_in_voice:
        return None
    return _(
        "24/7 is on, so Crate stays in voice and the idle timeout changes nothing now; once "
        "`stay_in_voice` is turned off, Crate leaves a voice channel nobody listens in after {time}."
    ).format(time=format_duration(chosen.voice_idle_timeout))


def defaults_from(settings: Settings) -> ServerSettings:
    return ServerSettings(
        dj_role_id=settings.dj_role_id,
        voice_idle_timeout=settings.voice_idle_timeout,
        stay_in_voice=settings.stay_in_voice,
        member_analysis_limit=settings.member_concurrent,
        profiles_public=settings.profiles_public,
        announce_channel_id=None,
        recap_monthly=False,
    )


def effective(defaults: ServerSettings, chosen: StoredSettings) -> ServerSettings:
    """The stored choice over the defaults (None: the default)."""
    overrides = {k: v for k, v in dataclasses.asdict(chosen).items() if v is not None}
    return dataclasses.replace(defaults, **overrides)


#: What /settings may clear back to the default.
CLEARABLE = ("dj_role", "voice", "analysis_limit", "profiles", "announcements", "recap")


class SettingsService:
    """Read and change servers' settings; reads are cached (every command of a server asks)."""

    def __init__(self, db: Database, settings: Settings, admission: Admission | None = None):
        self.db = db
        self.settings = settings
        self.defaults = defaults_from(settings)
        #: Where a server's per-member analysis limit takes effect (none for a bare service).
        self.admission = admission
        self._cache: dict[int, ServerSettings] = {}

    @property
    def analysis_limit_max(self) -> int:
        """The most tracks a server may let one member have analyzed at once: its own limit."""
        return max(1, int(self.settings.server_concurrent))

    async def get(self, guild_id: int) -> ServerSettings:
        cached = self._cache.get(guild_id)
        if cached is None:
            cached = self._cache[guild_id] = effective(self.defaults, await store.guild_settings(self.db, guild_id))
        return cached

    async def apply_stored(self) -> None:
        """Give each server that chose one its own per-member analysis limit (at start)."""
        if self.admission is not None:
            for guild_id, chosen in (await self.stored()).items():
                self.admission.set_member_limit(guild_id, chosen.member_analysis_limit)

    async def stored(self) -> dict[int, ServerSettings]:
        """Every server that chose something, as it runs (to apply the analysis limits at start)."""
        return {g: effective(self.defaults, chosen) for g, chosen in (await store.all_guild_settings(self.db)).items()}

    async def change(
        self,
        guild_id: int,
        caller: Caller,
        *,
        dj_role_id: int | None = None,
        voice_idle_timeout: float | None = None,
        stay_in_voice: bool | None = None,
        member_analysis_limit: int | None = None,
        profiles_public: bool | None = None,
        announce_channel_id: int | None = None,
        recap_monthly: bool | None = None,
        clear: str | None = None,
        server_roles: Collection[int] | None = None,
        server_channels: Collection[int] | None = None,
    ) -> ServerSettings:
        """Change what is given (None: unchanged); ``clear`` puts one setting (or ``"all"``) back to the default.

        ``server_roles`` and ``server_channels``, when the front end knows them, are this server's
        role ids and text channel ids: a DJ role or an announcement channel outside them (another
        server's, sent by a forged interaction) is refused, and nothing is stored.
        """
        if not caller.manages_server:
            raise NotServerManager(detail=f"user {caller.user_id} guild {guild_id}")
        if dj_role_id is not None and server_roles is not None and dj_role_id not in server_roles:
            raise NotThisServersRole(detail=f"guild {guild_id} role {dj_role_id}")
        if (
            announce_channel_id is not None
            and server_channels is not None
            and announce_channel_id not in server_channels
        ):
            raise NotThisServersChannel(detail=f"guild {guild_id} channel {announce_channel_id}")
        if voice_idle_timeout is not None and not 0 <= voice_idle_timeout <= MAX_IDLE_TIMEOUT:
            raise InvalidSetting(
                N_("The voice idle timeout must be between 0 seconds and a day (or choose stay in voice).")
            )
        top = self.analysis_limit_max
        if member_analysis_limit is not None and not 1 <= member_analysis_limit <= top:
            raise InvalidSetting(
                N_("The analysis limit must be between 1 and {top} (this server's own limit)."), values={"top": top}
            )
        chosen = await store.guild_settings(self.db, guild_id)
        if clear == "all":
            chosen = StoredSettings()
        elif clear is not None:
            if clear not in CLEARABLE:
                raise InvalidSetting(
                    N_("I can reset one of: {choices}, or all."), values={"choices": ", ".join(CLEARABLE)}
                )
            fields = {
                "dj_role": ("dj_role_id",),
                "voice": ("voice_idle_timeout", "stay_in_voice"),
                "analysis_limit": ("member_analysis_limit",),
                "profiles": ("profiles_public",),
                "announcements": ("announce_channel_id",),
                "recap": ("recap_monthly",),
            }[clear]
            chosen = dataclasses.replace(chosen, **dict.fromkeys(fields))
        given: dict[str, Any] = {
            "dj_role_id": dj_role_id,
            "voice_idle_timeout": voice_idle_timeout,
            "stay_in_voice": stay_in_voice,
            "member_analysis_limit": member_analysis_limit,
            "profiles_public": profiles_public,
            "announce_channel_id": announce_channel_id,
            "recap_monthly": recap_monthly,
        }
        chosen = dataclasses.replace(chosen, **{k: v for k, v in given.items() if v is not None})
        await store.save_guild_settings(self.db, guild_id, chosen)
        running = self._cache[guild_id] = effective(self.defaults, chosen)
        if self.admission is not None:
            self.admission.set_member_limit(guild_id, running.member_analysis_limit)
        return running


__all__ = [
    "CLEARABLE",
    "InvalidSetting",
    "NotServerManager",
    "NotThisServersChannel",
    "NotThisServersRole",
    "ServerSettings",
    "SettingsService",
    "defaults_from",
    "effective",
]
