"""One song, whatever its cut (bot.recommend.songs): the rule, and the radio, recommendations,
autocomplete and charts that use it."""

from __future__ import annotations

import numpy as np
import pytest

from bot import store
from bot.app.community import server_charts
from bot.app.library import Library
from bot.app.titles import TitleIndex
from bot.catalog import EMBEDDING_DIM, LIKE, TAG_COUNT, Catalog, Rating
from bot.recommend.radio import pick_radio
from bot.recommend.rank import Recommender
from bot.recommend.service import CatalogCache
from bot.recommend.songs import SAME_SONG_MIN_COSINE, same_song, song_groups
from bot.store import open_database
from bot.store.tracks import NEAR_DUPLICATE_MAX_SECONDS, NEAR_DUPLICATE_MIN_COSINE

GUILD = 7
NOW = 1_900_000_000.0


def _cut(vector: np.ndarray, cosine: float, rng) -> np.ndarray:
    """A vector at exactly ``cosine`` from ``vector`` (the embedding of another cut)."""
    v = vector / np.linalg.norm(vector)
    other = rng.normal(size=v.shape)
    other -= (other @ v) * v
    other /= np.linalg.norm(other)
    return cosine * v + np.sqrt(1 - cosine**2) * other


def _catalog(embeddings, durations, titles=None) -> Catalog:
    n = len(embeddings)
    return Catalog(
        guild_id=GUILD,
        ids=np.arange(1, n + 1, dtype=np.int64),
        titles=list(titles or [f"t{i + 1}" for i in range(n)]),
        top_genres=["ambient"] * n,
        durations=np.asarray(durations, np.float64),
        tag_probs=np.full((n, TAG_COUNT), 0.05, np.float32),
        embeddings=np.asarray(embeddings, np.float32),
    )


@pytest.fixture
def songs():
    """Ten distinct songs (rows 0-9, ids 1-10); rows 10-12 (ids 11-13) are cuts of songs 0, 1, 2."""
    rng = np.random.default_rng(3)
    base = rng.normal(size=(10, EMBEDDING_DIM)) + 4.0  # positive, like musicnn's: distinct songs ~0.94 raw
    base[:, :100] += rng.normal(scale=3.0, size=(10, 100))
    cuts = [_cut(base[i], 0.97, rng) for i in range(3)]
    durations = [200.0 + 13 * i for i in range(10)] + [150.0, 170.0, 140.0]
    return _catalog(np.vstack([base, cuts]), durations)


def test_the_rule(songs):
    unit = songs.embeddings / np.linalg.norm(songs.embeddings, axis=1, keepdims=True)
    cosine = unit @ unit.T
    distinct = cosine[:10, :10][~np.eye(10, dtype=bool)]
    assert distinct.max() < SAME_SONG_MIN_COSINE  # the fixture's songs are apart, cuts are not
    same = same_song(songs, np.arange(13), np.arange(13))
    assert same[10, 0] and same[0, 10] and same[11, 1] and same[12, 2]
    assert same.sum() == 13 + 2 * 3  # itself, and each cut with its song: nothing else
    assert list(song_groups(songs, [0, 3, 10, 11, 1])) == [0, 1, 0, 3, 3]
    # What the store would merge is one song; an excerpt too short to be the song is not.
    assert SAME_SONG_MIN_COSINE <= NEAR_DUPLICATE_MIN_COSINE
    rng = np.random.default_rng(1)
    e = rng.normal(size=EMBEDDING_DIM) + 4.0
    pair = _catalog([e, _cut(e, 0.99, rng), _cut(e, 0.99, rng)], [200.0, 200.0 - NEAR_DUPLICATE_MAX_SECONDS, 30.0])
    assert same_song(pair, [0], [1, 2]).tolist() == [[True, False]]


def test_the_radio_never_plays_a_song_twice(songs):
    for seed in range(13):
        picks = pick_radio(songs, [], [], seed_track_id=seed + 1, count=13, now=NOW)
        rows = [seed] + [p.track_id - 1 for p in picks]
        groups = song_groups(songs, rows)
        assert len(set(groups.tolist())) == len(rows), (seed, rows)
        assert len(rows) == 10  # every song once, then the radio ends
    # One fill at a time, as a session calls it: the song just played never comes again.
    played = [11]
    for _ in range(12):
        picks = pick_radio(songs, [], [], seed_track_id=11, previous_track_id=played[-1], exclude_track_ids=played)
        if not picks:
            break
        played.append(picks[0].track_id)
    assert sorted(set(song_groups(songs, [p - 1 for p in played]).tolist())) == sorted(
        song_groups(songs, [p - 1 for p in played]).tolist()
    )
    assert len(played) == 10


def test_recommendations_never_offer_two_cuts_nor_a_cut_of_a_rated_song(songs):
    ratings = [Rating(GUILD, 1, 1, LIKE, NOW - 3600)]  # likes song 0 (row 0); row 10 is its cut
    recommender = Recommender(songs, ratings, now=NOW)
    picks = [r.track_id - 1 for r in recommender.for_user(1, count=12)]
    assert 10 not in picks and 0 not in picks
    assert len(set(song_groups(songs, picks).tolist())) == len(picks) == 9
    cold = [r.track_id - 1 for r in Recommender(songs, [], now=NOW).for_user(2, count=12)]
    assert len(set(song_groups(songs, cold).tolist())) == len(cold) == 10
    more = [r.track_id - 1 for r in recommender.more_like(12, 3, count=12)]  # seed: row 11, a cut of row 1
    assert 1 not in more and len(set(song_groups(songs, more).tolist())) == len(more)


async def _stored(db, songs: Catalog, titles: list[str]) -> list[int]:
    ids = []
    for i in range(len(songs)):
        track, created = await store.add_track(
            db,
            GUILD,
            title=titles[i],
            source_url=None,
            source_kind="file",
            content_hash=f"{i:064x}",
            duration=float(songs.durations[i]),
            genres=(("ambient", 1.0),),
            tag_probs=songs.tag_probs[i],
            embedding=songs.embeddings[i],
            tempo=100.0,
            shared_by=9,
            now=NOW - 100 + i,
        )
        assert created
        ids.append(track.id)
    return ids


async def test_autocomplete_and_charts_count_one_song(tmp_path, songs):
    titles = [f"song {i}" for i in range(10)] + ["song 0", "song 1 (radio edit)", "song 9"]
    async with open_database(tmp_path / "crate.db") as db:
        ids = await _stored(db, songs, titles)
        catalogs = CatalogCache(db)
        library = Library(db, TitleIndex(), catalogs)
        offered = [e.title for e in await library.search(GUILD, "song")]
        # "song 0" twice, one song: offered once. "song 9" twice, two songs: both stay.
        assert offered.count("song 0") == 1 and offered.count("song 9") == 2 and len(offered) == 12
        assert offered.count("song 1 (radio edit)") == 1
        # Likes of a song's cuts count for the song; a member who liked both cuts counts once.
        for user, track in ((1, ids[0]), (2, ids[10]), (3, ids[10]), (3, ids[0]), (4, ids[5]), (5, ids[5])):
            await store.rate(db, GUILD, user, track, LIKE, now=NOW)
        charts = await server_charts(catalogs, GUILD, "all", now=NOW)
        shown = [(c.track.title, c.likes) for c in charts.tracks]
        assert shown == [("song 0", 3), ("song 5", 2)]
