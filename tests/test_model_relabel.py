"""A new family model reaches the stored tracks at start-up (bot/listen/relabel.py, schema 12), on
SQLite and PostgreSQL: from the stored tagger outputs, no audio decoded; a server's taught genres
still show; an interrupted start resumes; a second start does nothing; tracks without MTT's output.

The stored arrays are what musicnn's two taggers really output on six real clips (the TensorFlow
reference outputs in tests/data). "Another model" is the packaged one with two families' columns
swapped: its answers are known exactly (the packaged model's, those two names exchanged), whatever
the packaged model is.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from bot import store
from bot.analysis import Analysis
from bot.app.teaching import Teacher
from bot.genres import FAMILIES
from bot.listen.families import FamilyInputs, FamilyModel, default_model
from bot.listen.relabel import relabel_at_start, relabel_stored
from bot.store import Database, TrackSource, open_database

DATA = Path(__file__).parent / "data"
CLIPS = ("Awakening", "Media_Threat", "Nebula", "beast-of-insanity", "brainsukker", "infight")
FIRST, GUILD, OTHER = 500, 1001, 2002
ALICE = 11


def heard(clip: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MSD's tags and embedding, MTT's tags and embedding of a real clip, as a track stores them."""
    out = []
    for folder in ("musicnn-reference", "musicnn-mtt-reference"):
        with np.load(DATA / folder / f"{clip}.npz") as npz:
            out += [
                npz["tag_probs"].mean(axis=0).astype(np.float32),
                npz["penultimate"].mean(axis=0).astype(np.float32),
            ]
    return out[0], out[1], out[2], out[3]


def swapped(model: FamilyModel, a: str, b: str) -> FamilyModel:
    """``model`` with families ``a`` and ``b`` exchanged: another model (another version)."""
    order = list(range(len(FAMILIES)))
    i, j = FAMILIES.index(a), FAMILIES.index(b)
    order[i], order[j] = j, i
    split = model.split
    if split is not None:  # the genre split's families are exchanged the same way
        split = dataclasses.replace(split, columns=np.asarray([order[c] for c in split.columns]))
    return dataclasses.replace(
        model,
        prior_weights=model.prior_weights[:, order],
        head_weights=model.head_weights[:, order],
        head_bias=model.head_bias[order],
        split=split,
    )


def answer(model: FamilyModel, clip: str, *, mtt: bool = True):
    tags, embedding, mtt_tags, mtt_embedding = heard(clip)
    inputs = FamilyInputs(tags, embedding, mtt_tags, mtt_embedding) if mtt else model.msd_only(tags, embedding)
    return model.decide(model.proba(inputs)[0])


async def add(db: Database, clip: str, model: FamilyModel | None, guild: int = GUILD, *, mtt: bool = True):
    """A track as analysis stored it under ``model`` (None: an unrecorded model)."""
    tags, embedding, mtt_tags, mtt_embedding = heard(clip)
    said = answer(model or default_model(), clip, mtt=mtt)
    track, created = await store.add_track(
        db,
        guild,
        title=clip,
        source_url=None,
        source_kind="file",
        content_hash=hashlib.sha256(f"{guild}{clip}".encode()).hexdigest(),
        duration=180.0,
        genres=said.families,
        confident=said.confident,
        tag_probs=tags,
        embedding=embedding,
        mtt_tag_probs=mtt_tags if mtt else None,
        mtt_embedding=mtt_embedding if mtt else None,
        tempo=120.0,
        shared_by=ALICE,
        genre_model=model.version if model is not None else "",
    )
    assert created
    return track


def same(stored, expected) -> bool:
    """The same ranked distribution (names in order, probabilities to 1e-9)."""
    return [n for n, _ in stored] == [n for n, _ in expected] and [p for _, p in stored] == pytest.approx(
        [p for _, p in expected], abs=1e-9
    )


async def genre_models(db: Database) -> dict[int, str]:
    return dict(await db.fetch_rows("SELECT id, genre_model FROM tracks ORDER BY id"))


async def nothing_taught(guild_id: int) -> None:
    raise AssertionError(f"no server taught anything, yet the head of {guild_id} was asked")


@pytest.fixture
def no_decoding(monkeypatch):
    """Any decoding of audio fails the test (the stored tracks have no audio anywhere anyway)."""
    import bot.audio.decode as decode

    def refuse(*args, **kwargs):
        raise AssertionError("audio decoded")

    for name in ("decode_excerpts", "decode_windows", "probe", "playable_length"):
        monkeypatch.setattr(decode, name, refuse)


async def test_a_new_model_relabels_stored_tracks_from_what_is_stored(db, no_decoding, caplog):
    old = default_model()
    top = answer(old, CLIPS[0]).top
    other = next(f for f in ("country", "reggae") if f != top)
    new = swapped(old, top, other)
    assert new.version != old.version
    tracks = [await add(db, clip, old) for clip in CLIPS]
    assert tracks[0].top_genre == top

    with caplog.at_level(logging.INFO, logger="bot.listen.relabel"):
        assert await relabel_stored(db, new, relabel_server=nothing_taught, batch=4) == len(CLIPS)
    assert f"relabelled {len(CLIPS)} stored track(s) with family model {new.version}" in caplog.text
    assert f"{len(CLIPS)} answered by family model {old.version}" in caplog.text
    for clip, track in zip(CLIPS, tracks):
        now = await store.get_track(db, GUILD, track.id)
        expected = answer(new, clip)
        assert now is not None
        assert same(now.base_genres, expected.families) and now.genres == now.base_genres
        assert now.confident == expected.confident
        assert now.mtt_tag_probs is not None  # what is stored stays
    relabelled = await store.get_track(db, GUILD, tracks[0].id)
    assert relabelled is not None and relabelled.top_genre == other  # the new model's answer, not the old
    assert set((await genre_models(db)).values()) == {new.version}
    assert await relabel_stored(db, new, relabel_server=nothing_taught) == 0  # the next start: nothing
    assert await store.genre_models_to_relabel(db, new.version) == []


async def test_a_servers_taught_genre_still_shows_after_the_relabel(db, no_decoding):
    old = default_model()
    new = swapped(old, "electronic", "country")
    teacher = Teacher(db)
    taught = [await add(db, clip, old) for clip in CLIPS]
    untaught = [await add(db, clip, old, guild=OTHER) for clip in CLIPS]
    said = await teacher.correct(GUILD, ALICE, taught[1].id, "city pop")
    assert said.track.top_genre == "city pop"
    heads = []

    async def relabel_server(guild_id: int) -> int:
        heads.append(guild_id)
        return await teacher.relabel(guild_id)

    assert await relabel_stored(db, new, relabel_server=relabel_server) == 2 * len(CLIPS)
    assert heads == [GUILD]  # only the server that taught something
    after = {t.id: await store.get_track(db, GUILD, t.id) for t in taught}
    corrected = after[taught[1].id]
    assert corrected is not None and corrected.top_genre == "city pop"  # what the members taught
    assert same(corrected.base_genres, answer(new, CLIPS[1]).families)  # over the new base
    for clip, track in zip(CLIPS, untaught):
        now = await store.get_track(db, OTHER, track.id)
        assert now is not None and now.genres == now.base_genres and same(now.base_genres, answer(new, clip).families)
    # what shows is what the head makes of the new base: running it again changes nothing
    assert await teacher.relabel(GUILD) == 0
    assert {t.id: await store.get_track(db, GUILD, t.id) for t in taught} == after
    assert set((await genre_models(db)).values()) == {new.version}


async def test_an_interrupted_start_resumes_and_a_second_does_nothing(db, monkeypatch, no_decoding):
    old = default_model()
    new = swapped(old, "ambient", "folk")
    teacher = Teacher(db)
    [await add(db, clip, old, guild=FIRST) for clip in CLIPS[:4]]  # relabelled first (by id)
    taught = [await add(db, clip, old) for clip in CLIPS[4:]]
    await teacher.correct(GUILD, ALICE, taught[0].id, "city pop")
    stored = store.set_model_answers
    calls = []

    async def dies_on_the_second_batch(db_, answers):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process stopped mid-start
        return await stored(db_, answers)

    monkeypatch.setattr(store, "set_model_answers", dies_on_the_second_batch)
    with pytest.raises(KeyboardInterrupt):
        await relabel_stored(db, new, relabel_server=teacher.relabel, batch=2)
    assert list((await genre_models(db)).values()).count(new.version) == 2  # the first batch only
    monkeypatch.setattr(store, "set_model_answers", stored)

    async def dies_in_the_head(guild_id: int) -> int:
        raise KeyboardInterrupt

    # the untaught server's tracks are done; the taught one's wait for its head, which stops
    with pytest.raises(KeyboardInterrupt):
        await relabel_stored(db, new, relabel_server=dies_in_the_head, batch=2)
    models = await genre_models(db)
    assert [models[t.id] for t in taught] == [old.version] * 2
    assert list(models.values()).count(new.version) == 4
    # the next start does the taught server's tracks again, and its head
    assert await relabel_stored(db, new, relabel_server=teacher.relabel, batch=2) == 2
    corrected = await store.get_track(db, GUILD, taught[0].id)
    assert corrected is not None and corrected.top_genre == "city pop"
    assert same(corrected.base_genres, answer(new, CLIPS[4]).families)
    assert await relabel_stored(db, new, relabel_server=teacher.relabel, batch=2) == 0
    assert set((await genre_models(db)).values()) == {new.version}


async def test_tracks_without_mtt_output_are_relabelled_from_msds_tags_and_embedding(db, no_decoding, caplog):
    model = default_model()
    tracks = [await add(db, clip, None, mtt=False) for clip in CLIPS[:3]]  # before schema 12, heard by MSD alone
    with caplog.at_level(logging.INFO, logger="bot.listen.relabel"):
        assert await relabel_stored(db, model, relabel_server=nothing_taught) == 3
    assert "3 answered by an unrecorded model" in caplog.text
    for clip, track in zip(CLIPS, tracks):
        now = await store.get_track(db, GUILD, track.id)
        assert now is not None and now.mtt_tag_probs is None and now.mtt_embedding is None
        expected = answer(model, clip, mtt=False)
        assert now.genres == now.base_genres and same(now.base_genres, expected.families)
        assert now.confident == expected.confident
    assert set((await genre_models(db)).values()) == {model.version}


async def test_the_model_the_bot_runs_with_decides(db, tmp_path, no_decoding):
    """CRATE_GENRE_MODEL: a family model there relabels with it; a custom model relabels nothing."""
    old = default_model()
    track = await add(db, CLIPS[2], old)
    custom = tmp_path / "custom"
    custom.mkdir()
    (custom / "manifest.json").write_text(json.dumps({"format": "crate-genre-model/1", "genres": ["x", "y"]}))
    assert await relabel_at_start(db, custom, relabel_server=nothing_taught) == 0
    assert await relabel_at_start(db, None, relabel_server=nothing_taught) == 0  # the packaged model: up to date
    new = swapped(old, "jazz", "blues")
    new.save(tmp_path / "families")
    assert await relabel_at_start(db, tmp_path / "families", relabel_server=nothing_taught) == 1
    assert await genre_models(db) == {track.id: new.version}


async def test_a_share_stores_the_model_that_answered(db):
    model = default_model()
    tags, embedding, mtt_tags, mtt_embedding = heard("Nebula")
    said = answer(model, "Nebula")
    analysis = Analysis(
        duration=180.0,
        genres=said.families,
        tags=(),
        embedding=embedding,
        tag_probs=tags,
        tempo=120.0,
        excerpt_starts=(0.0,),
        mtt_embedding=mtt_embedding,
        mtt_tag_probs=mtt_tags,
        confident=said.confident,
        genre_model=model.version,
    )
    track, created = await store.store_share(
        db,
        GUILD,
        analysis,
        content_hash="ab" * 32,
        title="Nebula",
        source=TrackSource("file", None),
        shared_by=ALICE,
        asked_by=ALICE,
    )
    assert created and await genre_models(db) == {track.id: model.version}
    assert await relabel_stored(db, model, relabel_server=nothing_taught) == 0  # nothing to do at the next start


async def test_crate_relabels_at_start_with_the_model_it_runs(db_target, monkeypatch, no_decoding):
    """Crate.running, as `crate run`, the console and `crate index` start: the stored tracks under
    another model get the packaged model's answer, and the taught genre still shows."""
    import bot.app.crate as composition
    from bot.app.crate import Crate
    from bot.config import Settings

    class NoWorkers:  # nothing here is analyzed: no pool to start
        async def __aenter__(self):
            return self

        async def __aexit__(self, *exc_info):
            return None

    monkeypatch.setattr(composition, "analyzer_for", lambda settings: NoWorkers())
    model = default_model()
    old = swapped(model, "rock", "reggae")
    async with open_database(db_target) as db:
        taught = [await add(db, clip, old) for clip in CLIPS[:3]]
        untaught = [await add(db, clip, old, guild=OTHER) for clip in CLIPS[3:]]
        await Teacher(db).correct(GUILD, ALICE, taught[0].id, "city pop")
    settings = Settings(database_path=db_target) if isinstance(db_target, Path) else Settings(database_url=db_target)
    async with Crate.running(settings) as crate:
        corrected = await store.get_track(crate.db, GUILD, taught[0].id)
        assert corrected is not None and corrected.top_genre == "city pop"
        assert same(corrected.base_genres, answer(model, CLIPS[0]).families)
        for clip, track in zip(CLIPS[3:], untaught):
            now = await store.get_track(crate.db, OTHER, track.id)
            assert now is not None and now.genres == now.base_genres and same(now.genres, answer(model, clip).families)
        assert set((await genre_models(crate.db)).values()) == {model.version}
