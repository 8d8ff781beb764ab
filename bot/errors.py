"""The base of every error a user can cause.

Each subclass carries the sentence the user will read, so that no caller (CLI, console,
Discord cog) ever invents error wording of its own.
"""

from bot.i18n import N_


class CrateError(Exception):
    """An error with a message meant for the person who caused it."""

    #: The default sentence shown to the user; subclasses override it.
    user_message = N_("Something went wrong.")

    def __init__(self, user_message: str | None = None, *, detail: str | None = None):
        self.user_message = user_message or self.user_message
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
