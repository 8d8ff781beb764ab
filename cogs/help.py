"""/help: every command with an example."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from cogs.client import CrateBot

COMMANDS = (
    (
        "/genre file:<audio>  or  /genre url:<link>",
        "Tell a song's genre, with the evidence (styles, tempo). It joins this server's catalog.",
    ),
    (
        "/like  ·  /like track:<name>",
        "Like your last track, or pick one from the catalog. The 👍 button does the same.",
    ),
    ("/dislike  ·  /dislike track:<name>", "Dislike a track. Changing your mind replaces the earlier rating."),
    (
        "/recommend  ·  /recommend count:5 genre:jazz",
        "Tracks from this server for you, each with a reason. Genres or styles (chillout, 80s) filter.",
    ),
    ("/profile  ·  /profile member:@alice", "A taste summary with a chart (only you see it)."),
    (
        "/taste member:@alice  ·  /taste member:@alice public:True",
        "Your taste match with a member, with the tracks you both liked, your families and picks for both.",
    ),
    ("/charts  ·  /charts period:week", "This server's most-liked tracks, families, styles and sharers, with a chart."),
    ("/who track:<name>", "Who liked a track, and whose taste it fits best (also the 👥 button)."),
    (
        "/map  ·  /map member:@alice genre:jazz",
        "This server's music placed by sound: your likes marked, a family highlighted (also 📍 under a track).",
    ),
    (
        "/path from:<track> to:<track>  ·  length:6",
        "A session queue that walks from one track to another in small steps of sound.",
    ),
    (
        "Apps ▸ Analyze with Crate  ·  Apps ▸ Compare taste",
        "On any message: analyze every song in it. On any member: compare your taste (only you see it).",
    ),
    ("/forget", "Delete everything Crate stores about you in this server (asks first)."),
    (
        "/session start  ·  /session start voice_channel:#Lounge",
        "Listen together: a shared queue picked for everyone present, played in voice or posted as links.",
    ),
    (
        "/session join · leave · add · queue · next · end",
        "Join, queue a song, see what's next and why, vote to skip (⏭), end with a summary and taste match.",
    ),
    (
        "/session start seed:<track>  ·  📻 Start radio",
        "A radio: tracks that sound like the last one played and suit who is listening, never one twice.",
    ),
    (
        "/playlist create · add · remove · show · play · delete · export",
        "This server's playlists: the owner (or a server manager) changes one; play it here; export M3U and JSON.",
    ),
    (
        "/blend start member:@alice  ·  /blend show · leave",
        "A playlist for you and up to five members, kept fresh: the song that brings you together on top, then each in turn.",
    ),
    (
        "/recap  ·  /recap member:@alice period:year",
        "A Wrapped-style card: most played and liked, families and how they shifted, best match, first shares.",
    ),
    (
        "/settings",
        "Server managers: DJ role, 24/7 voice, analysis limit, profile privacy, announcements, monthly recap.",
    ),
)


def help_embed() -> discord.Embed:
    embed = discord.Embed(
        title="Crate listens to the music you share",
        description=(
            "Share a song with `/genre`, rate what you hear, and ask for `/recommend`ations. "
            "Crate learns each member's taste from likes and dislikes."
        ),
        colour=0x5865F2,
    )
    for usage, what in COMMANDS:
        embed.add_field(name=usage, value=what, inline=False)
    return embed


class Help(commands.Cog):
    @app_commands.command(name="help", description="What Crate does, and every command with an example")
    async def help(self, interaction: discord.Interaction[CrateBot]) -> None:
        await interaction.response.send_message(embed=help_embed(), ephemeral=True)


async def setup(bot: CrateBot) -> None:
    await bot.add_cog(Help())
