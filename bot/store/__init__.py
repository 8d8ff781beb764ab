"""Crate's storage: SQLite through aiosqlite (or PostgreSQL through asyncpg when
``CRATE_DATABASE_URL`` is set: :mod:`~bot.store.postgres`), every row scoped to its guild.

The domain values the rows become (:class:`~bot.catalog.Track`, :class:`~bot.catalog.Rating`,
…) live in :mod:`bot.catalog`, below the store. One module owns each table: :mod:`~bot.store.tracks`, :mod:`~bot.store.shares`,
:mod:`~bot.store.ratings`, :mod:`~bot.store.members`,
:mod:`~bot.store.corrections`. :mod:`~bot.store.database` owns the
connection, the pragmas, the single writer path and the migrations in ``migrations/`` (their
PostgreSQL twins in ``migrations/postgresql/``); :mod:`~bot.store.transfer` is ``crate migrate-db``.
"""

from bot.store.changes import Changes, changes_of
from bot.store.connect import connect_database, open_database
from bot.store.corrections import (
    corrections_in_guild,
    corrections_of_track,
    delete_corrections_of,
    record_correction,
)
from bot.store.database import Database, Migration, load_migrations
from bot.store.errors import DatabaseBusy, DatabaseTooNew, MigrationError, StoreError
from bot.store.members import (
    ForgetReport,
    display_names,
    forget_member,
    last_track,
    remember_name,
    set_last_track,
)
from bot.store.ratings import (
    clear_rating,
    rate,
    rating_of,
    ratings_in_guild,
    ratings_of,
    ratings_of_track,
    track_scores,
)
from bot.store.sessions import (
    QueueEntry,
    Session,
    SessionAlreadyOpenError,
    SessionMember,
)
from bot.store.shares import Share, record_share, sharers_of, shares_of, top_sharers
from bot.store.sharing import store_share, store_share_again
from bot.store.tracks import (
    NEAR_DUPLICATE_MAX_SECONDS,
    NEAR_DUPLICATE_MIN_COSINE,
    BaseGenres,
    TrackSource,
    add_track,
    base_genres,
    count_tracks,
    delete_track,
    embeddings_to_relabel,
    find_near_duplicate,
    get_track,
    load_catalog,
    recent_tracks,
    search_tracks,
    set_genres,
    set_shown_genres,
    set_track_source,
    track_by_hash,
    track_source,
    track_titles,
    tracks_to_relabel,
    tracks_with_genre,
)
from bot.store.vectors import from_blob, stack_blobs, to_blob

__all__ = [
    "NEAR_DUPLICATE_MAX_SECONDS",
    "NEAR_DUPLICATE_MIN_COSINE",
    "BaseGenres",
    "Changes",
    "Database",
    "DatabaseBusy",
    "DatabaseTooNew",
    "ForgetReport",
    "Migration",
    "MigrationError",
    "QueueEntry",
    "Session",
    "SessionAlreadyOpenError",
    "SessionMember",
    "Share",
    "StoreError",
    "TrackSource",
    "add_track",
    "base_genres",
    "changes_of",
    "clear_rating",
    "connect_database",
    "corrections_in_guild",
    "corrections_of_track",
    "count_tracks",
    "delete_corrections_of",
    "delete_track",
    "display_names",
    "embeddings_to_relabel",
    "find_near_duplicate",
    "forget_member",
    "from_blob",
    "get_track",
    "last_track",
    "load_catalog",
    "load_migrations",
    "open_database",
    "rate",
    "rating_of",
    "ratings_in_guild",
    "ratings_of",
    "ratings_of_track",
    "recent_tracks",
    "record_correction",
    "record_share",
    "remember_name",
    "search_tracks",
    "set_genres",
    "set_last_track",
    "set_shown_genres",
    "set_track_source",
    "sharers_of",
    "shares_of",
    "stack_blobs",
    "store_share",
    "store_share_again",
    "to_blob",
    "top_sharers",
    "track_by_hash",
    "track_scores",
    "track_source",
    "track_titles",
    "tracks_to_relabel",
    "tracks_with_genre",
]
