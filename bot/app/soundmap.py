"""``/map`` and the 📍 "Where is this?" button: the server's catalog placed by sound, as a PNG.

The placing is :mod:`bot.recommend.soundmap` (a stable 2-D projection of the embeddings), the
picture :mod:`bot.present.soundmap`; both run in a worker thread, so a 100,000-track server never
holds up the event loop (``benchmarks/map.py`` times it).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np

from bot.app.settings import SettingsService
from bot.app.taste import TastePrivate
from bot.catalog import DISLIKE, LIKE, UnknownTrack
from bot.errors import CrateError
from bot.i18n import N_
from bot.present.soundmap import MapDrawing, draw_map
from bot.recommend.rank import RatingArrays
from bot.recommend.service import CatalogCache
from bot.recommend.soundmap import SoundMap, map_family, sound_map


class EmptyMap(CrateError):
    user_message = N_("There's nothing to map yet: share music with /genre first.")


@dataclass(frozen=True)
class MapImage:
    """A drawn map, with what is on it."""

    png: bytes
    sound_map: SoundMap
    drawing: MapDrawing
    #: The member whose likes are marked (None: nobody's), and how many they rated.
    member_id: int | None = None
    liked: int = 0
    disliked: int = 0

    @property
    def family(self) -> str | None:
        return self.sound_map.family


def rated_rows(ratings: RatingArrays, user_id: int) -> tuple[np.ndarray, np.ndarray]:
    """The catalog rows a member liked and disliked."""
    mine = ratings.users == int(user_id)
    rows, values = ratings.rows[mine], ratings.values[mine]
    return rows[values == LIKE], rows[values == DISLIKE]


class SoundMaps:
    """The map of each server, drawn from its cached catalog and ratings."""

    def __init__(self, catalogs: CatalogCache, server_settings: SettingsService | None = None):
        self.catalogs = catalogs
        #: Another member's likes are marked only where the server lets profiles be public.
        self.server_settings = server_settings

    async def draw(
        self,
        guild_id: int,
        *,
        member_id: int | None = None,
        member_name: str | None = None,
        viewer_id: int | None = None,
        genre: str | None = None,
        track_id: int | None = None,
        title: str = "Our music by sound",
    ) -> MapImage:
        """The map: ``member_id``'s likes and dislikes marked, ``genre`` (a family) highlighted,
        ``track_id`` pinned. ``viewer_id`` asks: another member's ratings only where profiles are
        public. Raises :class:`EmptyMap`, :class:`UnknownTrack`, :class:`TastePrivate` and
        :class:`~bot.recommend.soundmap.UnknownMapGenre`."""
        family = map_family(genre)
        someone_else = member_id is not None and viewer_id is not None and viewer_id != member_id
        if someone_else and self.server_settings and not (await self.server_settings.get(guild_id)).profiles_public:
            raise TastePrivate(detail=f"guild {guild_id}: {viewer_id} mapped {member_id}")
        catalog, ratings = await self.catalogs.catalog_and_ratings(guild_id)
        if len(catalog) == 0:
            raise EmptyMap(detail=f"guild {guild_id}")
        if track_id is not None and catalog.index_of(int(track_id)) is None:
            raise UnknownTrack(detail=f"guild {guild_id} track {track_id}")
        liked, disliked = rated_rows(ratings, member_id) if member_id is not None else (np.zeros(0, np.int64),) * 2

        def render() -> tuple[SoundMap, MapDrawing]:
            placed = sound_map(
                catalog, liked_rows=liked, disliked_rows=disliked, family=family, highlight_track_id=track_id
            )
            return placed, draw_map(placed, title=title, member=member_name)

        placed, drawing = await asyncio.to_thread(render)
        return MapImage(drawing.png, placed, drawing, member_id, len(liked), len(disliked))


__all__ = ["EmptyMap", "MapImage", "SoundMaps", "rated_rows"]
