"""Recaps (``/recap``) and the monthly post, with no Discord in sight.

A recap covers a calendar month or year (UTC): the current one so far when a member asks, the one
just ended in the monthly post. For a member, or the whole server:

* **most played**: tracks played in listening sessions (a member's: in sessions they were in);
* **most liked**: likes given in the period (a member's: what they liked, the server's best-liked first);
* **families**: each family's share of the period's likes, against the period before (every like
  split over its track's genre distribution, as ``/charts`` counts: never given whole to a
  doubtful top genre);
* **best match**: the member whose taste matches theirs best (the server's: the best-matched
  pair), by :func:`bot.recommend.group.taste_match`, only between members with at least
  :data:`~bot.recommend.blend.MATCH_MIN_RATINGS` ratings;
* **first shares**: tracks first shared in this server during the period.

A server opts in with ``/settings recap:True``; :meth:`Recaps.monthly_due` says which servers'
recap of the month just ended is due (from the 1st until :data:`POST_WITHIN_DAYS` days in, if
Crate was down on the 1st), and :meth:`Recaps.claim_post` remembers a post in the database before
it is made, so a restart or a second process never posts it twice. Time comes from ``clock``.
"""

from __future__ import annotations

import asyncio
import calendar
import itertools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np

from bot.app.community import _family_shares
from bot.app.settings import SettingsService
from bot.app.taste import TastePrivate
from bot.catalog import LIKE, Catalog
from bot.genres import label
from bot.i18n import _, month_year, ngettext
from bot.present.recap import FamilyBar, RecapCard
from bot.recommend.blend import MATCH_MIN_RATINGS
from bot.recommend.group import GroupRecommender, match_text, taste_match
from bot.recommend.rank import RatingArrays
from bot.recommend.service import CatalogCache
from bot.store import get_track
from bot.store import recaps as store
from bot.store.database import Database

PeriodKind = Literal["month", "year"]
SHOWN = 5
FAMILIES_SHOWN = 5
#: The monthly post is made on the 1st, or as soon as Crate runs again within this many days.
POST_WITHIN_DAYS = 3
#: How often a front end asks :meth:`Recaps.monthly_due` (seconds); read at each round.
CHECK_EVERY = 600.0
#: A server whose post failed (Crate may not post in its channel, the channel went) is due again
#: after this many seconds, not at every round: its managers have time to fix it, nothing is lost.
RETRY_AFTER = 3600.0


@dataclass(frozen=True)
class Span:
    start: float
    end: float
    key: str  # "2026-11", "2026"
    words: str  # "November 2026", "2026"


def _month(year: int, month: int) -> Span:
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return Span(start.timestamp(), end.timestamp(), f"{year:04d}-{month:02d}", f"{calendar.month_name[month]} {year}")


def _year(year: int) -> Span:
    start, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    return Span(start.timestamp(), end.timestamp(), f"{year:04d}", str(year))


def period_span(kind: str, now: float, *, ended: bool = False) -> Span:
    """The month or year (UTC) ``now`` falls in, or with ``ended`` the one before it."""
    day = datetime.fromtimestamp(now, UTC)
    if kind == "month":
        year, month = (day.year, day.month) if not ended else divmod(day.year * 12 + day.month - 2, 12)
        return _month(year, month if not ended else month + 1)
    if kind == "year":
        return _year(day.year - ended)
    raise ValueError(f"a recap's period is month or year, not {kind!r}")


def before(kind: str, span: Span) -> Span:
    """The period just before ``span``."""
    return period_span(kind, span.start - 1)


@dataclass(frozen=True)
class Counted:
    track_id: int
    title: str
    count: int


@dataclass(frozen=True)
class FamilyShift:
    family: str
    share: float
    previous: float | None  # None: no likes in the period before


@dataclass(frozen=True)
class Recap:
    guild_id: int
    user_id: int | None  # None: the server's
    kind: str
    span: Span
    previous: Span
    played: tuple[Counted, ...]
    liked: tuple[Counted, ...]
    likes: int
    families: tuple[FamilyShift, ...]
    #: (member, match) for a member's recap; (a, b, match) of the best pair for the server's.
    best_match: tuple[int, ...] | None
    match: float | None
    first_shares: tuple[tuple[str, int], ...]  # (title, who shared it), earliest first
    new_tracks: int

    @property
    def is_empty(self) -> bool:
        return not (self.played or self.liked or self.new_tracks)

    @property
    def named(self) -> tuple[int, ...]:
        """The members the card names: whose recap it is, the best match, who shared the first shares."""
        ids = (self.user_id, *(self.best_match or ()), *(user for _, user in self.first_shares))
        return tuple(dict.fromkeys(u for u in ids if u is not None))


def _likes_in(ratings: RatingArrays, start: float, end: float, user_id: int | None) -> np.ndarray:
    mask = (ratings.values == LIKE) & (ratings.times >= start) & (ratings.times < end)
    if user_id is not None:
        mask &= ratings.users == user_id
    return np.asarray(ratings.rows[mask], np.int64)


def _families(catalog: Catalog, rows: np.ndarray) -> dict[str, float]:
    """Every family's share of these likes (all of them: a family's share the period before is
    its true one even where it was not among the few the card shows)."""
    if len(rows) == 0:
        return {}
    unique, counts = np.unique(rows, return_counts=True)
    return dict(_family_shares(catalog, unique.tolist(), counts.tolist(), shown=None))


def _best_match(
    catalog: Catalog, ratings: RatingArrays, user_id: int | None, now: float
) -> tuple[tuple[int, ...] | None, float | None]:
    recommender = GroupRecommender(catalog, ratings, now=now)
    users, counts = np.unique(ratings.users, return_counts=True)
    known = [int(u) for u, n in zip(users, counts, strict=True) if n >= MATCH_MIN_RATINGS]
    profiles = {u: recommender.profile(u) for u in known}
    if user_id is not None:
        if user_id not in profiles:
            return None, None
        pairs = [(user_id, other) for other in known if other != user_id]
    else:
        pairs = list(itertools.combinations(known, 2))
    best: tuple[tuple[int, ...], float] | None = None
    for a, b in pairs:
        value = taste_match(profiles[a], profiles[b], catalog)
        if value is not None and (best is None or value > best[1]):
            best = ((b,) if user_id is not None else (a, b), value)
    return (None, None) if best is None else best


def wall_clock() -> float:
    """The time now, for a :class:`Recaps` given no clock of its own (read at each call, so an
    end-to-end test can move the running bot to the 1st of a month)."""
    return time.time()


class Recaps:
    """Recaps over each server's cached catalog, and the monthly posts."""

    def __init__(
        self,
        db: Database,
        catalogs: CatalogCache,
        settings: SettingsService,
        *,
        clock: Callable[[], float] | None = None,
    ):
        self.db = db
        self.catalogs = catalogs
        self.settings = settings
        #: The time now (tests give their own); None: :func:`wall_clock`.
        self.clock = clock
        #: (guild id, period) of a failed monthly post -> when it is due again (:meth:`post_failed`).
        self._retry_at: dict[tuple[int, str], float] = {}

    def now(self) -> float:
        return (self.clock or wall_clock)()

    async def recap(
        self,
        guild_id: int,
        user_id: int | None = None,
        kind: str = "month",
        *,
        ended: bool = False,
        viewer_id: int | None = None,
    ) -> Recap:
        """The recap of the month or year so far (``ended``: the one just ended). Another member's
        (``viewer_id`` not ``user_id``) only where the server lets profiles be public."""
        private = user_id is not None and viewer_id is not None and viewer_id != user_id
        if private and not (await self.settings.get(guild_id)).profiles_public:
            raise TastePrivate(detail=f"guild {guild_id}: {viewer_id} asked for the recap of {user_id}")
        now = self.now()
        span = period_span(kind, now, ended=ended)
        previous = before(kind, span)
        catalog, ratings = await self.catalogs.catalog_and_ratings(guild_id)

        def work():
            rows = _likes_in(ratings, span.start, span.end, user_id)
            now_families = _families(catalog, rows)
            then = _families(catalog, _likes_in(ratings, previous.start, previous.end, user_id))
            families = sorted(now_families.items(), key=lambda fs: (-fs[1], fs[0]))[:FAMILIES_SHOWN]
            shifts = tuple(FamilyShift(f, s, then.get(f, 0.0) if then else None) for f, s in families)
            # the member's likes, best-liked by the server first; the server's: most likes first
            all_rows = _likes_in(ratings, span.start, span.end, None)
            popularity = np.bincount(all_rows, minlength=len(catalog)) if len(catalog) else np.zeros(0)
            unique = np.unique(rows)
            ordered = sorted(unique.tolist(), key=lambda r: (-int(popularity[r]), catalog.titles[r].casefold()))
            liked = tuple(Counted(int(catalog.ids[r]), catalog.titles[r], int(popularity[r])) for r in ordered[:SHOWN])
            best, match = _best_match(catalog, ratings, user_id, now)
            return liked, len(rows), shifts, best, match

        liked, likes, shifts, best, match = await asyncio.to_thread(work)
        played = []
        for track_id, plays in await store.plays_between(
            self.db, guild_id, span.start, span.end, user_id=user_id, limit=SHOWN
        ):
            track = await get_track(self.db, guild_id, track_id)
            if track is not None:
                played.append(Counted(track_id, track.title, plays))
        firsts = await store.first_shares_between(self.db, guild_id, span.start, span.end, user_id=user_id)
        shown_firsts = []
        for track_id, sharer, _when in firsts[:3]:
            track = await get_track(self.db, guild_id, track_id)
            if track is not None:
                shown_firsts.append((track.title, sharer))
        return Recap(
            guild_id=guild_id,
            user_id=user_id,
            kind=kind,
            span=span,
            previous=previous,
            played=tuple(played),
            liked=liked,
            likes=likes,
            families=shifts,
            best_match=best,
            match=match,
            first_shares=tuple(shown_firsts),
            new_tracks=len(firsts),
        )

    # -- the monthly post ---------------------------------------------------------------------

    async def monthly_due(self) -> tuple[str, list[int]]:
        """(the month just ended, "2026-11"; the servers that opted in whose recap of it is due)."""
        now = self.now()
        span = period_span("month", now, ended=True)
        if datetime.fromtimestamp(now, UTC).day > POST_WITHIN_DAYS:
            return span.key, []
        due = []
        for guild_id, chosen in sorted((await self.settings.stored()).items()):
            if self._retry_at.get((guild_id, span.key), 0.0) > now:
                continue  # its post failed a moment ago: not again at every round
            if chosen.recap_monthly and not await store.recap_posted(self.db, guild_id, span.key):
                due.append(guild_id)
        return span.key, due

    async def claim_post(self, guild_id: int, period: str, channel_id: int | None) -> bool:
        """Remember that this server's recap of ``period`` is being posted; False: it was already."""
        return await store.claim_recap_post(self.db, guild_id, period, channel_id=channel_id, now=self.now())

    async def release_post(self, guild_id: int, period: str) -> None:
        """The post failed: let the next round try again."""
        await store.release_recap_post(self.db, guild_id, period)

    async def post_failed(self, guild_id: int, period: str) -> None:
        """The post failed (no right to post in the channel, the channel gone, Discord down): it is
        not remembered as made, and is due again after :data:`RETRY_AFTER`, not at every round."""
        await self.release_post(guild_id, period)
        self._retry_at[(guild_id, period)] = self.now() + RETRY_AFTER


def span_words(span: Span) -> str:
    """``"November 2026"`` or ``"2026"``, in the current language."""
    if len(span.key) == 7:
        year, month = map(int, span.key.split("-"))
        return month_year(year, month)
    return span.words


def recap_card(recap: Recap, names: Mapping[int, str], *, server_name: str | None = None) -> RecapCard:
    """The recap in words, for the card (``names``: members' display names; text, not mentions),
    in the current language."""

    def name(user_id: int) -> str:
        return names.get(user_id, _("a former member"))

    whose = (server_name or _("this server")) if recap.user_id is None else name(recap.user_id)
    month = recap.kind == "month"
    played = tuple(
        f"{i}. {c.title} · " + ngettext("{count} play", "{count} plays", c.count).format(count=c.count)
        for i, c in enumerate(recap.played, 1)
    )

    def likes(count: int) -> str:
        if recap.user_id is None:
            return ngettext("{count} like", "{count} likes", count).format(count=count)
        # a member's likes, the server's best-liked first: the count is the server's ("2 likes"
        # beside their own like would read as theirs)
        return ngettext("liked by {count} member", "liked by {count} members", count).format(count=count)

    liked = tuple(f"{i}. {c.title} · {likes(c.count)}" for i, c in enumerate(recap.liked, 1))
    if recap.best_match is None or recap.match is None:
        match = (
            _("Not enough ratings yet (a match needs {count} ratings from each member).").format(
                count=MATCH_MIN_RATINGS
            ),
        )
    elif recap.user_id is not None:
        match = (
            _("{member} · {match} taste match").format(member=name(recap.best_match[0]), match=match_text(recap.match)),
        )
    else:
        a, b = recap.best_match
        match = (
            _("{first} & {second} · {match} taste match").format(
                first=name(a), second=name(b), match=match_text(recap.match)
            ),
        )
    firsts = tuple(
        _("{title} · shared by {member}").format(title=title, member=name(user)) for title, user in recap.first_shares
    )
    if recap.new_tracks > len(firsts):
        firsts += (_("and {count} more new to the server").format(count=recap.new_tracks - len(firsts)),)
    sections = (
        (
            _("Most played"),
            played
            or (
                (
                    _("Nothing played in a session this month.")
                    if month
                    else _("Nothing played in a session this year.")
                ),
            ),
        ),
        (_("Most liked"), liked or ((_("No likes this month.") if month else _("No likes this year.")),)),
        (_("Best taste match"), match),
        (
            _("First shares"),
            firsts or ((_("Nothing new shared this month.") if month else _("Nothing new shared this year.")),),
        ),
    )
    families = tuple(FamilyBar(label(f.family), f.share, f.previous) for f in recap.families)
    return RecapCard(
        title=_("{whose}'s {period}").format(whose=whose, period=span_words(recap.span)),
        subtitle=_("Crate recap · {likes} · compared with {before}").format(
            likes=ngettext("{count} like", "{count} likes", recap.likes).format(count=recap.likes),
            before=span_words(recap.previous),
        ),
        sections=sections,
        families=families,
        footer=_("Made by Crate from what this server shares, plays and rates."),
    )


__all__ = [
    "CHECK_EVERY",
    "POST_WITHIN_DAYS",
    "RETRY_AFTER",
    "Counted",
    "FamilyShift",
    "PeriodKind",
    "Recap",
    "Recaps",
    "Span",
    "before",
    "period_span",
    "recap_card",
    "wall_clock",
]
