"""A new family model reaches every stored track at start-up, from what is stored: no audio decoded.

Each track keeps the taggers' outputs the family model reads (MSD_musicnn's 50 tag probabilities
and 200-d embedding; MTT_musicnn's, except for tracks analyzed before schema 5) and
``tracks.genre_model``, the version of the model whose answer its ``base_genres`` is
(:attr:`~bot.listen.families.FamilyModel.version`; '' = unknown: analyzed before Crate recorded it,
before genre families at all, or by a custom ``crate train`` model). At start,
:func:`relabel_stored` gives every track answered by another model the loaded model's answer,
computed from those arrays exactly as analysis would (tracks without MTT's output through
:meth:`~bot.listen.families.FamilyModel.msd_only`), and stores it as the base distribution and the
shown answer with the model's own confidence decision. A server whose members corrected genres
then has its head run again over the new base (``relabel_server``: the app's
:meth:`bot.app.teaching.Teacher.relabel`), so what they taught still shows; only after that do
its tracks count as done.

In batches, by track: an interrupted start resumes where it stopped (a taught server's tracks
that waited for its head are done again), and a second start finds nothing (one look at the
``genre_model`` index). Numpy only: the bot process runs it without the listening stack.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import numpy as np

from bot import store
from bot.listen.families import (
    FAMILIES,
    FamilyInputs,
    FamilyModel,
    FamilyPrediction,
    default_model,
    is_family_model,
)
from bot.store import Database

log = logging.getLogger(__name__)

#: Tracks relabelled per transaction.
BATCH = 500

#: Re-runs a server's head over its tracks' base distributions (what its members taught).
RelabelServer = Callable[[int], Awaitable[object]]


def start_model(genre_model_path: str | Path | None) -> FamilyModel | None:
    """The family model the bot answers with (``CRATE_GENRE_MODEL``, as the analysis workers read
    it): the packaged one, the family model at ``genre_model_path``, or None when that is a custom
    model (``crate train``), whose answers are not the families'."""
    if genre_model_path is None:
        return default_model()
    return FamilyModel.load(genre_model_path) if is_family_model(genre_model_path) else None


async def relabel_at_start(
    db: Database, genre_model_path: str | Path | None, *, relabel_server: RelabelServer, batch: int = BATCH
) -> int:
    """:func:`relabel_stored` with the model the bot answers with; nothing under a custom model."""
    model = start_model(genre_model_path)
    if model is None:
        log.info("stored genres left as they are: %s is a custom genre model, not a family model", genre_model_path)
        return 0
    return await relabel_stored(db, model, relabel_server=relabel_server, batch=batch)


async def relabel_stored(
    db: Database, model: FamilyModel | None = None, *, relabel_server: RelabelServer, batch: int = BATCH
) -> int:
    """Give every track (any guild) whose stored answer is not ``model``'s (default: the packaged
    model) that model's answer, from its stored tagger outputs; returns how many tracks."""
    model = model or default_model()
    version = model.version
    pending = await store.genre_models_to_relabel(db, version)
    if not pending:
        return 0
    taught = await store.guilds_with_corrections(db)
    waiting: dict[int, list[int]] = {}  # a taught server's relabelled tracks, until its head has run
    total = after = 0
    while rows := await store.tracks_to_relabel(db, version, batch, after=after):
        answers = await asyncio.to_thread(answer_stored, model, rows)
        await store.set_model_answers(
            db,
            (
                (row.guild_id, row.id, answer.families, answer.confident, None if row.guild_id in taught else version)
                for row, answer in zip(rows, answers)
            ),
        )
        for row in rows:
            if row.guild_id in taught:
                waiting.setdefault(row.guild_id, []).append(row.id)
        total += len(rows)
        after = rows[-1].id
    for guild_id, track_ids in sorted(waiting.items()):  # the head over the new base, then they are done
        await relabel_server(guild_id)
        await store.set_genre_model(db, guild_id, track_ids, version)
    log.info(
        "relabelled %d stored track(s) with family model %s from what the taggers heard (no audio decoded): %s;"
        " %d server(s) that taught Crate had their own genres worked out again",
        total,
        version,
        ", ".join(_why(name, legacy, count) for name, legacy, count in pending),
        len(waiting),
    )
    return total


def answer_stored(model: FamilyModel, rows: Sequence[store.HeardTrack]) -> list[FamilyPrediction]:
    """The model's answer for each stored track: from both taggers' outputs, or from MSD's alone
    (tag probabilities and embedding) for tracks the MTT tagger never heard."""
    probabilities = np.zeros((len(rows), len(FAMILIES)))
    heard = [row.mtt_tag_probs is not None and row.mtt_embedding is not None for row in rows]
    both = [i for i, yes in enumerate(heard) if yes]
    alone = [i for i, yes in enumerate(heard) if not yes]
    if both:
        probabilities[both] = model.proba(
            FamilyInputs(
                np.stack([rows[i].tag_probs for i in both]),
                np.stack([rows[i].embedding for i in both]),
                np.stack([np.asarray(rows[i].mtt_tag_probs) for i in both]),
                np.stack([np.asarray(rows[i].mtt_embedding) for i in both]),
            )
        )
    if alone:
        probabilities[alone] = model.proba(
            model.msd_only(np.stack([rows[i].tag_probs for i in alone]), np.stack([rows[i].embedding for i in alone]))
        )
    return [model.decide(row) for row in probabilities]


def _why(name: str, legacy: bool, count: int) -> str:
    if legacy:
        return f"{count} analyzed before genre families (MSD's tags only)"
    if not name:
        return f"{count} answered by an unrecorded model (analyzed before Crate recorded it, or by a custom model)"
    return f"{count} answered by family model {name}"
