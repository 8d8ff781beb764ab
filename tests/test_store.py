"""Crate's storage on real SQLite files and a real PostgreSQL server: schema, migrations, dedup, guild isolation, forgetting."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3

import numpy as np
import pytest

from bot import store
from bot.catalog import DISLIKE, EMBEDDING_DIM, LIKE, TAG_COUNT, Rating, UnknownTrack
from bot.errors import CrateError
from bot.store import Database, DatabaseTooNew, Migration, MigrationError, open_database, playlists, sessions
from bot.store.database import load_migrations, split_statements
from bot.store.errors import StoreError
from tests.databases import INTEGRITY_ERRORS, table_names

GUILD = 1001
OTHER_GUILD = 2002
ALICE, BOB, CAROL = 11, 22, 33


def digest(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def vector(seed: int, dim: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)


def tags(seed: int) -> np.ndarray:
    return np.random.default_rng(seed + 10_000).random(TAG_COUNT).astype(np.float32)


async def add(
    db: Database,
    guild_id: int = GUILD,
    *,
    name: str = "song",
    seed: int = 1,
    duration: float = 200.0,
    shared_by: int | None = ALICE,
    embedding: np.ndarray | None = None,
    title: str | None = None,
):
    return await store.add_track(
        db,
        guild_id,
        title=title or name.title(),
        source_url=None,
        source_kind="attachment",
        content_hash=digest(name),
        duration=duration,
        genres=[("rock", 0.25), ("electronic", 0.6), ("jazz", 0.15)],
        tag_probs=tags(seed),
        embedding=vector(seed, EMBEDDING_DIM) if embedding is None else embedding,
        tempo=120.0,
        shared_by=shared_by,
    )


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "crate.sqlite3"


# -- database, pragmas, migrations -----------------------------------------------------------


async def test_migrations_create_schema_and_set_user_version(db_target):
    latest = load_migrations()[-1].version
    async with open_database(db_target) as db:
        assert await db.user_version() == latest >= 1
        assert {"tracks", "shares", "ratings", "members"} <= await table_names(db)
    if isinstance(db_target, str):
        return  # the PostgreSQL schema's columns: tests/test_store_dialects.py
    with sqlite3.connect(db_target) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == latest
        for table in ("tracks", "shares", "ratings", "members"):
            columns = {row[1] for row in raw.execute(f"PRAGMA table_info({table})")}
            assert "guild_id" in columns, table


async def test_reopening_is_idempotent(db_target):
    async with open_database(db_target) as db:
        track, _ = await add(db)
        version = await db.user_version()
    async with open_database(db_target) as db:
        assert await db.user_version() == version
        assert await store.get_track(db, GUILD, track.id) == track
        assert await store.count_tracks(db, GUILD) == 1


async def test_shards_opening_one_new_file_at_once_all_start(tmp_path):
    # Three connections (one thread each) opening, switching to WAL and migrating the same new
    # file together: SQLite answers a contended WAL switch with "database is locked" at once,
    # without its busy handler, and one of two shards started together used to refuse to start.
    for attempt in range(40):
        path = tmp_path / f"crate-{attempt}.sqlite3"
        opened = await asyncio.gather(*(Database.connect(path) for _ in range(3)), return_exceptions=True)
        failed = [repr(result) for result in opened if isinstance(result, BaseException)]
        for result in opened:
            if isinstance(result, Database):
                await result.close()
        assert not failed, f"attempt {attempt}: {failed}"


async def test_wal_foreign_keys_and_synchronous(db_path):
    async with open_database(db_path) as db:
        await _check_pragmas(db)


async def test_postgresql_waits_for_locks_as_long_as_sqlite(postgres_url):
    async with open_database(postgres_url) as db:
        assert await db.fetch_value("SHOW lock_timeout") == f"{store.database.BUSY_TIMEOUT_MS // 1000}s"


async def _check_pragmas(db):
    assert (await db.fetch_value("PRAGMA journal_mode")).lower() == "wal"
    assert await db.fetch_value("PRAGMA foreign_keys") == 1
    assert await db.fetch_value("PRAGMA synchronous") == 1  # NORMAL
    assert await db.fetch_value("PRAGMA busy_timeout") > 0


async def test_database_from_the_future_is_refused(db_target):
    async with open_database(db_target) as db:
        await db._set_user_version(999)  # what a newer Crate leaves behind
    with pytest.raises(DatabaseTooNew) as caught:
        async with open_database(db_target):
            pass
    assert isinstance(caught.value, StoreError) and isinstance(caught.value, CrateError)
    assert "999" in caught.value.user_message and "Upgrade Crate" in caught.value.user_message
    setting = "CRATE_DATABASE_URL" if isinstance(db_target, str) else "CRATE_DATABASE"
    assert f"point {setting} at" in caught.value.user_message


async def test_failed_migration_rolls_back_and_later_ones_apply(db_target):
    dialect = "postgresql" if isinstance(db_target, str) else "sqlite"
    good = list(load_migrations(dialect))
    broken = Migration(len(good) + 1, "broken", "CREATE TABLE extra (x INTEGER);\nINSERT INTO nowhere VALUES (1);")
    with pytest.raises(MigrationError):
        async with open_database(db_target, migrations=[*good, broken]):
            pass
    async with open_database(db_target) as db:  # the good migrations stuck, the broken one left nothing
        assert await db.user_version() == len(good)
        assert "extra" not in await table_names(db)
    fixed = Migration(len(good) + 1, "extra", "CREATE TABLE extra (x INTEGER); -- done\n")
    async with open_database(db_target, migrations=[*good, fixed]) as db:
        assert await db.user_version() == len(good) + 1


async def test_unusable_path_is_a_store_error(tmp_path):
    not_a_database = tmp_path / "notes.sqlite3"
    not_a_database.write_bytes(b"this is not an SQLite database, just some bytes" * 100)
    with pytest.raises(StoreError, match="could not"):
        async with open_database(not_a_database):
            pass
    with pytest.raises(StoreError):
        async with open_database(tmp_path):  # a directory
            pass


async def test_unreachable_postgresql_is_a_store_error():
    from tests.postgres_server import free_port

    url = f"postgresql://crate:secret@127.0.0.1:{free_port()}/crate"  # nothing listens there
    with pytest.raises(StoreError, match="could not open its database") as refused:
        async with open_database(url):
            pass
    assert "secret" not in refused.value.user_message and "\n" not in refused.value.user_message


def test_migration_files_must_be_numbered_without_gaps():
    with pytest.raises(MigrationError):
        store.database.check_migrations([Migration(1, "a", ""), Migration(3, "c", "")])


def test_split_statements_keeps_trigger_bodies_whole():
    script = "CREATE TABLE a (x);\nCREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; SELECT 2; END;\n-- end\n"
    statements = split_statements(script)
    assert len(statements) == 2 and statements[1].endswith("END;")


async def test_transaction_rolls_back_on_error(db):
    track, _ = await add(db)
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await store.rate(db, GUILD, BOB, track.id, LIKE)
            raise RuntimeError("boom")
    assert await store.ratings_of(db, GUILD, BOB) == []


# -- tracks and deduplication -----------------------------------------------------------------


async def test_add_and_get_track(db):
    track, created = await add(db, name="first", seed=3)
    assert created and track.id > 0
    loaded = await store.get_track(db, GUILD, track.id)
    assert loaded == track
    assert loaded.genres == (("electronic", 0.6), ("rock", 0.25), ("jazz", 0.15))
    assert loaded.top_genre == "electronic" and loaded.added_by == ALICE
    assert loaded.embedding.dtype == np.float32 and loaded.embedding.shape == (EMBEDDING_DIM,)
    np.testing.assert_array_equal(loaded.embedding, vector(3, EMBEDDING_DIM))
    np.testing.assert_array_equal(loaded.tag_probs, tags(3))
    assert await store.get_track(db, GUILD, 999_999) is None
    assert [s.user_id for s in await store.sharers_of(db, GUILD, track.id)] == [ALICE]


async def test_same_hash_is_one_track_and_records_the_share(db):
    first, created = await add(db, name="song", shared_by=ALICE)
    again, created_again = await add(db, name="song", seed=99, duration=10.0, shared_by=BOB)
    assert created and not created_again
    assert again == first
    assert await store.count_tracks(db, GUILD) == 1
    assert {s.user_id for s in await store.sharers_of(db, GUILD, first.id)} == {ALICE, BOB}


async def test_re_encoded_copy_is_a_near_duplicate(db):
    original, _ = await add(db, name="original.flac", seed=5, duration=181.0)
    noise = np.random.default_rng(1).standard_normal(EMBEDDING_DIM).astype(np.float32) * 0.05
    copy_embedding = vector(5, EMBEDDING_DIM) + noise
    cosine = float(
        np.dot(copy_embedding, original.embedding) / np.linalg.norm(copy_embedding) / np.linalg.norm(original.embedding)
    )
    assert cosine >= store.NEAR_DUPLICATE_MIN_COSINE
    copy, created = await add(db, name="copy.mp3", embedding=copy_embedding, duration=181.9, shared_by=BOB)
    assert not created and copy.id == original.id
    assert await store.count_tracks(db, GUILD) == 1
    assert {s.user_id for s in await store.sharers_of(db, GUILD, original.id)} == {ALICE, BOB}


async def test_similar_duration_different_audio_is_not_merged(db):
    await add(db, name="one", seed=5, duration=181.0)
    _other, created = await add(db, name="two", seed=6, duration=181.2)
    assert created
    # Same embedding but a clearly different length is not the same audio either.
    _longer, created_longer = await add(db, name="three", seed=5, duration=181.0 + 2 * store.NEAR_DUPLICATE_MAX_SECONDS)
    assert created_longer
    assert await store.count_tracks(db, GUILD) == 3


async def test_add_track_validates_vectors(db):
    with pytest.raises(ValueError):
        await add(db, embedding=np.zeros(EMBEDDING_DIM + 1, dtype=np.float32))
    bad = vector(1, EMBEDDING_DIM)
    bad[3] = np.nan
    with pytest.raises(ValueError):
        await add(db, embedding=bad)
    assert await store.count_tracks(db, GUILD) == 0


async def test_search_recent_and_genre(db):
    for i, title in enumerate(["Blue Monday", "Monday Morning", "Lazy Sunday", "100% Pure", "Tues_day"]):
        await add(db, name=title, seed=i, title=title, duration=100.0 + 10 * i)
    found = [t.title for t in await store.search_tracks(db, GUILD, "monday")]
    assert found == ["Monday Morning", "Blue Monday"]  # prefix match first
    assert [t.title for t in await store.search_tracks(db, GUILD, "%")] == ["100% Pure"]
    assert [t.title for t in await store.search_tracks(db, GUILD, "y_s")] == []  # _ is literal, not "any character"
    assert [t.title for t in await store.search_tracks(db, GUILD, "s_d")] == ["Tues_day"]
    assert len(await store.search_tracks(db, GUILD, "", limit=100)) == 5
    assert [t.title for t in await store.recent_tracks(db, GUILD, 2)] == ["Tues_day", "100% Pure"]
    assert len(await store.tracks_with_genre(db, GUILD, "electronic")) == 5
    for i in range(30):
        await add(db, name=f"more {i}", seed=100 + i, title=f"Monday {i}", duration=1000.0 + 10 * i)
    assert len(await store.search_tracks(db, GUILD, "monday", limit=100)) == 25


async def test_load_catalog_round_trips_arrays_exactly(db):
    embeddings = {}
    for i in range(20):
        track, _ = await add(db, name=f"t{i}", seed=i, duration=60.0 + 5 * i)
        embeddings[track.id] = track
    catalog = await store.load_catalog(db, GUILD)
    assert len(catalog) == 20
    assert catalog.ids.dtype == np.int64 and list(catalog.ids) == sorted(embeddings)
    assert catalog.embeddings.dtype == np.float32 and catalog.embeddings.shape == (20, EMBEDDING_DIM)
    assert catalog.tag_probs.dtype == np.float32 and catalog.tag_probs.shape == (20, TAG_COUNT)
    for row, track_id in enumerate(catalog.ids):
        track = embeddings[int(track_id)]
        assert catalog.index_of(int(track_id)) == row
        np.testing.assert_array_equal(catalog.embeddings[row], track.embedding)
        np.testing.assert_array_equal(catalog.tag_probs[row], track.tag_probs)
        assert catalog.titles[row] == track.title and catalog.top_genres[row] == "electronic"
        assert catalog.durations[row] == track.duration
    assert catalog.index_of(10**9) is None
    empty = await store.load_catalog(db, OTHER_GUILD)
    assert len(empty) == 0 and empty.embeddings.shape == (0, EMBEDDING_DIM)


def test_blob_helpers_round_trip_and_check_shapes():
    values = vector(7, EMBEDDING_DIM)
    blob = store.to_blob(values, EMBEDDING_DIM)
    assert len(blob) == 4 * EMBEDDING_DIM
    np.testing.assert_array_equal(store.from_blob(blob, EMBEDDING_DIM), values)
    with pytest.raises(ValueError):
        store.from_blob(blob[:-4], EMBEDDING_DIM)
    with pytest.raises(ValueError):
        store.to_blob(values.reshape(10, 20), EMBEDDING_DIM)


# -- guild isolation ----------------------------------------------------------------------------


async def test_guilds_see_nothing_of_each_other(db):
    track, _ = await add(db, name="shared everywhere")
    await store.rate(db, GUILD, BOB, track.id, LIKE)
    await store.set_last_track(db, GUILD, BOB, track.id)

    assert await store.get_track(db, OTHER_GUILD, track.id) is None
    assert await store.count_tracks(db, OTHER_GUILD) == 0
    assert await store.search_tracks(db, OTHER_GUILD, "shared") == []
    assert await store.recent_tracks(db, OTHER_GUILD) == []
    assert await store.ratings_in_guild(db, OTHER_GUILD) == []
    assert await store.ratings_of(db, OTHER_GUILD, BOB) == []
    assert await store.track_scores(db, OTHER_GUILD) == []
    assert await store.last_track(db, OTHER_GUILD, BOB) is None
    assert await store.track_by_hash(db, OTHER_GUILD, digest("shared everywhere")) is None

    # The same audio in another guild is a separate track there.
    theirs, created = await add(db, OTHER_GUILD, name="shared everywhere", shared_by=CAROL)
    assert created and theirs.id != track.id


async def test_rows_cannot_reference_another_guilds_track(db):
    track, _ = await add(db, name="guild one only")
    with pytest.raises(UnknownTrack):
        await store.rate(db, OTHER_GUILD, BOB, track.id, LIKE)
    with pytest.raises(UnknownTrack):
        await store.set_last_track(db, OTHER_GUILD, BOB, track.id)
    with pytest.raises(UnknownTrack):
        await store.record_share(db, OTHER_GUILD, BOB, track.id)
    # Even raw SQL that bypasses the API is refused by the composite foreign key.
    with pytest.raises(INTEGRITY_ERRORS, match="(?i)foreign key"):
        await db.execute(
            "INSERT INTO ratings (guild_id, user_id, track_id, value, rated_at) VALUES (?, ?, ?, 1, 0)",
            (OTHER_GUILD, BOB, track.id),
        )
    assert await store.ratings_in_guild(db, OTHER_GUILD) == []


# -- ratings -------------------------------------------------------------------------------------


async def test_rating_again_replaces(db):
    track, _ = await add(db)
    await store.rate(db, GUILD, BOB, track.id, LIKE, now=100.0)
    await store.rate(db, GUILD, BOB, track.id, DISLIKE, now=200.0)
    assert await store.ratings_of(db, GUILD, BOB) == [Rating(GUILD, BOB, track.id, -1, 200.0)]
    assert await store.rating_of(db, GUILD, BOB, track.id) == -1
    with pytest.raises(ValueError):
        await store.rate(db, GUILD, BOB, track.id, 0)
    with pytest.raises(INTEGRITY_ERRORS, match="(?i)check"):
        await db.execute("UPDATE ratings SET value = 5")
    assert await store.clear_rating(db, GUILD, BOB, track.id)
    assert not await store.clear_rating(db, GUILD, BOB, track.id)
    assert await store.rating_of(db, GUILD, BOB, track.id) is None


async def test_track_scores_rank_best_liked(db):
    a, _ = await add(db, name="a", seed=1, duration=100)
    b, _ = await add(db, name="b", seed=2, duration=200)
    c, _ = await add(db, name="c", seed=3, duration=300)
    for user in (ALICE, BOB, CAROL):
        await store.rate(db, GUILD, user, b.id, LIKE)
    await store.rate(db, GUILD, ALICE, a.id, LIKE)
    await store.rate(db, GUILD, BOB, a.id, DISLIKE)
    await store.rate(db, GUILD, ALICE, c.id, DISLIKE)
    scores = await store.track_scores(db, GUILD)
    assert [(s.track_id, s.likes, s.dislikes, s.score) for s in scores] == [
        (b.id, 3, 0, 3),
        (a.id, 1, 1, 0),
        (c.id, 0, 1, -1),
    ]
    assert len(await store.ratings_in_guild(db, GUILD)) == 6


# -- members and forgetting -------------------------------------------------------------------------


async def test_last_track_and_deleting_it(db):
    track, _ = await add(db)
    assert await store.last_track(db, GUILD, BOB) is None
    await store.set_last_track(db, GUILD, BOB, track.id)
    assert await store.last_track(db, GUILD, BOB) == track.id
    assert await store.delete_track(db, GUILD, track.id)
    assert await store.last_track(db, GUILD, BOB) is None  # cleared, member row kept
    assert await db.fetch_value("SELECT count(*) FROM members WHERE guild_id = ?", (GUILD,)) == 1


async def test_forget_member_removes_only_that_member_in_that_guild(db):
    only_alice, _ = await add(db, name="only alice", seed=1, duration=100, shared_by=ALICE)
    alice_and_bob, _ = await add(db, name="alice and bob", seed=2, duration=200, shared_by=ALICE)
    await add(db, name="alice and bob", seed=2, duration=200, shared_by=BOB)
    rated_by_carol, _ = await add(db, name="rated by carol", seed=3, duration=300, shared_by=ALICE)
    bobs, _ = await add(db, name="bobs", seed=4, duration=400, shared_by=BOB)
    await store.rate(db, GUILD, CAROL, rated_by_carol.id, LIKE)
    await store.rate(db, GUILD, ALICE, bobs.id, DISLIKE)
    await store.rate(db, GUILD, ALICE, only_alice.id, LIKE)
    await store.set_last_track(db, GUILD, ALICE, only_alice.id)
    await store.set_last_track(db, GUILD, CAROL, only_alice.id)
    # Alice in another guild must survive.
    elsewhere, _ = await add(db, OTHER_GUILD, name="only alice", shared_by=ALICE)
    await store.rate(db, OTHER_GUILD, ALICE, elsewhere.id, LIKE)
    await store.set_last_track(db, OTHER_GUILD, ALICE, elsewhere.id)

    report = await store.forget_member(db, GUILD, ALICE)

    assert report == store.ForgetReport(ratings=2, shares=3, tracks_removed=1)
    assert await store.get_track(db, GUILD, only_alice.id) is None
    assert await store.last_track(db, GUILD, CAROL) is None  # pointed at the removed track
    kept = {t.id: t for t in await store.recent_tracks(db, GUILD, 10)}
    assert set(kept) == {alice_and_bob.id, rated_by_carol.id, bobs.id}
    assert all(t.added_by != ALICE for t in kept.values())
    assert kept[bobs.id].added_by == BOB
    assert await store.ratings_of(db, GUILD, ALICE) == []
    assert await store.shares_of(db, GUILD, ALICE) == []
    assert await store.last_track(db, GUILD, ALICE) is None
    assert await db.fetch_value("SELECT count(*) FROM members WHERE guild_id = ? AND user_id = ?", (GUILD, ALICE)) == 0
    assert await store.ratings_of(db, GUILD, CAROL) != []
    assert [s.user_id for s in await store.sharers_of(db, GUILD, alice_and_bob.id)] == [BOB]
    # Other guild untouched.
    assert (await store.get_track(db, OTHER_GUILD, elsewhere.id)).added_by == ALICE
    assert len(await store.ratings_of(db, OTHER_GUILD, ALICE)) == 1
    assert await store.last_track(db, OTHER_GUILD, ALICE) == elsewhere.id
    # Forgetting again finds nothing.
    assert not (await store.forget_member(db, GUILD, ALICE)).anything


# -- /forget keeps what others rely on (issue 23): one test per kind of thing, two members ---------------


async def test_forget_keeps_a_track_in_another_members_playlist(db):
    carols, _ = await add(db, name="carol's only", seed=1, duration=100, shared_by=CAROL)
    mix = await playlists.create_playlist(db, GUILD, "Bob mix", BOB)
    await playlists.add_tracks(db, GUILD, mix.id, [carols.id], BOB)
    await store.forget_member(db, GUILD, CAROL)
    assert [e.track_id for e in await playlists.playlist_entries(db, GUILD, mix.id)] == [carols.id]
    assert await store.sharers_of(db, GUILD, carols.id) == []  # kept without its sharer
    assert (await store.get_track(db, GUILD, carols.id)).added_by is None


async def test_forget_keeps_a_track_rated_by_another_member(db):
    carols, _ = await add(db, name="carol's only", seed=1, duration=100, shared_by=CAROL)
    await store.rate(db, GUILD, BOB, carols.id, LIKE)
    await store.forget_member(db, GUILD, CAROL)
    assert await store.get_track(db, GUILD, carols.id) is not None
    assert [r.user_id for r in await store.ratings_of(db, GUILD, BOB)] == [BOB]


async def test_forget_keeps_a_track_in_the_queue_and_history_of_a_session_with_another_member(db):
    queued, _ = await add(db, name="queued", seed=1, duration=100, shared_by=CAROL)
    played, _ = await add(db, name="played", seed=2, duration=200, shared_by=CAROL)
    session = await sessions.open_session(db, GUILD, 500, BOB)
    await sessions.join(db, GUILD, session.id, CAROL)
    await sessions.enqueue(db, GUILD, session.id, played.id, added_by=CAROL)
    await sessions.enqueue(db, GUILD, session.id, queued.id, added_by=CAROL)
    await sessions.advance(db, GUILD, session.id)
    await sessions.advance(db, GUILD, session.id)  # "played" is history, "queued" plays
    await store.forget_member(db, GUILD, CAROL)
    entries = await sessions.queue_of(db, GUILD, session.id)
    assert {e.track_id for e in entries} == {queued.id, played.id}
    assert all(e.added_by is None for e in entries)


async def test_forget_removes_a_track_nobody_else_relies_on_and_its_own_session(db):
    alone, _ = await add(db, name="alone", seed=1, duration=100, shared_by=CAROL)
    session = await sessions.open_session(db, GUILD, 500, CAROL)
    await sessions.enqueue(db, GUILD, session.id, alone.id, added_by=CAROL)
    mine = await playlists.create_playlist(db, GUILD, "Carol's own", CAROL)
    await playlists.add_tracks(db, GUILD, mine.id, [alone.id], CAROL)
    report = await store.forget_member(db, GUILD, CAROL)
    assert report.tracks_removed == 1 and await store.get_track(db, GUILD, alone.id) is None
    assert await playlists.playlist_by_name(db, GUILD, "Carol's own") is None


async def test_forget_hands_an_open_session_to_the_member_there_longest_or_closes_it(db):
    shared = await sessions.open_session(db, GUILD, 500, CAROL)
    await sessions.join(db, GUILD, shared.id, BOB)
    await sessions.join(db, GUILD, shared.id, ALICE)
    alone = await sessions.open_session(db, GUILD, 501, CAROL)
    await store.forget_member(db, GUILD, CAROL)
    handed = await sessions.get_session(db, GUILD, shared.id)
    assert handed.is_open and handed.host_id == BOB
    closed = await sessions.get_session(db, GUILD, alone.id)
    assert not closed.is_open and closed.host_id == sessions.NO_HOST
    for table, column in (("sessions", "host_id"), ("session_members", "user_id"), ("session_queue", "added_by")):
        count = await db.fetch_value(
            f"SELECT count(*) FROM {table} WHERE guild_id = ? AND {column} = ?", (GUILD, CAROL)
        )
        assert count == 0, table


# -- one writer path -------------------------------------------------------------------------------------


async def test_concurrent_writers_all_land(db):
    async def share(i: int):
        track, _ = await add(db, name=f"track {i}", seed=i, duration=60.0 + 3 * i, shared_by=i % 7)
        for user in range(5):
            await store.rate(db, GUILD, user, track.id, LIKE if (i + user) % 2 else DISLIKE)
        return track

    async def duplicate(i: int):
        return await add(db, name=f"track {i}", seed=i, duration=60.0 + 3 * i, shared_by=100 + i)

    results = await asyncio.gather(*(share(i) for i in range(40)), *(duplicate(i) for i in range(0, 40, 4)))
    assert await store.count_tracks(db, GUILD) == 40
    assert len({t.id for t in results[:40]}) == 40
    assert len(await store.ratings_in_guild(db, GUILD)) == 40 * 5
    assert await db.fetch_value("SELECT count(*) FROM shares WHERE guild_id = ?", (GUILD,)) == 40 + 10


async def test_transactions_of_concurrent_tasks_do_not_interleave(db):
    track, _ = await add(db)
    inside = asyncio.Event()

    async def failing_transaction():
        with pytest.raises(RuntimeError):
            async with db.transaction():
                await store.rate(db, GUILD, BOB, track.id, LIKE)
                inside.set()
                await asyncio.sleep(0.05)
                raise RuntimeError("rolled back")

    async def other_writer():
        await inside.wait()
        await store.rate(db, GUILD, CAROL, track.id, LIKE)  # must not be rolled back with BOB's

    await asyncio.gather(failing_transaction(), other_writer())
    assert [r.user_id for r in await store.ratings_in_guild(db, GUILD)] == [CAROL]


async def test_display_names_are_remembered_per_guild_and_forgotten_with_the_member(db):
    await store.remember_name(db, GUILD, ALICE, "alice")
    await store.remember_name(db, GUILD, ALICE, "Alice the Great")  # the latest name wins
    await store.remember_name(db, GUILD, BOB, "bob")
    await store.remember_name(db, OTHER_GUILD, ALICE, "al")
    track, _ = await add(db, name="kept", seed=5, shared_by=BOB)
    await store.set_last_track(db, GUILD, ALICE, track.id)  # the same members row
    assert await store.display_names(db, GUILD) == {ALICE: "Alice the Great", BOB: "bob"}
    assert await store.last_track(db, GUILD, ALICE) == track.id

    await store.forget_member(db, GUILD, ALICE)

    assert await store.display_names(db, GUILD) == {BOB: "bob"}
    assert await store.display_names(db, OTHER_GUILD) == {ALICE: "al"}
