"""Tracks analyzed before Crate answered with families get a family distribution, once, at start.

Databases from before schema 5 hold GTZAN's ten genres in ``tracks.genres`` and no MTT_musicnn
output (Crate keeps analyses, not audio, so nothing can be heard again). Their stored MSD tag
probabilities are what the family model needs most: :func:`relabel_legacy` runs the model on them
with MTT's tags at their typical values (:meth:`~bot.listen.families.FamilyModel.msd_only`) and
stores the result as both the base distribution and the shown answer, with the model's own
confidence decision. ``base_genres = '[]'`` marks the tracks still to do, so an interrupted start
resumes where it stopped and a second start finds nothing left. Numpy only: the bot process runs
it without the listening stack.
"""

from __future__ import annotations

import logging

import numpy as np

from bot import store
from bot.listen.families import FamilyModel, default_model
from bot.store import Database

log = logging.getLogger(__name__)

#: Tracks relabelled per transaction.
BATCH = 500


async def relabel_legacy(db: Database, model: FamilyModel | None = None, *, batch: int = BATCH) -> int:
    """Give every not-yet-relabelled track (any guild) its family distribution; returns how many."""
    model = model or default_model()
    total = 0
    while rows := await store.tracks_to_relabel(db, batch):
        probabilities = model.proba(model.msd_only(np.stack([tags for _, _, tags in rows])))
        async with db.transaction():
            for (guild_id, track_id, _), row in zip(rows, probabilities):
                answer = model.decide(row)
                await store.set_genres(
                    db, guild_id, track_id, answer.families, confident=answer.confident, base_genres=answer.families
                )
        total += len(rows)
    if total:
        log.info("relabelled %d track(s) analyzed before genre families with the family model", total)
    return total
