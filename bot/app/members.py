"""Members of a server as Crate knows them: the names they go by, and forgetting them."""

from __future__ import annotations

from bot import store
from bot.app.blends import BlendService
from bot.app.teaching import Teacher
from bot.i18n import N_, _, ngettext
from bot.store import Database

#: What /forget deletes and what it keeps (bot.store.members.forget_member), asked before it does.
FORGET_WHAT = N_(
    "Deleted: your ratings, your shares, your genre corrections, your playlists, your place in Blends"
    " (a Blend left with one member goes), your taste profile"
    " and the name Crate knows you by in this server; tracks only you shared, if nobody else relies on them.\n"
    "Kept, without your name: tracks others shared or rated, or keep in their playlists, or heard in a"
    " session with you, and what you added to others' playlists and session queues. A session you host"
    " passes to the member there longest, or ends if nobody else is there."
)


def forget_done(report: store.ForgetReport) -> str:
    """What /forget did, in words (Discord and the console alike)."""
    return _(
        "I forgot {ratings}, {shares} and {corrections} of yours in this server and removed {tracks} nobody else "
        "relied on; what others rely on stays."
    ).format(
        ratings=ngettext("{count} rating", "{count} ratings", report.ratings).format(count=report.ratings),
        shares=ngettext("{count} share", "{count} shares", report.shares).format(count=report.shares),
        corrections=ngettext("{count} genre correction", "{count} genre corrections", report.corrections).format(
            count=report.corrections
        ),
        tracks=ngettext("{count} track", "{count} tracks", report.tracks_removed).format(count=report.tracks_removed),
    )


class Members:
    """Names members go by here (Discord tells them only with interactions), and ``/forget``."""

    def __init__(self, db: Database, teacher: Teacher, blends: BlendService | None = None):
        self.db = db
        self.teacher = teacher
        #: The Blends a forgotten member leaves are refilled without them.
        self.blends = blends
        self._names: dict[tuple[int, int], str] = {}  # (guild, user) -> the name last stored

    async def remember_name(self, guild_id: int, user_id: int, display_name: str) -> None:
        """Keep the name a member goes by here (Discord tells it only with their interactions)."""
        if not display_name or self._names.get((guild_id, user_id)) == display_name:
            return
        await store.remember_name(self.db, guild_id, user_id, display_name)
        self._names[(guild_id, user_id)] = display_name

    async def display_names(self, guild_id: int) -> dict[int, str]:
        """The remembered names of this guild's members, by user id."""
        return await store.display_names(self.db, guild_id)

    async def forget(self, guild_id: int, user_id: int) -> store.ForgetReport:
        """Delete everything Crate stores about this member in this server (``/forget``)."""
        self._names.pop((guild_id, user_id), None)
        report = await store.forget_member(self.db, guild_id, user_id)
        if report.corrections:
            await self.teacher.relabel(guild_id)  # the head forgets what this member taught
        if report.tracks_removed or report.corrections:
            await self.teacher.reload_titles(guild_id)
        if self.blends is not None and report.blends_left:
            await self.blends.forgotten(guild_id, report.blends_left)
        return report
