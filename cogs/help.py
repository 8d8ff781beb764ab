"""/help: every command with an example, in the member's language (the examples name the
commands as the member's client shows them)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.i18n import N_, _
from cogs.client import CrateBot

COMMANDS = (
    (
        N_("/genre file:<audio>  or  /genre url:<link>"),
        N_("Tell a song's genre, with the evidence (styles, tempo). It joins this server's catalog."),
    ),
    (
        N_("/like  ·  /like track:<name>"),
        N_("Like your last track, or pick one from the catalog. The 👍 button does the same."),
    ),
    (N_("/dislike  ·  /dislike track:<name>"), N_("Dislike a track. Changing your mind replaces the earlier rating.")),
    (
        N_("/recommend  ·  /recommend count:5 genre:jazz"),
        N_("Tracks from this server for you, each with a reason. Genres or styles (chillout, 80s) filter."),
    ),
    (N_("/profile  ·  /profile member:@alice"), N_("A taste summary with a chart (only you see it).")),
    (
        N_("/taste member:@alice  ·  /taste member:@alice public:True"),
        N_("Your taste match with a member, with the tracks you both liked, your families and picks for both."),
    ),
    (
        N_("/charts  ·  /charts period:week"),
        N_("This server's most-liked tracks, families, styles and sharers, with a chart."),
    ),
    (N_("/who track:<name>"), N_("Who liked a track, and whose taste it fits best (also the 👥 button).")),
    (
        N_("/map  ·  /map member:@alice genre:jazz"),
        N_("This server's music placed by sound: your likes marked, a family highlighted (also 📍 under a track)."),
    ),
    (
        N_("/path from:<track> to:<track>  ·  length:6"),
        N_("A session queue that walks from one track to another in small steps of sound."),
    ),
    (
        N_("Apps ▸ Analyze with Crate  ·  Apps ▸ Compare taste"),
        N_("On any message: analyze every song in it. On any member: compare your taste (only you see it)."),
    ),
    (N_("/forget"), N_("Delete everything Crate stores about you in this server (asks first).")),
    (
        N_("/session start  ·  /session start voice_channel:#Lounge"),
        N_("Listen together: a shared queue picked for everyone present, played in voice or posted as links."),
    ),
    (
        N_("/session join · leave · add · queue · next · end"),
        N_("Join, queue a song, see what's next and why, vote to skip (⏭), end with a summary and taste match."),
    ),
    (
        N_("/session start seed:<track>  ·  📻 Start radio"),
        N_("A radio: tracks that sound like the last one played and suit who is listening, never one twice."),
    ),
    (
        N_("/playlist create · add · remove · show · play · delete · export"),
        N_("This server's playlists: the owner (or a server manager) changes one; play it here; export M3U and JSON."),
    ),
    (
        N_("/blend start member:@alice  ·  /blend show · leave"),
        N_(
            "A playlist for you and up to five members, kept fresh: the song that brings you together on top, then each in turn."
        ),
    ),
    (
        N_("/recap  ·  /recap member:@alice period:year"),
        N_("A Wrapped-style card: most played and liked, families and how they shifted, best match, first shares."),
    ),
    (
        N_("/settings"),
        N_("Server managers: DJ role, 24/7 voice, analysis limit, profile privacy, announcements, monthly recap."),
    ),
)


def help_embed() -> discord.Embed:
    embed = discord.Embed(
        title=_("Crate listens to the music you share"),
        description=_(
            "Share a song with `/genre`, rate what you hear, and ask for `/recommend`ations. "
            "Crate learns each member's taste from likes and dislikes."
        ),
        colour=0x5865F2,
    )
    for usage, what in COMMANDS:
        embed.add_field(name=_(usage), value=_(what), inline=False)
    return embed


class Help(commands.Cog):
    @app_commands.command(name="help", description="What Crate does, and every command with an example")
    async def help(self, interaction: discord.Interaction[CrateBot]) -> None:
        await interaction.response.send_message(embed=help_embed(), ephemeral=True)


async def setup(bot: CrateBot) -> None:
    await bot.add_cog(Help())
