"""Answering interactions the same way everywhere: first response or follow-up, and errors."""

from __future__ import annotations

import contextlib
import logging
import re
from typing import Any, ClassVar, Self

import discord

from bot.errors import CrateError
from bot.format import literal
from bot.i18n import N_, _, speak, speaking

log = logging.getLogger(__name__)

UNEXPECTED = N_("Something went wrong on my side. I've noted it; please try again.")


#: ``interaction.extras`` key: deferred publicly, and the "thinking" placeholder is still unanswered.
PUBLIC_PLACEHOLDER = "crate_public_placeholder"


async def defer(interaction: discord.Interaction, *, ephemeral: bool = False) -> None:
    """Acknowledge now ("thinking"), answer later. The visibility is decided here, once: on
    Discord the first follow-up replaces the placeholder and keeps *its* visibility."""
    await interaction.response.defer(thinking=True, ephemeral=ephemeral)
    if not ephemeral:
        interaction.extras[PUBLIC_PLACEHOLDER] = True


async def send(interaction: discord.Interaction, *, ephemeral: bool = False, **message) -> None:
    """Answer an interaction: as its response if none was sent yet, else as a follow-up.

    A private answer after a public defer (an error meant for one person) must not become the
    public reply: the placeholder is removed first, so the follow-up is a new, private message.
    """
    if not interaction.response.is_done():
        await interaction.response.send_message(ephemeral=ephemeral, **message)
        return
    if interaction.extras.pop(PUBLIC_PLACEHOLDER, False) and ephemeral:
        with contextlib.suppress(discord.HTTPException):
            await interaction.delete_original_response()
    await interaction.followup.send(ephemeral=ephemeral, **message)


#: What a sentence of Crate's quotes: from its first “ to its last ” on a line (a quoted name may
#: itself hold “ or ”, so the span is the widest one).
_QUOTED = re.compile(r"“.*”")


def error_text(error: BaseException) -> str:
    """The sentence a person reads for an error; unexpected ones are logged, never shown raw.

    ``bot/`` writes its sentences in plain text (the console and the command line print them as
    they are) and quotes every user-given string in them “like this” (a name, a title, what the
    member typed). Here, once for every error, what is quoted is shown as the text it is
    (:func:`bot.format.literal`: no markdown, no mention); Crate's own words keep their form.

    The sentence is said in the member's language: its template (marked ``N_``) from the
    catalogs, then its values put in."""
    if isinstance(error, CrateError):
        said = _(error.template).format(**error.values) if error.values else _(error.template)
        return _QUOTED.sub(lambda quoted: literal(quoted[0]), said)
    log.error("unexpected error", exc_info=error)
    return _(UNEXPECTED)


def server_language(guild: discord.Guild | None) -> contextlib.AbstractContextManager[str]:
    """Speak the server's language (Server Settings ▸ its locale) within the block: for what
    Crate posts to a channel on its own (the now-playing board, the monthly recap), which every
    member there reads."""
    return speaking(getattr(guild, "preferred_locale", None))


def speak_like(interaction: discord.Interaction) -> str:
    """Answer this interaction in the member's language (:mod:`bot.i18n`), for the rest of its
    task: every slash command, menu and autocomplete (``CrateTree.interaction_check``), button
    and select (:class:`AnswersErrors`) and modal calls it first."""
    return speak(interaction.locale)


async def report_error(interaction: discord.Interaction, error: BaseException) -> None:
    text = f"⚠️ {error_text(error)}"
    try:
        await send(interaction, content=text, ephemeral=True)
    except discord.HTTPException:
        log.exception("could not report an error to the user")


class AnswersErrors:
    """The one error path of Crate's buttons and selects: mix it in before ``DynamicItem``.

    The item does its work in :meth:`answer`; whatever it raises becomes the same friendly,
    private reply a slash command gives (:func:`report_error`), so no item writes its own catch.

    discord.py calls an item's hooks (``from_custom_id``, ``interaction_check``, ``callback``) with
    an ``Interaction`` of whichever client it runs in, and ``from_custom_id`` with the matched
    component as a plain ``Item``: the hooks take ``Interaction[Any]`` and ``Item[Any]`` (checking
    the item's kind before reading it); :meth:`answer` takes ``Interaction[CrateBot]``, as
    Crate's items only ever run in its ``CrateBot``.
    """

    async def answer(self, interaction: discord.Interaction[Any]) -> None:
        raise NotImplementedError

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        speak_like(interaction)
        try:
            await self.answer(interaction)
        except Exception as error:
            await report_error(interaction, error)


class IdButton(AnswersErrors, discord.ui.DynamicItem[discord.ui.Button], template=r"(?!)"):
    """A persistent button that carries one id (a track's, a session's) in its custom id,
    ``crate:<kind>:<id>``, so it keeps working after a restart. A subclass names its kind and its
    look, and implements :meth:`answer` with :attr:`target_id`::

        class SkipButton(IdButton, kind="skip", emoji="⏭", label="Next", style=discord.ButtonStyle.primary): ...
    """

    emoji: ClassVar[str]
    label: ClassVar[str]
    style: ClassVar[discord.ButtonStyle]
    kind: ClassVar[str]

    def __init_subclass__(
        cls, *, kind: str, emoji: str, label: str, style: discord.ButtonStyle = discord.ButtonStyle.secondary
    ) -> None:
        super().__init_subclass__(template=rf"crate:{kind}:(?P<id>\d+)")
        cls.kind, cls.emoji, cls.label, cls.style = kind, emoji, label, style

    def __init__(self, target_id: int, *, label: str | None = None):
        """``label`` replaces the kind's own, e.g. a pick's number where several tracks share a card."""
        super().__init__(
            discord.ui.Button(
                emoji=self.emoji,
                label=label or _(self.label),
                style=self.style,
                custom_id=f"crate:{self.kind}:{target_id}",
            )
        )
        self.target_id = target_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> Self:
        return cls(int(match["id"]), label=item.label if isinstance(item, discord.ui.Button) else None)
