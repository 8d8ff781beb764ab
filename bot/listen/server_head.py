"""A server's own genre head: what its members taught Crate, blended with the base family model.

Pure numpy over arrays the store already keeps (no audio, no re-decoding), so relabelling a
whole catalog after a correction is one matrix product:

- **Majority.** Each member gives at most one answer per track (:class:`~bot.catalog.Correction`);
  a track is *taught* the genre most of its correctors chose. A tie teaches nothing until someone
  breaks it. Genre names compare without case ("City Pop" = "city pop"); the first spelling wins.
- **Evidence.** For every catalog track ``x`` and every taught track ``t`` of genre ``g``, the
  kernel ``k(x, t) = exp((cos(x, t) - 1) / BANDWIDTH)`` over the tracks' musicnn embeddings is 1
  for the same sound and falls off fast for different sounds (a soft nearest neighbour).
  ``E_g(x) = sum of k(x, t)`` over the tracks taught ``g``; a taught track's own answer counts
  :data:`SELF_WEIGHT` times.
- **Blend.** ``p(x) = (PRIOR_WEIGHT * base(x) + E(x)) / (PRIOR_WEIGHT + sum_g E_g(x))``, a correction to one of
  the base families weighing :data:`CORRECTION_WEIGHT` in ``E``: the base
  model's distribution is a prior worth :data:`PRIOR_WEIGHT` identical taught tracks. Far from
  anything taught, the base model keeps its say; near two or three taught tracks, the server's
  answer wins. A genre the base model does not have (a custom one) starts at zero and gets
  probability only from evidence: once taught, it is answerable for tracks that sound like it.

The base distribution is always the base model's (stored per track), never a previous head's
output, so relabelling is idempotent and forgetting a member's corrections undoes what they taught.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from bot.catalog import Correction
from bot.genres import key

#: Kernel width over cosine similarity: similarity 0.85 weighs exp(-1) = 0.37, 0.7 weighs 0.14.
#: With 0.08, a genre taught on three tracks of an orchestral soundtrack reached only 0.39 of its
#: other tracks; with 0.15, 0.82 of them and 0.05 of unrelated music (docs/teaching.md,
#: ``crate evaluate ../shared/data/gtzan-mini --few-shot``).
BANDWIDTH = 0.15
#: How many identical taught tracks the base model's distribution is worth.
PRIOR_WEIGHT = 0.25
#: How many times a taught track's own answer counts for itself (members' word beats the model's).
SELF_WEIGHT = 4.0
#: How much a correction to one of the base model's families weighs against a genre of the
#: server's own. The base model already knows its families from hundreds of tracks; three
#: corrections spread at full weight overrode it on neighbours of other families (grouped data,
#: 3 taught per family: 0.63 against the base model's 0.74), at a quarter 0.73. A genre the
#: base model lacks has only the server's word, at full weight.
CORRECTION_WEIGHT = 0.25


def majority(corrections: Iterable[Correction]) -> dict[int, str]:
    """track id -> the genre most of its correctors chose (ties: no entry)."""
    spelling: dict[str, str] = {}
    votes: dict[int, Counter[str]] = {}
    for c in corrections:
        name = genre_key(c.genre)
        spelling.setdefault(name, c.genre)
        votes.setdefault(c.track_id, Counter())[name] += 1
    taught: dict[int, str] = {}
    for track_id, counter in votes.items():
        (first, n), *rest = counter.most_common()
        if not rest or rest[0][1] < n:
            taught[track_id] = spelling[first]
    return taught


def genre_key(name: str) -> str:
    """How genre names compare: :func:`bot.genres.key` ("City Pop" = "city-pop"), or for a name
    with no ASCII letter or digit ("民謡"), its case-folded words."""
    return key(name) or " ".join(name.casefold().split())


@dataclass(frozen=True)
class Relabelled:
    """Every catalog track's distribution over ``names`` (rows in the order of the input)."""

    names: tuple[str, ...]  # the base model's genres, then the server's own, in first-taught order
    probabilities: np.ndarray  # float64[n, len(names)], rows sum to 1

    def ranked(self, row: int) -> tuple[tuple[str, float], ...]:
        """One track's ``(genre, probability)`` pairs, most probable first (ties: names order)."""
        p = self.probabilities[row]
        order = np.argsort(-p, kind="stable")
        return tuple((self.names[i], float(p[i])) for i in order)


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def _kernel(x: np.ndarray, rows: Sequence[int] | np.ndarray, bandwidth: float, self_weight: float) -> np.ndarray:
    """``[n, m]``: the evidence each of the ``n`` rows of ``x`` gets from each taught row,
    ``exp((cos - 1) / bandwidth)``, and ``self_weight`` for a taught row from itself."""
    unit = _unit(x)
    kernel = np.exp((unit @ unit[rows].T - 1.0) / bandwidth)
    kernel[rows, np.arange(len(rows))] = self_weight
    return kernel


def reach(
    embeddings: np.ndarray,
    taught_rows: Sequence[int] | np.ndarray,
    *,
    bandwidth: float = BANDWIDTH,
    prior_weight: float = PRIOR_WEIGHT,
    self_weight: float = SELF_WEIGHT,
) -> np.ndarray:
    """How far :func:`relabel` can move any probability of each row from its base distribution,
    ``E / (prior_weight + E)`` with ``E`` the row's total evidence from the taught rows (a bound:
    ``|p - base| = |e_g - base * E| / (prior_weight + E)``). Rows far from everything taught get
    ~0, so a big catalog need not be relabelled (or even read) beyond the rows this reaches."""
    x = np.atleast_2d(np.asarray(embeddings, dtype=np.float32))
    rows = np.asarray(taught_rows, dtype=np.int64)
    if not len(rows):
        return np.zeros(len(x))
    total = _kernel(x, rows, bandwidth, self_weight).sum(axis=1, dtype=np.float64)
    return total / (prior_weight + total)


def relabel(
    embeddings: np.ndarray,
    base: np.ndarray,
    base_names: Sequence[str],
    taught: Sequence[tuple[int, str]],
    *,
    bandwidth: float = BANDWIDTH,
    prior_weight: float = PRIOR_WEIGHT,
    self_weight: float = SELF_WEIGHT,
    correction_weight: float = CORRECTION_WEIGHT,
) -> Relabelled:
    """Blend the base distributions ``base`` [n, len(base_names)] with what was taught.

    ``embeddings`` [n, d] are the same tracks' embeddings; ``taught`` lists (row, genre) pairs,
    a genre being one of ``base_names`` (any case) or a name of the server's own. With nothing
    taught the result is ``base`` itself (renormalized).
    """
    base = np.atleast_2d(np.asarray(base, dtype=np.float64))
    x = np.atleast_2d(np.asarray(embeddings, dtype=np.float64))
    n = base.shape[0]
    if x.shape[0] != n:
        raise ValueError(f"{x.shape[0]} embeddings for {n} base distributions")
    names = list(base_names)
    index = {genre_key(name): i for i, name in enumerate(names)}
    rows, columns = [], []
    for row, genre in taught:
        name = genre_key(genre)
        if name not in index:
            index[name] = len(names)
            names.append(" ".join(genre.split()))
        rows.append(int(row))
        columns.append(index[name])
    prior = np.zeros((n, len(names)))
    prior[:, : base.shape[1]] = np.clip(base, 0.0, None)
    totals = prior.sum(axis=1, keepdims=True)
    prior = np.divide(prior, totals, out=np.full_like(prior, 1.0 / prior.shape[1]), where=totals > 0)
    if not rows:
        return Relabelled(tuple(names), prior)
    kernel = _kernel(x, rows, bandwidth, self_weight)
    onehot = np.zeros((len(rows), len(names)))
    # A genre the base model gives probability to is one of its families; a server's own genre has
    # none (it may still be among base_names, e.g. read back from stored answers).
    known = np.zeros(len(names), dtype=bool)
    known[: base.shape[1]] = prior[:, : base.shape[1]].sum(axis=0) > 0
    onehot[np.arange(len(rows)), columns] = np.where(known[columns], correction_weight, 1.0)
    evidence = kernel @ onehot  # [n, genres]
    p = (prior_weight * prior + evidence) / (prior_weight + evidence.sum(axis=1, keepdims=True))
    return Relabelled(tuple(names), p)
