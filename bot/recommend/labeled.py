"""Labeled catalogs for offline evaluation: a ``.npz`` file of real analyses plus true genres.

File format (``numpy.savez``):

* ``embeddings`` float32 ``[n, 200]``: musicnn embeddings, as the bot stores them;
* ``tag_probs`` float32 ``[n, 50]``: musicnn tag probabilities (``bot.listen.musicnn.TAGS`` order);
* ``genres`` str ``[n]``: the true genre of each track (the dataset's folder name) — used only to
  simulate users;
* ``titles`` str ``[n]``;
* optional ``predicted`` str ``[n]``: the genre Crate's genre model predicted, i.e. what the bot
  would store as ``top_genre``. The recommender sees these when present, else the true genres.

:func:`build_labeled_catalog` makes such a file from a GTZAN-style folder by running every file
through :class:`bot.listen.analyze.Listener`, exactly as the bot analyzes shared music.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.catalog import EMBEDDING_DIM, TAG_COUNT, Catalog
from bot.errors import CrateError
from bot.i18n import N_


class LabeledCatalogError(CrateError):
    user_message = N_("That file is not a labeled catalog (.npz with embeddings, tag_probs, genres, titles).")


@dataclass(frozen=True)
class LabeledCatalog:
    embeddings: np.ndarray  # float32[n, 200]
    tag_probs: np.ndarray  # float32[n, 50]
    genres: np.ndarray  # str[n], true labels
    titles: list[str]
    predicted: np.ndarray | None = None  # str[n], the genre model's answer

    def __len__(self) -> int:
        return len(self.titles)

    def catalog(self, guild_id: int = 0) -> Catalog:
        """The same tracks as a store :class:`Catalog` (ids 1..n) with the bot's genre labels."""
        seen = self.predicted if self.predicted is not None else self.genres
        n = len(self)
        return Catalog(
            guild_id=guild_id,
            ids=np.arange(1, n + 1, dtype=np.int64),
            titles=list(self.titles),
            top_genres=[str(g) for g in seen],
            durations=np.full(n, 30.0),
            tag_probs=np.ascontiguousarray(self.tag_probs, dtype=np.float32),
            embeddings=np.ascontiguousarray(self.embeddings, dtype=np.float32),
        )

    def save(self, path: str | os.PathLike) -> None:
        arrays = dict(
            embeddings=self.embeddings.astype(np.float32),
            tag_probs=self.tag_probs.astype(np.float32),
            genres=np.asarray(self.genres, dtype=str),
            titles=np.asarray(self.titles, dtype=str),
        )
        if self.predicted is not None:
            arrays["predicted"] = np.asarray(self.predicted, dtype=str)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            np.savez_compressed(handle, **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: str | os.PathLike) -> LabeledCatalog:
        try:
            with np.load(Path(path), allow_pickle=False) as data:
                embeddings = np.asarray(data["embeddings"], dtype=np.float32)
                tag_probs = np.asarray(data["tag_probs"], dtype=np.float32)
                genres = np.asarray(data["genres"]).astype(str)
                titles = [str(t) for t in data["titles"]]
                predicted = np.asarray(data["predicted"]).astype(str) if "predicted" in data.files else None
        except (OSError, KeyError, ValueError) as error:
            raise LabeledCatalogError(
                f"{path} is not a labeled catalog: {error}. Build one with "
                "`crate evaluate-recs --build-catalog DATASET_DIR out.npz`.",
                detail=repr(error),
            ) from error
        n = len(titles)
        shapes_ok = (
            embeddings.shape == (n, EMBEDDING_DIM)
            and tag_probs.shape == (n, TAG_COUNT)
            and genres.shape == (n,)
            and (predicted is None or predicted.shape == (n,))
        )
        if not shapes_ok or n < 2:
            raise LabeledCatalogError(
                f"{path}: expected embeddings [n,{EMBEDDING_DIM}], tag_probs [n,{TAG_COUNT}], genres [n], "
                f"titles [n] with n >= 2; got {embeddings.shape}, {tag_probs.shape}, {genres.shape}, {n}."
            )
        return cls(embeddings, tag_probs, genres, titles, predicted)


def build_labeled_catalog(
    dataset_dir: str | os.PathLike,
    *,
    listener=None,
    with_genre_model: bool = True,
    progress: Callable[[int, int, Path], None] = lambda done, total, path: None,
) -> LabeledCatalog:
    """Analyze every file of a GTZAN-style folder (genre = folder name) as the bot would."""
    from bot.listen.analyze import Listener
    from bot.listen.training.dataset import scan_dataset

    tracks = scan_dataset(dataset_dir)
    if listener is None:
        listener = Listener.load(with_genres=with_genre_model)
    embeddings, tag_probs, genres, titles, predicted = [], [], [], [], []
    for done, track in enumerate(tracks, start=1):
        try:
            analysis = listener.analyze(track.path)
        except CrateError:
            progress(done, len(tracks), track.path)
            continue
        embeddings.append(analysis.embedding)
        tag_probs.append(analysis.tag_probs)
        genres.append(track.genre)
        titles.append(track.path.stem)
        if analysis.genres:
            predicted.append(analysis.top_genre)
        progress(done, len(tracks), track.path)
    if len(titles) < 2:
        raise LabeledCatalogError(f"Fewer than two files of {dataset_dir} could be analyzed.")
    return LabeledCatalog(
        embeddings=np.stack(embeddings).astype(np.float32),
        tag_probs=np.stack(tag_probs).astype(np.float32),
        genres=np.asarray(genres, dtype=str),
        titles=titles,
        predicted=np.asarray(predicted, dtype=str) if len(predicted) == len(titles) else None,
    )
