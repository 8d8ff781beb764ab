"""The base of every error a user can cause.

Each subclass carries the sentence the user will read, so that no caller (CLI, console,
Discord cog) ever invents error wording of its own. A sentence about this one case (a length, a
name) is written with ``{fields}`` and raised with ``values``, so that it can be said in the
member's language too (``cogs/replies.error_text``).
"""

from collections.abc import Mapping
from typing import ClassVar

from bot.i18n import N_


class CrateError(Exception):
    """An error with a message meant for the person who caused it."""

    #: The default sentence shown to the user; subclasses override it.
    user_message = N_("Something went wrong.")
    #: Values the class's own sentence always says (a limit): ``{limit}`` in ``user_message``.
    template_values: ClassVar[Mapping[str, object]] = {}

    def __init__(
        self, user_message: str | None = None, *, detail: str | None = None, values: Mapping[str, object] | None = None
    ):
        #: The sentence as written, before ``values`` are put in: what the catalogs translate
        #: (mark it ``N_``; its ``{name}`` fields are filled from ``values``).
        self.template = user_message or self.user_message
        #: What the sentence says of this case (a length, a limit, a name the member typed).
        self.values = {**self.template_values, **(values or {})}
        self.user_message = self.template.format(**self.values) if self.values else self.template
        #: Technical detail for logs, never shown to users.
        self.detail = detail
        super().__init__(self.user_message)


class UnknownChoice(CrateError):
    """A component value or command option Crate never offered here: a forged interaction, or a
    menu older than what it lists."""

    user_message = N_(
        "That choice isn't one I offered in this server (a menu from an older message, or a channel or role "
        "of another server). Pick again from what this server's menus list."
    )
