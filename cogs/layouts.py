"""Crate's answers as cards: Discord's Components V2 layouts (``discord.ui.LayoutView``).

A card is one container in the answer's colour: the title (a link when the track is one), the
words, a picture inside the card (a media gallery) and the buttons inside it too. The words are
those of the answer's embed builder (:mod:`cogs.render` and the cogs' own), so there is one
wording and one escaping (``bot.format.literal``) whichever way an answer is shown; a card only
lays them out (an embed's footer, plain text there, is small markdown text in a card: it is shown
through ``literal`` too, so a remembered name in it stays the text it is). The buttons are the same persistent ``DynamicItem``s as under an embed, moved into
action rows, so their custom ids, and what a click does after a restart, are unchanged.

A message with a layout has no content and no embeds (the ``IS_COMPONENTS_V2`` flag, which
discord.py sets for a LayoutView) and at most :data:`MAX_COMPONENTS` components, nested ones
counted; :func:`count_components` is what the cogs check against.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import discord

from bot.format import literal

#: Discord's limit on the components of one message, every nested one counted.
MAX_COMPONENTS = 40
#: The rows a legacy view may fill (and so a card's buttons: the same items, row by row).
ROWS = 5

Items = Sequence[discord.ui.Item[Any]]


def action_rows(items: Iterable[discord.ui.Item[Any]]) -> list[discord.ui.ActionRow[Any]]:
    """The items as action rows, placed as a legacy view places them: an item with a ``row``
    goes there, the others fill the first row with room (a select takes a whole row)."""
    rows: list[list[discord.ui.Item[Any]]] = [[] for _ in range(ROWS)]
    weights = [0] * ROWS
    for item in sorted(items, key=lambda i: ROWS if i.row is None else i.row):  # sorted() is stable
        index = item.row if item.row is not None else next(i for i, w in enumerate(weights) if w + item.width <= 5)
        weights[index] += item.width
        rows[index].append(item)
    return [discord.ui.ActionRow(*row) for row in rows if row]


def rows_of(view: discord.ui.View | None) -> list[discord.ui.ActionRow[Any]]:
    """A legacy view's items (what :func:`cogs.feedback.track_view` and the like build) as rows."""
    if view is None:
        return []
    items = list(view.children)
    view.clear_items()  # each item belongs to one view: the card's rows take them over
    return action_rows(items)


def title_text(embed: discord.Embed) -> str | None:
    if not embed.title:
        return None
    return f"### [{embed.title}]({embed.url})" if embed.url else f"### {embed.title}"


def fields_text(embed: discord.Embed) -> str | None:
    """An embed's fields as lines: a field of its own ``**name**`` then its value; inline fields
    side by side on one line, ``**name:** value · **name:** value``."""
    lines: list[str] = []
    inline: list[str] = []
    for field in embed.fields:
        if field.inline:
            inline.append(f"**{field.name}:** {field.value}")
            continue
        if inline:
            lines.append(" · ".join(inline))
            inline = []
        lines.append(f"**{field.name}**\n{field.value}")
    if inline:
        lines.append(" · ".join(inline))
    return "\n".join(lines) or None


def container(
    embed: discord.Embed,
    rows: Sequence[discord.ui.Item[Any]] = (),
    *,
    image: str | None = None,
    image_description: str | None = None,
) -> discord.ui.Container[Any]:
    """An embed's words as a card: title, description, the picture (``image``, e.g.
    ``attachment://chart.png``, or the embed's own image), fields, footer, then ``rows``."""
    card: discord.ui.Container[Any] = discord.ui.Container(accent_colour=embed.colour)
    head = [text for text in (title_text(embed), embed.description) if text]
    thumbnail = embed.thumbnail.url
    if head and thumbnail:
        card.add_item(discord.ui.Section(*head, accessory=discord.ui.Thumbnail(thumbnail)))
    elif head:
        card.add_item(discord.ui.TextDisplay("\n".join(head)))
    picture = image or embed.image.url
    if picture:
        card.add_item(discord.ui.MediaGallery(discord.MediaGalleryItem(picture, description=image_description)))
    fields = fields_text(embed)
    if fields:
        card.add_item(discord.ui.Separator())
        card.add_item(discord.ui.TextDisplay(fields))
    if embed.footer.text:  # an embed's footer is plain text; in a card, small text (markdown)
        card.add_item(discord.ui.TextDisplay(f"-# {literal(embed.footer.text)}"))
    for row in rows:
        card.add_item(row)
    return card


def card(
    embed: discord.Embed,
    view: discord.ui.View | None = None,
    *,
    image: str | None = None,
    image_description: str | None = None,
) -> discord.ui.LayoutView:
    """The answer ``embed`` with ``view``'s buttons as one card (see the module's docstring)."""
    layout = discord.ui.LayoutView(timeout=None)
    layout.add_item(container(embed, rows_of(view), image=image, image_description=image_description))
    return layout


def notice(text: str) -> discord.ui.LayoutView:
    """A card of one sentence: what a card becomes when it has nothing more to offer (its
    buttons gone), since a layout cannot turn back into plain content."""
    layout = discord.ui.LayoutView(timeout=None)
    layout.add_item(discord.ui.TextDisplay(text))
    return layout


def count_components(layout: discord.ui.LayoutView) -> int:
    """Components in a layout, nested ones counted, as Discord counts them against its limit."""
    return sum(1 for _ in layout.walk_children())
