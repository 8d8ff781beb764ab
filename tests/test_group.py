"""Group picks and taste match (bot/recommend/group.py), as pure functions.

These logic tests build catalogs from *constructed clustered vectors* (a few genre centres in the
200-d embedding space plus noise, as in tests/test_recommend.py): that pins down exactly whose
taste each track is close to, which is what the group rules are about. tests/test_session.py
runs the same picker on real analyses of real tracks.
"""

from __future__ import annotations

import numpy as np
import pytest

from bot.catalog import DISLIKE, EMBEDDING_DIM, LIKE, Catalog, Rating
from bot.listen.musicnn import TAGS
from bot.present.reasons import reason_text
from bot.recommend.group import (
    MISERY_FLOOR,
    GroupRecommender,
    group_match,
    match_text,
    pick_for_group,
    taste_match,
)

DIM = EMBEDDING_DIM
NOW = 1_700_000_000.0
DAY = 86_400.0
GUILD = 5
ALICE, BOB, CAROL, DAVE = 11, 12, 13, 14
NAMES = {ALICE: "alice", BOB: "bob", CAROL: "carol", DAVE: "dave"}
GENRES = ("ambient", "jazz", "metal", "classical", "disco")
PER_GENRE = 8


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def make_catalog(embeddings, genres, titles=None, guild_id=GUILD) -> Catalog:
    n = len(genres)
    return Catalog(
        guild_id=guild_id,
        ids=np.arange(1, n + 1, dtype=np.int64),
        titles=list(titles or [f"{g}-{i + 1}" for i, g in enumerate(genres)]),
        top_genres=list(genres),
        durations=np.full(n, 200.0),
        tag_probs=np.full((n, len(TAGS)), 0.05, np.float32),
        embeddings=np.asarray(embeddings, dtype=np.float32),
    )


def clustered(seed: int = 0) -> Catalog:
    """PER_GENRE tracks around each of five nearly orthogonal genre centres (ids in genre blocks)."""
    rng = np.random.default_rng(seed)
    centres = [unit(v) for v in rng.normal(size=(len(GENRES), DIM))]
    embeddings, genres = [], []
    for centre, genre in zip(centres, GENRES):
        for _ in range(PER_GENRE):
            embeddings.append(unit(centre + 0.5 * unit(rng.normal(size=DIM))))
            genres.append(genre)
    return make_catalog(embeddings, genres)


def ids_of(genre: str) -> list[int]:
    start = GENRES.index(genre) * PER_GENRE
    return list(range(start + 1, start + PER_GENRE + 1))


def rating(user: int, track_id: int, value: int = LIKE, days_ago: float = 1.0) -> Rating:
    return Rating(GUILD, user, int(track_id), value, NOW - days_ago * DAY)


def likes(user: int, track_ids, value: int = LIKE) -> list[Rating]:
    return [rating(user, t, value) for t in track_ids]


def pick(catalog, ratings, present, **kwargs):
    return pick_for_group(catalog, ratings, present, now=NOW, **kwargs)


def said(pick, names=NAMES) -> str:
    """A pick's reason as members read it (names as the front end shows them)."""
    return reason_text(pick.reason, names)


# -- least misery -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(12))
def test_never_picks_a_track_a_present_member_disliked(seed):
    """Property: over random catalogs, tastes, dislikes, presence and exclusions."""
    rng = np.random.default_rng(100 + seed)
    catalog = clustered(seed)
    n = len(catalog)
    users = [ALICE, BOB, CAROL, DAVE]
    ratings = []
    for user in users:
        rated = rng.choice(np.arange(1, n + 1), size=int(rng.integers(0, 16)), replace=False)
        for track_id in rated:
            ratings.append(rating(user, track_id, LIKE if rng.random() < 0.5 else DISLIKE, rng.uniform(0, 200)))
    present = [int(u) for u in rng.choice(users, size=int(rng.integers(1, 5)), replace=False)]
    excluded = {int(t) for t in rng.choice(np.arange(1, n + 1), size=5, replace=False)}
    vetoed = {r.track_id for r in ratings if r.value == DISLIKE and r.user_id in present}
    picks = pick(catalog, ratings, present, exclude_track_ids=excluded, count=8)
    got = [p.track_id for p in picks]
    assert len(got) == len(set(got)) == min(8, n - len(excluded | vetoed))
    assert not set(got) & vetoed, (seed, present)
    assert not set(got) & excluded
    tasteful = {r.user_id for r in ratings if r.user_id in present}
    for p in picks:
        assert set(p.for_user_ids) <= tasteful
        assert set(p.satisfaction) == tasteful
        assert said(p)


def test_a_member_who_leaves_no_longer_vetoes():
    catalog = clustered(1)
    ambient = ids_of("ambient")
    ratings = likes(ALICE, ambient[:4]) + likes(BOB, ambient[:4]) + likes(CAROL, ambient[4:5], DISLIKE)
    vetoed = ambient[4]
    played = ambient[:4]
    with_carol = [p.track_id for p in pick(catalog, ratings, [ALICE, BOB, CAROL], exclude_track_ids=played, count=10)]
    assert vetoed not in with_carol
    without = [p.track_id for p in pick(catalog, ratings, [ALICE, BOB], exclude_track_ids=played, count=10)]
    assert vetoed in without[:4]  # an ambient track both would love


def test_a_track_everyone_finds_decent_beats_one_that_bores_someone():
    catalog = clustered(2)
    jazz, metal, ambient = ids_of("jazz"), ids_of("metal"), ids_of("ambient")
    # Alice: jazz and ambient; bob: metal and ambient. They meet in ambient.
    ratings = likes(ALICE, jazz[:4] + ambient[:2]) + likes(BOB, metal[:4] + ambient[2:4])
    first = pick(catalog, ratings, [ALICE, BOB], count=1)[0]
    assert first.track_id in ambient  # not alice's jazz nor bob's metal favourites
    assert min(first.satisfaction.values()) >= MISERY_FLOOR
    assert first.for_user_ids == (ALICE, BOB) and said(first) == "everyone's into ambient"
    # Alone, alice gets what she loves most: a jazz track she liked.
    alone = pick(catalog, ratings, [ALICE], count=1)[0]
    assert alone.track_id in jazz and alone.for_user_ids == (ALICE,)
    assert said(alone) == "for alice, who liked it"


def test_soft_misery_down_ranks_tracks_far_from_one_members_taste():
    catalog = clustered(3)
    ambient, jazz = ids_of("ambient"), ids_of("jazz")
    # Alice and bob love ambient, carol likes jazz and dislikes an ambient track: the other
    # ambient tracks are not vetoed, but they are close to carol's dislike.
    ratings = likes(ALICE, ambient[:3]) + likes(BOB, ambient[:3]) + likes(CAROL, jazz[:3])
    ratings += likes(CAROL, ambient[3:4], DISLIKE)
    picks = pick(catalog, ratings, [ALICE, BOB, CAROL], count=6)
    sat = {p.track_id: p.satisfaction for p in picks}
    assert all(t != ambient[3] for t in sat)
    assert any(t in jazz for t in sat)  # carol is not out-voted forever
    for t, s in sat.items():
        if t in ambient:
            assert s[CAROL] < 0  # near her dislike, so it costs


# -- fairness -----------------------------------------------------------------------------------


def simulate_fills(catalog, ratings, present, fills: int, count: int):
    """Fill like SessionService does: exclude queued tracks, pass the waiting counts."""
    queue: list[tuple[int, tuple[int, ...]]] = []
    for _ in range(fills):
        since = {}
        for position, (_, served) in enumerate(queue):
            for user in served:
                since[user] = len(queue) - 1 - position
        queued = {t for t, _ in queue}
        picks = pick(catalog, ratings, present, exclude_track_ids=queued, since_served=since, count=count)
        queue += [(p.track_id, p.for_user_ids) for p in picks]
    return queue


@pytest.mark.parametrize("count", [1, 2, 3])
def test_picks_rotate_between_members_with_different_tastes(count):
    catalog = clustered(4)
    ratings = likes(ALICE, ids_of("ambient")[:3]) + likes(BOB, ids_of("metal")[:3]) + likes(CAROL, ids_of("disco")[:3])
    # Bob is easy to please (many likes, strong profile), carol has a single like.
    ratings += likes(BOB, ids_of("metal")[3:7])
    ratings = [r for r in ratings if not (r.user_id == CAROL and r.track_id != ids_of("disco")[0])]
    queue = simulate_fills(catalog, ratings, [ALICE, BOB, CAROL], fills=-(-9 // count), count=count)[:9]
    served = [s for _, s in queue]
    assert all(len(s) == 1 for s in served), served  # the tastes don't overlap
    order = [s[0] for s in served]
    for user in (ALICE, BOB, CAROL):
        assert order.count(user) == 3, order
    for i in range(len(order) - 2):  # every window of three serves everyone
        assert set(order[i : i + 3]) == {ALICE, BOB, CAROL}, order
    genre_of = {t: catalog.top_genres[t - 1] for t, _ in queue}
    assert {genre_of[t] for t, _ in queue} == {"ambient", "metal", "disco"}


def test_the_member_waiting_longest_goes_first():
    catalog = clustered(5)
    ratings = likes(ALICE, ids_of("ambient")[:3]) + likes(BOB, ids_of("metal")[:3])
    first = pick(catalog, ratings, [ALICE, BOB], since_served={ALICE: 0, BOB: 5}, count=1)[0]
    assert first.for_user_ids == (BOB,)
    first = pick(catalog, ratings, [ALICE, BOB], since_served={BOB: 0}, count=1)[0]
    assert first.for_user_ids == (ALICE,)  # never served: waits the longest


# -- reasons --------------------------------------------------------------------------------------


def test_reasons_name_who_a_pick_is_for_and_why():
    catalog = clustered(6)
    ambient, jazz, metal = ids_of("ambient"), ids_of("jazz"), ids_of("metal")
    titles = list(catalog.titles)
    titles[jazz[0] - 1] = "Nebula"
    catalog = make_catalog(catalog.embeddings, catalog.top_genres, titles)

    # Everyone likes ambient (different tracks): "everyone's into ambient".
    ratings = likes(ALICE, ambient[:2]) + likes(BOB, ambient[2:4])
    assert said(pick(catalog, ratings, [ALICE, BOB], count=1)[0]) == "everyone's into ambient"
    # A track both liked: "everyone here liked it".
    both = likes(ALICE, ambient[:1]) + likes(BOB, ambient[:1])
    assert said(pick(catalog, both, [ALICE, BOB], count=1)[0]) == "everyone here liked it"

    # Alice and bob liked Nebula (jazz); carol likes metal.
    ratings = likes(ALICE, jazz[:1]) + likes(BOB, jazz[:1]) + likes(CAROL, metal[:3])
    picks = pick(catalog, ratings, [ALICE, BOB, CAROL], count=1)
    assert said(picks[0]) == "for alice and bob, who liked it"
    picks = pick(catalog, ratings, [ALICE, BOB, CAROL], exclude_track_ids=[jazz[0]], count=1)
    assert picks[0].track_id in jazz and picks[0].for_user_ids == (ALICE, BOB)
    assert said(picks[0]) == "for alice and bob: close to “Nebula” they liked"
    # Carol's turn comes; without names, members are still told apart.
    picks = pick(catalog, ratings, [ALICE, BOB, CAROL], since_served={ALICE: 0, BOB: 0}, count=1)
    assert picks[0].for_user_ids == (CAROL,)
    assert said(picks[0], names={}).startswith("for a listener")


def test_nobody_with_ratings_falls_back_to_cold_start():
    catalog = clustered(7)
    others = likes(DAVE, [1, 2, 3])  # an absent member's likes make them popular
    picks = pick(catalog, others, [ALICE, BOB], exclude_track_ids=[1], count=3)
    got = [p.track_id for p in picks]
    assert 1 not in got and {2, 3} <= set(got)
    assert all(p.for_user_ids == () for p in picks)
    assert any("popular in this server" in said(p) for p in picks)
    assert pick(catalog, [], [ALICE], count=0) == []


# -- taste match ------------------------------------------------------------------------------------


def profiles(catalog, ratings, users):
    recommender = GroupRecommender(catalog, ratings, now=NOW)
    return [recommender.profile(u) for u in users]


def test_taste_match_identical_opposite_unrelated_and_empty():
    catalog = clustered(8)
    ambient, metal, jazz = ids_of("ambient"), ids_of("metal"), ids_of("jazz")
    ratings = (
        likes(ALICE, ambient[:4]) + likes(ALICE, metal[:3], DISLIKE)
        + likes(BOB, ambient[:4]) + likes(BOB, metal[:3], DISLIKE)  # same as alice
        + likes(CAROL, metal[:4]) + likes(CAROL, ambient[:3], DISLIKE)  # alice's opposite
        + likes(DAVE, jazz[:4])  # unrelated
    )  # fmt: skip
    alice, bob, carol, dave = profiles(catalog, ratings, [ALICE, BOB, CAROL, DAVE])
    same = taste_match(alice, bob, catalog)
    assert same == pytest.approx(1.0, abs=1e-6)
    opposite = taste_match(alice, carol, catalog)
    assert opposite < 0.15
    unrelated = taste_match(alice, dave, catalog)
    assert opposite < unrelated < same and 0.2 < unrelated < 0.6
    assert taste_match(alice, carol, catalog) == taste_match(carol, alice, catalog)
    # Similar but not identical: liking different ambient tracks still matches well.
    similar_ratings = likes(ALICE, ambient[:4]) + likes(BOB, ambient[4:8])
    a, b = profiles(catalog, similar_ratings, [ALICE, BOB])
    assert 0.75 < taste_match(a, b, catalog) < 1.0

    (nobody,) = profiles(catalog, ratings, [99])
    assert taste_match(alice, nobody, catalog) is None
    assert match_text(None) == "not enough ratings" and match_text(0.873) == "87%"


def test_group_match_is_the_mean_of_pairwise_matches():
    catalog = clustered(9)
    ambient, metal = ids_of("ambient"), ids_of("metal")
    ratings = likes(ALICE, ambient[:3]) + likes(BOB, ambient[3:6]) + likes(CAROL, metal[:3])
    ps = profiles(catalog, ratings, [ALICE, BOB, CAROL, 99])
    result = group_match(ps, catalog)
    known = [taste_match(a, b, catalog) for a, b in [(ps[0], ps[1]), (ps[0], ps[2]), (ps[1], ps[2])]]
    assert result.group == pytest.approx(np.mean(known))
    assert result.of(BOB, ALICE) == pytest.approx(known[0])
    assert result.of(ALICE, 99) is None and len(result.pairs) == 6
    assert result.of(ALICE, BOB) > result.of(ALICE, CAROL)
    assert group_match(ps[:1], catalog).group is None


def test_every_member_with_a_servable_taste_is_served_in_every_run_of_as_many_picks_as_members():
    """alice (metal), bob (jazz), carol (hip-hop): tracks between jazz and hip-hop please bob and
    carol and never bore them, while metal bores both (soft least misery). Without the guarantee
    alice would wait forever; with it she is served at least once in every three picks."""
    rng = np.random.default_rng(11)
    metal, jazz, hiphop = (unit(v) for v in rng.normal(size=(3, DIM)))
    embeddings, genres = [], []
    for centre, genre, n in ((metal, "metal", 6), (jazz, "jazz", 4), (hiphop, "hiphop", 4)):
        for _ in range(n):
            embeddings.append(unit(centre + 0.3 * unit(rng.normal(size=DIM))))
            genres.append(genre)
    for _ in range(12):  # the crowd-pleasers for bob and carol
        embeddings.append(unit(jazz + hiphop + 0.3 * unit(rng.normal(size=DIM))))
        genres.append("jazz")
    catalog = make_catalog(embeddings, genres)
    ratings = likes(ALICE, [1, 2]) + likes(BOB, [7, 8]) + likes(CAROL, [11, 12])
    ratings += likes(BOB, [5], DISLIKE) + likes(CAROL, [6], DISLIKE)  # metal is near what they dislike
    queue = simulate_fills(catalog, ratings, [ALICE, BOB, CAROL], fills=9, count=1)
    served = [set(s) for _, s in queue]
    assert len(queue) == 9
    for i in range(len(served) - 2):
        window = set().union(*served[i : i + 3])
        assert window == {ALICE, BOB, CAROL}, served
    # nobody's veto is broken for it: a track bob disliked is never the one chosen for alice
    vetoed = likes(BOB, [3, 4], DISLIKE)
    queue = simulate_fills(catalog, ratings + vetoed, [ALICE, BOB, CAROL], fills=6, count=1)
    assert not {t for t, _ in queue} & {3, 4, 5, 6}
    assert sum(ALICE in s for _, s in queue) >= 2  # still served, with the metal nobody vetoed
