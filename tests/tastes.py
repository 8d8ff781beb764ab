"""Helpers for tests of what Crate makes of members' tastes (Blends, recaps): a clock the test
moves, random embedding directions, and a track added with a genre Crate is sure of."""

from __future__ import annotations

import hashlib

import numpy as np

from bot import store
from bot.catalog import EMBEDDING_DIM, TAG_COUNT
from bot.store import Database


class Clock:
    """``clock()`` is ``clock.now``, which the test sets."""

    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def direction(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(EMBEDDING_DIM).astype(np.float32)


async def add_sure_track(
    db: Database,
    guild_id: int,
    title: str,
    genres: list[tuple[str, float]],
    embedding: np.ndarray,
    *,
    duration: float,
    shared_by: int,
    now: float,
) -> int:
    """A track of ``title`` (its content hash from the title) whose top genre Crate is sure of."""
    track, _ = await store.add_track(
        db,
        guild_id,
        title=title,
        source_url=None,
        source_kind="attachment",
        content_hash=hashlib.sha256(title.encode()).hexdigest(),
        duration=duration,
        genres=genres,
        confident=True,
        tag_probs=np.zeros(TAG_COUNT, np.float32),
        embedding=embedding,
        tempo=None,
        shared_by=shared_by,
        now=now,
    )
    return track.id
