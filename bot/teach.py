"""Learning from a server: members correct a track's genre, and its catalog is relabelled.

One core call, :meth:`Teacher.correct`, serves the "Not right?" select on Discord, ``/correct``
in the console and ``crate teach``: check the genre name, store the member's answer
(:mod:`bot.store.corrections`), then relabel every track of that server from the base model's
stored distributions and what its members taught (:mod:`bot.listen.server_head`, numpy, off the
event loop). Nothing crosses servers: each guild's corrections teach only its own catalog.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot import store
from bot.catalog import Track, UnknownTrack
from bot.errors import CrateError
from bot.genres import FAMILIES, family_of, is_family
from bot.listen.families import default_model
from bot.listen.server_head import Relabelled, genre_key, majority, relabel
from bot.store import Database

#: Longest genre name a server may teach (Discord's modal and select limits leave room for it).
MAX_GENRE_NAME = 40
_NAME = re.compile(r"^[\w][\w &'/.+-]*$")


class BadGenreName(CrateError):
    user_message = f"A genre name has 1 to {MAX_GENRE_NAME} letters, digits, spaces or - & ' / . +, e.g. “city pop”."


def genre_name(text: str) -> str:
    """What a member typed -> a family id ("Hip hop", "R&B" -> ``hiphop``, ``soul``) or a tidy custom name."""
    name = " ".join(str(text).split())
    if not name or len(name) > MAX_GENRE_NAME or not _NAME.match(name):
        raise BadGenreName(detail=f"genre name {text!r}")
    return family_of(name) or name


def confident(genres: Sequence[tuple[str, float]]) -> bool:
    """The family model's "sure enough to state it" rule, for an answer the server's head blended."""
    return bool(genres) and genres[0][1] >= default_model().threshold


@dataclass(frozen=True)
class Taught:
    """What one correction did."""

    track: Track  # the track, with its genres after relabelling
    genre: str  # what this member said (family id or the server's own genre)
    previous: str | None  # this member's earlier answer for the track, if any
    decided: str | None  # what the track is now taught (majority of its correctors; None: a tie)
    votes: tuple[tuple[str, int], ...]  # every answer for this track, most votes first
    relabelled: int  # tracks of the server whose top genre changed


class Teacher:
    """Corrections in, relabelled catalogs out; one relabel at a time per server."""

    def __init__(self, db: Database):
        self.db = db
        self._locks: dict[int, asyncio.Lock] = {}

    def _lock(self, guild_id: int) -> asyncio.Lock:
        return self._locks.setdefault(guild_id, asyncio.Lock())

    async def correct(self, guild_id: int, user_id: int, track_id: int, text: str) -> Taught:
        """Record that this member says ``track_id`` is ``text``, and relabel the server's catalog."""
        genre = genre_name(text)
        if await store.get_track(self.db, guild_id, track_id) is None:
            raise UnknownTrack(detail=f"guild {guild_id} track {track_id}")
        async with self._lock(guild_id):
            previous = await store.record_correction(self.db, guild_id, user_id, track_id, genre)
            changed = await self._relabel(guild_id)
        answers = await store.corrections_of_track(self.db, guild_id, track_id)
        counts = Counter(genre_key(c.genre) for c in answers)
        spelling = {genre_key(c.genre): c.genre for c in reversed(answers)}
        votes = tuple((spelling[key], n) for key, n in counts.most_common())
        track = await store.get_track(self.db, guild_id, track_id)
        if track is None:  # removed meanwhile (/forget of its only sharer)
            raise UnknownTrack(detail=f"guild {guild_id} track {track_id}")
        return Taught(track, genre, previous, majority(answers).get(track_id), votes, changed)

    async def relabel(self, guild_id: int) -> int:
        """Rewrite every track's shown genres from its base distribution and the server's head."""
        async with self._lock(guild_id):
            return await self._relabel(guild_id)

    async def _relabel(self, guild_id: int) -> int:
        base = await store.base_genres(self.db, guild_id)
        if not len(base.ids):
            return 0
        taught = majority(await store.corrections_in_guild(self.db, guild_id))
        before = {int(row[1]): row[3] for row in await store.track_titles(self.db, guild_id)}
        out = await asyncio.to_thread(_relabel_rows, base, taught)
        rows = [(int(track_id), out.ranked(i)) for i, track_id in enumerate(base.ids)]
        await store.set_shown_genres(self.db, guild_id, [(i, ranked, confident(ranked)) for i, ranked in rows])
        return sum(before.get(track_id) != ranked[0][0] for track_id, ranked in rows)

    async def label_new(self, track: Track) -> Track:
        """A track just added to a server that has taught Crate: give it the head's answer too."""
        async with self._lock(track.guild_id):
            [base] = (await store.base_genres(self.db, track.guild_id, [track.id])).genres or [track.genres]
            genres = await self.heard(track.guild_id, track.embedding, base)
            if genres is None:
                return track
            await store.set_shown_genres(self.db, track.guild_id, [(track.id, genres, confident(genres))])
        return await store.get_track(self.db, track.guild_id, track.id) or track

    async def heard(
        self, guild_id: int, embedding: np.ndarray, base: Sequence[tuple[str, float]]
    ) -> tuple[tuple[str, float], ...] | None:
        """What this server's head makes of a track with ``embedding`` and base distribution ``base``.

        None when the server has taught nothing (the base model's answer stands). The track need
        not be in the catalog (``crate classify --guild``).
        """
        taught = majority(await store.corrections_in_guild(self.db, guild_id))
        if not taught:
            return None
        known = await store.base_genres(self.db, guild_id, list(taught))
        rows = store.BaseGenres(
            ids=np.concatenate([np.asarray([-1], np.int64), known.ids]),
            embeddings=np.vstack([np.asarray(embedding, np.float32).reshape(1, -1), known.embeddings]),
            genres=[tuple(base), *known.genres],
        )
        out = await asyncio.to_thread(_relabel_rows, rows, taught)
        return out.ranked(0)

    async def custom_genres(self, guild_id: int) -> list[str]:
        """The server's own genres (taught to at least one track), most taught first."""
        taught = majority(await store.corrections_in_guild(self.db, guild_id))
        counts = Counter(g for g in taught.values() if not is_family(g))
        return [g for g, _ in sorted(counts.items(), key=lambda gn: (-gn[1], genre_key(gn[0])))]


def _relabel_rows(base: store.BaseGenres, taught: dict[int, str]) -> Relabelled:
    """The head over ``base``'s rows; ``taught`` maps track ids (some maybe not in ``base``) to genres."""
    names = list(FAMILIES)
    for pairs in base.genres:
        names.extend(name for name, _ in pairs if name not in names)
    column = {name: j for j, name in enumerate(names)}
    matrix = np.zeros((len(base.ids), len(names)))
    for i, pairs in enumerate(base.genres):
        for name, p in pairs:
            matrix[i, column[name]] = p
    rows = {int(track_id): i for i, track_id in enumerate(base.ids)}
    lessons = [(rows[track_id], genre) for track_id, genre in sorted(taught.items()) if track_id in rows]
    return relabel(base.embeddings, matrix, names, lessons)
