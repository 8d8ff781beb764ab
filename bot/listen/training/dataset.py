"""Labeled music on disk (GTZAN layout: one folder per genre) turned into training matrices."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.audio.decode import AUDIO_SUFFIXES, DecodedAudio, decode_excerpts, decode_windows, probe, training_windows
from bot.config import AudioLimits
from bot.errors import CrateError
from bot.listen.analyze import Listener


class DatasetError(CrateError):
    user_message = "That folder is not a labeled music dataset."


@dataclass(frozen=True)
class LabeledTrack:
    path: Path
    genre: str


@dataclass(frozen=True)
class TrainingData:
    """One row per excerpt; ``groups`` says which track (index into ``tracks``) it came from."""

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    tracks: tuple[LabeledTrack, ...]
    skipped: tuple[tuple[Path, str], ...]


def scan_dataset(root: str | os.PathLike) -> list[LabeledTrack]:
    """Every audio file under ``root/<genre>/``, sorted, labeled with its folder's name."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder.")
    tracks = [
        LabeledTrack(path, folder.name)
        for folder in sorted(p for p in root.iterdir() if p.is_dir())
        for path in sorted(folder.rglob("*"))
        if path.suffix.lower() in AUDIO_SUFFIXES and path.is_file()
    ]
    if len({t.genre for t in tracks}) < 2:
        raise DatasetError(
            f"{root} needs one folder per genre with audio files inside (at least two genres), like GTZAN."
        )
    return tracks


def decode_for_training(path: Path, limits: AudioLimits = AudioLimits()) -> DecodedAudio:
    """Overlapping excerpts tiled over a (short) labeled clip."""
    info = probe(path, limits)
    if info.duration is None:  # no length in the container: fall back to the analysis excerpts
        return decode_excerpts(path, limits)
    return DecodedAudio(info, decode_windows(path, training_windows(info.duration), info))


def extract_training_data(
    tracks: list[LabeledTrack],
    listener: Listener,
    *,
    progress: Callable[[int, int, LabeledTrack], None] = lambda done, total, track: None,
) -> TrainingData:
    rows, labels, groups, kept, skipped = [], [], [], [], []
    for index, track in enumerate(tracks):
        try:
            vectors = listener.describe(decode_for_training(track.path)).vectors
        except CrateError as error:
            skipped.append((track.path, error.user_message))
            continue
        assert vectors is not None  # describe's default: with_vectors=True
        rows.append(vectors)
        labels += [track.genre] * len(vectors)
        groups += [len(kept)] * len(vectors)
        kept.append(track)
        progress(index + 1, len(tracks), track)
    if not rows:
        raise DatasetError("None of the dataset's files could be analyzed.")
    return TrainingData(np.concatenate(rows), np.asarray(labels), np.asarray(groups), tuple(kept), tuple(skipped))
