"""Embeds for Crate's answers. Pure functions of core results: no I/O, no state."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import discord

from bot.catalog import Track
from bot.describe import genre_bars, top_tags
from bot.format import clip, format_duration

GENRE_COLOURS = {
    "blues": 0x1F4E79, "classical": 0xC9A227, "country": 0xA0522D, "disco": 0xE040FB,
    "hiphop": 0xFF6F00, "jazz": 0x6A1B9A, "metal": 0x424242, "pop": 0xEC407A,
    "reggae": 0x2E7D32, "rock": 0xC62828,
}
DEFAULT_COLOUR = 0x5865F2


class Mentions(Mapping[int, str]):
    """Names for the text Discord renders mentions in (descriptions, fields): ``<@id>`` for anyone.

    Discord shows each reader the member's current name, and ``allowed_mentions`` is off, so
    nobody is pinged. Titles and footers do not render mentions: they use remembered names
    (``Crate.display_names``) or say nothing about the member.
    """

    def __getitem__(self, user_id: int) -> str:
        return f"<@{int(user_id)}>"

    def __contains__(self, user_id: object) -> bool:
        return isinstance(user_id, int)

    def __iter__(self) -> Iterator[int]:
        return iter(())

    def __len__(self) -> int:
        return 0


MENTIONS = Mentions()


def colour_of(genre: str | None) -> int:
    return GENRE_COLOURS.get(genre or "", DEFAULT_COLOUR)


def source_text(track: Track) -> str:
    if track.source_kind == "link" and track.source_url:
        return f"[link]({track.source_url})"
    if track.source_kind == "attachment":
        return "an attachment"
    return "a local file"


def track_embed(track: Track, *, shared_by: str, created: bool) -> discord.Embed:
    embed = discord.Embed(
        title=clip(track.title, 256),
        url=track.source_url if track.source_kind == "link" else None,
        description="```\n" + "\n".join(genre_bars(track.genres)) + "\n```",
        colour=colour_of(track.top_genre),
    )
    tags = top_tags(track)
    embed.add_field(name="Sounds like", value=", ".join(tags) if tags else "nothing distinctive", inline=False)
    embed.add_field(name="Length", value=format_duration(track.duration))
    if track.tempo:
        embed.add_field(name="Tempo", value=f"~{track.tempo:.0f} BPM")
    embed.add_field(name="Shared by", value=shared_by)
    embed.add_field(name="From", value=source_text(track))
    footer = f"Track #{track.id}"
    if not created:
        footer += " · already in this server's catalog"
    embed.set_footer(text=footer + " · rate it to teach me your taste")
    return embed


def error_embed(text: str) -> discord.Embed:
    return discord.Embed(description=f"⚠️ {text}", colour=0xED4245)

