"""The recommendation core: profiles, ranking, reasons, filters, cold start, store, evaluation.

The ranking-logic tests build catalogs from *constructed clustered vectors* (a few genre centres
in the 200-d embedding space plus noise): that pins down exactly which tracks are similar, which
is what the logic under test is about. The evaluation test runs on real analyses: GTZAN-mini
clips from ``../shared`` when present, else real Debian game music (tests/music.py).
"""

from __future__ import annotations

import hashlib
import io
import shutil
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest

from bot import store
from bot.catalog import DISLIKE, EMBEDDING_DIM, LIKE, Catalog, Rating, UnknownTrack
from bot.listen.musicnn import TAGS
from bot.present.reasons import reason_text
from bot.recommend import rank as rank_module
from bot.recommend.evaluate import evaluate
from bot.recommend.labeled import LabeledCatalog, build_labeled_catalog
from bot.recommend.profile import HALF_LIFE_DAYS, build_profile, recency_weight
from bot.recommend.rank import NothingMatches, Recommender, UnknownFilter
from bot.recommend.service import CatalogCache, recommend_for
from bot.store import open_database
from bot.store.changes import changes_of

DIM = EMBEDDING_DIM
NOW = 1_700_000_000.0
DAY = 86_400.0
GUILD = 7
ME, ALICE, BOB, CAROL = 1, 2, 3, 4


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def centres(k: int, seed: int = 0) -> np.ndarray:
    """k random, nearly orthogonal directions in 200-d space (one per 'genre')."""
    return np.stack([unit(v) for v in np.random.default_rng(seed).normal(size=(k, DIM))])


def around(centre: np.ndarray, n: int, spread: float, rng) -> np.ndarray:
    """n vectors whose cosine to ``centre`` is about 1 / sqrt(1 + spread**2)."""
    return np.stack([unit(centre + spread * unit(rng.normal(size=DIM))) for _ in range(n)])


def make_catalog(embeddings, genres, titles=None, tag_probs=None, guild_id=GUILD) -> Catalog:
    n = len(genres)
    return Catalog(
        guild_id=guild_id,
        ids=np.arange(1, n + 1, dtype=np.int64),
        titles=list(titles or [f"t{i + 1}" for i in range(n)]),
        top_genres=list(genres),
        durations=np.full(n, 200.0),
        tag_probs=np.full((n, len(TAGS)), 0.05, np.float32) if tag_probs is None else tag_probs.astype(np.float32),
        embeddings=np.asarray(embeddings, dtype=np.float32),
    )


def like(user, track_id, days_ago=1.0, value=LIKE) -> Rating:
    return Rating(GUILD, user, track_id, value, NOW - days_ago * DAY)


def ids_of(recs) -> list[int]:
    return [r.track_id for r in recs]


# -- a jazz + metal lover ----------------------------------------------------------------------


@pytest.fixture
def jazz_metal():
    """8 jazz, 8 metal, 8 'in-between' (half labeled jazz, half metal), 8 classical."""
    rng = np.random.default_rng(1)
    jazz_c, metal_c, classical_c = centres(3, seed=11)
    jazz = around(jazz_c, 8, 0.5, rng)
    metal = around(metal_c, 8, 0.5, rng)
    between = around(unit(jazz_c + metal_c), 8, 0.5, rng)
    classical = around(classical_c, 8, 0.5, rng)
    embeddings = np.concatenate([jazz, metal, between, classical])
    genres = ["jazz"] * 8 + ["metal"] * 8 + ["jazz", "metal"] * 4 + ["classical"] * 8
    return make_catalog(embeddings, genres)


def test_jazz_and_metal_lover_gets_both_not_the_average(jazz_metal):
    ratings = [like(ME, t) for t in (1, 2, 3, 9, 10, 11)]  # three jazz, three metal
    recs = Recommender(jazz_metal, ratings, now=NOW).for_user(ME, count=6)
    got = ids_of(recs)
    assert any(t in range(4, 9) for t in got), got  # jazz-like
    assert any(t in range(12, 17) for t in got), got  # metal-like
    assert not any(t in range(17, 25) for t in got[:4]), got  # the in-between cluster
    # The averaged taste vector would have preferred exactly those in-between tracks:
    E = jazz_metal.embeddings - jazz_metal.embeddings.mean(axis=0)
    mean_taste = unit(E[[0, 1, 2, 8, 9, 10]].mean(axis=0))
    by_average = np.argsort(-(E @ mean_taste) / np.linalg.norm(E, axis=1))
    assert any(16 <= row < 24 for row in by_average[6:10])
    # The profile's taste centroids find two centres, one jazz and one metal.
    recommender = Recommender(jazz_metal, ratings, now=NOW)
    profile = recommender.profile(ME)
    C, weights = profile.centroids(recommender.features.unit, k=3)
    assert len(C) == 2 and np.allclose(weights, 3.0, atol=1e-6)


def test_reasons_name_the_liked_track_and_the_genre():
    rng = np.random.default_rng(2)
    awakening = unit(rng.normal(size=DIM))
    close = unit(awakening + 0.4 * unit(rng.normal(size=DIM)))  # close, not another cut of it
    jazz = [unit(v) for v in rng.normal(size=(4, DIM))]  # four unrelated jazz tracks
    filler = [unit(v) for v in rng.normal(size=(10, DIM))]
    catalog = make_catalog(
        [awakening, close, *jazz, *filler],
        ["ambient", "ambient"] + ["jazz"] * 4 + ["rock"] * 10,
        titles=["Awakening", "Close One", "J1", "J2", "J3", "J4"] + [f"F{i}" for i in range(10)],
    )
    ratings = [like(ME, 1), like(ME, 3), like(ME, 4), like(ME, 5)]
    recs = {r.title: r for r in Recommender(catalog, ratings, now=NOW).for_user(ME, count=3)}
    assert reason_text(recs["Close One"].reason) == "close to “Awakening” you liked"
    assert reason_text(recs["J4"].reason) == "you like jazz"
    assert recs["Close One"].top_genre == "ambient"


def test_disliked_neighbours_rank_lower():
    e = np.eye(DIM)
    rng = np.random.default_rng(3)
    filler = [unit(v) for v in rng.normal(size=(30, DIM))]
    liked, disliked = e[0], e[1]
    plain = unit(e[0] + 0.6 * e[2])  # as close to the like, far from the dislike
    tainted = unit(e[0] + 0.6 * e[1])  # as close to the like, close to the dislike
    catalog = make_catalog([liked, disliked, plain, tainted, *filler], ["pop"] * 34)
    ratings = [like(ME, 1), like(ME, 2, value=DISLIKE)]
    order = ids_of(Recommender(catalog, ratings, now=NOW).for_user(ME, count=32))
    assert order.index(3) < order.index(4)
    # Without the dislike the two tie on content.
    order = ids_of(Recommender(catalog, ratings[:1], now=NOW).for_user(ME, count=32))
    assert abs(order.index(3) - order.index(4)) <= 1


def test_rated_and_shared_tracks_are_never_returned(jazz_metal):
    ratings = [like(ME, 1), like(ME, 9), like(ME, 17, value=DISLIKE), like(ALICE, 2), like(ALICE, 3)]
    shares = {ME: {4, 5, 12}, ALICE: {6}}
    recommender = Recommender(jazz_metal, ratings, shares=shares, now=NOW)
    got = set(ids_of(recommender.for_user(ME, count=len(jazz_metal))))
    assert got.isdisjoint({1, 9, 17, 4, 5, 12})
    assert got == set(range(1, 33)) - {1, 9, 17, 4, 5, 12}  # everything else, including Alice's likes
    assert set(ids_of(recommender.more_like(2, ME, count=40))).isdisjoint({1, 2, 9, 17, 4, 5, 12})
    assert set(ids_of(recommender.cold_start(BOB, count=40))).isdisjoint(set())  # Bob has no exclusions


def test_collaborative_signal_lifts_what_people_with_your_taste_liked():
    rng = np.random.default_rng(4)
    vectors = [unit(v) for v in rng.normal(size=(30, DIM))]  # all unrelated: content can't decide
    catalog = make_catalog(vectors, ["pop"] * 30)
    ratings = [like(ME, 1), like(ME, 2)]
    ratings += [like(ALICE, 1), like(ALICE, 2), like(ALICE, 20)]
    ratings += [like(BOB, 2), like(BOB, 20)]
    ratings += [like(CAROL, 25), like(CAROL, 26)]  # shares nothing with me
    recommender = Recommender(catalog, ratings, now=NOW)
    recs = recommender.for_user(ME, count=5)
    assert recs[0].track_id == 20
    assert (
        reason_text(recs[0].reason, {ALICE: "alice", BOB: "bob"}) == "liked by people who share your taste (alice, bob)"
    )
    anonymous = Recommender(catalog, ratings, now=NOW).for_user(ME, count=1)[0]
    assert reason_text(anonymous.reason) == "2 listeners with your taste liked it"
    # Carol's likes get no lift: nobody overlapping with me liked them.
    scores = {r.track_id: r.score for r in recommender.for_user(ME, count=28)}
    assert scores[25] == pytest.approx(scores[10], abs=0.05)


def test_near_duplicates_do_not_fill_a_page():
    rng = np.random.default_rng(5)
    liked = unit(rng.normal(size=DIM))
    song = unit(liked + 0.5 * unit(rng.normal(size=DIM)))  # close to the like, another song
    copies = around(song, 10, 0.08, rng)  # ten cuts of that song (bot.recommend.songs: one song)
    others = around(liked, 12, 1.0, rng)  # related but distinct tracks
    catalog = make_catalog([liked, *copies, *others], ["rock"] * 23)
    recs = Recommender(catalog, [like(ME, 1)], now=NOW).for_user(ME, count=5)
    assert len(recs) == 5
    assert sum(2 <= t <= 11 for t in ids_of(recs)) == 1  # one cut of the song, never two
    # Cuts of the liked song itself are never offered: the member knows that song.
    cuts_of_liked = make_catalog([liked, *around(liked, 3, 0.08, rng), *others], ["rock"] * 16)
    recs = Recommender(cuts_of_liked, [like(ME, 1)], now=NOW).for_user(ME, count=15)
    assert not {2, 3, 4} & set(ids_of(recs)) and len(recs) == 12


def test_tag_and_genre_filters(jazz_metal):
    tags = np.full((len(jazz_metal), len(TAGS)), 0.05, np.float32)
    chill = TAGS.index("chillout")
    tags[[0, 5, 20, 30], chill] = [0.7, 0.4, 0.6, 0.8]
    tags[:, TAGS.index("80s")] = np.linspace(0, 0.3, len(jazz_metal))
    catalog = Catalog(**{**jazz_metal.__dict__, "tag_probs": tags})
    recommender = Recommender(catalog, [like(ME, 9)], now=NOW)
    chilled = ids_of(recommender.for_user(ME, count=10, genre="Chillout"))
    assert set(chilled) == {1, 6, 21, 31}
    eighties = ids_of(recommender.for_user(ME, count=32, genre="80S"))
    assert set(eighties) <= set(range(26, 33)) and len(eighties) >= 5  # the top fifth
    jazz = recommender.for_user(ME, count=32, genre="JAZZ")
    assert {r.top_genre for r in jazz} == {"jazz"} and len(jazz) == 12
    assert recommender.genres_available()[0] in {"jazz", "metal"}
    assert set(recommender.genres_available()) == {"jazz", "metal", "classical"}
    with pytest.raises(UnknownFilter) as error:
        recommender.for_user(ME, genre="jaz")
    message = error.value.user_message
    assert "jaz" in message and "Did you mean “jazz”" in message and "chillout" in message
    assert "metal" in message  # lists genres of this server


def test_more_like_this_stops_when_nothing_is_close(jazz_metal):
    recommender = Recommender(jazz_metal, [like(ME, 2)], now=NOW)
    recs = recommender.more_like(25, ME, count=5)  # a classical track: only classical is close
    assert recs and all(25 <= r.track_id <= 32 for r in recs)
    everything = recommender.more_like(25, ME, count=40)
    assert {r.track_id for r in everything} <= set(range(25, 33))  # no padding with jazz or metal
    assert all("different side" not in reason_text(r.reason) for r in everything)


def test_a_filter_with_nothing_new_says_so_and_suggests_the_genre_family(jazz_metal):
    ratings = [like(ME, 2)] + [like(ME, t) for t in range(25, 33)]  # every classical track rated
    recommender = Recommender(jazz_metal, ratings, now=NOW)
    with pytest.raises(NothingMatches, match="classical"):
        recommender.for_user(ME, genre="classical")
    with pytest.raises(NothingMatches) as caught:  # a musicnn tag no track here carries
        recommender.for_user(ME, genre="heavy metal")
    assert "Try the family: “metal”" in caught.value.user_message


def test_more_like_this(jazz_metal):
    recommender = Recommender(jazz_metal, [like(ME, 2)], now=NOW)
    recs = recommender.more_like(10, ME, count=4)
    assert all(9 <= r.track_id <= 16 for r in recs) and 10 not in ids_of(recs)
    assert reason_text(recs[0].reason) == "close to “t10”"
    with pytest.raises(UnknownTrack):
        recommender.more_like(999, ME)


def test_cold_start_with_chosen_genres_and_without(jazz_metal):
    recommender = Recommender(jazz_metal, [], now=NOW)
    metal = recommender.cold_start(ME, genres=["metal"], count=4)
    assert len(metal) == 4 and {r.top_genre for r in metal} == {"metal"}
    assert reason_text(metal[0].reason) == "a metal pick to start with"
    # No ratings anywhere, no genres chosen: a diverse spread of the catalog.
    spread = recommender.cold_start(ME, count=3)
    assert len({r.top_genre for r in spread}) == 3
    assert "pick to explore" in reason_text(spread[0].reason)
    # Others' likes make the server's favourites the starting point.
    ratings = [like(ALICE, 30), like(BOB, 30), like(ALICE, 5), like(BOB, 5, value=DISLIKE)]
    popular = Recommender(jazz_metal, ratings, now=NOW).cold_start(ME, count=3)
    assert popular[0].track_id == 30 and reason_text(popular[0].reason) == "popular in this server (2 likes)"
    # for_user falls back to cold start for a member without likes.
    assert ids_of(Recommender(jazz_metal, ratings, now=NOW).for_user(ME, count=3)) == ids_of(popular)


def test_newer_ratings_weigh_more(jazz_metal):
    assert float(recency_weight(NOW - HALF_LIFE_DAYS * DAY, NOW)) == pytest.approx(0.5)
    ratings = [like(ME, 1, days_ago=400), like(ME, 9, days_ago=1)]  # old jazz like, new metal like
    recs = Recommender(jazz_metal, ratings, now=NOW).for_user(ME, count=2)
    assert recs[0].top_genre == "metal"
    flipped = [like(ME, 1, days_ago=1), like(ME, 9, days_ago=400)]
    assert Recommender(jazz_metal, flipped, now=NOW).for_user(ME, count=1)[0].top_genre == "jazz"
    profile = build_profile(ME, ratings, index_of=jazz_metal.index_of, top_genres=jazz_metal.top_genres, now=NOW)
    assert profile.genre_affinity["metal"] > profile.genre_affinity["jazz"] > 0
    assert list(profile.liked_rows) == [8, 0]  # most recent first


def test_empty_catalog_and_no_candidates():
    empty = make_catalog(np.zeros((0, DIM)), [])
    recommender = Recommender(empty, [], now=NOW)
    assert recommender.for_user(ME) == [] and recommender.genres_available() == []
    one = make_catalog(np.eye(DIM)[:1], ["rock"])
    assert Recommender(one, [like(ME, 1)], now=NOW).for_user(ME) == []


# -- through the store -------------------------------------------------------------------------


async def _add(db, guild, name, vector, genre, by=None):
    track, _ = await store.add_track(
        db,
        guild,
        title=name,
        source_url=None,
        source_kind="attachment",
        content_hash=hashlib.sha256(f"{guild}/{name}".encode()).hexdigest(),
        duration=180.0,
        genres=[(genre, 0.8), ("other", 0.2)],
        tag_probs=np.full(len(TAGS), 0.1),
        embedding=vector,
        tempo=120.0,
        shared_by=by,
        now=NOW,
    )
    return track


async def test_recommend_for_through_the_store_never_crosses_guilds(db_target):
    rng = np.random.default_rng(6)
    jazz_c, metal_c = centres(2, seed=12)
    async with open_database(db_target) as db:
        cache = CatalogCache(db)
        one, two = 100, 200
        ids: dict[int, list[int]] = {one: [], two: []}
        for guild in (one, two):
            for i, v in enumerate(around(jazz_c, 6, 0.4, rng)):
                ids[guild].append((await _add(db, guild, f"jazz {guild}-{i}", v, "jazz")).id)
            for i, v in enumerate(around(metal_c, 6, 0.4, rng)):
                ids[guild].append((await _add(db, guild, f"metal {guild}-{i}", v, "metal", by=ALICE)).id)
        await store.rate(db, one, ME, ids[one][0], LIKE, now=NOW)
        await store.rate(db, one, ME, ids[one][1], LIKE, now=NOW)
        # In guild two, I like metal, and Alice and Bob rate lots.
        await store.rate(db, two, ME, ids[two][7], LIKE, now=NOW)
        for user in (ALICE, BOB):
            for track_id in ids[two][:4]:
                await store.rate(db, two, user, track_id, LIKE, now=NOW)

        result = await recommend_for(cache, one, ME, count=5)
        assert not result.cold_start and not result.catalog_empty and result.catalog_size == 12
        got = ids_of(result.recommendations)
        assert len(got) == 5 and set(got) <= set(ids[one]) - set(ids[one][:2])
        assert all(r.top_genre == "jazz" for r in result.recommendations[:3])
        result_two = await recommend_for(cache, two, ME, count=20)
        assert set(ids_of(result_two.recommendations)) <= set(ids[two]) - {ids[two][7]}
        assert result_two.recommendations[0].top_genre == "metal"
        # Alice shared guild one's metal tracks: never recommended back to her.
        alice = await recommend_for(cache, one, ALICE, count=20)
        assert alice.cold_start and set(ids_of(alice.recommendations)) == set(ids[one][:6])

        # The decoded catalog is cached until the guild's tracks change.
        first = await cache.catalog(one)
        assert await cache.catalog(one) is first
        await _add(db, one, "new one", unit(rng.normal(size=DIM)), "pop")
        assert len(await cache.catalog(one)) == 13

        empty = await recommend_for(cache, 300, ME)
        assert empty.catalog_empty and empty.recommendations == []
        with pytest.raises(UnknownFilter):
            await recommend_for(cache, one, ME, genre="no-such-genre")
        only_metal = await recommend_for(cache, one, ME, genre="Metal", count=3)
        assert {r.top_genre for r in only_metal.recommendations} == {"metal"}


async def test_rating_arrays_are_cached_until_any_rating_changes(db_target):
    rng = np.random.default_rng(7)
    jazz_c, metal_c = centres(2, seed=13)
    async with open_database(db_target) as db:
        cache = CatalogCache(db)
        jazz = [(await _add(db, GUILD, f"jazz {i}", v, "jazz")).id for i, v in enumerate(around(jazz_c, 5, 0.4, rng))]
        metal = [
            (await _add(db, GUILD, f"metal {i}", v, "metal")).id for i, v in enumerate(around(metal_c, 5, 0.4, rng))
        ]
        await store.rate(db, GUILD, ME, jazz[0], LIKE, now=NOW)
        await store.rate(db, GUILD, ALICE, metal[0], LIKE, now=NOW)
        catalog = await cache.catalog(GUILD)
        first = await cache.ratings(GUILD, catalog)
        assert await cache.ratings(GUILD, catalog) is first and len(first) == 2
        result = await recommend_for(cache, GUILD, ME, count=3, now=NOW)
        assert {r.top_genre for r in result.recommendations} == {"jazz"}

        # The same rating changed in place (an upsert at the very same time) is seen ...
        before = await changes_of(db, GUILD)
        await store.rate(db, GUILD, ME, jazz[0], DISLIKE, now=NOW)
        assert await changes_of(db, GUILD) != before
        changed = await cache.ratings(GUILD, catalog)
        assert changed is not first and list(changed.values) == [DISLIKE, LIKE]  # by member, then track
        assert (await recommend_for(cache, GUILD, ME, count=3, now=NOW)).cold_start
        # ... and so are a new rating, a withdrawn one and a new catalog (the arrays index its rows).
        await store.rate(db, GUILD, ME, metal[1], LIKE, now=NOW)
        assert len(await cache.ratings(GUILD, catalog)) == 3
        picks = (await recommend_for(cache, GUILD, ME, count=3, now=NOW)).recommendations
        assert picks[0].top_genre == "metal"
        await store.clear_rating(db, GUILD, ME, metal[1])
        assert len(await cache.ratings(GUILD, catalog)) == 2
        await _add(db, GUILD, "pop", unit(rng.normal(size=DIM)), "pop")
        bigger = await cache.catalog(GUILD)
        assert bigger is not catalog
        arrays = await cache.ratings(GUILD, bigger)
        assert arrays.catalog is bigger and len(arrays) == 2
        with pytest.raises(ValueError):
            Recommender(catalog, arrays)


def test_rating_arrays_rank_exactly_like_rating_objects(jazz_metal):
    ratings = [
        like(ME, 1),
        like(ME, 9, days_ago=30),
        like(ME, 20, value=DISLIKE),
        like(ALICE, 1),
        like(ALICE, 4),
        like(BOB, 9),
        like(BOB, 12, value=DISLIKE),
        Rating(GUILD + 1, ME, 5, LIKE, NOW),
    ]  # another guild's
    from bot.recommend.rank import RatingArrays

    arrays = RatingArrays.from_ratings(jazz_metal, ratings)
    assert len(arrays) == 7
    for user in (ME, ALICE, BOB, CAROL):
        assert Recommender(jazz_metal, arrays, now=NOW).for_user(user, count=8) == Recommender(
            jazz_metal, ratings, now=NOW
        ).for_user(user, count=8)


# -- offline evaluation on real analyses ------------------------------------------------------

GTZAN_MINI = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "gtzan-mini"
EVAL_GENRES = ("classical", "disco", "jazz", "metal")


@pytest.fixture(scope="module")
def real_catalog(tmp_path_factory) -> Path:
    """A labeled catalog of real analyses, written to a temp .npz like `--build-catalog` does."""
    root = tmp_path_factory.mktemp("labeled")
    if GTZAN_MINI.is_dir():
        for genre in EVAL_GENRES:  # four of the ten genres keep the test under a minute
            (root / genre).mkdir()
            for clip in sorted((GTZAN_MINI / genre).glob("*.wav")):
                (root / genre / clip.name).symlink_to(clip)
    else:
        from tests.music import nexuiz_names, nexuiz_track, singularity_tracks

        (root / "singularity").mkdir()
        (root / "nexuiz").mkdir()
        # 12 + 12 tracks, as many as the four GTZAN genres above: precision@10 needs a catalog
        # well beyond 10 tracks to tell rankers apart.
        for path in singularity_tracks()[:12]:
            shutil.copy(path, root / "singularity" / path.name)
        for name in nexuiz_names()[:12]:
            shutil.copy(nexuiz_track(name), root / "nexuiz" / f"{name}.ogg")
    labeled = build_labeled_catalog(root, with_genre_model=False)
    target = root / "catalog.npz"
    labeled.save(target)
    return target


def test_evaluate_recs_on_real_analyses(real_catalog):
    labeled = LabeledCatalog.load(real_catalog)
    assert labeled.embeddings.shape[1] == DIM and len(labeled) >= 12
    report = evaluate(labeled, users=80, seed=0)
    crate, random_ = report.scores["crate"], report.scores["random"]
    assert crate.ndcg > random_.ndcg + 0.1
    assert crate.precision > random_.precision
    assert 0 < crate.coverage <= 1 and 0 < crate.diversity < 2
    assert report.to_dict()["scores"]["crate"]["ndcg@10"] == round(crate.ndcg, 4)
    # Same seed, same numbers.
    assert evaluate(labeled, users=80, seed=0).scores == report.scores

    from bot.cli import main

    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["evaluate-recs", "--catalog", str(real_catalog), "--users", "40"]) == 0
    text = out.getvalue()
    assert "NDCG@10" in text and all(name in text for name in ("crate", "random", "most-liked", "genre-only"))


def test_labeled_catalog_file_is_checked(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(
        bad,
        embeddings=np.zeros((3, 5)),
        tag_probs=np.zeros((3, 50)),
        genres=np.array(["a"] * 3),
        titles=np.array(["x"] * 3),
    )
    with pytest.raises(Exception) as error:
        LabeledCatalog.load(bad)
    assert "expected embeddings" in str(error.value)


def test_weights_are_documented_constants():
    for name in ("W_CONTENT", "W_DISLIKE", "W_GENRE", "W_COLLAB", "W_REDUNDANCY"):
        assert isinstance(getattr(rank_module, name), float)
