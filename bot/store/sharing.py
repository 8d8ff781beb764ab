"""A share stored in one transaction: the track (or the one the server already has for the same
audio), who shared it, where it can be fetched again, and the asker's last track."""

from __future__ import annotations

import dataclasses

from bot.analysis import Analysis
from bot.catalog import Track
from bot.store.database import Database
from bot.store.members import set_last_track
from bot.store.tracks import TrackSource, add_or_find, analyzed_row, set_track_source


async def store_share(
    db: Database,
    guild_id: int,
    analysis: Analysis,
    *,
    content_hash: str,
    title: str,
    source: TrackSource,
    shared_by: int | None,
    asked_by: int | None,
    now: float | None = None,
) -> tuple[Track, bool]:
    """Store one share of analyzed audio; returns (track, created).

    The freshest source wins: a link or attachment shared again replaces the track's first
    (perhaps expired) one; a local file never replaces a link. ``asked_by`` (who shared it, or
    had someone's message analyzed) gets the track as their last one (None: nobody, as when
    ``crate index`` fills a catalog).
    """
    row = analyzed_row(analysis, content_hash=content_hash, title=title, source_kind=source.kind, source_url=source.url)
    async with db.transaction():
        track, created = await add_or_find(db, guild_id, row, shared_by=shared_by, now=now)
        if source.kind != "file" and source.url:
            await set_track_source(db, guild_id, track.id, source)
            track = dataclasses.replace(track, source_kind=source.kind, source_url=source.url)
        if asked_by is not None:
            await set_last_track(db, guild_id, asked_by, track.id, now=now)
    return track, created
