"""The server's catalog placed by sound, in two dimensions (``/map``). Pure numpy, no I/O.

A track's place is its musicnn embedding, normalised to unit length (cosine geometry, the same
for a track whatever else the server holds), projected on the catalog's first two principal
components (:func:`fit_projection`). The map must not reshuffle when a few tracks arrive, so:

* the PCA is fitted on a **stable sample**: the :data:`FIT_SAMPLE` tracks whose id hashes lowest
  (:func:`stable_order`), so a new track only enters the fit by pushing out one other track, and
  a server under that size fits on every track;
* each component's **sign is fixed** by a constant reference direction (:data:`REFERENCE`, the
  same for every server and every day): an eigenvector's sign is otherwise arbitrary, and a
  refit could mirror the map;
* the axes are the projection itself, not rescaled per day.

Adding 2 % more tracks to a clustered catalog moves the old points by a small fraction of the
map's spread (``tests/test_soundmap.py`` measures it). Storing a projection per server would be
stabler still, at the price of a table and of a map that never learns the new sound a server
shares; a refit that barely moves is the better trade for a picture. Beyond
:data:`MAX_POINTS` the drawn points are thinned the same stable way (lowest id hashes), so a
track shown today is shown tomorrow; the member's rated tracks and the highlighted one are
always drawn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from bot.catalog import EMBEDDING_DIM, Catalog, UnknownTrack
from bot.errors import CrateError
from bot.genres import DISPLAY_NAMES, FAMILIES, family_of, label
from bot.i18n import N_

#: Points drawn at most (beyond them the map thins out, deterministically).
MAX_POINTS = 3_000
#: Tracks the projection is fitted on at most (a 200x200 covariance needs no more).
FIT_SAMPLE = 20_000
#: Landmark tracks named on the map at most.
LANDMARKS = 6
#: A landmark this close to another one (share of the map's extent) is not named: labels would overlap.
LANDMARK_MIN_GAP = 0.12
#: The constant direction that fixes each component's sign (any fixed vector does; this one is
#: seeded, so it is the same in every process and on every day).
REFERENCE = np.random.default_rng(20_251_207).normal(size=EMBEDDING_DIM).astype(np.float64)


class UnknownMapGenre(CrateError):
    """A ``genre`` option that names no family."""

    user_message = N_("The map colours tracks by family: pick one of {families}.")
    template_values: ClassVar[Mapping[str, object]] = {
        "families": ", ".join(DISPLAY_NAMES[f].lower() for f in FAMILIES)
    }


@dataclass(frozen=True)
class Projection:
    """A fitted 2-D projection: ``xy = (unit(embedding) - mean_) @ components_``."""

    mean_: np.ndarray  # float64[EMBEDDING_DIM]
    components_: np.ndarray  # float64[EMBEDDING_DIM, 2]
    explained_variance_ratio_: float = 0.0

    def transform(self, embeddings: np.ndarray) -> np.ndarray:
        """Place vectors on the map.

        Parameters
        ----------
        embeddings : np.ndarray [shape=(n, EMBEDDING_DIM)]

        Returns
        -------
        xy : np.ndarray [shape=(n, 2)]
        """
        return ((_unit(embeddings) - self.mean_) @ self.components_).astype(np.float32)


def _unit(embeddings: np.ndarray) -> np.ndarray:
    raw = np.asarray(embeddings, dtype=np.float64)
    return raw / np.maximum(np.linalg.norm(raw, axis=-1, keepdims=True), 1e-9)


def stable_order(ids: np.ndarray) -> np.ndarray:
    """A pseudo-random but fixed key per track id (a splitmix64 finaliser): sorting by it samples
    the same tracks every day, and a new track changes the sample by at most one member."""
    z = np.asarray(ids, dtype=np.int64).astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def stable_sample(ids: np.ndarray, size: int) -> np.ndarray:
    """Rows (ascending) of the ``size`` ids that hash lowest; every row when there are fewer."""
    n = len(ids)
    if n <= size:
        return np.arange(n)
    keys = stable_order(ids)
    return np.sort(np.argpartition(keys, size - 1)[:size])


def fit_projection(catalog: Catalog) -> Projection:
    """The catalog's first two principal components (of unit embeddings), on a stable sample,
    each signed so that it points along :data:`REFERENCE`."""
    rows = stable_sample(catalog.ids, FIT_SAMPLE)
    if len(rows) == 0:
        return Projection(np.zeros(EMBEDDING_DIM), np.eye(EMBEDDING_DIM, 2))
    sample = _unit(catalog.embeddings[rows])
    mean = sample.mean(axis=0)
    centred = sample - mean
    values, vectors = np.linalg.eigh(centred.T @ centred)
    top = vectors[:, ::-1][:, :2].copy()
    signs = np.where(REFERENCE @ top < 0, -1.0, 1.0)
    total = float(values.sum())
    ratio = float(values[::-1][:2].sum() / total) if total > 0 else 0.0
    return Projection(mean, top * signs, ratio)


def family_codes(catalog: Catalog) -> np.ndarray:
    """``int[n]``: each track's family as an index of :data:`FAMILIES`, -1 when none is known.
    A track of a server's own genre is coloured by its most probable family."""
    index = {f: i for i, f in enumerate(FAMILIES)}
    codes = np.fromiter((index.get(g, -1) if g else -1 for g in catalog.top_genres), np.int64, count=len(catalog))
    if catalog.genre_probs is not None and len(catalog.genre_names) and (codes < 0).any():
        columns = [(j, index[g]) for j, g in enumerate(catalog.genre_names) if g in index]
        if columns:
            probs = np.asarray(catalog.genre_probs, dtype=np.float32)[:, [j for j, _ in columns]]
            best = probs.argmax(axis=1)
            known = probs.max(axis=1) > 0
            fill = (codes < 0) & known
            codes[fill] = np.array([f for _, f in columns])[best[fill]]
    return codes


def map_family(genre: str | None) -> str | None:
    """The family a ``genre`` option names, or None for no option; raises :class:`UnknownMapGenre`."""
    if genre is None or not genre.strip():
        return None
    family = family_of(genre)
    if family is None:
        # the families in the language of the member who asked (raised in their interaction)
        raise UnknownMapGenre(values={"families": ", ".join(label(f) for f in FAMILIES)}, detail=f"genre {genre!r}")
    return family


@dataclass(frozen=True)
class Landmark:
    track_id: int
    title: str
    xy: tuple[float, float]


@dataclass(frozen=True)
class SoundMap:
    """What the map draws (positions in projection units)."""

    #: The drawn points (thinned beyond :data:`MAX_POINTS`): positions, track ids, family codes.
    xy: np.ndarray  # float32[m, 2]
    track_ids: np.ndarray  # int64[m]
    families: np.ndarray  # int64[m]: index of FAMILIES, -1 unknown
    #: Tracks in the catalog (the drawn points may be fewer).
    total: int
    #: The member's likes and dislikes (all of them, never thinned) and their taste's centre.
    liked: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    disliked: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    centre: tuple[float, float] | None = None
    landmarks: tuple[Landmark, ...] = ()
    highlight: Landmark | None = None
    #: The family the map highlights (a ``genre`` option), or None.
    family: str | None = None
    explained_variance_ratio: float = 0.0

    @property
    def shown(self) -> int:
        return len(self.xy)

    @property
    def in_family(self) -> int:
        """Drawn tracks of :attr:`family` (all of them, up to :data:`MAX_POINTS`: 0 means the
        catalog has none); 0 without a family."""
        return 0 if self.family is None else int((self.families == FAMILIES.index(self.family)).sum())


def sound_map(
    catalog: Catalog,
    *,
    liked_rows: Sequence[int] | np.ndarray = (),
    disliked_rows: Sequence[int] | np.ndarray = (),
    family: str | None = None,
    highlight_track_id: int | None = None,
    projection: Projection | None = None,
    max_points: int = MAX_POINTS,
    landmarks: int = LANDMARKS,
) -> SoundMap:
    """Place the catalog on the map: thinned points, the member's ratings and taste centre,
    landmark tracks (the most typical track of each of the largest families, or of ``family``)
    and the highlighted track. Raises :class:`UnknownTrack` for an unknown highlight."""
    projection = projection or fit_projection(catalog)
    n = len(catalog)
    codes = family_codes(catalog)
    highlight_row = None
    if highlight_track_id is not None:
        highlight_row = catalog.index_of(int(highlight_track_id))
        if highlight_row is None:
            raise UnknownTrack(detail=f"guild {catalog.guild_id} has no track {highlight_track_id}")
    liked = np.asarray(liked_rows, dtype=np.int64)
    disliked = np.asarray(disliked_rows, dtype=np.int64)
    drawn = _thin(catalog.ids, codes, family, max_points)
    always = [r for r in (highlight_row,) if r is not None]
    if always:
        drawn = np.union1d(drawn, np.asarray(always, dtype=np.int64))
    xy = projection.transform(catalog.embeddings[drawn]) if len(drawn) else np.zeros((0, 2), np.float32)
    liked_xy = projection.transform(catalog.embeddings[liked]) if len(liked) else np.zeros((0, 2), np.float32)
    disliked_xy = projection.transform(catalog.embeddings[disliked]) if len(disliked) else np.zeros((0, 2), np.float32)
    centre = None
    if len(liked):
        mean = liked_xy.mean(axis=0)
        centre = (float(mean[0]), float(mean[1]))
    highlight = None
    if highlight_row is not None:
        (point,) = projection.transform(catalog.embeddings[[highlight_row]])
        highlight = Landmark(
            int(catalog.ids[highlight_row]), catalog.titles[highlight_row], (float(point[0]), float(point[1]))
        )
    named = _landmarks(catalog, drawn, xy, codes[drawn], family, landmarks, highlight_row)
    return SoundMap(
        xy=xy,
        track_ids=np.asarray(catalog.ids[drawn], dtype=np.int64),
        families=codes[drawn],
        total=n,
        liked=liked_xy,
        disliked=disliked_xy,
        centre=centre,
        landmarks=named,
        highlight=highlight,
        family=family,
        explained_variance_ratio=projection.explained_variance_ratio_,
    )


def _thin(ids: np.ndarray, codes: np.ndarray, family: str | None, max_points: int) -> np.ndarray:
    """Rows to draw: all up to ``max_points``, else a stable sample; with a family, up to
    ``max_points`` of it and half as many others (drawn grey, for context)."""
    if family is None:
        return stable_sample(ids, max_points)
    mine = codes == FAMILIES.index(family)
    inside, outside = np.flatnonzero(mine), np.flatnonzero(~mine)
    keep_in = inside[stable_sample(ids[inside], max_points)]
    keep_out = outside[stable_sample(ids[outside], max_points // 2)]
    return np.union1d(keep_in, keep_out)


def _landmarks(
    catalog: Catalog,
    rows: np.ndarray,
    xy: np.ndarray,
    codes: np.ndarray,
    family: str | None,
    count: int,
    highlight_row: int | None,
) -> tuple[Landmark, ...]:
    """The track nearest the middle of each of the largest families (of ``family`` alone: the
    tracks nearest its middle and farthest out), skipping any too close to one already named."""
    if count <= 0 or len(rows) == 0:
        return ()
    extent = float(np.ptp(xy, axis=0).max()) or 1.0
    candidates: list[int] = []  # indices into rows, best first
    if family is None:
        present = np.bincount(codes[codes >= 0], minlength=len(FAMILIES))
        for code in np.argsort(-present, kind="stable"):
            if present[code] == 0:
                break
            members = np.flatnonzero(codes == code)
            middle = np.median(xy[members], axis=0)
            candidates.append(int(members[np.argmin(np.linalg.norm(xy[members] - middle, axis=1))]))
    else:
        members = np.flatnonzero(codes == FAMILIES.index(family))
        if len(members):
            middle = np.median(xy[members], axis=0)
            spread = np.linalg.norm(xy[members] - middle, axis=1)
            order = np.argsort(spread, kind="stable")
            candidates += [int(members[order[0]])] + [int(members[i]) for i in order[::-1][: 4 * count]]
    chosen: list[int] = []
    taken: list[np.ndarray] = []
    pinned = None if highlight_row is None else xy[int(np.flatnonzero(rows == highlight_row)[0])]
    for i in candidates:
        if len(chosen) >= count:
            break
        if rows[i] == highlight_row or any(np.linalg.norm(xy[i] - t) < LANDMARK_MIN_GAP * extent for t in taken):
            continue
        if pinned is not None and np.linalg.norm(xy[i] - pinned) < 2 * LANDMARK_MIN_GAP * extent:
            continue  # the pinned track's label is larger: give it room
        chosen.append(i)
        taken.append(xy[i])
    return tuple(
        Landmark(int(catalog.ids[rows[i]]), catalog.titles[rows[i]], (float(xy[i, 0]), float(xy[i, 1]))) for i in chosen
    )


__all__ = [
    "FIT_SAMPLE",
    "LANDMARKS",
    "MAX_POINTS",
    "Landmark",
    "Projection",
    "SoundMap",
    "UnknownMapGenre",
    "family_codes",
    "fit_projection",
    "map_family",
    "sound_map",
    "stable_order",
    "stable_sample",
]
