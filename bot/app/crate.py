"""Crate's use cases, one method per command, with no Discord in sight.

The Discord cogs and the terminal console both call these methods and only differ in how they
render the answers. The way of one track reads top to bottom in :meth:`Crate.share`:
reserve a place (``bot.jobs.admission``) -> fetch the audio -> analyze it in the pool -> store the
track -> the caller renders it. The reservation is taken before anything is downloaded and held
until the analysis is done: one job, admitted once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Literal

import aiohttp

from bot import store
from bot.app.community import ServerCharts, WhoLikes, server_charts, who_likes
from bot.app.compare import TasteComparison, compare_taste
from bot.app.playlists import PlaylistService
from bot.app.sessions import SessionService
from bot.app.settings import ServerSettings, SettingsService
from bot.app.teaching import Teacher
from bot.app.titles import TitleEntry, TitleIndex
from bot.audio.download import download_link_in_process
from bot.audio.fetch import FetchedAudio, download_attachment, scratch_directory
from bot.caller import Caller
from bot.catalog import DISLIKE, LIKE, Taught, Track, UnknownTrack, content_hash
from bot.config import Settings
from bot.errors import CrateError
from bot.genres import mostly
from bot.jobs.admission import Admission
from bot.jobs.analysis import AnalysisPool, AnalyzedFile, Analyzer
from bot.listen.relabel import relabel_legacy
from bot.recommend.group import GroupPick
from bot.recommend.radio import pick_radio
from bot.recommend.rank import Recommendation
from bot.recommend.service import (
    RecommendationResult,
    cached_catalog,
    cached_ratings,
    more_like_for,
    recommend_for,
    recommender_for,
)
from bot.store import Database, open_database

log = logging.getLogger(__name__)


class NoTrackChosen(CrateError):
    user_message = (
        "Which track? Share one with /genre first, or pick one from this server's catalog with the `track` option."
    )


class TastePrivate(CrateError):
    user_message = "This server keeps members' taste private: Crate shows you only your own (/profile, /taste)."


class Restarting(CrateError):
    """Crate is stopping while a request is in flight (SIGTERM, Ctrl-C, ``docker stop``)."""

    user_message = "I'm restarting — please share it again in a minute."


class NotTheSameAudio(CrateError):
    """What was downloaded again for playback is not the audio that was analyzed."""

    user_message = "That track's link now gives different audio than the one I analyzed, so I skipped it."


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


@dataclass(frozen=True)
class RatedTrack:
    track: Track
    value: int  # LIKE or DISLIKE
    previous: int | None  # the rating it replaced, if any


@dataclass(frozen=True)
class TasteSummary:
    """What /profile shows: counts, genre affinities (0-1, strongest first), favourite tracks."""

    user_id: int
    likes: int
    dislikes: int
    shares: int
    genres: tuple[tuple[str, float], ...]
    favourites: tuple[Track, ...]
    #: Genres of ``genres`` whose evidence is mostly tracks Crate was unsure about.
    unsure: frozenset[str] = frozenset()

    @property
    def is_empty(self) -> bool:
        return not (self.likes or self.dislikes or self.shares)

    @property
    def headline(self) -> str:
        """``"mostly electronic"``, or ``"mostly electronic (unsure)"`` rather than a wrong fact."""
        top = self.genres[0][0] if self.genres else None
        return mostly(self.genres, confident=top not in self.unsure)


FAVOURITES_SHOWN = 5
GENRES_SHOWN = 6
#: A profile names a genre from this affinity up: a few percent left over from tracks that were
#: mostly something else is not a taste (one like of a track 30 % likely to be a genre gives 0.17).
PROFILE_GENRE_MIN = 0.1


class Crate:
    """The application: storage, the analysis pool (or queue) and the HTTP session, behind plain methods."""

    def __init__(self, settings: Settings, db: Database, pool: Analyzer, http: aiohttp.ClientSession):
        self.settings = settings
        self.db = db
        self.pool = pool
        self.http = http
        self.admission = Admission(settings.admission)
        #: Titles and genres for autocomplete, in memory (never behind a database write).
        self.titles = TitleIndex()
        self._names: dict[tuple[int, int], str] = {}  # (guild, user) -> the name last stored
        #: Set by the Discord client: attachment links expire, and only Discord can renew them.
        self.refresh_link: RefreshLink | None = None
        #: Listening sessions (their locks live here, so there is one per Crate).
        self.sessions = SessionService(db)
        #: Saved playlists (they start sessions through the session service).
        self.playlists = PlaylistService(db, self.sessions, source_url=self.source_url)
        #: Per-server settings (/settings), over the defaults from the environment.
        self.server_settings = SettingsService(db, settings)
        #: Each server's corrections and the head that relabels its catalog from them.
        self.teacher = Teacher(db)

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, settings: Settings) -> AsyncIterator[Crate]:
        """Open the database, start the analysis workers (or join the queue) and an HTTP session;
        close all after."""
        async with (
            open_database(settings.database_target) as db,
            analyzer_for(settings) as pool,
            aiohttp.ClientSession() as http,
        ):
            await relabel_legacy(db)  # tracks analyzed before genre families (schema < 5)
            crate = cls(settings, db, pool, http)
            crate.titles.load(await store.track_titles(db))
            # Another process (a second shard, `crate index`) changed a server's tracks: its
            # autocomplete titles reload at the next lookup. (The recommender's caches check the
            # database at every request already.)
            stop_listening = await db.listen_catalog(crate.titles.forget_guild)
            try:
                await crate.apply_stored_settings()
                yield crate
            finally:
                if stop_listening is not None:
                    await stop_listening()

    # ------------------------------------------------------------------ sharing music

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
                await progress(Stage.ANALYZING)
                analyzed = await self.pool.analyze(fetched.path)
        track, created = await self.add_analyzed(
            guild_id,
            analyzed,
            title=fetched.title,
            source_kind=source.kind,
            source_url=None if source.kind == "file" else fetched.source_url,
            shared_by=sharer,
        )
        if source.kind != "file" and fetched.source_url:
            # the freshest source wins: a re-share replaces the first upload's (expiring) link
            await store.set_track_source(
                self.db,
                guild_id,
                track.id,
                store.TrackSource(source.kind, fetched.source_url, source.channel_id, source.message_id),
            )
            track = await store.get_track(self.db, guild_id, track.id) or track
        await store.set_last_track(self.db, guild_id, user_id, track.id)
        return SharedTrack(track, created, sharer)

    async def add_analyzed(
        self,
        guild_id: int,
        analyzed: AnalyzedFile,
        *,
        title: str,
        source_kind: Literal["attachment", "link", "file"],
        source_url: str | None,
        shared_by: int | None,
    ) -> tuple[Track, bool]:
        """Put an analyzed file into this server's catalog (deduplicated); True if it is new."""
        analysis = analyzed.analysis
        track, created = await store.add_track(
            self.db,
            guild_id,
            title=title,
            source_url=source_url,
            source_kind=source_kind,
            content_hash=analyzed.content_hash,
            duration=analysis.duration,
            genres=analysis.genres,
            confident=analysis.confident,
            tag_probs=analysis.tag_probs,
            embedding=analysis.embedding,
            tempo=analysis.tempo,
            shared_by=shared_by,
            mtt_tag_probs=analysis.mtt_tag_probs if len(analysis.mtt_tag_probs) else None,
            mtt_embedding=analysis.mtt_embedding if len(analysis.mtt_embedding) else None,
        )
        if created:
            track = await self.teacher.label_new(track)  # a server that taught Crate hears it its way
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
        where = await store.track_source(self.db, track.guild_id, track.id)
        channel_id, message_id = (where.channel_id, where.message_id) if where else (None, None)
        try:
            fresh = await self.refresh_link(url, channel_id, message_id)
        except Exception:
            log.warning("could not refresh the attachment link of track %s", track.id, exc_info=True)
            return url
        if fresh and fresh != url:
            await store.set_track_source(
                self.db, track.guild_id, track.id, store.TrackSource("attachment", fresh, channel_id, message_id)
            )
        return fresh or url

    # ------------------------------------------------------------------ ratings

    async def rate(self, guild_id: int, user_id: int, value: int, track_id: int | None = None) -> RatedTrack:
        """Like or dislike a track (default: the last one this member shared or was recommended)."""
        if track_id is None:
            track_id = await store.last_track(self.db, guild_id, user_id)
            if track_id is None:
                raise NoTrackChosen()
        track = await self.track(guild_id, track_id)
        previous = await store.rating_of(self.db, guild_id, user_id, track.id)
        await store.rate(self.db, guild_id, user_id, track.id, value)
        return RatedTrack(track, value, previous)

    async def track(self, guild_id: int, track_id: int) -> Track:
        track = await store.get_track(self.db, guild_id, track_id)
        if track is None:
            raise UnknownTrack(detail=f"guild {guild_id} track {track_id}")
        return track

    async def search(self, guild_id: int, text: str) -> list[TitleEntry]:
        """Tracks whose title matches, for autocomplete (at most 25), from memory."""
        await self._known_titles(guild_id)
        return self.titles.search(guild_id, text)

    async def _known_titles(self, guild_id: int) -> None:
        # Crate.running loads every guild at start; a Crate built by hand loads a guild once.
        if not self.titles.has(guild_id):
            self.titles.replace_guild(guild_id, await store.track_titles(self.db, guild_id))

    # ------------------------------------------------------------------ teaching genres

    async def correct(self, guild_id: int, user_id: int, genre: str, track_id: int | None = None) -> Taught:
        """This member says the track (default: their last one) is ``genre``: a family or the server's own.

        The server's catalog is relabelled at once (its head changed); other servers never see it.
        """
        if track_id is None:
            track_id = await store.last_track(self.db, guild_id, user_id)
            if track_id is None:
                raise NoTrackChosen()
        taught = await self.teacher.correct(guild_id, user_id, track_id, genre)
        self.titles.replace_guild(guild_id, await store.track_titles(self.db, guild_id))
        return taught

    async def custom_genres(self, guild_id: int) -> list[str]:
        """The genres this server named itself and taught Crate, most taught first."""
        return await self.teacher.custom_genres(guild_id)

    # ------------------------------------------------------------------ recommendations

    async def recommend(
        self,
        guild_id: int,
        user_id: int,
        *,
        count: int = 5,
        genre: str | None = None,
        names: Mapping[int, str] | None = None,
    ) -> RecommendationResult:
        """Picks from this server's catalog for one member; the first becomes their 'last track'."""
        result = await recommend_for(self.db, guild_id, user_id, count=count, genre=genre, names=names)
        await self._remember_first(guild_id, user_id, result.recommendations)
        return result

    async def more_like(
        self, guild_id: int, user_id: int, track_id: int, *, count: int = 5, names: Mapping[int, str] | None = None
    ) -> list[Recommendation]:
        picks = await more_like_for(self.db, guild_id, user_id, track_id, count=count, names=names)
        await self._remember_first(guild_id, user_id, picks)
        return picks

    async def radio_preview(
        self, guild_id: int, user_id: int, seed_track_id: int, *, count: int = 5, names: Mapping[int, str] | None = None
    ) -> list[GroupPick]:
        """What a radio from ``seed_track_id`` would play for this member, pick by pick (each
        following the one before it), without opening a session: the console's /radio."""
        await self.track(guild_id, seed_track_id)
        catalog = await cached_catalog(self.db, guild_id)
        ratings = await cached_ratings(self.db, guild_id, catalog)
        return await asyncio.to_thread(
            pick_radio, catalog, ratings, [user_id], seed_track_id=seed_track_id, count=count, names=names
        )

    async def starter_picks(
        self,
        guild_id: int,
        user_id: int,
        genres: Sequence[str],
        *,
        count: int = 5,
        names: Mapping[int, str] | None = None,
    ) -> list[Recommendation]:
        """Cold start: picks from genres a new member chose (or the server's favourites)."""
        recommender = await recommender_for(self.db, guild_id, user_id, names=names)
        picks = await asyncio.to_thread(recommender.cold_start, user_id, genres=genres, count=count)
        await self._remember_first(guild_id, user_id, picks)
        return picks

    async def genres_available(self, guild_id: int) -> list[str]:
        """Top genres present in this server's catalog, most tracks first (from memory)."""
        await self._known_titles(guild_id)
        return self.titles.genres(guild_id)

    async def _remember_first(self, guild_id: int, user_id: int, picks: Sequence[Recommendation]) -> None:
        if picks:
            await store.set_last_track(self.db, guild_id, user_id, picks[0].track_id)

    # ------------------------------------------------------------------ profiles

    async def profile(self, guild_id: int, user_id: int, *, viewer_id: int | None = None) -> TasteSummary:
        """A member's taste summary; another member (``viewer_id``) sees it only where the
        server's settings let profiles be public (raises :class:`TastePrivate`)."""
        if viewer_id is not None:
            await self._check_taste_visible(guild_id, viewer_id, user_id)
        ratings = await store.ratings_of(self.db, guild_id, user_id)
        shares = await store.shares_of(self.db, guild_id, user_id)
        recommender = await recommender_for(self.db, guild_id, user_id)
        taste = recommender.profile(user_id)
        genres = sorted(
            ((g, a) for g, a in taste.genre_affinity.items() if a >= PROFILE_GENRE_MIN), key=lambda ga: -ga[1]
        )
        likes_in_server = {s.track_id: s.likes for s in await store.track_scores(self.db, guild_id, limit=10_000)}
        liked = sorted(
            (r for r in ratings if r.value == LIKE),
            key=lambda r: (-likes_in_server.get(r.track_id, 0), -r.rated_at),
        )
        favourites = [await store.get_track(self.db, guild_id, r.track_id) for r in liked[:FAVOURITES_SHOWN]]
        return TasteSummary(
            user_id=user_id,
            likes=sum(r.value == LIKE for r in ratings),
            dislikes=sum(r.value == DISLIKE for r in ratings),
            shares=len(shares),
            genres=tuple(genres[:GENRES_SHOWN]),
            favourites=tuple(t for t in favourites if t is not None),
            unsure=frozenset(g for g, _ in genres[:GENRES_SHOWN] if g in taste.unsure_genres),
        )

    async def _check_taste_visible(self, guild_id: int, viewer_id: int, owner_id: int) -> None:
        """Another member's taste (``/profile member:``, ``/taste``) is shown only where the
        server's settings let profiles be public; raises :class:`TastePrivate` otherwise."""
        if viewer_id != owner_id and not (await self.server_settings.get(guild_id)).profiles_public:
            raise TastePrivate(detail=f"guild {guild_id}: {viewer_id} asked for {owner_id}")

    # ------------------------------------------------------------------ between members

    async def compare_taste(
        self, guild_id: int, user_id: int, other_id: int, *, names: Mapping[int, str] | None = None
    ) -> TasteComparison:
        """``/taste member:``: the taste match of two members, with its evidence (bot.app.compare)."""
        await self._check_taste_visible(guild_id, user_id, other_id)
        return await compare_taste(self.db, guild_id, user_id, other_id, names=names)

    async def charts(self, guild_id: int, period: str = "all") -> ServerCharts:
        """``/charts``: the server's best-liked tracks, families, styles and sharers (bot.app.community)."""
        return await server_charts(self.db, guild_id, period)

    async def who_likes(self, guild_id: int, track_id: int) -> WhoLikes:
        """``/who``: the members who liked a track, and whose taste it fits best (bot.app.community)."""
        return await who_likes(self.db, guild_id, track_id)

    # ------------------------------------------------------------------ per-server settings

    async def apply_stored_settings(self) -> None:
        """Give each server that chose one its own per-member analysis limit (at start)."""
        for guild_id, chosen in (await self.server_settings.stored()).items():
            self.admission.set_member_limit(guild_id, chosen.member_analysis_limit)

    async def change_settings(self, guild_id: int, caller: Caller, **changes) -> ServerSettings:
        """/settings: change this server's settings (Manage Server only) and apply them."""
        changed = await self.server_settings.change(guild_id, caller, **changes)
        self.admission.set_member_limit(guild_id, changed.member_analysis_limit)
        return changed

    # ------------------------------------------------------------------ members' names

    async def remember_name(self, guild_id: int, user_id: int, display_name: str) -> None:
        """Keep the name a member goes by here (Discord tells it only with their interactions)."""
        if not display_name or self._names.get((guild_id, user_id)) == display_name:
            return
        await store.remember_name(self.db, guild_id, user_id, display_name)
        self._names[(guild_id, user_id)] = display_name

    async def display_names(self, guild_id: int) -> dict[int, str]:
        """The remembered names of this guild's members, by user id."""
        return await store.display_names(self.db, guild_id)

    # ------------------------------------------------------------------ forgetting

    async def forget(self, guild_id: int, user_id: int) -> store.ForgetReport:
        self._names.pop((guild_id, user_id), None)
        report = await store.forget_member(self.db, guild_id, user_id)
        if report.corrections:
            await self.teacher.relabel(guild_id)  # the head forgets what this member taught
        if report.tracks_removed or report.corrections:
            self.titles.replace_guild(guild_id, await store.track_titles(self.db, guild_id))
        return report


def analyzer_for(settings: Settings) -> Analyzer:
    """The in-process pool (CRATE_QUEUE=pool, the default), or the PostgreSQL queue."""
    if settings.queue == "postgres":
        from bot.jobs.queue import AnalysisQueue

        return AnalysisQueue.from_settings(settings)
    return AnalysisPool.from_settings(settings)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
