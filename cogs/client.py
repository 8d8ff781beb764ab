"""The Discord client: loads the cogs, registers persistent buttons, turns errors into replies."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
from collections.abc import Iterator
from typing import Protocol

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot import i18n
from bot.app.crate import Crate
from bot.app.sharing import Restarting
from bot.config import ConfigError, Settings
from bot.errors import CrateError, UnknownChoice
from bot.i18n import speaking
from bot.jobs import queue
from bot.store.sessions import QueueEntry
from cogs import replies
from cogs.render import error_embed
from cogs.translator import CrateTranslator

log = logging.getLogger(__name__)

EXTENSIONS = (
    "cogs.genre",
    "cogs.albums",
    "cogs.feedback",
    "cogs.teach",
    "cogs.recommend",
    "cogs.profile",
    "cogs.sessions",
    "cogs.analyze",
    "cogs.taste",
    "cogs.community",
    "cogs.soundmap",
    "cogs.playlist",
    "cogs.blend",
    "cogs.recap",
    "cogs.settings",
    "cogs.help",
)


_ATTACHMENT_PATH = re.compile(r"/attachments/\d+/(\d+)/")


def _attachment_id(url: str) -> int | None:
    match = _ATTACHMENT_PATH.search(url)
    return int(match.group(1)) if match else None


def point_discord_at(api_base: str | None, gateway_url: str | None) -> None:
    """Use another REST base URL and gateway (an HTTP proxy in production, a fake in tests).

    discord.py 2.7 has no parameter for either: every REST route (webhook follow-ups included)
    is built from ``Route.BASE``, and ``Client.connect`` dials ``DEFAULT_GATEWAY`` without asking
    REST. Both are class attributes meant as defaults, so this sets them before login.
    """
    if api_base:
        Route.BASE = api_base.rstrip("/")
    if gateway_url:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


class CrateTree(app_commands.CommandTree["CrateBot"]):
    """One error handler for every slash command: typed errors become friendly replies; and
    every command, menu and autocomplete answers in the member's language."""

    async def interaction_check(self, interaction: discord.Interaction[CrateBot]) -> bool:
        replies.speak_like(interaction)
        return True

    async def on_error(self, interaction: discord.Interaction[CrateBot], error: app_commands.AppCommandError) -> None:
        if isinstance(error, app_commands.TransformerError):  # Discord's client only sends what it listed here
            await replies.report_error(interaction, UnknownChoice(detail=str(error)))
            return
        await replies.report_error(interaction, getattr(error, "original", error))


class SessionsFront(Protocol):
    """What other cogs ask of the session cog, which registers itself as :attr:`CrateBot.sessions`
    when it loads (a typed accessor: no cog imports another's class to call it)."""

    async def open_session(
        self,
        interaction: discord.Interaction[CrateBot],
        voice_channel: discord.VoiceChannel | None,
        *,
        radio_seed: int | None = None,
        playlist: str | None = None,
    ) -> None: ...

    async def play_playlist(self, interaction: discord.Interaction[CrateBot], name: str) -> None: ...

    async def play_path(
        self, interaction: discord.Interaction[CrateBot], from_track: int, to_track: int, length: int
    ) -> None: ...

    async def voice_settings_changed(self, guild_id: int) -> None: ...

    async def queue_track(self, interaction: discord.Interaction[CrateBot], track_id: int) -> QueueEntry: ...


class CrateBot(commands.AutoShardedBot):
    """Each cog's ``setup`` registers its own persistent buttons with ``add_dynamic_items``.

    Sharded always, over the shards of ``settings.shards`` (one shard of one by default, which
    is what a plain ``commands.Bot`` runs): past one process each runs a range of the shards
    (CRATE_SHARD_COUNT, CRATE_SHARD_IDS), and Discord sends each guild's events to its shard.
    """

    def __init__(self, settings: Settings, crate: Crate | None):
        intents = discord.Intents.default()
        intents.voice_states = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=CrateTree,
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
            shard_count=settings.shards.count,
            shard_ids=list(settings.shards.ids),
        )
        self.settings = settings
        self._crate = crate
        #: Interactions still being worked on (a /genre analysis): answered if Crate stops meanwhile.
        self.in_flight: dict[asyncio.Task, discord.Interaction[CrateBot]] = {}
        #: The session cog, once loaded (:class:`SessionsFront`).
        self.sessions: SessionsFront | None = None
        if crate is not None:
            crate.sharing.refresh_link = self.refresh_attachment_link

    @property
    def crate(self) -> Crate:
        """The core every cog goes through. Only ``crate run --sync-global`` runs without one: it
        loads the cogs to describe their commands, and never handles an interaction."""
        if self._crate is None:
            raise RuntimeError("this bot runs without a Crate (crate run --sync-global describes commands only)")
        return self._crate

    @property
    def has_crate(self) -> bool:
        """Whether a Crate is attached (not for ``crate run --sync-global``)."""
        return self._crate is not None

    @contextlib.contextmanager
    def working_on(self, interaction: discord.Interaction[CrateBot]) -> Iterator[None]:
        """Remember ``interaction`` as in flight for the duration of the block (the current task)."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("working_on() runs inside a task")
        self.in_flight[task] = interaction
        # stored with a queued job, so a bot process sweeping it after a crash can tell the member
        asked = queue.ASKED.set((interaction.application_id, interaction.token, interaction.created_at.timestamp()))
        try:
            yield
        finally:
            queue.ASKED.reset(asked)
            self.in_flight.pop(task, None)

    async def close(self) -> None:
        """Stop: first tell members whose request is in flight, while the connection is still up."""
        pending, self.in_flight = self.in_flight, {}
        for task in pending:
            task.cancel()
        for interaction in pending.values():
            with speaking(interaction.locale):  # in the language of the member who waits
                text = replies.error_text(Restarting())
            try:
                await interaction.edit_original_response(content=None, embed=error_embed(text), view=None)
            except discord.HTTPException:
                log.warning("could not tell a member about the restart")
        await asyncio.gather(*pending, return_exceptions=True)
        if not hasattr(self, "_AutoShardedClient__queue"):
            # discord.py 2.7's AutoShardedClient.close() posts to an event queue that only
            # connect() creates: a bot closed without connecting (`crate run --sync-global`,
            # tests that only inspect the commands) would fail there.
            self._AutoShardedClient__queue: asyncio.PriorityQueue = asyncio.PriorityQueue()
        await super().close()

    async def refresh_attachment_link(self, url: str, channel_id: int | None, message_id: int | None) -> str:
        """A fresh URL for an attachment (Discord's links expire after about a day): from its
        message when known, else Discord's ``POST /attachments/refresh-urls``."""
        attachment_id = _attachment_id(url)
        if channel_id and message_id and attachment_id:
            with contextlib.suppress(discord.HTTPException):
                message = await self.http.get_message(channel_id, message_id)
                for attachment in message.get("attachments", []):
                    if int(attachment["id"]) == attachment_id:
                        return attachment["url"]
        data = await self.http.request(Route("POST", "/attachments/refresh-urls"), json={"attachment_urls": [url]})
        return data["refreshed_urls"][0]["refreshed"]

    async def tell_interrupted(self, application_id: int, token: str, language: str = i18n.SOURCE) -> None:
        """Tell a member whose analysis a crashed Crate process left behind to share again (the
        words SIGTERM uses, :meth:`close`), through the interaction's webhook, in the language
        they were answered in (stored with the job)."""
        with i18n.speaking(language):
            embed = error_embed(replies.error_text(Restarting()))
        route = Route(
            "PATCH", "/webhooks/{application_id}/{token}/messages/@original", application_id=application_id, token=token
        )
        await self.http.request(route, json={"content": None, "embeds": [embed.to_dict()], "components": []})

    async def setup_hook(self) -> None:
        if self.has_crate and isinstance(self.crate.pool, queue.AnalysisQueue):
            # after login (the webhook needs the session), before any interaction: the members a
            # crashed process left waiting are told, its rows and jobs removed
            self.crate.pool.tell_interrupted = self.tell_interrupted
            await self.crate.pool.sweep()
        for extension in EXTENSIONS:
            try:
                await self.load_extension(extension)
            except Exception:
                log.exception("failed to load extension %s", extension)
                raise
        await self.tree.set_translator(CrateTranslator())
        guild_id = self.settings.discord_guild_id
        if guild_id and self.settings.shards.primary:  # one process syncs, not every shard's
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to guild %s", len(synced), guild_id)

    async def on_interaction(self, interaction: discord.Interaction[CrateBot]) -> None:
        """Remember each member's name: without the GUILD_MEMBERS intent this is how it reaches us."""
        await remember_member(self._crate, interaction.guild_id, interaction.user, interaction.data)

    async def on_voice_state_update(self, member: discord.Member, before, after) -> None:
        await remember_member(self._crate, member.guild.id, member, None)

    async def on_ready(self) -> None:
        log.info("connected as %s to %d servers on %s", self.user, len(self.guilds), self.settings.shards.describe())


async def remember_member(crate: Crate | None, guild_id: int | None, user, data) -> None:
    """Store ``user``'s display name for this guild, except on the way to /forget."""
    if crate is None or guild_id is None or getattr(user, "bot", False):
        return
    data = data or {}
    if data.get("name") == "forget" or str(data.get("custom_id", "")).startswith("crate:forget:"):
        return
    try:
        await crate.members.remember_name(guild_id, user.id, user.display_name)
    except CrateError as error:  # a known state (the database busy or read-only): the command says it
        log.warning("could not remember the name of member %s: %s", user.id, type(error).__name__)
    except Exception:
        log.exception("could not remember the name of member %s", user.id)


def _require_token(settings: Settings) -> str:
    if not settings.discord_token:
        raise ConfigError("DISCORD_TOKEN is not set: put the bot token in .env (see .env.example).")
    return settings.discord_token


async def run_bot(settings: Settings) -> None:
    """Start Crate on Discord until cancelled or interrupted (``crate run``)."""
    token = _require_token(settings)
    point_discord_at(settings.discord_api_base, settings.discord_gateway_url)
    stop_on_sigterm()
    async with Crate.running(settings) as crate, CrateBot(settings, crate) as bot:
        try:
            await bot.start(token)
        except discord.LoginFailure as error:  # an operator's mistake: one line, not a traceback
            raise ConfigError(f"Discord refused DISCORD_TOKEN ({error}); check the bot token in .env.") from error
        except (aiohttp.ClientConnectionError, OSError) as error:
            raise CrateError(f"Crate could not reach Discord: {error}", detail=repr(error)) from error


def stop_on_sigterm() -> None:
    """SIGTERM (``docker stop``, systemd, ``kill``) stops Crate the way Ctrl-C does.

    The running task is cancelled, so every ``async with`` unwinds: in-flight members are told
    (``CrateBot.close``), the workers stop, and the database is closed (its WAL checkpointed).
    As PID 1 in a container a process has no default SIGTERM action at all, so this is needed
    there too.
    """
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None  # awaited in Crate's main task

    def stop() -> None:
        log.info("SIGTERM: stopping")
        main.cancel()

    loop.add_signal_handler(signal.SIGTERM, stop)


async def sync_commands(settings: Settings) -> int:
    """Publish the slash commands globally (``crate run --sync-global``); returns how many.

    Global commands take a while to reach every server, so this is done on demand, not at
    every start (set DISCORD_GUILD_ID to sync one development server instantly at start).
    """
    token = _require_token(settings)
    point_discord_at(settings.discord_api_base, settings.discord_gateway_url)
    async with CrateBot(settings, crate=None) as bot:  # no analysis needed to describe the commands
        await bot.login(token)  # setup_hook: the cogs and the translator
        synced = await bot.tree.sync()
    log.info("synced %d commands globally", len(synced))
    return len(synced)
