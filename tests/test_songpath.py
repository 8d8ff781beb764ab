"""/path (bot.recommend.songpath, bot.app.songpath): a walk from A to B in small steps of sound.

What is asserted, over seeded random catalogs: the path starts at A and ends at B; every step is
strictly closer to B than the step before it, by the walk's own cosine (the recommender's
centred space) and by the stored embeddings' cosine and Euclidean distance; no artist and no song appears twice
(another cut of a song counts as the song); the steps follow the line (each one is the nearest
eligible track to its point on it); and each entry's reason says where on the path it is.
"""

from __future__ import annotations

import hashlib
import itertools

import numpy as np
import pytest

from bot import store
from bot.app.sessions import SessionService
from bot.app.songpath import SongPaths
from bot.catalog import EMBEDDING_DIM, TAG_COUNT, Catalog
from bot.present.reasons import reason_text
from bot.reasons import Reason, ReasonKind
from bot.recommend.rank import features_of
from bot.recommend.service import CatalogCache
from bot.recommend.songpath import MAX_LENGTH, SamePathEnds, artist_of, walk
from bot.recommend.songs import same_song
from bot.store import open_database


def catalog_of(seed: int, n: int = 120, artists: int = 40) -> Catalog:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(5, EMBEDDING_DIM))
    family = rng.integers(0, 5, n)
    embeddings = centres[family] + rng.uniform(0.5, 1.2) * rng.normal(size=(n, EMBEDDING_DIM)) + 0.3
    titles = [f"Artist {rng.integers(0, artists)} - Song {i}" for i in range(n)]
    # a second cut of track 5 (same sound, 70 % of its length): one song with it
    embeddings[6] = embeddings[5] + 0.01 * rng.normal(size=EMBEDDING_DIM)
    durations = rng.uniform(120, 300, n)
    durations[6] = durations[5] * 0.7
    return Catalog(
        guild_id=1,
        ids=np.arange(1, n + 1, dtype=np.int64),
        titles=titles,
        top_genres=["rock"] * n,
        durations=durations,
        tag_probs=np.zeros((n, TAG_COUNT), np.float32),
        embeddings=embeddings.astype(np.float32),
    )


def raw_cosine(catalog: Catalog, a: int, b: int) -> float:
    x, y = catalog.embeddings[a].astype(np.float64), catalog.embeddings[b].astype(np.float64)
    return float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))


@pytest.mark.parametrize("seed", range(12))
def test_the_path_moves_from_a_to_b_with_no_artist_or_song_twice(seed):
    catalog = catalog_of(seed)
    rng = np.random.default_rng(100 + seed)
    a, b = (int(x) for x in rng.choice(catalog.ids, size=2, replace=False))
    path = walk(catalog, a, b, length=10)
    ids = [s.track_id for s in path]
    assert ids[0] == a and ids[-1] == b and 3 <= len(path) <= 10
    rows = [catalog.index_of(t) for t in ids]
    unit = features_of(catalog).unit
    walk_closeness = [float(unit[r] @ unit[rows[-1]]) for r in rows]
    raw_closeness = [raw_cosine(catalog, r, rows[-1]) for r in rows]
    for before, after in itertools.pairwise(walk_closeness):
        assert after > before, walk_closeness  # each step closer to B
    for before, after in itertools.pairwise(raw_closeness):
        assert after > before, raw_closeness
    distance = [float(np.linalg.norm(catalog.embeddings[r] - catalog.embeddings[rows[-1]])) for r in rows]
    for before, after in itertools.pairwise(distance):
        assert after < before, distance
    assert [s.closeness_to_end for s in path] == pytest.approx(walk_closeness, abs=1e-3)
    middle = [catalog.titles[r] for r in rows[1:-1]]
    artists = [artist_of(t) for t in middle]
    ends = {artist_of(catalog.titles[rows[0]]), artist_of(catalog.titles[rows[-1]])}
    assert len(set(artists)) == len(artists) and not set(artists) & ends
    pairs = same_song(catalog, rows, rows)
    assert (pairs.sum(axis=1) == 1).all()  # each is the same song as itself only
    assert [s.reason.step for s in path] == list(range(1, len(path) + 1))
    assert all(s.reason.kind == ReasonKind.PATH and s.reason.steps == len(path) for s in path)
    assert all(s.reason.track_id == a and s.reason.to_track_id == b for s in path)


def test_steps_are_the_nearest_tracks_to_their_points_on_the_line():
    """Tracks laid out evenly along a line from A to B (and as many elsewhere, so that the
    catalog's centre, equally far from A and B, is off the line): the walk takes the tracks at
    1/4, 2/4 and 3/4 of the way (give or take the next track)."""
    rng = np.random.default_rng(0)
    start, end = rng.normal(size=EMBEDDING_DIM), rng.normal(size=EMBEDDING_DIM)
    side = rng.normal(size=EMBEDDING_DIM)
    side -= (side @ (end - start)) / ((end - start) @ (end - start)) * (end - start)  # orthogonal to the line
    side *= 3 / np.linalg.norm(side)
    n = 41
    shares = np.linspace(0, 1, n)
    line = (1 - shares)[:, None] * start + shares[:, None] * end + 0.01 * rng.normal(size=(n, EMBEDDING_DIM))
    elsewhere = (start + end) / 2 + side + 0.3 * rng.normal(size=(n, EMBEDDING_DIM))
    embeddings = np.concatenate([line, elsewhere]).astype(np.float32)
    m = len(embeddings)
    catalog = Catalog(
        guild_id=1, ids=np.arange(1, m + 1, dtype=np.int64), titles=[f"Song {i}" for i in range(m)],
        top_genres=["jazz"] * m, durations=np.full(m, 200.0) + np.arange(m) * 50,
        tag_probs=np.zeros((m, TAG_COUNT), np.float32), embeddings=embeddings,
    )  # fmt: skip
    path = walk(catalog, 1, n, length=5)
    got = [s.track_id for s in path]
    assert got[0] == 1 and got[-1] == 41 and len(got) == 5
    for found, expected in zip(got[1:-1], (11, 21, 31)):  # the noise may shift the nearest by one
        assert abs(found - expected) <= 1, got


def test_the_cut_of_a_song_and_excluded_tracks_are_never_steps():
    catalog = catalog_of(3)  # track 7 (row 6) is a cut of track 6 (row 5)
    path = walk(catalog, 7, 50, length=MAX_LENGTH)
    assert 6 not in [s.track_id for s in path]
    middle = [s.track_id for s in path[1:-1]]
    assert middle
    again = walk(catalog, 7, 50, length=MAX_LENGTH, exclude_track_ids=middle)
    assert not set(s.track_id for s in again[1:-1]) & set(middle)
    with pytest.raises(SamePathEnds):
        walk(catalog, 6, 7)
    with pytest.raises(SamePathEnds):
        walk(catalog, 6, 6)


def test_the_reason_says_where_on_the_path_it_is():
    reason = Reason(ReasonKind.PATH, track_id=1, track_title="A *b*", to_track_id=2, to_title="C", step=3, steps=8)
    assert reason_text(reason) == "step 3 of 8 on the path from “A *b*” to “C”"
    assert reason_text(reason, markdown=True) == "step 3 of 8 on the path from “A \\*b\\*” to “C”"
    assert Reason.from_json(reason.to_json()) == reason
    assert reason_text(Reason(ReasonKind.PATH, track_title="A", to_title="C", step=1, steps=8)).startswith(
        "the start of the path"
    )
    assert reason_text(Reason(ReasonKind.PATH, track_title="A", to_title="C", step=8, steps=8)).startswith(
        "the end of the path"
    )


async def test_a_path_fills_a_session_queue(tmp_path):
    async with open_database(tmp_path / "crate.sqlite3") as db:
        catalog = catalog_of(7, n=60)
        ids = []
        for i in range(len(catalog)):
            track, _ = await store.add_track(
                db, 9, title=catalog.titles[i], source_url=None, source_kind="file",
                content_hash=hashlib.sha256(str(i).encode()).hexdigest(), duration=float(catalog.durations[i]),
                genres=(("rock", 0.9),), tag_probs=np.zeros(TAG_COUNT, np.float32),
                embedding=catalog.embeddings[i], tempo=None, shared_by=3,
            )  # fmt: skip
            ids.append(track.id)
        catalogs = CatalogCache(db)
        sessions = SessionService(db, catalogs)
        paths = SongPaths(catalogs, sessions)
        played = await paths.play(9, 3, ids[0], ids[40], channel_id=77, length=6)
        assert played.opened and [e.track_id for e in played.entries] == [s.track_id for s in played.steps]
        assert all(e.added_by == 3 and isinstance(e.reason, Reason) for e in played.entries)
        assert played.entries[0].reason.step == 1 and played.entries[-1].reason.step == len(played.steps)
        # a second path in the same session steps on none of the first one's tracks
        again = await paths.play(9, 3, ids[1], ids[41], channel_id=77, length=6)
        assert not again.opened and again.session.id == played.session.id
        first = {s.track_id for s in played.steps}
        assert not {s.track_id for s in again.steps[1:-1]} & first
        # a member joining keeps the path (it is the member's, not Crate's pick for the group)
        await sessions.join(played.session, 4)
        view = await sessions.queue_view(played.session)
        assert len(view.upcoming) == len(played.entries) + len(again.entries)
