"""Discord's limits on message components and modals, checked the way its API checks them.

The REST layer turns a :class:`ComponentError` into ``400 {"code": 50035, "message": "Invalid
Form Body"...}``, as Discord answers a bot that sends an oversized select or modal. Limits (API
v10, "Message Components" and "Interactions: Modal" in Discord's developer docs):

* a message has at most 5 action rows; a row holds up to 5 buttons or exactly one select;
* ``custom_id`` 1-100 characters, unique within the message / modal;
* string select: 1-25 options, option ``label``/``value``/``description`` <= 100 characters,
  values unique, ``placeholder`` <= 150, ``0 <= min_values <= max_values <= 25`` and
  ``min_values`` no more than the options;
* button ``label`` <= 80;
* modal: ``title`` 1-45 characters, ``custom_id`` 1-100, 1-5 top-level components, each an
  action row with exactly one text input (or a label, type 18, wrapping one component); text
  input ``label`` 1-45 (in an action row), ``style`` 1 or 2, ``min_length`` 0-4000,
  ``max_length`` 1-4000, ``placeholder`` <= 100, ``value`` <= 4000.

What a person types into a modal is limited by the Discord client before it is sent (required
fields, ``min_length``/``max_length``): :func:`check_modal_answer` raises ``ValueError`` in the
test that tries to submit what a real client would not.

Components V2 (the message flag ``IS_COMPONENTS_V2``, ``1 << 15``; "Component Reference" in
Discord's developer docs), checked by :func:`check_v2_components`:

* top level: action row (1), section (9), text display (10), media gallery (12), file (13),
  separator (14), container (17); a container holds the same but containers; a section holds
  1-3 text displays and a thumbnail (11) or button accessory; a thumbnail only as an accessory;
* at most 40 components in all, nested ones counted; text displays 4000 characters together;
* a media gallery 1-10 items; media (gallery items, thumbnails) is an ``http(s)://`` or
  ``attachment://`` URL, a file (13) only ``attachment://``; descriptions <= 1024 characters;
  separator ``spacing`` 1 or 2; container ``accent_color`` 0-0xFFFFFF;
* component ``id`` (optional) unique in the message: Discord numbers the others;
* ``custom_id`` rules as for legacy rows (buttons and selects, in rows or as accessories).

Without the flag these types are refused ("the IS_COMPONENTS_V2 flag is required"); the flag's
own message rules (no content, embeds, stickers or polls; attachments referenced by
``attachment://`` uploaded with the message) are checked by the REST layer, which knows them.
"""

from __future__ import annotations

from typing import Any

ROW, BUTTON, STRING_SELECT, TEXT_INPUT, LABEL = 1, 2, 3, 4, 18
SELECTS = {3, 5, 6, 7, 8}
SECTION, TEXT_DISPLAY, THUMBNAIL, MEDIA_GALLERY, FILE, SEPARATOR, CONTAINER = 9, 10, 11, 12, 13, 14, 17
V2_TYPES = {SECTION, TEXT_DISPLAY, THUMBNAIL, MEDIA_GALLERY, FILE, SEPARATOR, CONTAINER}
V2_TOP = {ROW, SECTION, TEXT_DISPLAY, MEDIA_GALLERY, FILE, SEPARATOR, CONTAINER}
IN_CONTAINER = V2_TOP - {CONTAINER}
MAX_V2_COMPONENTS = 40
MAX_V2_TEXT = 4000


class ComponentError(ValueError):
    """A component payload Discord would refuse with 50035 Invalid Form Body."""


def _length(where: str, value: Any, low: int, high: int) -> None:
    text = "" if value is None else str(value)
    if not low <= len(text) <= high:
        raise ComponentError(f"{where}: must be between {low} and {high} in length (got {len(text)})")


def _custom_id(where: str, component: dict[str, Any], seen: set[str]) -> None:
    cid = component.get("custom_id")
    _length(f"{where}.custom_id", cid, 1, 100)
    if cid in seen:
        raise ComponentError(f"{where}.custom_id: component custom id cannot be duplicated ({cid!r})")
    seen.add(cid)


def check_message_components(rows: list[dict[str, Any]]) -> None:
    """Refuse what Discord refuses in a message's ``components`` (legacy, non-v2 layout)."""
    if len(rows) > 5:
        raise ComponentError(f"components: must be 5 or fewer in length (got {len(rows)})")
    seen: set[str] = set()
    for r, row in enumerate(rows):
        where = f"components.{r}"
        if row.get("type") in V2_TYPES:
            raise ComponentError(
                f"{where}.type: component type {row.get('type')} needs the IS_COMPONENTS_V2 message flag"
            )
        if row.get("type") != ROW:
            raise ComponentError(f"{where}.type: only action rows are allowed at the top level")
        _check_row(where, row, seen)


def _check_row(where: str, row: dict[str, Any], seen: set[str]) -> None:
    children = row.get("components") or []
    if not children:
        raise ComponentError(f"{where}.components: must be between 1 and 5 in length")
    selects = [c for c in children if c.get("type") in SELECTS]
    if selects and len(children) > 1:
        raise ComponentError(f"{where}: a select menu must be alone in its action row")
    if len(children) > 5:
        raise ComponentError(f"{where}.components: must be 5 or fewer in length")
    for i, child in enumerate(children):
        cwhere = f"{where}.components.{i}"
        if child.get("type") == BUTTON:
            _check_button(cwhere, child, seen)
        elif child.get("type") in SELECTS:
            _custom_id(cwhere, child, seen)
            _check_select(cwhere, child)
        else:
            raise ComponentError(
                f"{cwhere}.type: an action row holds buttons or one select, not type {child.get('type')}"
            )


def _check_button(where: str, button: dict[str, Any], seen: set[str]) -> None:
    _length(f"{where}.label", button.get("label"), 0, 80)
    if button.get("style") == 5:
        if not str(button.get("url") or "").startswith(("http://", "https://", "discord://")):
            raise ComponentError(f"{where}.url: a link button needs a URL")
    elif button.get("style") != 6:
        _custom_id(where, button, seen)


def _walk(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every component, nested ones included (children, a section's accessory), depth first."""
    found: list[dict[str, Any]] = []
    for component in components:
        found.append(component)
        found += _walk(component.get("components") or [])
        if isinstance(component.get("accessory"), dict):
            found += _walk([component["accessory"]])
    return found


def _media(where: str, media: Any, *, attachment_only: bool = False) -> None:
    url = media.get("url") if isinstance(media, dict) else None
    schemes = ("attachment://",) if attachment_only else ("attachment://", "http://", "https://")
    if not isinstance(url, str) or not url.startswith(schemes):
        raise ComponentError(f"{where}.url: must be one of {', '.join(schemes)} (got {url!r})")


def _check_v2(where: str, component: dict[str, Any], allowed: set[int], seen: set[str]) -> None:
    kind = component.get("type")
    if kind not in allowed:
        raise ComponentError(f"{where}.type: component type {kind} is not allowed here")
    if kind == ROW:
        _check_row(where, component, seen)
    elif kind == CONTAINER:
        children = component.get("components") or []
        if not children:
            raise ComponentError(f"{where}.components: a container holds at least one component")
        accent = component.get("accent_color")
        if accent is not None and not 0 <= int(accent) <= 0xFFFFFF:
            raise ComponentError(f"{where}.accent_color: must be between 0 and 16777215")
        for i, child in enumerate(children):
            _check_v2(f"{where}.components.{i}", child, IN_CONTAINER, seen)
    elif kind == SECTION:
        children = component.get("components") or []
        if not 1 <= len(children) <= 3:
            raise ComponentError(f"{where}.components: a section holds 1 to 3 text displays (got {len(children)})")
        for i, child in enumerate(children):
            _check_v2(f"{where}.components.{i}", child, {TEXT_DISPLAY}, seen)
        accessory = component.get("accessory")
        if not isinstance(accessory, dict):
            raise ComponentError(f"{where}.accessory: a section needs a thumbnail or button accessory")
        if accessory.get("type") == BUTTON:
            _check_button(f"{where}.accessory", accessory, seen)
        else:
            _check_v2(f"{where}.accessory", accessory, {THUMBNAIL}, seen)
    elif kind == TEXT_DISPLAY:
        _length(f"{where}.content", component.get("content"), 1, MAX_V2_TEXT)
    elif kind == THUMBNAIL:
        _media(f"{where}.media", component.get("media"))
        _length(f"{where}.description", component.get("description"), 0, 1024)
    elif kind == MEDIA_GALLERY:
        items = component.get("items") or []
        if not 1 <= len(items) <= 10:
            raise ComponentError(f"{where}.items: must be between 1 and 10 in length (got {len(items)})")
        for i, item in enumerate(items):
            _media(f"{where}.items.{i}.media", item.get("media"))
            _length(f"{where}.items.{i}.description", item.get("description"), 0, 1024)
    elif kind == FILE:
        _media(f"{where}.file", component.get("file"), attachment_only=True)
    elif kind == SEPARATOR and component.get("spacing", 1) not in (1, 2):
        raise ComponentError(f"{where}.spacing: must be 1 (small) or 2 (large)")


def check_v2_components(components: list[dict[str, Any]]) -> None:
    """Refuse what Discord refuses in the ``components`` of a message with ``IS_COMPONENTS_V2``."""
    if not components:
        raise ComponentError("components: a message with the IS_COMPONENTS_V2 flag needs components")
    every = _walk(components)
    if len(every) > MAX_V2_COMPONENTS:
        raise ComponentError(
            f"components: the total number of components must be {MAX_V2_COMPONENTS} or fewer (got {len(every)})"
        )
    seen: set[str] = set()
    for t, top in enumerate(components):
        _check_v2(f"components.{t}", top, V2_TOP, seen)
    text = sum(len(str(c.get("content") or "")) for c in every if c.get("type") == TEXT_DISPLAY)
    if text > MAX_V2_TEXT:
        raise ComponentError(f"components: text displays hold {MAX_V2_TEXT} characters in all (got {text})")
    ids: set[int] = set()
    for component in every:
        if component.get("id") is not None:
            if int(component["id"]) in ids:
                raise ComponentError(f"components: component id {component['id']} is duplicated")
            ids.add(int(component["id"]))


def number_components(components: list[dict[str, Any]]) -> None:
    """Give every component without an ``id`` the next free number, as Discord does."""
    every = _walk(components)
    taken = {int(c["id"]) for c in every if c.get("id") is not None}
    number = 0
    for component in every:
        if component.get("id") is None:
            number += 1
            while number in taken:
                number += 1
            component["id"] = number
            taken.add(number)


def attachment_references(components: list[dict[str, Any]]) -> list[str]:
    """The file names a V2 layout refers to with ``attachment://`` (gallery, thumbnails, files)."""
    names = []
    for component in _walk(components):
        media = [item.get("media") for item in component.get("items") or []]
        media += [component.get("media"), component.get("file")]
        for m in media:
            url = m.get("url") if isinstance(m, dict) else None
            if isinstance(url, str) and url.startswith("attachment://"):
                names.append(url[len("attachment://") :])
    return names


def _check_select(where: str, select: dict[str, Any]) -> None:
    _length(f"{where}.placeholder", select.get("placeholder"), 0, 150)
    low, high = int(select.get("min_values", 1)), int(select.get("max_values", 1))
    if not 0 <= low <= high <= 25:
        raise ComponentError(f"{where}: min_values/max_values must satisfy 0 <= min <= max <= 25")
    if select.get("type") != STRING_SELECT:
        return
    options = select.get("options") or []
    if not 1 <= len(options) <= 25:
        raise ComponentError(f"{where}.options: must be between 1 and 25 in length (got {len(options)})")
    if low > len(options) or high > len(options):
        raise ComponentError(f"{where}: min_values/max_values cannot exceed the number of options")
    values: set[str] = set()
    for i, option in enumerate(options):
        _length(f"{where}.options.{i}.label", option.get("label"), 1, 100)
        _length(f"{where}.options.{i}.value", option.get("value"), 1, 100)
        _length(f"{where}.options.{i}.description", option.get("description"), 0, 100)
        if option["value"] in values:
            raise ComponentError(f"{where}.options.{i}.value: select option values must be unique")
        values.add(option["value"])


def _text_inputs(modal: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    """(where, text input, its label wrapper or None) for every text input of a modal."""
    found = []
    for t, top in enumerate(modal.get("components") or []):
        if top.get("type") == ROW:
            for i, child in enumerate(top.get("components") or []):
                if child.get("type") == TEXT_INPUT:
                    found.append((f"data.components.{t}.components.{i}", child, None))
        elif (
            top.get("type") == LABEL
            and isinstance(top.get("component"), dict)
            and top["component"].get("type") == TEXT_INPUT
        ):
            found.append((f"data.components.{t}.component", top["component"], top))
    return found


def check_modal(modal: dict[str, Any]) -> None:
    """Refuse what Discord refuses in an interaction response of type 9 (MODAL)."""
    _length("data.title", modal.get("title"), 1, 45)
    _length("data.custom_id", modal.get("custom_id"), 1, 100)
    tops = modal.get("components") or []
    if not 1 <= len(tops) <= 5:
        raise ComponentError(f"data.components: must be between 1 and 5 in length (got {len(tops)})")
    for t, top in enumerate(tops):
        if top.get("type") == ROW:
            children = top.get("components") or []
            if len(children) != 1:
                raise ComponentError(f"data.components.{t}.components: a modal row holds exactly one component")
            if children[0].get("type") != TEXT_INPUT:
                raise ComponentError(f"data.components.{t}.components.0: only text inputs go in a modal's action rows")
        elif top.get("type") == LABEL:
            _length(f"data.components.{t}.label", top.get("label"), 1, 45)
        else:
            raise ComponentError(f"data.components.{t}: type {top.get('type')} is not allowed in a modal")
    seen: set[str] = set()
    for where, text, label in _text_inputs(modal):
        _custom_id(where, text, seen)
        if label is None:
            _length(f"{where}.label", text.get("label"), 1, 45)
        if text.get("style") not in (1, 2):
            raise ComponentError(f"{where}.style: must be 1 (short) or 2 (paragraph)")
        low, high = text.get("min_length"), text.get("max_length")
        if low is not None and not 0 <= int(low) <= 4000:
            raise ComponentError(f"{where}.min_length: must be between 0 and 4000")
        if high is not None and not 1 <= int(high) <= 4000:
            raise ComponentError(f"{where}.max_length: must be between 1 and 4000")
        if low is not None and high is not None and int(low) > int(high):
            raise ComponentError(f"{where}: min_length must not exceed max_length")
        _length(f"{where}.placeholder", text.get("placeholder"), 0, 100)
        _length(f"{where}.value", text.get("value"), 0, int(high) if high is not None else 4000)


def check_modal_answer(modal: dict[str, Any], values: dict[str, Any]) -> None:
    """What a Discord client lets a person submit: required fields filled, lengths within bounds."""
    for _, text, _label in _text_inputs(modal):
        cid = text["custom_id"]
        typed = str(values.get(cid, text.get("value") or ""))
        required = text.get("required", True)
        if required and not typed:
            raise ValueError(f"modal field {cid!r} is required: the Discord client would not submit it empty")
        if typed or required:
            low, high = int(text.get("min_length") or 0), int(text.get("max_length") or 4000)
            if not low <= len(typed) <= high:
                raise ValueError(f"modal field {cid!r} takes {low}-{high} characters, not {len(typed)}")
