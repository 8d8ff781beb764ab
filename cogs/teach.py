"""The "Not right?" select under every track, and the modal that names a new genre.

Anyone may pick the right family, one of the server's own genres, or "Something else…" (a
modal asks for its name). The select's custom id carries the track, so it keeps working after a
restart, and so does the modal's: its answer is read from the submission itself by a listener
(:func:`on_new_genre`), not by the modal object, which a restart between opening and submitting
would have lost. The answer goes through :meth:`bot.app.crate.Crate.correct`, like ``/correct`` in the console
and ``crate teach``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Self

import discord

from bot.app.teaching import MAX_GENRE_NAME
from bot.errors import UnknownChoice
from bot.format import clip
from bot.genres import DISPLAY_NAMES, FAMILIES
from bot.i18n import N_, _
from bot.present.describe import taught_text
from cogs import replies
from cogs.caller import guild_id_of
from cogs.client import CrateBot

#: Discord shows at most 25 options: the 14 families, "Something else…", and up to 10 of the server's own.
CUSTOM_SHOWN = 25 - len(FAMILIES) - 1
SOMETHING_ELSE = "new"
NAME_FIELD = "crate:newgenre:name"  # the modal's text input
NAME_LABEL = N_("Which genre is it?")
NAME_EXAMPLES = N_("e.g. city pop, vaporwave, fantasy orchestral")
_FAMILY, _CUSTOM = "f:", "c:"


def _options(custom_genres: Sequence[str]) -> list[discord.SelectOption]:
    options = [discord.SelectOption(label=_(DISPLAY_NAMES[f]), value=_FAMILY + f) for f in FAMILIES]
    options += [
        discord.SelectOption(label=clip(g, 100), value=_CUSTOM + g, description=_("this server's own genre"))
        for g in list(custom_genres)[:CUSTOM_SHOWN]
    ]
    options.append(
        discord.SelectOption(
            label=_("Something else…"), value=SOMETHING_ELSE, description=_("name the genre"), emoji="✏️"
        )
    )
    return options


class CorrectSelect(
    replies.AnswersErrors,
    discord.ui.DynamicItem[discord.ui.Select],
    template=r"crate:correct:(?P<track>\d+)",
):
    """ "Not right?" under a track: any member tells Crate its genre, for this server."""

    def __init__(self, track_id: int, custom_genres: Sequence[str] = ()):
        super().__init__(
            discord.ui.Select(
                custom_id=f"crate:correct:{track_id}",
                placeholder=_("Not right? Tell me the genre"),
                min_values=1,
                max_values=1,
                options=_options(custom_genres),
            )
        )
        self.track_id = track_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> Self:
        return cls(int(match["track"]))

    async def answer(self, interaction: discord.Interaction[CrateBot]) -> None:
        [value] = self.item.values  # discord.py fills the select's state from the interaction first
        if value == SOMETHING_ELSE:
            await interaction.response.send_modal(NewGenreModal(self.track_id))  # a modal must be the first answer
            return
        await correct(interaction, self.track_id, await _offered_genre(interaction, value))


async def _offered_genre(interaction: discord.Interaction[CrateBot], value: str) -> str:
    """The genre a select value names, if the menu could have offered it in this server: a family,
    or one of the server's own genres (a new one is named in the modal). Anything else was forged."""
    kind, colon, genre = value.partition(":")
    if colon and kind + colon == _FAMILY and genre in FAMILIES:
        return genre
    offered = await interaction.client.crate.teaching.custom_genres(guild_id_of(interaction))
    if colon and kind + colon == _CUSTOM and genre in offered:
        return genre
    raise UnknownChoice(detail=f"'Not right?' value {value!r}")


class NewGenreModal(discord.ui.Modal):
    """Names a genre the families lack ("city pop", "fantasy orchestral"): one text input under a
    label (Discord's modal label component; a text input's own label is deprecated)."""

    def __init__(self, track_id: int):
        # one id per opening: two members naming genres for the same track never share a modal
        super().__init__(title=_("Name the genre"), timeout=15 * 60, custom_id=f"crate:newgenre:{track_id}:{id(self)}")
        self.track_id = track_id
        self.name: discord.ui.TextInput = discord.ui.TextInput(
            custom_id=NAME_FIELD,
            placeholder=_(NAME_EXAMPLES),  # in the language of the member who opens it
            min_length=1,
            max_length=MAX_GENRE_NAME,
        )
        self.add_item(discord.ui.Label(text=_(NAME_LABEL), component=self.name))

    async def on_submit(self, interaction: discord.Interaction[CrateBot]) -> None:  # type: ignore[override]
        """Nothing: :func:`on_new_genre` answers every submission of this modal, before or after a restart."""


_NEW_GENRE = re.compile(r"crate:newgenre:(?P<track>\d+):\d+")


def _typed(components: Sequence[dict], custom_id: str) -> str | None:
    """The value of text input ``custom_id`` in a modal submission's components (in action rows, or
    in the label components that newer modals use)."""
    for component in components:
        if component.get("custom_id") == custom_id and "value" in component:
            return str(component["value"])
        inner = list(component.get("components") or []) + (
            [component["component"]] if component.get("component") else []
        )
        if (found := _typed(inner, custom_id)) is not None:
            return found
    return None


async def on_new_genre(interaction: discord.Interaction[CrateBot]) -> None:
    """Answer a submitted "Name the genre" modal from what it carries: the track in its custom id,
    the name in its text input."""
    data: dict = dict(interaction.data or {})
    if interaction.type is not discord.InteractionType.modal_submit:
        return
    match = _NEW_GENRE.fullmatch(str(data.get("custom_id", "")))
    if match is None:
        return
    replies.speak_like(interaction)
    try:
        name = _typed(list(data.get("components") or []), NAME_FIELD) or ""
        await correct(interaction, int(match["track"]), name)
    except Exception as error:
        await replies.report_error(interaction, error)


async def correct(interaction: discord.Interaction[CrateBot], track_id: int, genre: str) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)  # acknowledge before writing
    taught = await interaction.client.crate.teaching.correct(
        guild_id_of(interaction), interaction.user.id, track_id, genre
    )
    await replies.send(interaction, content=taught_text(taught), ephemeral=True)


async def add_correction(view: discord.ui.View, crate, guild_id: int | None, track_id: int) -> discord.ui.View:
    """Put the "Not right?" select (on a row of its own) under a track's buttons."""
    custom = await crate.teaching.custom_genres(guild_id) if guild_id is not None else []
    select = CorrectSelect(track_id, custom)
    select.item.row = 4
    view.add_item(select)
    return view


async def setup(bot: CrateBot) -> None:
    bot.add_dynamic_items(CorrectSelect)
    bot.add_listener(on_new_genre, "on_interaction")
