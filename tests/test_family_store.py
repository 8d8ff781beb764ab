"""Schema 5: the family answer, its base distribution, the confidence flag and MTT's output in the
store, and the relabelling of tracks analyzed before families (a database built at schema 4): since
schema 12 the start-up relabel of every track another model (or none) answered does it
(tests/test_model_relabel.py for the rest).

Real music where it matters: the MSD tags of real clips (the TensorFlow reference outputs in
../shared; those cases skip without it) stand in for what a schema-4 database stored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from bot import store
from bot.catalog import EMBEDDING_DIM, TAG_COUNT
from bot.genres import FAMILIES
from bot.listen.families import default_model
from bot.listen.relabel import relabel_stored
from bot.store import open_database
from bot.store.database import load_migrations
from bot.store.vectors import to_blob

SHARED = Path(__file__).resolve().parents[2] / "shared" / "models"
needs_shared = pytest.mark.skipif(not (SHARED / "musicnn-msd" / "reference").is_dir(), reason=f"{SHARED} absent")
GUILD = 7


async def nothing_taught(guild_id: int) -> None:
    raise AssertionError(f"guild {guild_id} taught nothing")


def _msd_tags(clip: str) -> np.ndarray:
    with np.load(SHARED / "musicnn-msd" / "reference" / f"{clip}.npz", allow_pickle=False) as npz:
        return npz["tag_probs"].mean(axis=0).astype(np.float32)


def _msd_embedding(clip: str) -> np.ndarray:
    with np.load(SHARED / "musicnn-msd" / "reference" / f"{clip}.npz", allow_pickle=False) as npz:
        return npz["penultimate"].mean(axis=0).astype(np.float32)


def _schema_4(path: Path, tracks: list[tuple], embeddings: list[np.ndarray] | None = None) -> None:
    """A database as Crate 4 left it: migrations 1-4 and GTZAN-labelled tracks ``(title, MSD tags,
    genres)``, with MSD's embeddings (default: random ones)."""
    with sqlite3.connect(path) as raw:
        for migration in load_migrations()[:4]:
            raw.executescript(migration.sql)
        raw.execute("PRAGMA user_version = 4")
        for i, (title, tags, genres) in enumerate(tracks):
            raw.execute(
                "INSERT INTO tracks (guild_id, title, source_kind, content_hash, duration, genres, top_genre,"
                " tag_probs, embedding, tempo, added_at) VALUES (?, ?, 'file', ?, 200.0, ?, ?, ?, ?, 120.0, ?)",
                (
                    GUILD,
                    title,
                    hashlib.sha256(title.encode()).hexdigest(),
                    json.dumps(genres),
                    genres[0][0],
                    to_blob(tags, TAG_COUNT),
                    to_blob(
                        embeddings[i] if embeddings else np.random.default_rng(i).normal(size=EMBEDDING_DIM),
                        EMBEDDING_DIM,
                    ),
                    1000.0 + i,
                ),
            )


@needs_shared
async def test_tracks_from_a_schema_4_database_are_relabelled_with_families_once(tmp_path):
    path = tmp_path / "crate.sqlite3"
    gtzan = [["hiphop", 0.22], ["disco", 0.2], ["pop", 0.1]]  # what the GTZAN-ten head said of Nebula
    _schema_4(
        path,
        [("Nebula", _msd_tags("Nebula"), gtzan), ("Awakening", _msd_tags("Awakening"), [["jazz", 0.3], ["pop", 0.2]])],
        [_msd_embedding("Nebula"), _msd_embedding("Awakening")],  # a head may read MSD's embedding too
    )
    async with open_database(path) as db:
        assert await db.user_version() == len(load_migrations()) >= 5
        before = await store.get_track(db, GUILD, 1)
        assert before is not None and before.top_genre == "hiphop" and before.base_genres == ()
        assert await relabel_stored(db, relabel_server=nothing_taught) == 2
        assert await relabel_stored(db, relabel_server=nothing_taught) == 0  # nothing left on the next start
        nebula, awakening = [await store.get_track(db, GUILD, i) for i in (1, 2)]
    assert nebula is not None and awakening is not None
    for track in (nebula, awakening):
        assert {g for g, _ in track.genres} == set(FAMILIES)
        assert track.base_genres == track.genres
        assert abs(sum(p for _, p in track.genres) - 1.0) < 1e-3
        assert track.mtt_tag_probs is None  # never heard by the second tagger
    # MSD's tags alone still hear what these real clips are; never the GTZAN head's hip hop
    assert {nebula.top_genre, nebula.runner_up} <= {"ambient", "electronic"}, nebula.genres[:3]
    assert awakening.top_genre in {"ambient", "electronic"}, awakening.genres[:3]
    assert dict(nebula.genres)["hiphop"] < 0.05
    # the confidence decision is the model's own, on the same distribution
    model = default_model()
    assert nebula.confident == (nebula.genres[0][1] >= model.threshold)


async def test_relabelling_uses_msd_tags_and_the_model_decision(tmp_path, caplog):
    """Constructed MSD tags: a track whose tagger hears only 'jazz' becomes jazz, one hearing only
    'country' becomes country (arithmetic of the MSD-only inputs, no audio needed)."""
    from bot.analysis import TAGS

    def only(tag: str) -> np.ndarray:
        tags = np.full(TAG_COUNT, 0.02, np.float32)
        tags[TAGS.index(tag)] = 0.9
        return tags

    path = tmp_path / "crate.sqlite3"
    _schema_4(path, [("a", only("jazz"), [["rock", 0.4]]), ("b", only("country"), [["rock", 0.4]])])
    async with open_database(path) as db:
        pending = await store.tracks_to_relabel(db, default_model().version)
        assert [(t.legacy, t.genre_model, t.mtt_tag_probs) for t in pending] == [(True, "", None)] * 2
        with caplog.at_level(logging.INFO, logger="bot.listen.relabel"):
            assert await relabel_stored(db, relabel_server=nothing_taught, batch=1) == 2  # in batches
        assert "2 analyzed before genre families (MSD's tags only)" in caplog.text
        assert await store.tracks_to_relabel(db, default_model().version) == []
        a, b = [await store.get_track(db, GUILD, i) for i in (1, 2)]
        catalog = await store.load_catalog(db, GUILD)
    assert a is not None and a.top_genre == "jazz"
    assert b is not None and b.top_genre == "country"
    assert catalog.top_genres == ["jazz", "country"]
    assert catalog.genre_probs is not None and catalog.confident is not None
    jazz = catalog.genre_names.index("jazz")
    assert catalog.genre_probs[0, jazz] == pytest.approx(dict(a.genres)["jazz"], abs=1e-6)


async def test_a_new_track_keeps_shown_and_base_genres_confidence_and_mtt_output(db_target):
    rng = np.random.default_rng(1)
    base = [("electronic", 0.6), ("ambient", 0.3), ("pop", 0.1)]
    async with open_database(db_target) as db:
        track, created = await store.add_track(
            db,
            GUILD,
            title="Song",
            source_url=None,
            source_kind="file",
            content_hash="ab" * 32,
            duration=180.0,
            genres=base,
            confident=False,
            tag_probs=rng.random(TAG_COUNT),
            embedding=rng.normal(size=EMBEDDING_DIM),
            mtt_tag_probs=np.linspace(0, 1, TAG_COUNT),
            mtt_embedding=np.ones(EMBEDDING_DIM),
            tempo=100.0,
            shared_by=1,
        )
        assert created and track.base_genres == tuple(base) and not track.confident
        # a server's answer replaces the shown genres (with a custom name); the base stays
        assert await store.set_genres(db, GUILD, track.id, [("city pop", 0.7), ("electronic", 0.3)], confident=True)
        again = await store.get_track(db, GUILD, track.id)
        catalog = await store.load_catalog(db, GUILD)
    assert again is not None
    assert again.genres == (("city pop", 0.7), ("electronic", 0.3)) and again.top_genre == "city pop"
    assert again.confident and again.base_genres == tuple(base)
    assert again.mtt_tag_probs is not None and again.mtt_tag_probs[-1] == pytest.approx(1.0)
    assert again.mtt_embedding is not None and float(again.mtt_embedding.sum()) == EMBEDDING_DIM
    assert catalog.genre_names == ("city pop", "electronic") and bool(catalog.confident[0])  # type: ignore[index]


async def test_an_old_track_shared_again_takes_the_new_analysis_of_both_taggers(tmp_path):
    from bot.analysis import TAGS

    tags = np.full(TAG_COUNT, 0.02, np.float32)
    tags[TAGS.index("jazz")] = 0.6
    path = tmp_path / "crate.sqlite3"
    _schema_4(path, [("old", tags, [["blues", 0.4]])])
    fresh = [("jazz", 0.9), ("blues", 0.1)]
    async with open_database(path) as db:
        await relabel_stored(db, relabel_server=nothing_taught)
        relabelled = await store.get_track(db, GUILD, 1)
        assert relabelled is not None and relabelled.mtt_tag_probs is None
        again, created = await store.add_track(
            db,
            GUILD,
            title="old",
            source_url=None,
            source_kind="file",
            content_hash=relabelled.content_hash,
            duration=200.0,
            genres=fresh,
            confident=True,
            tag_probs=tags,
            embedding=relabelled.embedding,
            mtt_tag_probs=np.full(TAG_COUNT, 0.1),
            mtt_embedding=np.zeros(EMBEDDING_DIM),
            tempo=120.0,
            shared_by=5,
            genre_model="families:new",
        )
        [(model,)] = await db.fetch_rows("SELECT genre_model FROM tracks")
    assert not created and again.id == 1 and model == "families:new"  # the model that answered it
    assert again.genres == tuple(fresh) and again.base_genres == tuple(fresh) and again.confident
    assert again.mtt_tag_probs is not None
