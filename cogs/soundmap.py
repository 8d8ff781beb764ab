"""/map (the server's music placed by sound, as an image), the 📍 "Where is this?" button under
every track (the map with that track pinned, privately), and /path (a session queue that walks
from one track to another; the session cog queues it)."""

from __future__ import annotations

import io

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.soundmap import MapImage
from bot.format import literal
from bot.genres import FAMILIES, display_name
from bot.i18n import N_, _, ngettext, number
from bot.recommend.songpath import DEFAULT_LENGTH, MAX_LENGTH, MIN_LENGTH
from cogs import replies
from cogs.caller import guild_id_of
from cogs.client import CrateBot
from cogs.tracks import track_choices

MAP_NAME = "map.png"
MAP_COLOUR = 0x5865F2


def map_embed(image: MapImage, *, title: str, member: str | None, pinned: str | None = None) -> discord.Embed:
    """The embed the map is shown in; ``member`` and ``pinned`` are names already made literal."""
    placed = image.sound_map
    embed = discord.Embed(title=title, colour=MAP_COLOUR)
    lines = [_("Each dot is a track; close together means a similar sound.")]
    if placed.shown < placed.total:
        lines.append(
            _("{shown} of {total} tracks drawn.").format(shown=number(placed.shown), total=number(placed.total))
        )
    if placed.family and placed.in_family:
        lines.append(_("Highlighted: **{family}**.").format(family=literal(display_name(placed.family))))
    elif placed.family:
        lines.append(
            _("No track here is filed under **{family}** yet.").format(family=literal(display_name(placed.family)))
        )
    if member is not None:
        if image.liked or image.disliked:
            lines.append(
                _("{member}: ○ {likes}, × {dislikes}, ★ the taste's centre.").format(
                    member=member,
                    likes=ngettext("{count} like", "{count} likes", image.liked).format(count=image.liked),
                    dislikes=ngettext("{count} dislike", "{count} dislikes", image.disliked).format(
                        count=image.disliked
                    ),
                )
            )
        else:
            lines.append(
                _("{member} hasn't rated anything yet: 👍 / 👎 under a track mark it here.").format(member=member)
            )
    if pinned is not None:
        lines.append(_("📍 **{title}** is the red ring.").format(title=pinned))
    embed.description = "\n".join(lines)
    embed.set_image(url=f"attachment://{MAP_NAME}")
    return embed


def map_file(image: MapImage) -> discord.File:
    return discord.File(fp=io.BytesIO(image.png), filename=MAP_NAME)


class MapButton(replies.IdButton, kind="where", emoji="📍", label=N_("Where is this?")):
    """📍 under a track: the map with that track pinned and the clicker's likes; only they see it."""

    async def answer(self, interaction: discord.Interaction[CrateBot]) -> None:
        await replies.defer(interaction, ephemeral=True)
        image = await interaction.client.crate.maps.draw(
            guild_id_of(interaction),
            member_id=interaction.user.id,
            member_name=interaction.user.display_name,
            track_id=self.target_id,
            title=_("Where this track sits"),
        )
        pinned = image.sound_map.highlight
        embed = map_embed(
            image,
            title="📍 " + _("Where this track sits"),
            member=_("You"),
            pinned=literal(pinned.title, 100) if pinned else None,
        )
        await replies.send(interaction, embed=embed, file=map_file(image), ephemeral=True)


class SoundMap(commands.Cog):
    def __init__(self, bot: CrateBot):
        self.bot: CrateBot = bot

    @app_commands.command(name="map", description="This server's music placed by sound, with your likes marked")
    @app_commands.describe(
        member="Whose likes and dislikes to mark (default: yours)",
        genre="Highlight one family (rock, jazz, hip hop…)",
    )
    @app_commands.guild_only()
    async def map(
        self,
        interaction: discord.Interaction[CrateBot],
        member: discord.Member | None = None,
        genre: str | None = None,
    ) -> None:
        await replies.defer(interaction)
        who = member or interaction.user
        server = interaction.guild.name if interaction.guild else _("This server")
        image = await self.bot.crate.maps.draw(
            guild_id_of(interaction),
            member_id=who.id,
            member_name=who.display_name,
            viewer_id=interaction.user.id,
            genre=genre,
            title=_("{server} by sound").format(server=server),
        )
        title = "🗺️ " + _("{server} by sound").format(server=literal(server, 100))
        embed = map_embed(image, title=title, member=f"<@{who.id}>")
        await replies.send(interaction, embed=embed, file=map_file(image))

    @map.autocomplete("genre")
    async def genre_autocomplete(
        self, interaction: discord.Interaction[CrateBot], current: str
    ) -> list[app_commands.Choice[str]]:
        typed = current.strip().casefold()
        names = [display_name(f) for f in FAMILIES]
        return [app_commands.Choice(name=n, value=n) for n in names if typed in n.casefold()][:25]

    @app_commands.command(name="path", description="Queue a walk in small steps of sound from one track to another")
    @app_commands.describe(
        from_track="Where the path starts",
        to_track="Where it ends",
        length=f"How many tracks, both ends included (default {DEFAULT_LENGTH})",
    )
    @app_commands.rename(from_track="from", to_track="to")
    @app_commands.guild_only()
    async def path(
        self,
        interaction: discord.Interaction[CrateBot],
        from_track: int,
        to_track: int,
        length: app_commands.Range[int, MIN_LENGTH, MAX_LENGTH] = DEFAULT_LENGTH,
    ) -> None:
        sessions = self.bot.sessions
        if sessions is None:  # loaded with the other cogs; absent only in a partial test bot
            await interaction.response.send_message(_("Listening sessions aren't available right now."), ephemeral=True)
            return
        await sessions.play_path(interaction, from_track, to_track, length)

    @path.autocomplete("from_track")
    @path.autocomplete("to_track")
    async def track_autocomplete(
        self, interaction: discord.Interaction[CrateBot], current: str
    ) -> list[app_commands.Choice[int]]:
        return await track_choices(interaction, current)


async def setup(bot: CrateBot) -> None:
    bot.add_dynamic_items(MapButton)
    await bot.add_cog(SoundMap(bot))
