"""/blend: a playlist for two to six members that Crate keeps fresh. The Blends themselves are
``bot.app.blends``; this cog parses, renders, and runs the daily refresh in the background."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import blends as blends_app
from bot.app.blends import BlendView
from bot.format import literal
from bot.i18n import _, ngettext
from bot.present.describe import bar, short_genre
from bot.recommend.blend import MATCH_MIN_RATINGS
from bot.recommend.group import match_text
from cogs import replies
from cogs.caller import caller_of, guild_id_of
from cogs.client import CrateBot
from cogs.rounds import Rounds

log = logging.getLogger(__name__)

BLEND_COLOUR = 0x1DB954


def _for(user_ids: tuple[int, ...], members: tuple[int, ...]) -> str:
    if len(members) >= 2 and set(user_ids) >= set(members):
        return _("for everyone")
    if not user_ids:
        return _("for the group")
    return _("for {members}").format(members=", ".join(f"<@{u}>" for u in user_ids))


def match_line(view: BlendView) -> str:
    """The taste-match line: a percentage only when every member has rated enough."""
    if view.blend.taste_match is None:
        short = ", ".join(
            ngettext("<@{member}> has rated {count} track", "<@{member}> has rated {count} tracks", n).format(
                member=u, count=n
            )
            for u, n in view.short_of_ratings
        )
        return _("Taste match: not enough ratings yet ({short}; a match needs {needed} from each of you).").format(
            short=short, needed=MATCH_MIN_RATINGS
        )
    return _("Taste match: **{match}** `{bar}`").format(
        match=match_text(view.blend.taste_match), bar=bar(view.blend.taste_match)
    )


def blend_embed(view: BlendView) -> discord.Embed:
    members = view.blend.member_ids
    lines = [match_line(view), _("Members: {members}").format(members=", ".join(f"<@{u}>" for u in members)), ""]
    together = view.together
    if together is not None:
        lines.append(
            _("🤝 **The song that brings you together:** **{title}**").format(title=literal(together.title, 70))
            + f" · {literal(short_genre(together.top_genre or ''))}"
        )
    elif view.tracks:
        lines.append(_("No song brings all of you together yet: rate more tracks and it will show up here."))
    for track in view.tracks:
        if together is not None and track.track_id == together.track_id:
            continue
        lines.append(
            f"{track.position}. **{literal(track.title, 60)}** · {literal(short_genre(track.top_genre or ''))}"
            f" — {_for(track.for_user_ids, members)}"
        )
    if not view.tracks:
        lines.append(_("Nothing to blend yet: share tracks with /genre and rate them with 👍 / 👎."))
    embed = discord.Embed(
        title=f"🎶 {literal(view.name, 100)}", description="\n".join(lines)[:4000], colour=BLEND_COLOUR
    )
    embed.set_footer(
        text=_(
            "Refreshed daily, and at once when one of you likes or dislikes a track. "
            "Play it with /playlist play; leave it with /blend leave."
        )
    )
    return embed


class Blends(commands.GroupCog, group_name="blend", group_description="Playlists for two to six members, kept fresh"):
    def __init__(self, bot: CrateBot):
        self.bot: CrateBot = bot
        #: The daily refresh: which Blends are due (and the clock) is bot.app.blends; this keeps time.
        self.rounds = Rounds("the daily Blend refresh", self._refresh_due, lambda: blends_app.CHECK_EVERY)

    async def cog_load(self) -> None:
        if self.bot.has_crate:  # not for `crate run --sync-global`, which only describes commands
            self.rounds.start()

    async def cog_unload(self) -> None:
        await self.rounds.stop()

    async def _refresh_due(self) -> None:
        # each process refills the Blends of the servers it serves (its shards)
        refreshed = await self.bot.crate.blends.refresh_due(
            owns=lambda g: self.bot.get_guild(g) is not None, still_here=self._still_here
        )
        if refreshed:
            log.info("refreshed %d Blend(s)", refreshed)

    async def _still_here(self, guild_id: int, user_id: int) -> bool | None:
        """Whether the member is still in the server, asked of Discord (without the members intent
        Crate hears of no one leaving, and its cache of members may be stale); None: can't tell."""
        guild = self.bot.get_guild(guild_id)
        if guild is None:
            return None
        try:
            await guild.fetch_member(user_id)
        except discord.NotFound:
            return False
        except discord.HTTPException:
            return None
        return True

    @app_commands.command(name="start", description="A playlist for you and up to five members, refreshed daily")
    @app_commands.describe(
        member="Who to blend with",
        member2="Another member (optional)",
        member3="Another member (optional)",
        member4="Another member (optional)",
        member5="Another member (optional)",
    )
    @app_commands.guild_only()
    async def start(
        self,
        interaction: discord.Interaction[CrateBot],
        member: discord.Member,
        member2: discord.Member | None = None,
        member3: discord.Member | None = None,
        member4: discord.Member | None = None,
        member5: discord.Member | None = None,
    ) -> None:
        await replies.defer(interaction)  # acknowledge before writing
        chosen = [m for m in (member, member2, member3, member4, member5) if m is not None and not m.bot]
        names = {m.id: m.display_name for m in chosen}
        names[interaction.user.id] = interaction.user.display_name
        view = await self.bot.crate.blends.create(
            guild_id_of(interaction), caller_of(interaction), [m.id for m in chosen], names=names
        )
        await replies.send(interaction, embed=blend_embed(view))

    @app_commands.command(name="show", description="One of your Blends, as it stands")
    @app_commands.describe(name="The Blend (default: your only one)")
    @app_commands.guild_only()
    async def show(self, interaction: discord.Interaction[CrateBot], name: str | None = None) -> None:
        await replies.defer(interaction, ephemeral=True)
        view = await self.bot.crate.blends.show(guild_id_of(interaction), interaction.user.id, name)
        await replies.send(interaction, embed=blend_embed(view), ephemeral=True)

    @app_commands.command(name="leave", description="Leave one of your Blends")
    @app_commands.describe(name="The Blend (default: your only one)")
    @app_commands.guild_only()
    async def leave(self, interaction: discord.Interaction[CrateBot], name: str | None = None) -> None:
        await replies.defer(interaction, ephemeral=True)  # acknowledge before writing
        left = await self.bot.crate.blends.leave(guild_id_of(interaction), interaction.user.id, name)
        if left.deleted:
            text = _("You left **{name}**. A Blend is for two or more, so with only {members} left it is gone.").format(
                name=literal(left.playlist.name),
                members=", ".join(f"<@{u}>" for u in left.remaining) or _("nobody"),
            )
        else:
            text = _("You left **{name}**; Crate refilled it for {members}.").format(
                name=literal(left.playlist.name), members=", ".join(f"<@{u}>" for u in left.remaining)
            )
        await replies.send(interaction, content=text, ephemeral=True)

    @show.autocomplete("name")
    @leave.autocomplete("name")
    async def blend_names(
        self, interaction: discord.Interaction[CrateBot], current: str
    ) -> list[app_commands.Choice[str]]:
        mine = await self.bot.crate.blends.mine(guild_id_of(interaction), interaction.user.id)
        needle = current.strip().casefold()
        return [
            app_commands.Choice(name=b.playlist.name[:100], value=b.playlist.name[:100])
            for b in mine
            if needle in b.playlist.name.casefold()
        ][:25]


async def setup(bot: CrateBot) -> None:
    await bot.add_cog(Blends(bot))
