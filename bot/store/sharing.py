"""A share stored in one transaction: the track (or the one the server already has for the same
audio), who shared it, where it can be fetched again, and the asker's last track."""

from __future__ import annotations

import dataclasses

from bot.analysis import Analysis
from bot.catalog import Track, UnknownTrack
from bot.store.database import Database
from bot.store.members import set_last_track
from bot.store.shares import record_share
from bot.store.tracks import TrackSource, add_or_find, analyzed_row, get_track, set_track_source


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


async def store_share_again(
    db: Database, guild_id: int, track_id: int, *, shared_by: int | None, asked_by: int | None, now: float | None = None
) -> Track:
    """Another share of a track the server has (the same song under another link), in one
    transaction with the asker's last track; its source stays (its audio is what was analyzed).
    Raises :class:`~bot.catalog.UnknownTrack` when it is gone."""
    async with db.transaction():
        track = await get_track(db, guild_id, track_id)
        if track is None:
            raise UnknownTrack(detail=f"guild {guild_id} track {track_id}")
        if shared_by is not None:
            await record_share(db, guild_id, shared_by, track_id, now=now)
        if asked_by is not None:
            await set_last_track(db, guild_id, asked_by, track_id, now=now)
    return track
