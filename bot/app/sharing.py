"""Sharing music: a file, an attachment or a link in, a cataloged track out.

The way of one track reads top to bottom in :meth:`Sharing.share`: reserve a place
(:mod:`bot.jobs.admission`) -> fetch the audio -> analyze it in the pool -> store the track, its
share, its source and the member's last track in one transaction. The reservation is taken
before anything is downloaded and held until the analysis is done: one job, admitted once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Literal

import aiohttp

from bot.app.teaching import Teacher
from bot.app.titles import TitleIndex
from bot.audio.download import download_link_in_process
from bot.audio.fetch import FetchedAudio, download_attachment, scratch_directory
from bot.audio.services import Heard, song_key
from bot.catalog import Track, UnknownTrack, content_hash
from bot.config import Settings
from bot.errors import CrateError
from bot.i18n import N_
from bot.jobs.admission import Admission
from bot.jobs.analysis import AnalyzedFile, Analyzer
from bot.store import Database, store_share, store_share_again
from bot.store.tracks import TrackSource, set_track_source, track_source

log = logging.getLogger(__name__)


class Restarting(CrateError):
    """Crate is stopping while a request is in flight (SIGTERM, Ctrl-C, ``docker stop``)."""

    user_message = N_("I'm restarting — please share it again in a minute.")


class NotTheSameAudio(CrateError):
    """What was downloaded again for playback is not the audio that was analyzed."""

    user_message = N_("That track's link now gives different audio than the one I analyzed, so I skipped it.")


class Stage(Enum):
    """What a long request is doing, for progress messages."""

    WAITING = "waiting"  # admitted, waiting for its turn (this member's or server's other tracks)
    DOWNLOADING = "downloading"
    ANALYZING = "analyzing"


Progress = Callable[[Stage], Awaitable[None]]
#: (expired or not attachment URL, channel id, message id) -> a fresh URL of the same attachment.
RefreshLink = Callable[[str, "int | None", "int | None"], Awaitable[str]]


async def _no_progress(stage: Stage) -> None:
    return None


@dataclass(frozen=True)
class Source:
    """Where shared audio comes from."""

    kind: Literal["attachment", "link", "file"]
    location: str  # attachment URL, link, or local path
    filename: str | None = None
    size: int | None = None
    content_type: str | None = None
    channel_id: int | None = None  # attachments: where it was shared (to refresh its link later)
    message_id: int | None = None

    @classmethod
    def link(cls, url: str) -> Source:
        return cls("link", url.strip())

    @classmethod
    def attachment(
        cls,
        url: str,
        *,
        filename: str,
        size: int | None,
        content_type: str | None,
        channel_id: int | None = None,
        message_id: int | None = None,
    ) -> Source:
        return cls("attachment", url, filename, size, content_type, channel_id, message_id)

    @classmethod
    def file(cls, path: str | Path) -> Source:
        return cls("file", str(path), Path(path).name)


@dataclass(frozen=True)
class SharedTrack:
    track: Track
    created: bool  # False when the same audio was already in this server's catalog
    shared_by: int
    #: For a streaming link: what Crate listened to (a preview, or a matched recording).
    heard: Heard | None = None


class Sharing:
    """Shares in, cataloged tracks out; playback fetches a track's audio again through here."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        pool: Analyzer,
        http: aiohttp.ClientSession,
        *,
        admission: Admission,
        titles: TitleIndex,
        teacher: Teacher,
    ):
        self.settings = settings
        self.db = db
        self.pool = pool
        self.http = http
        self.admission = admission
        self.titles = titles
        self.teacher = teacher
        #: Set by the Discord client: attachment links expire, and only Discord can renew them.
        self.refresh_link: RefreshLink | None = None

    async def share(
        self,
        guild_id: int,
        user_id: int,
        source: Source,
        progress: Progress = _no_progress,
        *,
        credit_to: int | None = None,
    ) -> SharedTrack:
        """Fetch, analyze and catalog one track; the same audio shared twice is one track.

        ``user_id`` asked (their admission places are taken, the track becomes their last one);
        the share is credited to ``credit_to`` when given (the author of a message that
        someone else had analyzed), else to them.

        Raises :class:`~bot.jobs.admission.MemberBusy`/``ServerBusy``/``Busy`` at once, before anything
        is downloaded, when this member, this server or everybody already has enough in flight.
        """
        sharer = user_id if credit_to is None else credit_to
        async with self.admission.reserve(guild_id, user_id, on_wait=lambda: progress(Stage.WAITING)):
            with scratch_directory() as directory:
                fetched = await self._fetch(source, directory, progress)
                known = None if source.kind != "link" else await self._same_song(guild_id, fetched, sharer, user_id)
                if known is not None:
                    return known
                await progress(Stage.ANALYZING)
                analyzed = await self.pool.analyze(fetched.path)
        where = TrackSource(
            source.kind,
            None if source.kind == "file" else fetched.source_url,
            source.channel_id,
            source.message_id,
        )
        track, created = await self.add_analyzed(
            guild_id, analyzed, title=fetched.title, source=where, shared_by=sharer, asked_by=user_id
        )
        return SharedTrack(track, created, sharer, fetched.heard)

    async def _same_song(
        self, guild_id: int, fetched: FetchedAudio, shared_by: int, asked_by: int
    ) -> SharedTrack | None:
        """A song this server already has, shared again by a link (a Spotify link, then a video of
        the same song): its track, shared again, without listening again (:func:`song_key`)."""
        key = song_key(fetched.title)
        track_id = await self.titles.song(guild_id, key) if key is not None and self.titles.has(guild_id) else None
        if track_id is None:
            return None
        try:
            track = await store_share_again(self.db, guild_id, track_id, shared_by=shared_by, asked_by=asked_by)
        except UnknownTrack:  # removed meanwhile: listen to this one
            return None
        return SharedTrack(track, False, shared_by, fetched.heard)

    async def add_analyzed(
        self,
        guild_id: int,
        analyzed: AnalyzedFile,
        *,
        title: str,
        source: TrackSource,
        shared_by: int | None,
        asked_by: int | None = None,
    ) -> tuple[Track, bool]:
        """Put an analyzed file into this server's catalog (deduplicated), in one transaction with
        its share, its source and ``asked_by``'s last track; True if the track is new."""
        track, created = await store_share(
            self.db,
            guild_id,
            analyzed.analysis,
            content_hash=analyzed.content_hash,
            title=title,
            source=source,
            shared_by=shared_by,
            asked_by=asked_by,
        )
        if created:
            track = await self.teacher.label_new(track)  # a server that taught Crate hears it its way
        # new, or renamed: a share with a real name replaces a placeholder title (store.is_placeholder_title)
        self.titles.add(guild_id, track.id, track.title, track.top_genre, track.added_at)
        return track, created

    async def _fetch(self, source: Source, directory: Path, progress: Progress) -> FetchedAudio:
        limits = self.settings.limits
        if source.kind == "file":
            path = Path(source.location)
            return FetchedAudio(path=path, title=path.stem, source_url=str(path), size=_size(path))
        await progress(Stage.DOWNLOADING)
        if source.kind == "link":
            # yt-dlp is CPU-heavy Python: in a process of its own it can neither hold the bot's
            # event loop up nor keep an analysis worker waiting on a slow site.
            return await download_link_in_process(
                source.location,
                directory,
                limits=limits,
                allowlist=self.settings.url_allowlist,
                timeout=self.settings.download_timeout,
                deadline=self.settings.download_deadline,
                max_page_bytes=self.settings.max_page_bytes,
                services=self.settings.service_urls,
            )
        return await download_attachment(
            self.http,
            source.location,
            filename=source.filename or "attachment",
            size=source.size,
            content_type=source.content_type,
            directory=directory,
            limits=limits,
            timeout=self.settings.download_timeout,
            deadline=self.settings.download_deadline,
        )

    async def fetch_for_playback(self, track: Track, directory: Path) -> Path | None:
        """Download a catalog track's audio again, for voice playback (None: no source to fetch).

        Crate keeps analyses, not audio: links and attachment URLs are fetched again through the
        same guarded path as sharing. Tracks indexed from a local folder have no source to fetch.
        Raises :class:`NotTheSameAudio` when the bytes are not the analyzed track's (its content
        hash): a link can serve something else later, e.g. a playlist that points elsewhere.
        """
        if track.source_kind == "file" or not track.source_url:
            return None
        url = await self.source_url(track)
        if url is None:
            return None
        if track.source_kind == "link":
            source = Source.link(url)
        else:
            source = Source.attachment(url, filename=f"track-{track.id}", size=None, content_type=None)
        fetched = await self._fetch(source, directory, _no_progress)
        digest = await asyncio.to_thread(content_hash, fetched.path)
        if digest != track.content_hash:
            fetched.path.unlink(missing_ok=True)
            raise NotTheSameAudio(detail=f"track {track.id}: downloaded sha256 {digest}, analyzed {track.content_hash}")
        return fetched.path

    async def source_url(self, track: Track) -> str | None:
        """The track's link, fresh: an attachment's expiring URL is renewed through Discord first
        (and the renewed one stored). Links and local files are returned as they are."""
        url = track.source_url
        if track.source_kind != "attachment" or not url or self.refresh_link is None:
            return url
        where = await track_source(self.db, track.guild_id, track.id)
        channel_id, message_id = (where.channel_id, where.message_id) if where else (None, None)
        try:
            fresh = await self.refresh_link(url, channel_id, message_id)
        except Exception:
            log.warning("could not refresh the attachment link of track %s", track.id, exc_info=True)
            return url
        if fresh and fresh != url:
            await set_track_source(
                self.db, track.guild_id, track.id, TrackSource("attachment", fresh, channel_id, message_id)
            )
        return fresh or url


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
