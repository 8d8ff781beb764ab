"""The ``tracks`` table: every analyzed track of a guild, with its analysis results.

"The same audio shared twice is one track": :func:`add_track` returns the existing track
when this guild already has the same file (same SHA-256 of the bytes) or a re-encoded copy
of the same audio (near-duplicate: durations within :data:`NEAR_DUPLICATE_MAX_SECONDS` and
embeddings with cosine similarity of at least :data:`NEAR_DUPLICATE_MIN_COSINE`). Either
way the new share is recorded, and a title that only stood in for a name
(:func:`is_placeholder_title`) gives way to the better one the new share brings.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

import numpy as np
from numpy.typing import ArrayLike

from bot.analysis import Analysis
from bot.catalog import EMBEDDING_DIM, SOURCE_KINDS, TAG_COUNT, Catalog, SourceKind, Track
from bot.genres import FAMILIES, distribution
from bot.store import shares
from bot.store.database import Database, fits_integer
from bot.store.vectors import from_blob, stack_blobs, to_blob

#: Two tracks whose durations differ by more than this (seconds) are never near-duplicates.
NEAR_DUPLICATE_MAX_SECONDS = 1.5
#: Embedding cosine similarity from which two tracks of similar duration are the same audio.
NEAR_DUPLICATE_MIN_COSINE = 0.98
#: Discord shows at most 25 autocomplete choices.
SEARCH_LIMIT = 25

_HASH = re.compile(r"^[0-9a-f]{64}$")

#: Titles that name nothing, whatever the source: yt-dlp's for a page without a title ("video"), the
#: stem of YouTube's stream links ("videoplayback"), Crate's own last resort ("Untitled").
GENERIC_TITLES = frozenset({"video", "videoplayback", "untitled"})
#: yt-dlp numbers the audio players of a page: "<the page's title, or the link's stem> (1)".
_PLAYER_NUMBER = re.compile(r".* \(\d+\)")


def is_placeholder_title(title: str, source_kind: str, source_url: str | None) -> bool:
    """Whether ``title`` only stands in for the track's name (the rule of docs/listening.md).

    It does when it is one of :data:`GENERIC_TITLES` (any source), or, for a track from a link,
    when it is what yt-dlp makes up for audio that names nothing: the link's last path segment
    (percent-decoded, with or without its extension), that segment with a player's number
    ("-1", yt-dlp's id of a page's first player), or a page's player numbered "Name (1)". A file's
    name (an attachment, a local file) is the member's own name for the track, never a placeholder.
    """
    title = title.strip()
    if title.casefold() in GENERIC_TITLES:
        return True
    if source_kind != "link" or not source_url:
        return False
    if _PLAYER_NUMBER.fullmatch(title):
        return True
    segment = PurePosixPath(unquote(urlsplit(source_url).path).rstrip("/")).name
    stem = segment.rsplit(".", 1)[0] if "." in segment[1:] else segment
    named = title.casefold()
    return bool(stem) and (
        named in (segment.casefold(), stem.casefold())
        or re.fullmatch(re.escape(stem.casefold()) + r"-\d+", named) is not None
    )


_COLUMNS = (
    "id, guild_id, title, source_url, source_kind, content_hash, duration, genres, top_genre,"
    " tag_probs, embedding, tempo, added_at, added_by, confident, base_genres, mtt_tag_probs, mtt_embedding"
)


def _track(row: Sequence) -> Track:
    return Track(
        id=row[0],
        guild_id=row[1],
        title=row[2],
        source_url=row[3],
        source_kind=row[4],
        content_hash=row[5],
        duration=row[6],
        genres=tuple((str(name), float(p)) for name, p in json.loads(row[7])),
        top_genre=row[8],
        tag_probs=from_blob(row[9], TAG_COUNT),
        embedding=from_blob(row[10], EMBEDDING_DIM),
        tempo=row[11],
        added_at=row[12],
        added_by=row[13],
        confident=bool(row[14]),
        base_genres=tuple((str(name), float(p)) for name, p in json.loads(row[15])),
        mtt_tag_probs=None if row[16] is None else from_blob(row[16], TAG_COUNT),
        mtt_embedding=None if row[17] is None else from_blob(row[17], EMBEDDING_DIM),
    )


def _sorted_genres(genres: Iterable[tuple[str, float]]) -> tuple[tuple[str, float], ...]:
    return distribution(genres)


def _genres_json(genres: tuple[tuple[str, float], ...]) -> str:
    return json.dumps([list(pair) for pair in genres])


@dataclass(frozen=True)
class TrackRow:
    """A track's values checked and encoded for its row, before it is stored (:func:`track_row`)."""

    title: str
    source_url: str | None
    source_kind: SourceKind
    content_hash: str
    duration: float
    genres: tuple[tuple[str, float], ...]  # most probable first
    base_genres: tuple[tuple[str, float], ...]
    confident: bool
    tag_blob: bytes
    embedding_blob: bytes
    tempo: float | None
    mtt_tag_blob: bytes | None
    mtt_embedding_blob: bytes | None
    #: The family model whose answer ``base_genres`` is (its version; '' = unknown, or a custom model).
    genre_model: str = ""


def track_row(
    *,
    title: str,
    source_url: str | None,
    source_kind: SourceKind,
    content_hash: str,
    duration: float,
    genres: Iterable[tuple[str, float]],
    tag_probs: ArrayLike,
    embedding: ArrayLike,
    tempo: float | None,
    confident: bool = False,
    base_genres: Iterable[tuple[str, float]] | None = None,
    mtt_tag_probs: ArrayLike | None = None,
    mtt_embedding: ArrayLike | None = None,
    genre_model: str = "",
) -> TrackRow:
    """Check and encode a track's values (raises ValueError for values no track can have)."""
    title = title.strip()
    if not title:
        raise ValueError("a track needs a title")
    if source_kind not in SOURCE_KINDS:
        raise ValueError(f"source_kind must be one of {sorted(SOURCE_KINDS)}, not {source_kind!r}")
    content_hash = content_hash.lower()
    if not _HASH.match(content_hash):
        raise ValueError("content_hash must be a SHA-256 hex digest")
    duration = float(duration)
    if not math.isfinite(duration) or duration < 0:
        raise ValueError(f"invalid duration {duration!r}")
    sorted_genres = _sorted_genres(genres)
    return TrackRow(
        title=title,
        source_url=source_url,
        source_kind=source_kind,
        content_hash=content_hash,
        duration=duration,
        genres=sorted_genres,
        base_genres=sorted_genres if base_genres is None else _sorted_genres(base_genres),
        confident=bool(confident),
        tag_blob=to_blob(tag_probs, TAG_COUNT),
        embedding_blob=to_blob(embedding, EMBEDDING_DIM),
        tempo=None if tempo is None else float(tempo),
        mtt_tag_blob=None if mtt_tag_probs is None else to_blob(mtt_tag_probs, TAG_COUNT),
        mtt_embedding_blob=None if mtt_embedding is None else to_blob(mtt_embedding, EMBEDDING_DIM),
        genre_model=str(genre_model),
    )


def analyzed_row(
    analysis: Analysis, *, content_hash: str, title: str, source_kind: SourceKind, source_url: str | None
) -> TrackRow:
    """The row of a track as analysis heard it."""
    return track_row(
        title=title,
        source_url=source_url,
        source_kind=source_kind,
        content_hash=content_hash,
        duration=analysis.duration,
        genres=analysis.genres,
        confident=analysis.confident,
        tag_probs=analysis.tag_probs,
        embedding=analysis.embedding,
        tempo=analysis.tempo,
        mtt_tag_probs=analysis.mtt_tag_probs if len(analysis.mtt_tag_probs) else None,
        mtt_embedding=analysis.mtt_embedding if len(analysis.mtt_embedding) else None,
        genre_model=analysis.genre_model,
    )


async def add_track(
    db: Database,
    guild_id: int,
    *,
    title: str,
    source_url: str | None,
    source_kind: SourceKind,
    content_hash: str,
    duration: float,
    genres: Iterable[tuple[str, float]],
    tag_probs: ArrayLike,
    embedding: ArrayLike,
    tempo: float | None,
    shared_by: int | None,
    now: float | None = None,
    confident: bool = False,
    base_genres: Iterable[tuple[str, float]] | None = None,
    mtt_tag_probs: ArrayLike | None = None,
    mtt_embedding: ArrayLike | None = None,
    genre_model: str = "",
) -> tuple[Track, bool]:
    """Store a track, or find the one this guild already has; returns (track, created).

    Deduplication (see the module docstring) looks for the same ``content_hash`` first, then
    for a near-duplicate. When ``shared_by`` is given the share is recorded either way, and
    a new track remembers ``shared_by`` as ``added_by``. ``genres`` are stored most probable
    first; ``top_genre`` is the first of them; ``confident`` says whether it may be stated.
    ``base_genres`` is the family model's own distribution (default: ``genres``), kept apart from
    the shown answer so that a server's corrections can be blended into ``genres`` later;
    ``genre_model`` names that model (:attr:`bot.listen.families.FamilyModel.version`; '' = unknown).
    """
    row = track_row(
        title=title,
        source_url=source_url,
        source_kind=source_kind,
        content_hash=content_hash,
        duration=duration,
        genres=genres,
        tag_probs=tag_probs,
        embedding=embedding,
        tempo=tempo,
        confident=confident,
        base_genres=base_genres,
        mtt_tag_probs=mtt_tag_probs,
        mtt_embedding=mtt_embedding,
        genre_model=genre_model,
    )
    async with db.transaction():
        return await add_or_find(db, guild_id, row, shared_by=shared_by, now=now)


async def add_or_find(
    db: Database, guild_id: int, row: TrackRow, *, shared_by: int | None, now: float | None = None
) -> tuple[Track, bool]:
    """:func:`add_track`'s work, inside the caller's transaction."""
    added_at = time.time() if now is None else float(now)
    existing = await track_by_hash(db, guild_id, row.content_hash)
    if existing is None:
        existing = await find_near_duplicate(
            db, guild_id, duration=row.duration, embedding=from_blob(row.embedding_blob, EMBEDDING_DIM)
        )
    if existing is not None:
        if existing.mtt_tag_probs is None and row.mtt_tag_blob is not None:
            existing = await _heard_again(db, existing, row)
        existing = await _named_again(db, existing, row)
        if shared_by is not None:
            await shares.record_share(db, guild_id, shared_by, existing.id, now=added_at)
        return existing, False

    top_genre = row.genres[0][0] if row.genres else None
    track_id = await db.insert(
        "INSERT INTO tracks (guild_id, title, source_url, source_kind, content_hash, duration,"
        " genres, top_genre, tag_probs, embedding, tempo, added_at, added_by,"
        " confident, base_genres, mtt_tag_probs, mtt_embedding, genre_model)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            guild_id,
            row.title,
            row.source_url,
            row.source_kind,
            row.content_hash,
            row.duration,
            _genres_json(row.genres),
            top_genre,
            row.tag_blob,
            row.embedding_blob,
            row.tempo,
            added_at,
            shared_by,
            int(row.confident),
            _genres_json(row.base_genres),
            row.mtt_tag_blob,
            row.mtt_embedding_blob,
            row.genre_model,
        ),
    )
    if shared_by is not None:
        await shares.record_share(db, guild_id, shared_by, track_id, now=added_at)
    await db.catalog_changed(guild_id)
    track = Track(
        id=track_id,
        guild_id=guild_id,
        title=row.title,
        source_url=row.source_url,
        source_kind=row.source_kind,
        content_hash=row.content_hash,
        duration=row.duration,
        genres=row.genres,
        top_genre=top_genre,
        tag_probs=from_blob(row.tag_blob, TAG_COUNT),
        embedding=from_blob(row.embedding_blob, EMBEDDING_DIM),
        tempo=row.tempo,
        added_at=added_at,
        added_by=shared_by,
        confident=row.confident,
        base_genres=row.base_genres,
        mtt_tag_probs=None if row.mtt_tag_blob is None else from_blob(row.mtt_tag_blob, TAG_COUNT),
        mtt_embedding=None if row.mtt_embedding_blob is None else from_blob(row.mtt_embedding_blob, EMBEDDING_DIM),
    )
    return track, True


async def _named_again(db: Database, track: Track, row: TrackRow) -> Track:
    """The same audio shared again: its title replaces the track's when the track's only stood in
    for a name (:func:`is_placeholder_title`) and the new one is a name, or is the placeholder of
    the link the track now points to (a re-shared link replaces the source). A real title stays."""
    if row.title == track.title or not is_placeholder_title(track.title, track.source_kind, track.source_url):
        return track
    new_source = row.source_kind == "link" and bool(row.source_url)
    if is_placeholder_title(row.title, row.source_kind, row.source_url) and not new_source:
        return track
    await db.execute("UPDATE tracks SET title = ? WHERE guild_id = ? AND id = ?", (row.title, track.guild_id, track.id))
    await db.catalog_changed(track.guild_id)
    return replace(track, title=row.title)


async def _heard_again(db: Database, track: Track, row: TrackRow) -> Track:
    """A track from before schema 5 (families inferred from MSD alone) shared again: its new
    analysis, heard by both taggers, replaces the relabelled base distribution (and the model that
    answered it), and the shown answer too unless a server has changed it (``genres`` no longer
    equal to the base)."""
    genres, confident = row.genres, row.confident
    if track.genres != track.base_genres:
        genres, confident = track.genres, track.confident
    await db.execute(
        "UPDATE tracks SET mtt_tag_probs = ?, mtt_embedding = ?, base_genres = ?, genres = ?, top_genre = ?,"
        " confident = ?, genre_model = ? WHERE guild_id = ? AND id = ?",
        (
            row.mtt_tag_blob,
            row.mtt_embedding_blob,
            _genres_json(row.base_genres),
            _genres_json(genres),
            genres[0][0] if genres else None,
            int(confident),
            row.genre_model,
            track.guild_id,
            track.id,
        ),
    )
    return await get_track(db, track.guild_id, track.id) or track


async def set_genres(
    db: Database,
    guild_id: int,
    track_id: int,
    genres: Iterable[tuple[str, float]],
    *,
    confident: bool,
    base_genres: Iterable[tuple[str, float]] | None = None,
    genre_model: str = "",
) -> bool:
    """Replace the answer shown for a track (``genres``, ``top_genre``, ``confident``) and, when
    given, the family model's own distribution ``base_genres`` with the version of the model that
    gave it (``genre_model``, '' = unknown); returns whether the track exists."""
    shown = _sorted_genres(genres)
    top = shown[0][0] if shown else None
    if base_genres is None:
        changed = await db.execute(
            "UPDATE tracks SET genres = ?, top_genre = ?, confident = ? WHERE guild_id = ? AND id = ?",
            (_genres_json(shown), top, int(bool(confident)), guild_id, track_id),
        )
    else:
        changed = await db.execute(
            "UPDATE tracks SET genres = ?, top_genre = ?, confident = ?, base_genres = ?, genre_model = ?"
            " WHERE guild_id = ? AND id = ?",
            (
                _genres_json(shown),
                top,
                int(bool(confident)),
                _genres_json(_sorted_genres(base_genres)),
                str(genre_model),
                guild_id,
                track_id,
            ),
        )
    if changed:
        await db.catalog_changed(guild_id)
    return changed > 0


class HeardTrack(NamedTuple):
    """What the taggers heard of a stored track, as stored: all a family model needs, no audio."""

    guild_id: int
    id: int
    #: The version of the model whose answer the track holds ('' = unknown).
    genre_model: str
    #: No family distribution at all yet (analyzed before schema 5, labelled with GTZAN's ten genres).
    legacy: bool
    tag_probs: np.ndarray  # float32[50] MSD_musicnn
    embedding: np.ndarray  # float32[200] MSD_musicnn
    mtt_tag_probs: np.ndarray | None  # float32[50] MTT_musicnn; None when only MSD heard it
    mtt_embedding: np.ndarray | None  # float32[200]


async def genre_models_to_relabel(db: Database, version: str) -> list[tuple[str, bool, int]]:
    """``(genre_model, legacy, count)`` of the tracks (any guild) not answered by the model
    ``version``: nothing when the whole store is up to date (read from the ``genre_model`` index)."""
    rows = await db.fetch_rows(
        "SELECT genre_model, base_genres = '[]', count(*) FROM tracks WHERE genre_model <> ?"
        " GROUP BY genre_model, base_genres = '[]' ORDER BY genre_model, 2",
        (str(version),),
    )
    return [(str(model), bool(legacy), int(count)) for model, legacy, count in rows]


async def tracks_to_relabel(db: Database, version: str, limit: int = 1000, *, after: int = 0) -> list[HeardTrack]:
    """At most ``limit`` tracks (any guild, by id, past the id ``after``) whose stored answer is not
    the model ``version``'s, with what the taggers heard of them."""
    rows = await db.fetch_rows(
        "SELECT guild_id, id, genre_model, base_genres = '[]', tag_probs, embedding, mtt_tag_probs, mtt_embedding"
        " FROM tracks WHERE genre_model <> ? AND id > ? ORDER BY id LIMIT ?",
        (str(version), int(after), max(0, int(limit))),
    )
    return [
        HeardTrack(
            int(g),
            int(i),
            str(model),
            bool(legacy),
            from_blob(tags, TAG_COUNT),
            from_blob(embedding, EMBEDDING_DIM),
            None if mtt_tags is None or mtt_embedding is None else from_blob(mtt_tags, TAG_COUNT),
            None if mtt_tags is None or mtt_embedding is None else from_blob(mtt_embedding, EMBEDDING_DIM),
        )
        for g, i, model, legacy, tags, embedding, mtt_tags, mtt_embedding in rows
    ]


async def _encoded_rows(encode: Callable[[list], list[tuple]], given: list) -> list[tuple]:
    """Answers encoded as statement rows: thousands take a while to encode, so off the event loop,
    unless there are only a few."""
    return encode(given) if len(given) <= 100 else await asyncio.to_thread(encode, given)


async def set_model_answers(
    db: Database, answers: Iterable[tuple[int, int, Iterable[tuple[str, float]], bool, str | None]]
) -> int:
    """Store a family model's answers for many tracks at once, from ``(guild_id, track id, genres,
    confident, genre_model)``: ``genres`` becomes both the base distribution and the shown answer,
    with ``confident``; ``genre_model`` the model's version (None: leave it as it is, for a server
    whose head must answer before the track counts as done). One transaction; returns how many rows
    it was given."""

    def encoded(given: list) -> list[tuple]:
        rows = []
        for guild_id, track_id, pairs, confident, model in given:
            ranked = _sorted_genres(pairs)
            text = _genres_json(ranked)
            top = ranked[0][0] if ranked else None
            rows.append((text, text, top, int(bool(confident)), model, int(guild_id), int(track_id)))
        return rows

    rows = await _encoded_rows(encoded, list(answers))
    if not rows:
        return 0
    async with db.transaction():
        await db.execute_many(
            "UPDATE tracks SET base_genres = ?, genres = ?, top_genre = ?, confident = ?,"
            " genre_model = COALESCE(?, genre_model) WHERE guild_id = ? AND id = ?",
            rows,
        )
        for guild_id in sorted({row[5] for row in rows}):
            await db.catalog_changed(guild_id)
    return len(rows)


async def set_genre_model(db: Database, guild_id: int, track_ids: Iterable[int], version: str) -> int:
    """Record that these tracks of the guild hold the answer of the model ``version``; returns how
    many rows changed."""
    ids = sorted({int(i) for i in track_ids})
    if not ids:
        return 0
    return await db.execute(
        f"UPDATE tracks SET genre_model = ? WHERE guild_id = ? AND id IN ({db.dialect.id_list()})",
        (str(version), guild_id, json.dumps(ids)),
    )


async def get_track(db: Database, guild_id: int, track_id: int) -> Track | None:
    if not fits_integer(track_id):
        return None
    row = await db.fetch_one(f"SELECT {_COLUMNS} FROM tracks WHERE guild_id = ? AND id = ?", (guild_id, track_id))
    return None if row is None else _track(row)


async def track_by_hash(db: Database, guild_id: int, content_hash: str) -> Track | None:
    """The track with exactly these audio bytes in this guild (lets callers skip analysis)."""
    row = await db.fetch_one(
        f"SELECT {_COLUMNS} FROM tracks WHERE guild_id = ? AND content_hash = ?",
        (guild_id, content_hash.lower()),
    )
    return None if row is None else _track(row)


async def find_near_duplicate(db: Database, guild_id: int, *, duration: float, embedding: object) -> Track | None:
    """The most similar track of about the same duration whose embedding is nearly identical."""
    query = np.asarray(embedding, dtype=np.float32)
    query_norm = float(np.linalg.norm(query))
    if query.shape != (EMBEDDING_DIM,) or query_norm == 0.0:
        return None
    rows = await db.fetch_rows(
        "SELECT id, embedding FROM tracks WHERE guild_id = ? AND duration BETWEEN ? AND ?",
        (guild_id, duration - NEAR_DUPLICATE_MAX_SECONDS, duration + NEAR_DUPLICATE_MAX_SECONDS),
    )
    if not rows:
        return None
    candidates = stack_blobs([row[1] for row in rows], EMBEDDING_DIM)
    norms = np.linalg.norm(candidates, axis=1) * query_norm
    with np.errstate(divide="ignore", invalid="ignore"):
        cosine = np.where(norms > 0, candidates @ query / norms, 0.0)
    best = int(np.argmax(cosine))
    if cosine[best] < NEAR_DUPLICATE_MIN_COSINE:
        return None
    return await get_track(db, guild_id, rows[best][0])


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def search_tracks(db: Database, guild_id: int, text: str, limit: int = SEARCH_LIMIT) -> list[Track]:
    """Tracks whose title contains ``text`` (case-insensitive for ASCII), for autocomplete.

    Titles starting with ``text`` come first, then newest first; at most 25 results. Empty
    text gives the most recent tracks.
    """
    limit = max(0, min(int(limit), SEARCH_LIMIT))
    text = text.strip()
    if not text:
        return await recent_tracks(db, guild_id, limit)
    escaped = _like_escape(text)
    like = db.dialect.like
    rows = await db.fetch_all(
        f"SELECT {_COLUMNS} FROM tracks WHERE guild_id = ? AND title {like} ? ESCAPE '\\'"
        f" ORDER BY title {like} ? ESCAPE '\\' DESC, added_at DESC, id DESC LIMIT ?",
        (guild_id, f"%{escaped}%", f"{escaped}%", limit),
    )
    return [_track(row) for row in rows]


async def track_titles(db: Database, guild_id: int | None = None) -> list[tuple]:
    """``(guild_id, id, title, top_genre, added_at)`` of every track (of one guild, if given)."""
    where, params = ("WHERE guild_id = ?", (guild_id,)) if guild_id is not None else ("", ())
    return await db.fetch_rows(f"SELECT guild_id, id, title, top_genre, added_at FROM tracks {where}", params)


async def recent_tracks(db: Database, guild_id: int, limit: int = 10) -> list[Track]:
    """The most recently added tracks of this guild, newest first."""
    rows = await db.fetch_all(
        f"SELECT {_COLUMNS} FROM tracks WHERE guild_id = ? ORDER BY added_at DESC, id DESC LIMIT ?",
        (guild_id, max(0, int(limit))),
    )
    return [_track(row) for row in rows]


async def tracks_with_genre(db: Database, guild_id: int, genre: str, limit: int = SEARCH_LIMIT) -> list[Track]:
    """The newest tracks whose most probable genre is ``genre``."""
    rows = await db.fetch_all(
        f"SELECT {_COLUMNS} FROM tracks WHERE guild_id = ? AND top_genre = ? ORDER BY added_at DESC, id DESC LIMIT ?",
        (guild_id, genre, max(0, int(limit))),
    )
    return [_track(row) for row in rows]


async def count_tracks(db: Database, guild_id: int) -> int:
    return int(await db.fetch_value("SELECT count(*) FROM tracks WHERE guild_id = ?", (guild_id,)))


async def delete_track(db: Database, guild_id: int, track_id: int) -> bool:
    """Remove a track; its shares and ratings go with it, members' last_track is cleared."""
    deleted = await db.execute("DELETE FROM tracks WHERE guild_id = ? AND id = ?", (guild_id, track_id)) > 0
    if deleted:
        await db.catalog_changed(guild_id)
    return deleted


async def load_catalog(db: Database, guild_id: int) -> Catalog:
    """Every track of the guild as numpy arrays, in one query, for recommendation.

    The query runs on the database thread; decoding the BLOBs into preallocated matrices
    takes ~20-50 ms on the event loop for 100,000 tracks (~0.3-0.45 s in total, measured before
    the catalog carried genre distributions; taking each track's top three genres out of its JSON
    cost about as much again as the rest of the load, measured on a busy machine).
    Callers that recommend often should cache the catalog and reload it when
    :func:`count_tracks` or the newest id changes.
    """
    rows = await db.fetch_rows(
        f"SELECT id, title, top_genre, duration, tag_probs, embedding, confident, {_top_genres_sql(db)} FROM tracks"
        " WHERE guild_id = ? ORDER BY id",
        (guild_id,),
    )
    return _catalog(guild_id, rows)


#: A catalog keeps each track's most probable genres, this many: every genre a filter can match
#: (at least 30 % likely: at most three) and nearly all of the probability the ranker weighs.
CATALOG_GENRES = 3


def _top_genres_sql(db: Database) -> str:
    """(name, probability) columns of the most probable genres, most probable first. The database
    takes them out of the JSON (parsing 100,000 whole distributions in Python cost ~5x the rest of
    the load)."""
    return ", ".join(db.dialect.json_pair("genres", k) for k in range(CATALOG_GENRES))


def _genre_matrix(rows: Sequence[tuple], first: int) -> tuple[tuple[str, ...], np.ndarray]:
    """The (name, probability) column pairs from ``first`` on as one ``[n, names]`` matrix."""
    n = len(rows)
    code: dict[str, int] = {}
    cells = []
    for k in range(CATALOG_GENRES):
        at = first + 2 * k
        names = np.fromiter(
            (code.setdefault(r[at], len(code)) if r[at] is not None else -1 for r in rows), np.int64, count=n
        )
        probabilities = np.fromiter((r[at + 1] or 0.0 for r in rows), np.float32, count=n)
        cells.append((names, probabilities))
    matrix = np.zeros((n, len(code)), np.float32)
    for names, probabilities in cells:
        known = np.flatnonzero(names >= 0)
        matrix[known, names[known]] = probabilities[known]
    return tuple(code), matrix


def _catalog(guild_id: int, rows: list[tuple]) -> Catalog:
    ids, titles, top_genres, durations, tag_blobs, embedding_blobs, confident = (
        tuple(zip(*(row[:7] for row in rows))) if rows else ((),) * 7
    )
    genre_names, genre_probs = _genre_matrix(rows, 7)
    return Catalog(
        guild_id=guild_id,
        ids=np.fromiter(ids, dtype=np.int64, count=len(rows)),
        titles=list(titles),
        top_genres=list(top_genres),
        durations=np.fromiter(durations, dtype=np.float64, count=len(rows)),
        tag_probs=stack_blobs(tag_blobs, TAG_COUNT),
        embeddings=stack_blobs(embedding_blobs, EMBEDDING_DIM),
        genre_names=genre_names,
        genre_probs=genre_probs,
        confident=np.fromiter(confident, dtype=bool, count=len(rows)),
    )


async def track_ids_added_by(db: Database, guild_id: int, user_id: int) -> list[int]:
    rows = await db.fetch_rows(
        "SELECT id FROM tracks WHERE guild_id = ? AND added_by = ? ORDER BY id", (guild_id, user_id)
    )
    return [row[0] for row in rows]


async def clear_added_by(db: Database, guild_id: int, user_id: int) -> int:
    """Stop attributing this member's tracks to them; returns how many tracks changed."""
    return await db.execute(
        "UPDATE tracks SET added_by = NULL WHERE guild_id = ? AND added_by = ?", (guild_id, user_id)
    )


async def delete_unreferenced(db: Database, guild_id: int, track_ids: Iterable[int]) -> int:
    """Delete those of ``track_ids`` that nobody relies on any more; returns the count.

    A track stays while anyone shares, rates or corrects it, while it is in a playlist, or while it
    is in the queue or history of a session, or is the seed of a radio, that a member (present or
    past) belongs to.
    """
    ids = sorted({int(track_id) for track_id in track_ids})
    if not ids:
        return 0
    deleted = await db.execute(
        f"DELETE FROM tracks WHERE guild_id = ? AND id IN ({db.dialect.id_list()})"
        " AND NOT EXISTS (SELECT 1 FROM shares s WHERE s.guild_id = tracks.guild_id AND s.track_id = tracks.id)"
        " AND NOT EXISTS (SELECT 1 FROM ratings r WHERE r.guild_id = tracks.guild_id AND r.track_id = tracks.id)"
        " AND NOT EXISTS (SELECT 1 FROM corrections c WHERE c.guild_id = tracks.guild_id AND c.track_id = tracks.id)"
        " AND NOT EXISTS (SELECT 1 FROM playlist_tracks p WHERE p.guild_id = tracks.guild_id AND p.track_id = tracks.id)"
        " AND NOT EXISTS (SELECT 1 FROM session_queue q WHERE q.guild_id = tracks.guild_id AND q.track_id = tracks.id"
        "  AND EXISTS (SELECT 1 FROM session_members m WHERE m.guild_id = q.guild_id AND m.session_id = q.session_id))"
        " AND NOT EXISTS (SELECT 1 FROM session_radio r WHERE r.guild_id = tracks.guild_id AND r.seed_track_id = tracks.id"
        "  AND EXISTS (SELECT 1 FROM session_members m WHERE m.guild_id = r.guild_id AND m.session_id = r.session_id))",
        (guild_id, json.dumps(ids)),
    )
    if deleted:
        await db.catalog_changed(guild_id)
    return deleted


async def embeddings_to_relabel(db: Database, guild_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(ids, embeddings, shown_differs)`` of the guild's tracks, by id: what a relabel needs to
    find the tracks it must read in full. ``shown_differs``: the shown answer is not the base
    model's (a server's head changed it), compared as stored text, in the database."""
    rows = await db.fetch_rows(
        "SELECT id, embedding, genres <> base_genres FROM tracks WHERE guild_id = ? ORDER BY id", (guild_id,)
    )

    def arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (
            np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows)),
            stack_blobs([row[1] for row in rows], EMBEDDING_DIM),
            np.fromiter((bool(row[2]) for row in rows), dtype=bool, count=len(rows)),
        )

    return await asyncio.to_thread(arrays)


@dataclass(frozen=True)
class BaseGenres:
    """What a server's head relabels from: each track's embedding and base-model distribution as
    one matrix (and, when asked for, the answer shown now, so that only the tracks whose answer
    changes are written back)."""

    ids: np.ndarray  # int64[n], ascending
    embeddings: np.ndarray  # float32[n, EMBEDDING_DIM]
    names: tuple[str, ...]  # the columns below: the families, then every other name stored, first seen first
    base: np.ndarray  # float64[n, len(names)]: the base model's distribution of each track
    shown: np.ndarray | None = None  # float64[n, len(names)]: the distribution shown now
    confident: np.ndarray | None = None  # bool[n]: is the shown answer stated as sure?

    def base_pairs(self, row: int) -> tuple[tuple[str, float], ...]:
        """Row ``row``'s base distribution as stored: ``(genre, probability)``, most probable first."""
        return distribution((self.names[j], float(p)) for j, p in enumerate(self.base[row]) if p > 0)


async def base_genres(
    db: Database, guild_id: int, track_ids: Iterable[int] | None = None, *, with_shown: bool = False
) -> BaseGenres:
    """The embeddings and base distributions of the guild's tracks (or of ``track_ids``), by id;
    with ``with_shown``, their shown answers too. The JSON is parsed off the event loop (a
    100,000-track catalog holds 1.4 million (genre, probability) pairs: seconds of Python)."""
    columns = "id, embedding, base_genres" + (", genres, confident" if with_shown else "")
    if track_ids is None:
        rows = await db.fetch_rows(f"SELECT {columns} FROM tracks WHERE guild_id = ? ORDER BY id", (guild_id,))
    else:
        rows = await db.fetch_rows(
            f"SELECT {columns} FROM tracks WHERE guild_id = ? AND id IN ({db.dialect.id_list()}) ORDER BY id",
            (guild_id, json.dumps(sorted({int(i) for i in track_ids}))),
        )
    return await asyncio.to_thread(_base_genres, rows, with_shown)


def _base_genres(rows: Sequence[tuple], with_shown: bool) -> BaseGenres:
    code = {name: j for j, name in enumerate(FAMILIES)}
    base = _distribution_cells([row[2] for row in rows], code)
    shown = _distribution_cells([row[3] for row in rows], code) if with_shown else None

    def matrix(cells: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
        out = np.zeros((len(rows), len(code)))
        out[cells[0], cells[1]] = cells[2]
        return out

    return BaseGenres(
        ids=np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows)),
        embeddings=stack_blobs([row[1] for row in rows], EMBEDDING_DIM),
        names=tuple(code),
        base=matrix(base),
        shown=matrix(shown) if shown is not None else None,
        confident=np.fromiter((bool(row[4]) for row in rows), bool, count=len(rows)) if with_shown else None,
    )


def _distribution_cells(texts: Sequence[str], code: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stored distributions (JSON lists of ``[name, probability]``) as (row, column, value) cells;
    a name not in ``code`` gets the next column."""
    # One json.loads a row, not one for all: a thread holding the interpreter for the whole
    # catalog at once would stall the event loop for as long (seconds for 100,000 tracks).
    parsed = [json.loads(text) for text in texts]
    names = [pair[0] for pairs in parsed for pair in pairs]
    for name in names:
        code.setdefault(name, len(code))
    rows = np.repeat(np.arange(len(parsed)), [len(pairs) for pairs in parsed])
    columns = np.fromiter((code[name] for name in names), np.int64, count=len(names))
    values = np.fromiter((pair[1] for pairs in parsed for pair in pairs), np.float64, count=len(names))
    return rows, columns, values


async def set_shown_genres(
    db: Database, guild_id: int, genres: Iterable[tuple[int, Iterable[tuple[str, float]], bool]]
) -> int:
    """Rewrite the shown answer (``genres``, ``top_genre``, ``confident``) of many tracks at once,
    from ``(track id, genres, confident)``; the base distributions stay. Returns how many rows it
    was given (an id of another guild, or of a track removed meanwhile, changes nothing).

    One transaction, one batched statement (a relabel may rewrite a whole 100,000-track catalog).
    """

    def encoded(given: list[tuple[int, Iterable[tuple[str, float]], bool]]) -> list[tuple]:
        rows = []
        for track_id, pairs, confident in given:
            ranked = _sorted_genres(pairs)
            rows.append(
                (_genres_json(ranked), ranked[0][0] if ranked else None, int(bool(confident)), guild_id, int(track_id))
            )
        return rows

    rows = await _encoded_rows(encoded, list(genres))
    if not rows:
        return 0
    async with db.transaction():
        await db.execute_many(
            "UPDATE tracks SET genres = ?, top_genre = ?, confident = ? WHERE guild_id = ? AND id = ?", rows
        )
        await db.catalog_changed(guild_id)
    return len(rows)


@dataclass(frozen=True)
class TrackSource:
    """Where a track's audio can be fetched again, and (attachments) where it was shared.

    Discord attachment links expire after about a day: ``channel_id``/``message_id`` say where
    the attachment lives so its link can be refreshed (``message_id`` is None for an upload to
    a slash command, which belongs to no message).
    """

    kind: SourceKind
    url: str | None
    channel_id: int | None = None
    message_id: int | None = None


async def track_source(db: Database, guild_id: int, track_id: int) -> TrackSource | None:
    row = await db.fetch_one(
        "SELECT source_kind, source_url, source_channel_id, source_message_id FROM tracks"
        " WHERE guild_id = ? AND id = ?",
        (guild_id, track_id),
    )
    return None if row is None else TrackSource(row[0], row[1], row[2], row[3])


async def set_track_source(db: Database, guild_id: int, track_id: int, source: TrackSource) -> None:
    """Point the track at a (fresher) source: a re-share, or a refreshed attachment link."""
    if source.kind not in SOURCE_KINDS:
        raise ValueError(f"source_kind must be one of {sorted(SOURCE_KINDS)}, not {source.kind!r}")
    await db.execute(
        "UPDATE tracks SET source_kind = ?, source_url = ?, source_channel_id = ?, source_message_id = ?"
        " WHERE guild_id = ? AND id = ?",
        (source.kind, source.url, source.channel_id, source.message_id, guild_id, track_id),
    )
