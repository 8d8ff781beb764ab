"""A member's taste: the profile (/profile) and the match with another member (/taste), each
shown to others only where the server lets profiles be public."""

from __future__ import annotations

from dataclasses import dataclass

from bot import store
from bot.app.compare import TasteComparison, compare_taste
from bot.app.settings import SettingsService
from bot.catalog import DISLIKE, LIKE, Track
from bot.errors import CrateError
from bot.genres import mostly
from bot.i18n import N_
from bot.recommend.service import CatalogCache
from bot.store import Database


class TastePrivate(CrateError):
    user_message = N_("This server keeps members' taste private: Crate shows you only your own (/profile, /taste).")


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


class Taste:
    """Profiles and taste matches, over the server's cached catalog."""

    def __init__(self, db: Database, catalogs: CatalogCache, server_settings: SettingsService):
        self.db = db
        self.catalogs = catalogs
        self.server_settings = server_settings

    async def profile(self, guild_id: int, user_id: int, *, viewer_id: int | None = None) -> TasteSummary:
        """A member's taste summary; another member (``viewer_id``) sees it only where the
        server's settings let profiles be public (raises :class:`TastePrivate`)."""
        if viewer_id is not None:
            await self._check_taste_visible(guild_id, viewer_id, user_id)
        ratings = await store.ratings_of(self.db, guild_id, user_id)
        shares = await store.shares_of(self.db, guild_id, user_id)
        recommender = await self.catalogs.recommender(guild_id, user_id)
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

    async def compare(self, guild_id: int, user_id: int, other_id: int) -> TasteComparison:
        """``/taste member:``: the taste match of two members, with its evidence (bot.app.compare)."""
        await self._check_taste_visible(guild_id, user_id, other_id)
        return await compare_taste(self.catalogs, guild_id, user_id, other_id)
