"""Read one of Crate's answers the same way whether it is an embed or a card (Components V2).

``card(message)`` gives the title, link, description, fields and footer a reader sees: from the
message's embed, or from its layout as :mod:`cogs.layouts` lays an answer out (a container: the
title as a ``###`` heading, the words, a separator, the fields — ``**name:** value`` side by side
or ``**name**`` over its value — and the footer as ``-#`` small text). Tests assert on what is
said, not on which of the two Discord shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tests.fakediscord import RecordedMessage

_LINKED = re.compile(r"^\[(?P<title>.*)\]\((?P<url>[^)\s]*)\)$")
_INLINE = re.compile(r"\*\*(?P<name>[^*\n]+?):\*\* (?P<value>.*?)(?= · \*\*[^*\n]+?:\*\* |$)")
_BLOCK = re.compile(r"^\*\*(?P<name>[^*\n]+)\*\*$")


@dataclass
class Card:
    title: str = ""
    url: str | None = None
    description: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    footer: str = ""
    colour: int | None = None

    @property
    def text(self) -> str:
        """Everything the card says, one part a line."""
        parts = [self.title, self.description, *(f"{k}\n{v}" for k, v in self.fields.items()), self.footer]
        return "\n".join(p for p in parts if p)


def parse_fields(text: str) -> dict[str, str]:
    """``**name:** value · **name:** value`` lines and ``**name**`` lines over their value."""
    fields: dict[str, str] = {}
    block: str | None = None
    for line in text.splitlines():
        heading = _BLOCK.match(line)
        if heading:
            block = heading["name"]
            fields[block] = ""
        elif line.startswith("**") and _INLINE.match(line):
            block = None
            fields.update({m["name"]: m["value"] for m in _INLINE.finditer(line)})
        elif block is not None:
            fields[block] = f"{fields[block]}\n{line}" if fields[block] else line
    return fields


def _from_layout(components: list[dict[str, Any]]) -> Card:
    box = next((c for c in components if c.get("type") == 17), None)
    children = box["components"] if box else components
    found = Card(colour=box.get("accent_color") if box else None)
    texts: list[str] = []
    after_separator = False
    for child in children:
        kind = child.get("type")
        if kind == 14:
            after_separator = True
        elif kind == 9:
            texts += [t["content"] for t in child.get("components") or []]
        elif kind == 10:
            content = child["content"]
            if content.startswith("-# "):
                found.footer = content[3:]
            elif after_separator and not found.fields:
                found.fields = parse_fields(content)
            else:
                texts.append(content)
    if texts and texts[0].startswith("### "):
        heading, _, rest = texts[0].partition("\n")
        title = heading[4:]
        linked = _LINKED.match(title)
        found.title, found.url = (linked["title"], linked["url"]) if linked else (title, None)
        texts = ([rest] if rest else []) + texts[1:]
    found.description = "\n".join(texts)
    return found


def card(message: RecordedMessage) -> Card:
    """What an answer shows (its first embed, or its card)."""
    if message.components_v2:
        return _from_layout(message.payload()["components"])
    if not message.embeds:
        return Card(description=message.content)
    embed = message.embeds[0]
    return Card(
        title=embed.get("title") or "",
        url=embed.get("url"),
        description=embed.get("description") or "",
        fields={f["name"]: f["value"] for f in embed.get("fields") or []},
        footer=(embed.get("footer") or {}).get("text") or "",
        colour=embed.get("color"),
    )


def answered_card(data: dict[str, Any]) -> Card:
    """The card or embed of an interaction callback's message data (``CallbackRecord.data``)."""
    if int(data.get("flags") or 0) & (1 << 15):
        return _from_layout(data.get("components") or [])
    embeds = data.get("embeds") or [{}]
    return Card(title=embeds[0].get("title") or "", description=embeds[0].get("description") or "")
