"""/playlist: saved playlists per server, and the summary's "Save as playlist" button.

The playlists themselves are ``bot.app.playlists``; this cog parses, renders, and asks the Sessions
cog to open a session when ``/playlist play`` needs one.
"""

from __future__ import annotations

import io

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.playlists import PlaylistExport, to_json, to_m3u
from bot.format import clip, format_duration, literal
from bot.i18n import N_, _, ngettext
from bot.store.playlists import Playlist, PlaylistEntry
from cogs import replies
from cogs.caller import caller_of, guild_id_of
from cogs.client import CrateBot
from cogs.tracks import track_choices

PLAYLIST_COLOUR = 0x1DB954
SHOWN = 25


def playlist_embed(playlist: Playlist, entries: list[PlaylistEntry], *, blend: bool = False) -> discord.Embed:
    """``blend``: the playlist is a Blend, whose tracks Crate picks (nobody adds them by hand)."""
    lines = [
        f"{e.position}. **{literal(e.title, 70)}** · {literal(e.top_genre or '?')}"
        + (f" — <@{e.added_by}>" if e.added_by else "")
        for e in entries[:SHOWN]
    ]
    if len(entries) > SHOWN:
        lines.append(_("+{count} more (export it to see them all)").format(count=len(entries) - SHOWN))
    embed = discord.Embed(
        title=f"🎶 {literal(playlist.name, 100)}",
        description="\n".join(lines)
        or (
            _("Nothing in this Blend yet: Crate fills it as its members rate tracks with 👍 / 👎.")
            if blend
            else _("Empty — add tracks with `/playlist add`.")
        ),
        colour=PLAYLIST_COLOUR,
    )
    embed.add_field(name=_("Owner"), value=f"<@{playlist.owner_id}>")
    embed.add_field(name=_("Tracks"), value=str(len(entries)))
    return embed


def playlists_embed(playlists: list[Playlist]) -> discord.Embed:
    lines = [
        f"**{literal(p.name, 80)}** · "
        + ngettext("{count} track", "{count} tracks", p.track_count).format(count=p.track_count)
        + f" · <@{p.owner_id}>"
        for p in playlists[:SHOWN]
    ]
    return discord.Embed(
        title=_("This server's playlists"),
        description="\n".join(lines) or _("None yet — make one with `/playlist create`."),
        colour=PLAYLIST_COLOUR,
    )


def export_files(export: PlaylistExport, names) -> list[discord.File]:
    return [
        discord.File(io.BytesIO(to_m3u(export).encode()), filename=f"{export.stem}.m3u"),
        discord.File(io.BytesIO(to_json(export, names).encode()), filename=f"{export.stem}.json"),
    ]


class SavePlaylistButton(replies.IdButton, kind="saveplaylist", emoji="💾", label=N_("Save as playlist")):
    """On a session's summary: save what played as a playlist owned by whoever clicks."""

    async def answer(self, interaction: discord.Interaction[CrateBot]) -> None:
        await replies.defer(interaction, ephemeral=True)  # acknowledge before writing
        saved = await interaction.client.crate.playlists.save_session(
            guild_id_of(interaction), caller_of(interaction), self.target_id
        )
        await replies.send(
            interaction,
            content=_("💾 Saved as the playlist **{name}** ({tracks}). Play it again with `/playlist play`.").format(
                name=literal(saved.name),
                tracks=ngettext("{count} track", "{count} tracks", saved.track_count).format(count=saved.track_count),
            ),
            ephemeral=True,
        )


def summary_view(session_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(SavePlaylistButton(session_id))
    return view


class Playlists(commands.GroupCog, group_name="playlist", group_description="Saved playlists of this server"):
    def __init__(self, bot: CrateBot):
        self.bot: CrateBot = bot

    @property
    def service(self):
        return self.bot.crate.playlists

    @app_commands.command(name="create", description="Make a new playlist (you own it)")
    @app_commands.describe(name="Its name (unique in this server)")
    @app_commands.guild_only()
    async def create(self, interaction: discord.Interaction[CrateBot], name: app_commands.Range[str, 1, 100]) -> None:
        await replies.defer(interaction)
        playlist = await self.service.create(interaction.guild_id, caller_of(interaction), name)
        await replies.send(
            interaction,
            content=_("🎶 Made the playlist **{name}**. Add tracks to it with `/playlist add`.").format(
                name=literal(playlist.name)
            ),
        )

    @app_commands.command(name="add", description="Add a track: the one playing here, or your last one, by default")
    @app_commands.describe(
        name="The playlist",
        track="A track from this server's catalog (default: what plays in this channel's session, else your last track)",
    )
    @app_commands.guild_only()
    async def add(self, interaction: discord.Interaction[CrateBot], name: str, track: int | None = None) -> None:
        await replies.defer(interaction, ephemeral=True)
        added = await self.service.add(
            interaction.guild_id, caller_of(interaction), name, track, channel_id=interaction.channel_id
        )
        title = literal(added.track.title, 80)
        if not added.added:
            text = _("**{title}** is already in **{name}**.").format(title=title, name=literal(added.playlist.name))
        else:
            text = _("➕ Added **{title}** to **{name}** ({tracks}).").format(
                title=title,
                name=literal(added.playlist.name),
                tracks=ngettext("{count} track", "{count} tracks", added.playlist.track_count).format(
                    count=added.playlist.track_count
                ),
            )
        await replies.send(interaction, content=text, ephemeral=True)

    @app_commands.command(name="remove", description="Take a track out of a playlist")
    @app_commands.describe(name="The playlist", track="The track to remove")
    @app_commands.guild_only()
    async def remove(self, interaction: discord.Interaction[CrateBot], name: str, track: int) -> None:
        await replies.defer(interaction, ephemeral=True)
        playlist, removed = await self.service.remove(interaction.guild_id, caller_of(interaction), name, track)
        await replies.send(
            interaction,
            content=_("➖ Removed **{title}** from **{name}**.").format(
                title=literal(removed.title, 80), name=literal(playlist.name)
            ),
            ephemeral=True,
        )

    @app_commands.command(name="show", description="A playlist's tracks (or every playlist of this server)")
    @app_commands.describe(name="The playlist (default: list them all)")
    @app_commands.guild_only()
    async def show(self, interaction: discord.Interaction[CrateBot], name: str | None = None) -> None:
        await replies.defer(interaction, ephemeral=True)
        if name is None:
            embed = playlists_embed(await self.service.all(interaction.guild_id))
        else:
            playlist, entries = await self.service.entries(interaction.guild_id, name)
            blend = await self.service.is_blend(interaction.guild_id, playlist)
            embed = playlist_embed(playlist, entries, blend=blend)
        await replies.send(interaction, embed=embed, ephemeral=True)

    @app_commands.command(
        name="play", description="Queue a playlist in this channel's session (starting one if needed)"
    )
    @app_commands.describe(name="The playlist")
    @app_commands.guild_only()
    async def play(self, interaction: discord.Interaction[CrateBot], name: str) -> None:
        if self.bot.sessions is not None:  # loaded with the other cogs; absent only in a partial test bot
            await self.bot.sessions.play_playlist(interaction, name)

    @app_commands.command(name="delete", description="Delete a playlist")
    @app_commands.describe(name="The playlist")
    @app_commands.guild_only()
    async def delete(self, interaction: discord.Interaction[CrateBot], name: str) -> None:
        await replies.defer(interaction, ephemeral=True)
        playlist = await self.service.delete(interaction.guild_id, caller_of(interaction), name)
        await replies.send(
            interaction,
            content=_("🗑 Deleted the playlist **{name}**.").format(name=literal(playlist.name)),
            ephemeral=True,
        )

    @app_commands.command(name="export", description="A playlist as M3U and JSON files")
    @app_commands.describe(name="The playlist")
    @app_commands.guild_only()
    async def export(self, interaction: discord.Interaction[CrateBot], name: str) -> None:
        await replies.defer(interaction, ephemeral=True)  # renewing attachment links takes a moment
        export = await self.service.export(interaction.guild_id, name)
        names = await self.bot.crate.members.display_names(guild_id_of(interaction))
        await replies.send(
            interaction,
            content=_(
                "📤 **{name}**: {tracks} ({length}) as M3U and JSON. Attachment links in them expire after about a day."
            ).format(
                name=literal(export.playlist.name),
                tracks=ngettext("{count} track", "{count} tracks", len(export.tracks)).format(count=len(export.tracks)),
                length=format_duration(sum(t.track.duration for t in export.tracks)),
            ),
            files=export_files(export, names),
            ephemeral=True,
        )

    @add.autocomplete("name")
    @remove.autocomplete("name")
    @show.autocomplete("name")
    @play.autocomplete("name")
    @delete.autocomplete("name")
    @export.autocomplete("name")
    async def name_autocomplete(
        self, interaction: discord.Interaction[CrateBot], current: str
    ) -> list[app_commands.Choice[str]]:
        found = await self.service.search(interaction.guild_id, current)
        return [app_commands.Choice(name=clip(p.name, 100), value=p.name) for p in found[:25]]

    @add.autocomplete("track")
    async def track_autocomplete(
        self, interaction: discord.Interaction[CrateBot], current: str
    ) -> list[app_commands.Choice[int]]:
        return await track_choices(interaction, current)

    @remove.autocomplete("track")
    async def entry_autocomplete(
        self, interaction: discord.Interaction[CrateBot], current: str
    ) -> list[app_commands.Choice[int]]:
        name = getattr(interaction.namespace, "name", None)
        if not name:
            return []
        try:
            _, entries = await self.service.entries(interaction.guild_id, name)
        except Exception:
            return []
        needle = current.strip().casefold()
        return [
            app_commands.Choice(name=clip(f"{e.position}. {e.title}", 100), value=e.track_id)
            for e in entries
            if needle in e.title.casefold()
        ][:25]


async def setup(bot: CrateBot) -> None:
    bot.add_dynamic_items(SavePlaylistButton)
    await bot.add_cog(Playlists(bot))
