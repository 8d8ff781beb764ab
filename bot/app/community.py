"""The server's charts (``/charts``) and who likes a track (``/who``), with no Discord in sight.

Everything is counted from the ratings and shares the store holds now, so whatever ``/forget``
deleted (a member's ratings, shares and the tracks only they had) is gone from every count.

* **Charts** for a period (the last 7 days, 30 days, or all time): the best-liked tracks (likes −
  dislikes given in the period, then likes), the families and styles of what was liked, and the
  members who shared most. A family's figure is its share of the likes, each like split over its
  track's genre distribution (a track 60 % rock, 40 % metal gives rock 0.6 of a like), never
  given whole to a doubtful top genre; styles are the tagger's tags averaged over the liked tracks.
  Cuts of one song (:mod:`bot.recommend.songs`) are one entry: a member's latest rating of any of
  them counts once for the song, shown under its best-liked cut.
* **Who likes a track**: the members who liked it, and among the members who have not rated it,
  those whose taste it fits best: ``(1 + cos) / 2`` between the track's sound and their taste vector
  (:func:`bot.recommend.group.taste_vector`, the sound half of the taste match), from
  above :data:`FIT_MIN`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np

from bot.analysis import TAGS
from bot.catalog import LIKE, Catalog, Track, TrackScore, UnknownTrack
from bot.i18n import N_
from bot.present.describe import TAG_EVIDENCE
from bot.recommend.group import GroupRecommender, taste_vector
from bot.recommend.rank import RatingArrays, features_of
from bot.recommend.service import CatalogCache
from bot.recommend.songs import song_groups
from bot.store import get_track, ratings_of_track, top_sharers, track_scores

Period = Literal["week", "month", "all"]
PERIODS: dict[str, float | None] = {"week": 7 * 86_400.0, "month": 30 * 86_400.0, "all": None}
PERIOD_WORDS: dict[str, str] = {"week": N_("this week"), "month": N_("this month"), "all": N_("of all time")}

TRACKS_SHOWN = 10
FAMILIES_SHOWN = 6
STYLES_SHOWN = 6
SHARERS_SHOWN = 5
FITS_SHOWN = 5
#: A member is named as one whose taste a track fits only above this fit (0.5: as far as unrelated).
FIT_MIN = 0.5


@dataclass(frozen=True)
class ChartTrack:
    track: Track
    likes: int
    dislikes: int


@dataclass(frozen=True)
class ServerCharts:
    guild_id: int
    period: str
    tracks: tuple[ChartTrack, ...]
    families: tuple[tuple[str, float], ...]  # (family, share of the period's likes on liked tracks), most first
    styles: tuple[tuple[str, float], ...]  # (tag, mean probability over liked tracks), strongest first
    sharers: tuple[tuple[int, int], ...]  # (user id, tracks shared), most first
    likes: int  # likes given in the period

    @property
    def is_empty(self) -> bool:
        return not (self.tracks or self.sharers)


@dataclass(frozen=True)
class WhoLikes:
    track: Track
    likers: tuple[int, ...]  # most recent first
    dislikers: int
    fits: tuple[tuple[int, float], ...]  # (user id, fit 0..1), best first; none of them rated it


def period_start(period: str, now: float | None = None) -> float | None:
    """The earliest rating or share time a period counts (None: all time)."""
    if period not in PERIODS:
        raise ValueError(f"period is one of {sorted(PERIODS)}, not {period!r}")
    span = PERIODS[period]
    return None if span is None else (time.time() if now is None else now) - span


async def server_charts(
    catalogs: CatalogCache, guild_id: int, period: str = "all", *, now: float | None = None
) -> ServerCharts:
    """The server's charts for ``period`` ("week", "month" or "all")."""
    db = catalogs.db
    since = period_start(period, now)
    scores = await track_scores(db, guild_id, limit=100_000, since=since)
    catalog, ratings = await catalogs.catalog_and_ratings(guild_id)
    scores = await asyncio.to_thread(_one_per_song, catalog, ratings, scores, since)
    liked = [s for s in scores if s.likes > 0]
    rows, weights = [], []
    for score in liked:
        row = catalog.index_of(score.track_id)
        if row is not None:
            rows.append(row)
            weights.append(score.likes)
    families = _family_shares(catalog, rows, weights)
    styles: list[tuple[str, float]] = []
    if rows:
        mean = np.average(catalog.tag_probs[rows], axis=0, weights=weights)
        order = np.argsort(-mean, kind="stable")[:STYLES_SHOWN]
        styles = [(TAGS[i], float(mean[i])) for i in order if mean[i] >= TAG_EVIDENCE]
    tracks = [(await get_track(db, guild_id, s.track_id), s) for s in liked[:TRACKS_SHOWN]]
    sharers = await top_sharers(db, guild_id, since=since, limit=SHARERS_SHOWN)
    return ServerCharts(
        guild_id=guild_id,
        period=period,
        tracks=tuple(ChartTrack(t, s.likes, s.dislikes) for t, s in tracks if t is not None),
        families=families,
        styles=tuple(styles),
        sharers=tuple((int(u), int(n)) for u, n in sharers),
        likes=sum(s.likes for s in scores),
    )


def _one_per_song(
    catalog: Catalog, ratings: RatingArrays, scores: list[TrackScore], since: float | None
) -> list[TrackScore]:
    """``scores`` with the cuts of a song merged into one: each member's latest rating (since
    ``since``) of any cut counts once, under the cut with the most likes; best song first."""
    rows = [catalog.index_of(s.track_id) for s in scores]
    known = [i for i, row in enumerate(rows) if row is not None]
    groups = song_groups(catalog, [rows[i] for i in known])
    members: dict[int, list[int]] = {}
    for position, i in enumerate(known):
        members.setdefault(int(groups[position]), []).append(i)
    merged = {i: scores[i] for i in range(len(scores))}
    for group in members.values():
        if len(group) < 2:
            continue
        mask = np.isin(ratings.rows, [row for i in group if (row := rows[i]) is not None])
        if since is not None:
            mask &= ratings.times >= since
        latest: dict[int, tuple[float, int]] = {}
        for user, time_, value in zip(ratings.users[mask], ratings.times[mask], ratings.values[mask], strict=True):
            if int(user) not in latest or time_ >= latest[int(user)][0]:
                latest[int(user)] = (float(time_), int(value))
        likes = sum(value == LIKE for _, value in latest.values())
        shown = max(group, key=lambda i: (scores[i].likes, -i))
        for i in group:
            merged.pop(i)
        merged[shown] = TrackScore(scores[shown].track_id, likes, len(latest) - likes)
    return sorted(merged.values(), key=lambda s: (-s.score, -s.likes, s.track_id))


def _family_shares(
    catalog: Catalog, rows: list[int], likes: list[int], *, shown: int | None = FAMILIES_SHOWN
) -> tuple[tuple[str, float], ...]:
    """Each genre's share of the likes on catalog ``rows``, every like split over its track's genre
    distribution (as the recommender reads it, :func:`features_of`: a track without one counts
    fully as its top genre); the ``shown`` largest shares (None: every genre liked), most first."""
    if not rows:
        return ()
    features = features_of(catalog)
    probs = features.genre_probs[rows]
    totals = probs.sum(axis=1, keepdims=True)
    split = np.divide(probs, totals, out=np.zeros_like(probs), where=totals > 0)
    shares = np.asarray(likes, np.float64) @ split / sum(likes)
    ranked = sorted(
        ((g, float(v)) for g, v in zip(features.genre_names, shares) if v > 0), key=lambda gs: (-gs[1], gs[0])
    )
    return tuple(ranked if shown is None else ranked[:shown])


async def who_likes(catalogs: CatalogCache, guild_id: int, track_id: int, *, now: float | None = None) -> WhoLikes:
    """Who liked ``track_id``, and whose taste it fits best among those who haven't rated it."""
    db = catalogs.db
    track = await get_track(db, guild_id, track_id)
    if track is None:
        raise UnknownTrack(detail=f"guild {guild_id} track {track_id}")
    rated = await ratings_of_track(db, guild_id, track_id)
    catalog, ratings = await catalogs.catalog_and_ratings(guild_id)
    row = catalog.index_of(track_id)
    raters = {r.user_id for r in rated}

    def fits() -> list[tuple[int, float]]:
        if row is None:
            return []
        recommender = GroupRecommender(catalog, ratings, now=now)
        sound = features_of(catalog).unit[row]
        out = []
        for user_id in recommender.ratings.user_ids.tolist():
            if user_id in raters:
                continue
            vector = taste_vector(recommender.profile(user_id), catalog)
            fit = None if vector is None else (1.0 + float(np.clip(vector @ sound, -1.0, 1.0))) / 2.0
            if fit is not None and fit > FIT_MIN:
                out.append((int(user_id), fit))
        out.sort(key=lambda uf: (-uf[1], uf[0]))
        return out[:FITS_SHOWN]

    return WhoLikes(
        track=track,
        likers=tuple(r.user_id for r in rated if r.value == LIKE),
        dislikers=sum(r.value != LIKE for r in rated),
        fits=tuple(await asyncio.to_thread(fits)),
    )


class Community:
    """``/charts`` and ``/who``, over the server's cached catalog."""

    def __init__(self, catalogs: CatalogCache):
        self.catalogs = catalogs

    async def charts(self, guild_id: int, period: str = "all") -> ServerCharts:
        """The server's best-liked tracks, families, styles and sharers."""
        return await server_charts(self.catalogs, guild_id, period)

    async def who_likes(self, guild_id: int, track_id: int) -> WhoLikes:
        """The members who liked a track, and whose taste it fits best."""
        return await who_likes(self.catalogs, guild_id, track_id)
