"""/recap: a Wrapped-style card of a member's or the server's month or year, and the monthly post
of servers that opted in (``/settings recap:True``). The recap is ``bot.app.recap``; the card is
drawn off the event loop; the monthly task only keeps time and finds the channel.

The monthly post goes to the server's announcements channel (``/settings announcements:``, the
channel Crate already announces sessions in), else to the server's system channel (where Discord
itself posts, so every server has one unless its managers turned it off); with neither, nothing is
posted and nothing is remembered, so setting a channel later still gets that month's recap. A post
Discord refuses (Crate may not post in the channel: 403; the channel went: 404) is logged and not
remembered either, holds up no other server's, and is tried again after
``bot.app.recap.RETRY_AFTER``, not at every round.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import recap as recaps_app
from bot.app.recap import Recap, recap_card, span_words
from bot.format import literal
from bot.i18n import _, speaking
from bot.present.recap import recap_card as draw_card
from cogs import replies
from cogs.caller import guild_id_of
from cogs.client import CrateBot
from cogs.rounds import Rounds

CARD_NAME = "recap.png"

log = logging.getLogger(__name__)


class Recaps(commands.Cog):
    def __init__(self, bot: CrateBot):
        self.bot: CrateBot = bot
        #: The monthly post: which servers are due (and the clock) is bot.app.recap; this finds the channel.
        self.rounds = Rounds(
            "the monthly recap", self.post_due, lambda: recaps_app.CHECK_EVERY, first=bot.wait_until_ready
        )

    async def cog_load(self) -> None:
        if self.bot.has_crate:  # not for `crate run --sync-global`, which only describes commands
            self.rounds.start()

    async def cog_unload(self) -> None:
        await self.rounds.stop()

    async def _names(
        self, guild: discord.Guild | None, guild_id: int, present: tuple[discord.abc.User, ...] = ()
    ) -> dict[int, str]:
        """Members' names: those Crate remembers, those of the server it sees, and ``present``
        (whose recap it is, who asks: known from the interaction even before Crate met them)."""
        names = await self.bot.crate.members.display_names(guild_id)
        if guild is not None:
            names.update({m.id: m.display_name for m in guild.members})
        names.update({u.id: u.display_name for u in present})
        return names

    async def _card(
        self, recap: Recap, guild: discord.Guild | None, present: tuple[discord.abc.User, ...] = ()
    ) -> discord.File:
        names = await self._names(guild, recap.guild_id, present)
        if guild is not None:  # someone the card names whom Crate never met (`crate index --user`): ask Discord
            for user_id in recap.named:
                if user_id not in names:
                    with contextlib.suppress(discord.HTTPException):  # 404: they left: "a former member" is true
                        names[user_id] = (await guild.fetch_member(user_id)).display_name
        card = recap_card(recap, names, server_name=guild.name if guild else None)
        png, _ = await asyncio.to_thread(draw_card, card)
        return discord.File(io.BytesIO(png), filename=CARD_NAME)

    @app_commands.command(name="recap", description="A recap card of a member's or the server's month or year")
    @app_commands.describe(
        member="Whose recap (default: the whole server's)", period="This month so far (default) or this year"
    )
    @app_commands.guild_only()
    async def recap(
        self,
        interaction: discord.Interaction[CrateBot],
        member: discord.Member | None = None,
        period: Literal["month", "year"] = "month",
    ) -> None:
        await replies.defer(interaction)  # the card takes a moment to draw
        guild_id = guild_id_of(interaction)
        recap = await self.bot.crate.recaps.recap(
            guild_id, None if member is None else member.id, period, viewer_id=interaction.user.id
        )
        period_words = span_words(recap.span)
        if member is None:
            text = _("📼 This server's recap of {period}").format(period=period_words)
        else:
            text = _("📼 {member}'s recap of {period}").format(
                member=literal(member.display_name, 80), period=period_words
            )
        if recap.is_empty:
            text += " " + _("(nothing yet this period)")
        present = (interaction.user,) if member is None else (interaction.user, member)
        await replies.send(interaction, content=text, file=await self._card(recap, interaction.guild, present))

    async def post_due(self) -> int:
        """Post every due monthly recap of the servers this process serves; how many were posted."""
        recaps = self.bot.crate.recaps
        period, due = await recaps.monthly_due()
        posted = 0
        for guild_id in due:
            guild = self.bot.get_guild(guild_id)
            if guild is None:  # another shard's server, or Crate left it
                continue
            chosen = await self.bot.crate.server_settings.get(guild_id)
            channel = guild.get_channel(chosen.announce_channel_id or 0) or guild.system_channel
            if not isinstance(channel, discord.TextChannel):
                continue
            sending = False
            try:
                if not await recaps.claim_post(guild_id, period, channel.id):
                    continue
                with speaking(guild.preferred_locale):  # a post to the channel: in the server's language
                    recap = await recaps.recap(guild_id, None, "month", ended=True)
                    if recap.is_empty:  # a quiet month: no empty card in the channel (and not tried again)
                        log.info("server %s had nothing to recap in %s: nothing posted", guild_id, period)
                        continue
                    card = await self._card(recap, guild)
                    text = _("📼 This server's recap of {period}. See your own with `/recap`.").format(
                        period=span_words(recap.span)
                    )
                sending = True  # from here Discord may have it: never given back, so never posted twice
                await channel.send(content=text, file=card, allowed_mentions=discord.AllowedMentions.none())
            except asyncio.CancelledError:
                # Crate stopping before the post was sent (its claim perhaps written): the next start posts it
                if not sending:
                    await asyncio.shield(recaps.release_post(guild_id, period))
                raise
            except Exception as error:  # one server's failure neither loses its post nor holds up the others'
                await recaps.post_failed(guild_id, period)
                if isinstance(error, discord.HTTPException):  # 403: Crate may not post there; 404: it went
                    log.warning(
                        "the recap of %s for server %s could not be posted in channel %s (%s %s); trying again in %.0f s",
                        period, guild_id, channel.id, error.status, error.text, recaps_app.RETRY_AFTER,
                    )  # fmt: skip
                else:
                    log.exception("the recap of %s for server %s failed; trying again later", period, guild_id)
                continue
            posted += 1
        return posted


async def setup(bot: CrateBot) -> None:
    await bot.add_cog(Recaps(bot))
