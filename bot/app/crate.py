"""The composition root: one :class:`Crate` builds every use case over one database, one analysis
pool (or queue) and one HTTP session, and every front end (the Discord cogs, the console, the
command line) reaches the use cases through it: ``crate.sharing.share(...)``,
``crate.library.rate(...)``, ``crate.recommendations.recommend(...)`` and so on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp

from bot import store
from bot.app.blends import BlendService
from bot.app.community import Community
from bot.app.library import Library
from bot.app.members import Members
from bot.app.playlists import PlaylistService
from bot.app.recap import Recaps
from bot.app.recommending import Recommendations
from bot.app.sessions import SessionService
from bot.app.settings import SettingsService
from bot.app.sharing import Sharing
from bot.app.songpath import SongPaths
from bot.app.soundmap import SoundMaps
from bot.app.taste import Taste
from bot.app.teaching import Teacher
from bot.app.titles import TitleIndex
from bot.config import Settings
from bot.jobs.admission import Admission
from bot.jobs.analysis import AnalysisPool, Analyzer
from bot.listen.relabel import relabel_at_start
from bot.recommend.service import CatalogCache
from bot.store import Database, open_database


class Crate:
    """Crate's use cases over one database, analysis pool and HTTP session."""

    def __init__(self, settings: Settings, db: Database, pool: Analyzer, http: aiohttp.ClientSession):
        self.settings = settings
        self.db = db
        self.pool = pool
        self.admission = Admission(settings.admission)
        titles = TitleIndex()
        catalogs = CatalogCache(db)
        #: Tracks by id, autocomplete from memory, ratings.
        self.library = Library(db, titles, catalogs)
        #: Each server's corrections and the head that relabels its catalog from them.
        self.teaching = Teacher(db, titles)
        #: Files, attachments and links in, cataloged tracks out (and their audio again for playback).
        self.sharing = Sharing(settings, db, pool, http, admission=self.admission, titles=titles, teacher=self.teaching)
        self.recommendations = Recommendations(db, catalogs)
        #: Per-server settings (/settings), over the defaults from the environment.
        self.server_settings = SettingsService(db, settings, self.admission)
        self.taste = Taste(db, catalogs, self.server_settings)
        self.community = Community(catalogs)
        #: Blends: playlists for two to six members, refilled when one of them rates a track.
        self.blends = BlendService(db, catalogs)
        self.library.on_rated.append(self.blends.rated)
        self.members = Members(db, self.teaching, self.blends)
        #: Recaps (/recap) and the monthly post of servers that opted in.
        self.recaps = Recaps(db, catalogs, self.server_settings)
        #: Listening sessions (their locks live here, so there is one per Crate).
        self.sessions = SessionService(db, catalogs)
        #: Saved playlists (they start sessions through the session service).
        self.playlists = PlaylistService(db, self.sessions, source_url=self.sharing.source_url)
        #: The server's catalog placed by sound (/map, the 📍 button).
        self.maps = SoundMaps(catalogs, self.server_settings)
        #: Song paths from one track to another, queued in a session (/path).
        self.paths = SongPaths(catalogs, self.sessions)

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
            crate = cls(settings, db, pool, http)
            # Stored tracks answered by another family model (or none) get this one's answer, from
            # what is stored; a server that taught Crate has its head run again over it.
            await relabel_at_start(db, settings.genre_model_path, relabel_server=crate.teaching.relabel)
            crate.library.titles.load(await store.track_titles(db))
            # Another process (a second shard, `crate index`) changed a server's tracks: its
            # autocomplete titles reload at the next lookup. (The recommender's caches check the
            # server's change counts at every request already.)
            stop_listening = await db.listen_catalog(crate.library.titles.forget_guild)
            # A database that can't notify (SQLite) is looked at every few seconds instead.
            polling = asyncio.create_task(crate.library.follow_changes()) if stop_listening is None else None
            try:
                await crate.server_settings.apply_stored()
                yield crate
            finally:
                if stop_listening is not None:
                    await stop_listening()
                if polling is not None:
                    polling.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await polling


def analyzer_for(settings: Settings) -> Analyzer:
    """The in-process pool (CRATE_QUEUE=pool, the default), or the PostgreSQL queue."""
    if settings.queue == "postgres":
        from bot.jobs.queue import AnalysisQueue

        return AnalysisQueue.from_settings(settings)
    return AnalysisPool.from_settings(settings)
