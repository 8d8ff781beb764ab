"""Links to an album, playlist or set: the member who shared it picks which tracks Crate analyzes.

``/genre url:`` and ``/session add url:`` answer such a link privately with its tracks in a
select menu (up to 25; the first five chosen), and each picked track is then shared like a link
to it: analyzed in turn under the member's and the server's limits, answered with its own track
message (and queued, for ``/session add``). The menu's custom id carries who may use it and
what for, and its options carry the tracks' links, so it works after a restart.
"""

from __future__ import annotations

import re
from typing import Any, Self

import discord

from bot.app.sharing import Source, Stage
from bot.audio.tracklist import TrackList
from bot.errors import CrateError, UnknownChoice
from bot.format import clip, format_duration, literal
from bot.i18n import N_, _, ngettext
from bot.safe_text import has_unsafe
from cogs import replies
from cogs.caller import guild_id_of
from cogs.client import CrateBot
from cogs.feedback import track_view
from cogs.layouts import card
from cogs.render import error_embed, track_embed

#: Tracks chosen in the menu before the member changes anything.
DEFAULT_PICKED = 5
#: Discord's longest select option value: a track whose link is longer is left out of the menu.
MAX_VALUE = 100

PROGRESS = {
    Stage.WAITING: N_("⏳ in the queue"),
    Stage.DOWNLOADING: N_("⏬ downloading"),
    Stage.ANALYZING: N_("🎧 listening"),
}


#: What an album or playlist is called when its site gives it no name.
UNTITLED = {"album": N_("This album"), "playlist": N_("This playlist")}


class NotYourMenu(CrateError):
    user_message = N_("This menu is for the member who shared the album: share the link yourself to pick from it.")


def album_message(tracks: TrackList, user_id: int, *, queue: bool) -> dict[str, Any]:
    """The private answer to an album link: what it holds, and the menu to pick from it."""
    offered = [t for t in tracks.tracks if len(t.url) <= MAX_VALUE]
    if not offered:
        return {"embed": error_embed(_("That link is a playlist, but I couldn't read its tracks. Send a link to one."))}
    options = [
        discord.SelectOption(
            label=clip(track.title, 100) or _("Untitled"),
            value=track.url,
            description=format_duration(track.duration) if track.duration else None,
            default=number < DEFAULT_PICKED,
        )
        for number, track in enumerate(offered)
    ]
    view = discord.ui.View(timeout=None)
    view.add_item(AlbumSelect(user_id, queue, options))
    holds = ngettext("📀 **{title}** holds {count} track.", "📀 **{title}** holds {count} tracks.", tracks.total)
    if tracks.total > len(offered):
        holds = ngettext(
            "📀 **{title}** holds {count} track (the first {offered} shown).",
            "📀 **{title}** holds {count} tracks (the first {offered} shown).",
            tracks.total,
        )
    title = literal(tracks.title, 100) if tracks.title else _(UNTITLED[tracks.kind])
    pick = (
        _("Pick the ones to queue — the first {chosen} are chosen; close the menu to start.")
        if queue
        else _("Pick the ones to analyze — the first {chosen} are chosen; close the menu to start.")
    )
    content = (
        holds.format(title=title, count=tracks.total, offered=len(offered))
        + " "
        + pick.format(chosen=min(DEFAULT_PICKED, len(offered)))
    )
    return {"content": content, "view": view}


class AlbumSelect(
    replies.AnswersErrors,
    discord.ui.DynamicItem[discord.ui.Select],
    template=r"crate:album:(?P<user>\d+):(?P<mode>[gs])",
):
    """The tracks of an album link; ``g``: analyze them as /genre does, ``s``: queue them too."""

    def __init__(self, user_id: int, queue: bool, options: list[discord.SelectOption] | None = None):
        options = options or [discord.SelectOption(label="…", value="…")]
        super().__init__(
            discord.ui.Select(
                custom_id=f"crate:album:{user_id}:{'s' if queue else 'g'}",
                placeholder=_("Tracks to share"),
                min_values=1,
                max_values=len(options),
                options=options,
            )
        )
        self.user_id, self.queue = user_id, queue

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> Self:
        options = list(item.options) if isinstance(item, discord.ui.Select) else None
        return cls(int(match["user"]), match["mode"] == "s", options)

    async def answer(self, interaction: discord.Interaction[CrateBot]) -> None:
        if interaction.user.id != self.user_id:
            raise NotYourMenu(detail=f"user {interaction.user.id} on {self.user_id}'s menu")
        offered = {option.value for option in self.item.options}
        picked = list(dict.fromkeys(self.item.values))
        if not picked or any(url not in offered or has_unsafe(url) for url in picked):
            raise UnknownChoice(detail=f"album values {picked!r}")
        sharing = ngettext("🎧 Sharing {count} track…", "🎧 Sharing {count} tracks…", len(picked))
        await interaction.response.edit_message(content=sharing.format(count=len(picked)), view=None)
        shared = 0
        for number, url in enumerate(picked, 1):
            if await _share_one(interaction, url, number, len(picked), queue=self.queue):
                shared += 1
        done = ngettext(
            "✅ Shared {shared} of {count} picked track.", "✅ Shared {shared} of {count} picked tracks.", len(picked)
        ).format(shared=shared, count=len(picked))
        await interaction.edit_original_response(content=done)


async def _share_one(
    interaction: discord.Interaction[CrateBot], url: str, number: int, total: int, *, queue: bool
) -> bool:
    """Share one picked track as a link to it; answer with its track message (public), or the
    error (private). True when it was shared."""
    crate = interaction.client.crate

    async def progress(stage: Stage) -> None:
        await interaction.edit_original_response(content=f"{number}/{total} · {_(PROGRESS[stage])}…")

    try:
        with interaction.client.working_on(interaction):
            shared = await crate.sharing.share(
                guild_id_of(interaction), interaction.user.id, Source.link(url), progress
            )
        if queue and interaction.client.sessions is not None:
            await interaction.client.sessions.queue_track(interaction, shared.track.id)
    except Exception as error:
        await interaction.followup.send(
            embed=error_embed(f"{literal(url)}: {replies.error_text(error)}"), ephemeral=True
        )
        return False
    embed = track_embed(shared.track, shared_by=interaction.user.mention, created=shared.created, heard=shared.heard)
    await interaction.followup.send(view=card(embed, await track_view(crate, interaction.guild_id, shared.track.id)))
    return True


async def setup(bot: CrateBot) -> None:
    bot.add_dynamic_items(AlbumSelect)
