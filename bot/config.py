"""Settings read once from the environment (and an optional ``.env`` file), with defaults.

Every variable is documented in ``.env.example``. ``Settings.from_env()`` validates the
values and raises ``ConfigError`` with a readable message when one is wrong.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot import database_url as dburl
from bot.errors import CrateError
from bot.format import format_bytes
from bot.i18n import N_
from bot.shards import ShardPlan, parse_shard_ids


@dataclass(frozen=True)
class AdmissionLimits:
    capacity: int = 10
    member_concurrent: int = 1
    member_queued: int = 1
    server_concurrent: int = 3
    server_queued: int = 3

    def __post_init__(self) -> None:
        if min(self.capacity, self.member_concurrent, self.server_concurrent) < 1:
            raise ValueError("capacity and concurrent limits must be at least 1")
        if min(self.member_queued, self.server_queued) < 0:
            raise ValueError("queued limits must be at least 0")

    @property
    def per_member(self) -> int:
        return self.member_concurrent + self.member_queued

    @property
    def per_server(self) -> int:
        return self.server_concurrent + self.server_queued


class ConfigError(CrateError):
    user_message = N_("Crate's configuration is invalid.")


@dataclass(frozen=True)
class AudioLimits:
    """What Crate accepts as input; enforced before and while decoding."""

    max_bytes: int = 100 * 1024 * 1024
    max_duration: float = 90 * 60.0
    min_duration: float = 5.0

    def describe_bytes(self) -> str:
        """The size limit as people read it everywhere (:func:`bot.format.format_bytes`)."""
        return format_bytes(self.max_bytes)


@dataclass(frozen=True)
class Settings:
    discord_token: str | None = None
    discord_api_base: str | None = None
    discord_gateway_url: str | None = None
    discord_guild_id: int | None = None
    database_path: Path = Path("crate.sqlite3")
    #: ``postgresql://…``: the store lives in PostgreSQL instead of the SQLite file ``database_path``.
    #: Never in the settings' repr: it may hold the password (messages show ``bot.database_url.shown``).
    database_url: str | None = field(default=None, repr=False)
    #: Where analysis jobs run: "pool" (worker processes of this process) or "postgres" (``crate worker``s).
    queue: str = "pool"
    workers: int = 2
    queue_depth: int = 8
    job_timeout: float = 120.0
    download_timeout: float = 30.0
    download_deadline: float = 120.0
    max_page_bytes: int = 5 * 1024 * 1024
    member_concurrent: int = 1
    member_queued: int = 1
    server_concurrent: int = 3
    server_queued: int = 3
    url_allowlist: tuple[str, ...] = ()
    #: Streaming services' base URLs replaced (CRATE_SERVICE_URLS), by name: spotify, apple, deezer, tidal.
    service_urls: Mapping[str, str] = field(default_factory=dict)
    genre_model_path: Path | None = None
    voice_idle_timeout: float = 300.0
    #: Defaults of the per-server settings (/settings overrides them per server, see bot.app.settings).
    stay_in_voice: bool = False
    profiles_public: bool = True
    dj_role_id: int | None = None
    limits: AudioLimits = field(default_factory=AudioLimits)
    shards: ShardPlan = field(default_factory=ShardPlan)
    sweep_interval: float = 600.0

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, dotenv_path: str | os.PathLike | None = ".env"
    ) -> Settings:
        """Build settings from ``env`` (default: ``os.environ`` plus ``.env`` if present).

        Real environment variables win over the ``.env`` file.
        """
        if env is None:
            merged: dict[str, str] = {}
            if dotenv_path is not None and Path(dotenv_path).is_file():
                from dotenv import dotenv_values

                merged.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
            merged.update(os.environ)
            env = merged
        reader = _Reader(env)
        defaults = AudioLimits()
        limits = AudioLimits(
            max_bytes=reader.integer("CRATE_MAX_INPUT_BYTES", defaults.max_bytes, minimum=1),
            max_duration=reader.number("CRATE_MAX_DURATION", defaults.max_duration, minimum=1),
            min_duration=reader.number("CRATE_MIN_DURATION", defaults.min_duration, minimum=0),
        )
        if limits.min_duration >= limits.max_duration:
            raise ConfigError("CRATE_MIN_DURATION must be smaller than CRATE_MAX_DURATION.")
        model = reader.text("CRATE_GENRE_MODEL")
        member_concurrent = reader.integer("CRATE_MEMBER_CONCURRENT", cls.member_concurrent, minimum=1)
        member_queued = reader.integer("CRATE_MEMBER_QUEUED", cls.member_queued, minimum=0)
        server_concurrent = reader.integer("CRATE_SERVER_CONCURRENT", cls.server_concurrent, minimum=1)
        server_queued = reader.integer("CRATE_SERVER_QUEUED", cls.server_queued, minimum=0)
        if member_concurrent > server_concurrent:
            raise ConfigError("CRATE_MEMBER_CONCURRENT must not be larger than CRATE_SERVER_CONCURRENT.")
        if member_concurrent + member_queued > server_concurrent + server_queued:
            raise ConfigError(
                "One member may not hold more tracks than a whole server: CRATE_MEMBER_CONCURRENT + "
                "CRATE_MEMBER_QUEUED must not be larger than CRATE_SERVER_CONCURRENT + CRATE_SERVER_QUEUED."
            )
        return cls(
            discord_token=reader.text("DISCORD_TOKEN"),
            discord_api_base=reader.text("DISCORD_API_BASE"),
            discord_gateway_url=reader.text("DISCORD_GATEWAY_URL"),
            discord_guild_id=reader.optional_integer("DISCORD_GUILD_ID"),
            database_path=Path(reader.text("CRATE_DATABASE") or cls.database_path),
            database_url=_database_url(reader.text("CRATE_DATABASE_URL")),
            queue=_queue(reader.text("CRATE_QUEUE"), reader.text("CRATE_DATABASE_URL")),
            workers=reader.integer("CRATE_WORKERS", cls.workers, minimum=1),
            queue_depth=reader.integer("CRATE_QUEUE_DEPTH", cls.queue_depth, minimum=1),
            job_timeout=reader.number("CRATE_JOB_TIMEOUT", cls.job_timeout, minimum=1),
            download_timeout=reader.number("CRATE_DOWNLOAD_TIMEOUT", cls.download_timeout, minimum=1),
            download_deadline=reader.number("CRATE_DOWNLOAD_DEADLINE", cls.download_deadline, minimum=1),
            max_page_bytes=reader.integer("CRATE_MAX_PAGE_BYTES", cls.max_page_bytes, minimum=64 * 1024),
            member_concurrent=member_concurrent,
            member_queued=member_queued,
            server_concurrent=server_concurrent,
            server_queued=server_queued,
            url_allowlist=reader.words("CRATE_URL_ALLOWLIST"),
            service_urls=_service_urls(reader.text("CRATE_SERVICE_URLS") or ""),
            genre_model_path=Path(model) if model else None,
            voice_idle_timeout=reader.number("CRATE_VOICE_IDLE_TIMEOUT", cls.voice_idle_timeout, minimum=0),
            stay_in_voice=reader.boolean("CRATE_STAY_IN_VOICE", cls.stay_in_voice),
            profiles_public=reader.boolean("CRATE_PROFILES_PUBLIC", cls.profiles_public),
            dj_role_id=reader.optional_integer("CRATE_DJ_ROLE_ID"),
            limits=limits,
            shards=_shard_plan(reader),
            sweep_interval=reader.number("CRATE_SWEEP_INTERVAL", cls.sweep_interval, minimum=1),
        )

    @property
    def database_target(self) -> Path | str:
        """What :func:`bot.store.open_database` opens: the PostgreSQL URL if set, else the SQLite file."""
        return self.database_url or self.database_path

    @property
    def admission(self) -> AdmissionLimits:
        """Who may have tracks fetched and analyzed at once (see ``bot.jobs.admission``)."""
        return AdmissionLimits(
            capacity=self.workers + self.queue_depth,
            member_concurrent=self.member_concurrent,
            member_queued=self.member_queued,
            server_concurrent=self.server_concurrent,
            server_queued=self.server_queued,
        )


def _database_url(value: str | None) -> str | None:
    """The URL as given, once libpq can read it (:func:`bot.database_url.parse` says why not)."""
    if value is not None and not dburl.is_database_url(value):
        raise ConfigError(
            "CRATE_DATABASE_URL must be a postgresql:// URL (for SQLite, set CRATE_DATABASE to a file instead)."
        )
    if value is not None:
        dburl.parse(value)
    return value


def _queue(value: str | None, database_url: str | None) -> str:
    queue = (value or "pool").lower()
    if queue not in ("pool", "postgres"):
        raise ConfigError(f"CRATE_QUEUE must be pool or postgres, not {value!r}.")
    if queue == "postgres" and not database_url:
        raise ConfigError("CRATE_QUEUE=postgres needs CRATE_DATABASE_URL: the queue lives in that PostgreSQL.")
    return queue


def _shard_plan(reader: _Reader) -> ShardPlan:
    count = reader.integer("CRATE_SHARD_COUNT", 1, minimum=1)
    raw_ids = reader.text("CRATE_SHARD_IDS")
    try:
        ids = parse_shard_ids(raw_ids) if raw_ids else None
    except ValueError:
        raise ConfigError(f"CRATE_SHARD_IDS must be shard numbers or ranges such as 0-3,5, not {raw_ids!r}.") from None
    if ids is not None and any(i >= count for i in ids):
        raise ConfigError(f"CRATE_SHARD_IDS must lie in 0-{count - 1} (CRATE_SHARD_COUNT is {count}), not {raw_ids!r}.")
    return ShardPlan.of(count, ids, reader.flag("CRATE_PRIMARY"))


class _Reader:
    """Typed access to string settings, with errors that name the variable."""

    def __init__(self, env: Mapping[str, str]):
        self._env = env

    def text(self, name: str) -> str | None:
        value = self._env.get(name, "").strip()
        return value or None

    def words(self, name: str) -> tuple[str, ...]:
        value = self.text(name) or ""
        return tuple(word for word in value.replace(",", " ").split() if word)

    def integer(self, name: str, default: int, *, minimum: int) -> int:
        value = self.optional_integer(name)
        value = default if value is None else value
        if value < minimum:
            raise ConfigError(f"{name} must be at least {minimum}, not {value}.")
        return value

    def flag(self, name: str) -> bool | None:
        raw = self.text(name)
        if raw is None:
            return None
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name} must be 1 or 0, not {raw!r}.")

    def optional_integer(self, name: str) -> int | None:
        raw = self.text(name)
        if raw is None:
            return None
        try:
            return int(raw.replace("_", ""))
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, not {raw!r}.") from None

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.text(name)
        if raw is None:
            return default
        value = raw.lower()
        if value in {"1", "true", "yes", "on"}:
            return True
        if value in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{name} must be true or false, not {raw!r}.")

    def number(self, name: str, default: float, *, minimum: float) -> float:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, not {raw!r}.") from None
        if value < minimum:
            raise ConfigError(f"{name} must be at least {minimum:g}, not {value:g}.")
        return value


#: The streaming services whose endpoints ``CRATE_SERVICE_URLS`` may point elsewhere
#: (``bot.audio.services.DEFAULT_SERVICE_URLS`` names the same ones).
SERVICES = ("spotify", "apple", "deezer", "tidal")


def _service_urls(text: str) -> dict[str, str]:
    """``CRATE_SERVICE_URLS``: comma-separated ``name=base-url``."""
    bases: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, base = item.partition("=")
        name, base = name.strip().lower(), base.strip()
        if not sep or name not in SERVICES or not base.startswith(("http://", "https://")):
            raise ConfigError(
                f"CRATE_SERVICE_URLS: {item!r} is not name=http(s)://base-url with a name among {', '.join(SERVICES)}."
            )
        bases[name] = base
    return bases
