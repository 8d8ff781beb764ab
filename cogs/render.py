"""Embeds for Crate's answers. Pure functions of core results: no I/O, no state."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import discord

from bot.app.sessions import QueueView, SessionSummary
from bot.audio.services import Heard
from bot.catalog import Track
from bot.format import format_duration, literal
from bot.i18n import _, ngettext
from bot.present.describe import genre_bars, short_genre, top_tags, verdict
from bot.present.reasons import reason_text
from bot.recommend.group import GroupMatch, match_text
from bot.store.sessions import QueueEntry, Session

GENRE_COLOURS = {
    "rock": 0xC62828,
    "metal": 0x424242,
    "pop": 0xEC407A,
    "hiphop": 0xFF6F00,
    "electronic": 0x00ACC1,
    "ambient": 0x5C6BC0,
    "jazz": 0x6A1B9A,
    "blues": 0x1F4E79,
    "classical": 0xC9A227,
    "folk": 0x8D6E63,
    "country": 0xA0522D,
    "soul": 0xAD1457,
    "reggae": 0x2E7D32,
    "disco": 0xE040FB,
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

    def __bool__(self) -> bool:
        # empty to iterate, yet it names everyone: ``names or {}`` must keep it, not drop it
        return True


MENTIONS = Mentions()


def colour_of(genre: str | None) -> int:
    return GENRE_COLOURS.get(genre or "", DEFAULT_COLOUR)


def source_text(track: Track) -> str:
    if track.source_kind == "link" and track.source_url:
        return "[" + _("link") + f"]({track.source_url})"
    if track.source_kind == "attachment":
        return _("an attachment")
    return _("a local file")


def track_embed(track: Track, *, shared_by: str, created: bool, heard: Heard | None = None) -> discord.Embed:
    embed = discord.Embed(
        title=literal(track.title, 120),
        url=track.source_url if track.source_kind == "link" else None,
        description=f"**{verdict(track.genres, track.confident)}**\n```\n"
        + "\n".join(genre_bars(track.genres))
        + "\n```",
        colour=colour_of(track.top_genre if track.confident else None),
    )
    tags = top_tags(track)
    embed.add_field(name=_("Styles heard"), value=", ".join(tags) if tags else _("nothing distinctive"), inline=False)
    embed.add_field(name=_("Length"), value=format_duration(track.duration))
    if track.tempo:
        embed.add_field(name=_("Tempo"), value=f"~{track.tempo:.0f} BPM")
    embed.add_field(name=_("Shared by"), value=shared_by)
    embed.add_field(name=_("From"), value=source_text(track))
    if heard is not None:  # a streaming link: say what was listened to
        embed.add_field(name=_("Heard"), value=literal(heard.description, 200), inline=False)
    footer = _("Track #{id}").format(id=track.id)
    if not created:
        footer += " · " + _("already in this server's catalog")
    embed.set_footer(text=footer + " · " + _("rate it to teach me your taste"))
    return embed


def error_embed(text: str) -> discord.Embed:
    return discord.Embed(description=f"⚠️ {text}", colour=0xED4245)


# ------------------------------------------------------------------ listening sessions

SESSION_COLOUR = 0x1DB954
UPCOMING_SHOWN = 5
PLAYED_SHOWN = 10


def entry_line(entry: QueueEntry, names: Mapping[int, str]) -> str:
    if entry.picked_by_crate:
        who = _("Crate's pick")
    elif entry.added_by is None:
        who = _("added by a member")  # who has since asked Crate to forget them
    else:
        who = _("added by {member}").format(member=names.get(entry.added_by, f"<@{entry.added_by}>"))
    said = reason_text(entry.reason, names, markdown=True)
    reason = f" — {said}" if said else ""
    return f"**{literal(entry.title, 70)}** · {literal(short_genre(entry.top_genre))} · {who}{reason}"


def now_playing_embed(
    session: Session,
    entry: QueueEntry | None,
    upcoming,
    names: Mapping[int, str],
    *,
    voice: bool,
    host: str | None = None,
    progress: tuple[float, float] | None = None,
    paused: bool = False,
    volume: int | None = None,
) -> discord.Embed:
    """The now-playing message; in voice, ``progress`` is (elapsed, total) seconds of the track."""
    embed = discord.Embed(title="🎧 " + _("Listening session"), colour=SESSION_COLOUR)
    if entry is None:
        embed.description = _("Nothing to play yet: add music with `/session add`.")
    else:
        mark = _("⏸ Paused") if paused else _("▶ Now playing")
        embed.description = f"{mark}: {entry_line(entry, names)}"
        if progress is not None:
            embed.description += f"\n`{progress_bar(*progress)}`"
    if upcoming:
        embed.add_field(
            name=_("Up next"),
            value="\n".join(f"{i}. {entry_line(e, names)}" for i, e in enumerate(upcoming[:3], 1)),
            inline=False,
        )
    # footers can't show mentions: ``host`` is the host's remembered name, if any
    parts = [_("Hosted by {host}").format(host=host)] if host else []
    parts.append(_("playing in voice") if voice else _("text session: follow the links"))
    if voice and volume is not None:
        parts.append(_("volume {level} %").format(level=volume))
    parts.append(_("⏭ needs the host, a DJ or a majority"))
    embed.set_footer(text=" · ".join(parts))
    return embed


def clock(seconds: float) -> str:
    """``1:05``, ``12:30``, ``1:02:03``: a player's time."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def progress_bar(elapsed: float, total: float, *, width: int = 18) -> str:
    """``1:05 ▬▬▬▬🔘──────── 3:40``: how far into the track, in a line that fits a phone."""
    share = 0.0 if total <= 0 else max(0.0, min(1.0, elapsed / total))
    knob = min(width - 1, int(share * width))
    return f"{clock(min(elapsed, total) if total > 0 else elapsed)} {'▬' * knob}🔘{'─' * (width - 1 - knob)} {clock(total)}"


def summary_embed(summary: SessionSummary, names: Mapping[int, str]) -> discord.Embed:
    embed = discord.Embed(title=_("Session over"), colour=SESSION_COLOUR)
    played = [e for e in summary.played if e.status in ("played", "skipped", "playing")]
    tracks = ngettext("{count} track", "{count} tracks", len(played)).format(count=len(played))
    listeners = ngettext("{count} listener", "{count} listeners", len(summary.members)).format(
        count=len(summary.members)
    )
    if summary.skipped:
        said = _("{tracks} in {length} ({skipped} skipped) with {listeners}.")
    else:
        said = _("{tracks} in {length} with {listeners}.")
    embed.description = said.format(
        tracks=tracks, length=format_duration(summary.duration), skipped=summary.skipped, listeners=listeners
    )
    if played:
        skipped = " (" + _("skipped") + ")"
        lines = [
            f"{i}. {literal(e.title, 60)}" + (skipped if e.status == "skipped" else "")
            for i, e in enumerate(played[:PLAYED_SHOWN], 1)
        ]
        if len(played) > PLAYED_SHOWN:
            lines.append(_("+{count} more").format(count=len(played) - PLAYED_SHOWN))
        embed.add_field(name=_("Played"), value="\n".join(lines), inline=False)
    likes = summary.liked_by()
    if likes:
        embed.add_field(
            name=_("Who liked what"),
            value="\n".join(
                f"{names.get(u, f'<@{u}>')}: {', '.join(literal(t, 40) for t in titles)}" for u, titles in likes.items()
            ),
            inline=False,
        )
    embed.add_field(name=_("Group taste match"), value=match_text(summary.match.group), inline=False)
    embed.add_field(name=_("Between members"), value=pairs_text(summary.match, names), inline=False)
    return embed


def pairs_text(match: GroupMatch, names: Mapping[int, str]) -> str:
    """``alice & bob 82%`` lines: the blend between every two members."""
    lines = [
        f"{names.get(a, f'<@{a}>')} & {names.get(b, f'<@{b}>')}: {match_text(value)}" for a, b, value in match.pairs
    ]
    return "\n".join(lines[:10]) or _("Only one listener.")


def queue_embed(view: QueueView, match: GroupMatch, names: Mapping[int, str]) -> discord.Embed:
    """/session queue: what is playing, what comes next and why, who is here, how tastes blend."""
    embed = discord.Embed(title=_("Session queue"), colour=SESSION_COLOUR)
    embed.description = f"▶ {entry_line(view.now_playing, names)}" if view.now_playing else _("Nothing playing.")
    if view.upcoming:
        embed.add_field(
            name=_("Up next"),
            value="\n".join(f"{i}. {entry_line(e, names)}" for i, e in enumerate(view.upcoming[:UPCOMING_SHOWN], 1)),
            inline=False,
        )
    here = ", ".join(names.get(u, f"<@{u}>") for u in view.present) or _("nobody")
    embed.add_field(name=_("Listening"), value=here, inline=False)
    embed.add_field(name=_("Taste match"), value=match_text(match.group))
    if len(view.present) > 1:
        embed.add_field(name=_("Between members"), value=pairs_text(match, names), inline=False)
    return embed
