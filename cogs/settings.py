"""/settings: this server's settings (Manage Server only). The settings are ``bot.app.settings``.

Discord hides the command from members without Manage Server (``default_member_permissions``),
and Crate checks the permission again on its side: a server can override who sees a command.
"""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.settings import NotServerManager, ServerSettings, idle_timeout_note
from bot.i18n import _, ngettext
from cogs import replies
from cogs.caller import caller_of, guild_id_of
from cogs.client import CrateBot

Reset = Literal["dj_role", "voice", "analysis_limit", "profiles", "announcements", "recap", "all"]


def settings_embed(chosen: ServerSettings, *, changed: bool) -> discord.Embed:
    title = _("Crate's settings here") + (" " + _("(saved)") if changed else "")
    embed = discord.Embed(title=title, colour=0x1DB954)
    for name, value in chosen.lines():
        embed.add_field(name=name, value=value, inline=False)
    embed.set_footer(text=_("Change one with /settings <option>; reset: puts one (or all) back to the default."))
    return embed


class ServerSettingsCog(commands.Cog, name="Settings"):
    def __init__(self, bot: CrateBot):
        self.bot: CrateBot = bot

    @app_commands.command(name="settings", description="Crate's settings for this server (Manage Server only)")
    @app_commands.describe(
        dj_role="Members with this role may skip at once and end any session",
        stay_in_voice="Stay in voice even when nobody listens (24/7)",
        voice_idle_timeout="Seconds before leaving a voice channel nobody listens in",
        analysis_limit="Tracks one member may have analyzed at the same time (up to this server's own limit)",
        profiles_public="Whether /profile member: may show other members' taste",
        announcements="A channel where Crate also announces new sessions (and posts the monthly recap)",
        recap="Post the server's recap of the month on the 1st of each month (announcements, else system channel)",
        reset="Put one setting (or all) back to Crate's default",
    )
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    async def settings(
        self,
        interaction: discord.Interaction[CrateBot],
        dj_role: discord.Role | None = None,
        stay_in_voice: bool | None = None,
        voice_idle_timeout: app_commands.Range[int, 0, 86_400] | None = None,
        analysis_limit: app_commands.Range[int, 1, 10] | None = None,
        profiles_public: bool | None = None,
        announcements: discord.TextChannel | None = None,
        recap: bool | None = None,
        reset: Reset | None = None,
    ) -> None:
        await replies.defer(interaction, ephemeral=True)  # acknowledge before writing
        caller = caller_of(interaction)
        asked = (
            dj_role,
            stay_in_voice,
            voice_idle_timeout,
            analysis_limit,
            profiles_public,
            announcements,
            recap,
            reset,
        )
        crate, guild = self.bot.crate, interaction.guild
        if all(value is None for value in asked):
            if not caller.manages_server:
                raise NotServerManager(detail=f"user {caller.user_id} guild {interaction.guild_id}")
            chosen = await crate.server_settings.get(guild_id_of(interaction))
            await replies.send(interaction, embed=settings_embed(chosen, changed=False), ephemeral=True)
            return
        chosen = await crate.server_settings.change(
            guild_id_of(interaction),
            caller,
            dj_role_id=dj_role.id if dj_role else None,
            stay_in_voice=stay_in_voice,
            voice_idle_timeout=float(voice_idle_timeout) if voice_idle_timeout is not None else None,
            member_analysis_limit=analysis_limit,
            profiles_public=profiles_public,
            announce_channel_id=announcements.id if announcements else None,
            recap_monthly=recap,
            clear=reset,
            # what this server has: a forged option naming another server's role or channel is refused
            server_roles={role.id for role in guild.roles} if guild else None,
            server_channels={channel.id for channel in guild.text_channels} if guild else None,
        )
        if self.bot.sessions is not None:  # a player in voice now follows the new timeout / 24/7 at once
            await self.bot.sessions.voice_settings_changed(guild_id_of(interaction))
        note = idle_timeout_note(chosen) if voice_idle_timeout is not None else None
        if recap and not chosen.announce_channel_id and guild is not None and guild.system_channel is None:
            note = _(
                "This server has no system channel and no announcements channel: choose one with "
                "`/settings announcements:` so Crate can post the monthly recap."
            )
        await replies.send(interaction, content=note, embed=settings_embed(chosen, changed=True), ephemeral=True)

    @settings.autocomplete("analysis_limit")
    async def analysis_limit_choices(
        self, interaction: discord.Interaction[CrateBot], current: str
    ) -> list[app_commands.Choice[int]]:
        """Exactly what /settings accepts: 1 up to this server's own limit."""
        top = self.bot.crate.server_settings.analysis_limit_max
        return [
            app_commands.Choice(
                name=ngettext("{count} track at once per member", "{count} tracks at once per member", n).format(
                    count=n
                ),
                value=n,
            )
            for n in range(1, min(top, 25) + 1)
            if not current.strip() or str(n).startswith(current.strip())
        ]


async def setup(bot: CrateBot) -> None:
    await bot.add_cog(ServerSettingsCog(bot))
