"""Typed errors raised by Crate's storage layer."""

from bot.errors import CrateError
from bot.i18n import N_


class StoreError(CrateError):
    """Crate's database could not do what was asked."""

    user_message = N_("Crate's database had a problem; please try again later.")


class DatabaseTooNew(StoreError):
    """The database file was written by a newer version of Crate than this one."""

    user_message = N_(
        "Crate's database was created by a newer version of Crate. "
        "Upgrade Crate, or point CRATE_DATABASE at another file."
    )


class MigrationError(StoreError):
    """A schema migration failed or the migration files are inconsistent."""

    user_message = N_("Crate could not update its database schema.")


class DatabaseBusy(StoreError):
    """Another process held SQLite's write lock past the busy timeout; nothing was changed."""

    user_message = N_(
        "I couldn't save that just now: my database is busy. Nothing was changed; please try again in a moment."
    )
