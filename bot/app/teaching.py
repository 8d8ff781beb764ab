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
from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np

from bot import store
from bot.app.names import BlankName, clean_name, refuse_look_alike
from bot.app.titles import TitleIndex
from bot.catalog import NoTrackChosen, Taught, Track, UnknownTrack
from bot.errors import CrateError
from bot.genres import FAMILIES, family_of, is_family, label
from bot.i18n import N_
from bot.listen.families import default_model
from bot.listen.server_head import Relabelled, genre_key, majority, reach, relabel
from bot.store import Database

#: Longest genre name a server may teach (Discord's modal and select limits leave room for it).
MAX_GENRE_NAME = 40
_NAME = re.compile(r"^[^\W_](?:[^\W_]|[ &'/.+-])*$")  # no "_": "__x__" would be markdown


class BadGenreName(CrateError):
    user_message = N_("A genre name has 1 to {limit} letters, digits, spaces or - & ' / . +, e.g. “city pop”.")
    template_values: ClassVar[Mapping[str, object]] = {"limit": MAX_GENRE_NAME}


def genre_name(text: str) -> str:
    """What a member typed -> a family id ("Hip hop", "R&B" -> ``hiphop``, ``soul``) or a tidy custom name."""
    try:
        name = clean_name(text)
    except BlankName as blank:
        raise BadGenreName(detail=f"genre name {text!r}") from blank
    if not name or len(name) > MAX_GENRE_NAME or not _NAME.match(name):
        raise BadGenreName(detail=f"genre name {text!r}")
    return family_of(name) or name


def confident(genres: Sequence[tuple[str, float]]) -> bool:
    """The family model's "sure enough to state it" rule, for an answer the server's head blended."""
    return bool(genres) and genres[0][1] >= default_model().threshold


class Teacher:
    """Corrections in, relabelled catalogs out; one relabel at a time per server."""

    def __init__(self, db: Database, titles: TitleIndex | None = None):
        self.db = db
        #: The autocomplete titles (their top genres change with a relabel), when there are any.
        self.titles = titles
        self._locks: dict[int, asyncio.Lock] = {}

    def _lock(self, guild_id: int) -> asyncio.Lock:
        return self._locks.setdefault(guild_id, asyncio.Lock())

    async def correct(self, guild_id: int, user_id: int, track_id: int | None, text: str) -> Taught:
        """Record that this member says ``track_id`` (None: their last track) is ``text``, and
        relabel the server's catalog; other servers never see it."""
        genre = genre_name(text)
        if not is_family(genre):
            refuse_look_alike(genre, [*await self.custom_genres(guild_id), *(label(f) for f in FAMILIES)])
        if track_id is None:
            track_id = await store.last_track(self.db, guild_id, user_id)
            if track_id is None:
                raise NoTrackChosen()
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
        await self.reload_titles(guild_id)
        return Taught(track, genre, previous, majority(answers).get(track_id), votes, changed)

    async def reload_titles(self, guild_id: int) -> None:
        """Read the server's autocomplete titles and top genres again (after a relabel or a /forget)."""
        if self.titles is not None:
            self.titles.replace_guild(guild_id, await store.track_titles(self.db, guild_id))

    async def relabel(self, guild_id: int) -> int:
        """Rewrite every track's shown genres from its base distribution and the server's head."""
        async with self._lock(guild_id):
            return await self._relabel(guild_id)

    async def _relabel(self, guild_id: int) -> int:
        """Relabel the tracks the head reaches (and those it changed before), read in full only those:
        parsing a 100,000-track catalog's distributions took seconds, holding the interpreter."""
        ids, embeddings, shown_differs = await store.embeddings_to_relabel(self.db, guild_id)
        if not len(ids):
            return 0
        taught = majority(await store.corrections_in_guild(self.db, guild_id))
        rows = await asyncio.to_thread(_rows_to_relabel, ids, embeddings, shown_differs, taught)
        if not len(rows):
            return 0
        base = await store.base_genres(self.db, guild_id, ids[rows].tolist(), with_shown=True)
        updates, moved = await asyncio.to_thread(_changed_answers, base, taught)
        if updates:
            await store.set_shown_genres(self.db, guild_id, updates)
        return moved

    async def label_new(self, track: Track) -> Track:
        """A track just added to a server that has taught Crate: give it the head's answer too."""
        async with self._lock(track.guild_id):
            stored = await store.base_genres(self.db, track.guild_id, [track.id])
            base = stored.base_pairs(0) if len(stored.ids) else track.genres
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
        out = await asyncio.to_thread(_relabel_rows, _with_track(known, embedding, base), taught)
        return _answer(out, 0)

    async def custom_genres(self, guild_id: int) -> list[str]:
        """The server's own genres (taught to at least one track), most taught first."""
        taught = majority(await store.corrections_in_guild(self.db, guild_id))
        counts = Counter(g for g in taught.values() if not is_family(g))
        return [g for g, _ in sorted(counts.items(), key=lambda gn: (-gn[1], genre_key(gn[0])))]


#: A shown probability that moves by less than this is left as stored (answers show whole percents;
#: far from every taught track the head shifts a distribution by less than that, and rewriting a
#: 100,000-track catalog for it on every correction is what made a correction take half a minute).
RELABEL_TOLERANCE = 0.005


def _changed_answers(
    base: store.BaseGenres, taught: dict[int, str]
) -> tuple[list[tuple[int, tuple[tuple[str, float], ...], bool]], int]:
    """The relabelled answers that differ from the shown ones (``base.shown``): another top genre,
    another sure/unsure decision, a probability moved by :data:`RELABEL_TOLERANCE` or more, or any
    left on a genre no longer taught, as ``(track id, genres, confident)`` rows; and how many
    tracks' top genre changed."""
    out = _relabel_rows(base, taught)
    n, width = out.probabilities.shape
    shown = np.zeros((n, max(width, len(base.names))))
    if base.shown is not None:
        shown[:, : len(base.names)] = base.shown
    new = np.zeros_like(shown)
    new[:, :width] = out.probabilities  # the head keeps base.names first, in order, then adds new ones
    new_top = np.argmax(new, axis=1)
    old_top = np.where(shown.any(axis=1), np.argmax(shown, axis=1), -1)
    threshold = default_model().threshold
    sure = new[np.arange(n), new_top] >= threshold
    was_sure = base.confident if base.confident is not None else np.zeros(n, bool)
    moved = np.abs(new - shown).max(axis=1, initial=0.0) >= RELABEL_TOLERANCE
    stale = ((shown > 0) & (new == 0)).any(axis=1)  # e.g. a custom genre its only teacher /forgot
    # An answer within the tolerance of the base model's, with its top genre and decision, is stored
    # as the base model's very answer (the same text: the next relabel need not read that track).
    prior = np.zeros_like(shown)
    prior[:, : len(base.names)] = base.base
    as_base = (
        (np.abs(new - prior).max(axis=1, initial=0.0) < RELABEL_TOLERANCE)
        & (np.argmax(prior, axis=1) == new_top)
        & ((prior.max(axis=1, initial=0.0) >= threshold) == sure)
    )
    differs = np.where(as_base, (shown != prior).any(axis=1), moved | stale | (new_top != old_top) | (sure != was_sure))
    updates = [
        (int(base.ids[i]), base.base_pairs(i) if as_base[i] else _answer(out, i), bool(sure[i]))
        for i in np.flatnonzero(differs).tolist()
    ]
    return updates, int(np.count_nonzero(new_top != old_top))


def _rows_to_relabel(
    ids: np.ndarray, embeddings: np.ndarray, shown_differs: np.ndarray, taught: dict[int, str]
) -> np.ndarray:
    """Rows whose answer the head may move by :data:`RELABEL_TOLERANCE` or more (taught tracks
    included), or that show something else than the base model's answer now (a lesson since
    forgotten may have moved them)."""
    taught_rows = np.flatnonzero(np.isin(ids, np.fromiter(taught, np.int64, count=len(taught))))
    return np.flatnonzero(shown_differs | (reach(embeddings, taught_rows) >= RELABEL_TOLERANCE))


def _answer(out: Relabelled, row: int) -> tuple[tuple[str, float], ...]:
    """One track's relabelled genres, most probable first: every family, and the server's own genres
    it has some probability of (one nobody teaches any more is dropped)."""
    return tuple((genre, p) for genre, p in out.ranked(row) if p > 0 or is_family(genre))


def _relabel_rows(base: store.BaseGenres, taught: dict[int, str]) -> Relabelled:
    """The head over ``base``'s rows; ``taught`` maps track ids (some maybe not in ``base``) to genres."""
    rows = {int(track_id): i for i, track_id in enumerate(base.ids)}
    lessons = [(rows[track_id], genre) for track_id, genre in sorted(taught.items()) if track_id in rows]
    return relabel(base.embeddings, base.base, base.names, lessons)


def _with_track(
    known: store.BaseGenres, embedding: np.ndarray, genres: Sequence[tuple[str, float]]
) -> store.BaseGenres:
    """``known`` with one more row in front (id -1): a track that need not be in the catalog."""
    names = list(known.names) + [name for name, _ in genres if name not in known.names]
    base = np.zeros((len(known.ids) + 1, len(names)))
    base[1:, : len(known.names)] = known.base
    for name, p in genres:
        base[0, names.index(name)] = p
    return store.BaseGenres(
        ids=np.concatenate([np.asarray([-1], np.int64), known.ids]),
        embeddings=np.vstack([np.asarray(embedding, np.float32).reshape(1, -1), known.embeddings]),
        names=tuple(names),
        base=base,
    )
