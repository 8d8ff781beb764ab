"""Uncertainty downstream: recommendations, reasons, genre filters, taste match and profiles use
each track's genre distribution and its confidence, never a doubtful top-1.

The arithmetic is pinned down on constructed catalogs (genre distributions written by hand, sound
from clustered vectors); the end-to-end case runs real music through the real Listener into a
real SQLite catalog (skipped, with the reason, when the Debian music is not installed).
"""

from __future__ import annotations

import numpy as np
import pytest

from bot.app.taste import TasteSummary
from bot.catalog import EMBEDDING_DIM, LIKE, Catalog, Rating
from bot.genres import describe_answer, family_of, label, mostly
from bot.listen.musicnn import TAGS
from bot.present.describe import track_line, verdict
from bot.present.reasons import reason_text
from bot.recommend.group import GroupRecommender, genre_overlap, taste_match
from bot.recommend.rank import NothingMatches, Recommender

GUILD = 7
NOW = 1_700_000_000.0
ME, YOU = 1, 2


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def catalog(distributions, confident, embeddings=None, titles=None, tag_probs=None) -> Catalog:
    """A catalog whose tracks have the given genre distributions (dicts) and confidence flags."""
    n = len(distributions)
    names = tuple(dict.fromkeys(g for d in distributions for g in d))
    probs = np.array([[d.get(g, 0.0) for g in names] for d in distributions], np.float32)
    if embeddings is None:
        embeddings = np.stack([_unit(v) for v in np.random.default_rng(0).normal(size=(n, EMBEDDING_DIM))])
    return Catalog(
        guild_id=GUILD,
        ids=np.arange(1, n + 1, dtype=np.int64),
        titles=list(titles or [f"t{i + 1}" for i in range(n)]),
        top_genres=[max(d, key=d.__getitem__) for d in distributions],
        durations=np.full(n, 200.0),
        tag_probs=np.full((n, len(TAGS)), 0.05, np.float32) if tag_probs is None else tag_probs,
        embeddings=np.asarray(embeddings, np.float32),
        genre_names=names,
        genre_probs=probs,
        confident=np.asarray(confident, bool),
    )


def like(user: int, track_id: int, value: int = LIKE) -> Rating:
    return Rating(GUILD, user, track_id, value, NOW - 86_400)


# -- words ------------------------------------------------------------------------------------


def test_answers_state_a_genre_only_when_confident():
    genres = (("electronic", 0.52), ("ambient", 0.31), ("pop", 0.17))
    assert describe_answer(genres, True) == "electronic (52%)"
    assert describe_answer(genres, False) == "not sure — electronic or ambient?"
    assert verdict(genres, True) == "Electronic (52%), then ambient (31%)"
    assert verdict(genres, False) == "Not sure — electronic or ambient? (52% / 31%)"
    # a server's own genre is shown as written, and family ids by their names
    assert describe_answer((("city pop", 0.8), ("soul", 0.2)), False) == "not sure — city pop or soul, r&b & funk?"
    assert label("hiphop") == "hip hop" and label("vaporwave") == "vaporwave"


def test_profile_headline_says_unsure_rather_than_a_wrong_fact():
    assert mostly([("electronic", 0.4), ("ambient", 0.2)], confident=False) == "mostly electronic (unsure)"
    summary = TasteSummary(1, 3, 0, 0, (("electronic", 0.4),), (), unsure=frozenset({"electronic"}))
    assert summary.headline == "mostly electronic (unsure)"
    assert TasteSummary(1, 3, 0, 0, (("jazz", 0.5),), ()).headline == "mostly jazz"


@pytest.mark.parametrize(
    ("text", "family"),
    [
        *[("hip hop", "hiphop"), ("Hip-Hop", "hiphop"), ("r&b", "soul"), ("R&B", "soul"), ("funk", "soul")],
        *[("punk", "rock"), ("world", "folk"), ("Folk & world", "folk"), ("electronic", "electronic")],
    ],
)
def test_genre_words_people_use_name_the_families(text, family):
    assert family_of(text) == family


# -- genre affinity and reasons -------------------------------------------------------------------


def test_a_doubtful_top_genre_counts_only_by_its_probability():
    # I liked two tracks Crate was unsure of: hip hop 0.35 on top, electronic 0.33 close behind.
    unsure = {"hiphop": 0.35, "electronic": 0.33, "ambient": 0.32}
    sure_hiphop = {"hiphop": 0.95, "electronic": 0.05}
    cat = catalog([unsure, unsure, sure_hiphop], [False, False, True])
    profile = Recommender(cat, [like(ME, 1), like(ME, 2)], now=NOW).profile(ME)
    # each like adds its probability, not a whole vote to "hiphop": 0.7 / (0.7 + 1.5)
    assert profile.genre_affinity["hiphop"] == pytest.approx(0.70 / 2.20, abs=1e-3)
    assert profile.genre_affinity["electronic"] == pytest.approx(0.66 / 2.16, abs=1e-3)
    assert profile.unsure_genres == {"hiphop", "electronic", "ambient"}
    # whereas two likes of tracks surely hip hop give 1.9 / 3.4, and that genre is sure
    sure = Recommender(catalog([sure_hiphop] * 3, [True] * 3), [like(ME, 1), like(ME, 2)], now=NOW).profile(ME)
    assert sure.genre_affinity["hiphop"] == pytest.approx(1.9 / 3.4, abs=1e-3)
    assert sure.unsure_genres == frozenset()  # every bit of evidence comes from confident tracks


def test_reasons_name_a_genre_only_when_the_track_genre_is_confident():
    rng = np.random.default_rng(3)
    centre = _unit(rng.normal(size=EMBEDDING_DIM))
    # liked tracks (1, 2) and candidates (3 sure jazz, 4 unsure jazz) far apart in sound: the
    # genre term is the reason
    embeddings = np.stack([_unit(rng.normal(size=EMBEDDING_DIM)) for _ in range(4)])
    embeddings[0] = embeddings[1] = centre
    jazz = {"jazz": 0.9, "blues": 0.1}
    doubtful = {"jazz": 0.45, "blues": 0.4, "soul": 0.15}
    cat = catalog([jazz, jazz, jazz, doubtful], [True, True, True, False], embeddings=embeddings)
    picks = {p.track_id: p for p in Recommender(cat, [like(ME, 1), like(ME, 2)], now=NOW).for_user(ME, count=2)}
    assert reason_text(picks[3].reason) == "you like jazz"
    assert "jazz" not in reason_text(picks[4].reason) and "blues" not in reason_text(picks[4].reason)
    # the confident jazz track outranks the doubtful one: affinity weighted by probability
    assert picks[3].score > picks[4].score


def test_more_like_and_group_reasons_keep_doubtful_genres_unsaid():
    rng = np.random.default_rng(5)
    embeddings = np.stack([_unit(rng.normal(size=EMBEDDING_DIM)) for _ in range(4)])
    doubtful = {"ambient": 0.4, "electronic": 0.38, "classical": 0.22}
    cat = catalog([doubtful] * 4, [False] * 4, embeddings=embeddings)
    recommender = GroupRecommender(cat, [like(ME, 1), like(YOU, 1)], now=NOW)
    for pick in recommender.more_like(1, ME, count=3) + recommender.cold_start(ME, count=3):
        assert "ambient" not in reason_text(pick.reason) and "electronic" not in reason_text(pick.reason), reason_text(
            pick.reason
        )


# -- filters -------------------------------------------------------------------------------------


def _filter_catalog() -> Catalog:
    tags = np.full((6, len(TAGS)), 0.02, np.float32)
    tags[5, TAGS.index("chillout")] = 0.8
    return catalog(
        [
            {"hiphop": 0.9, "soul": 0.1},  # 1
            {"electronic": 0.55, "hiphop": 0.35, "pop": 0.1},  # 2: hip hop is a real possibility
            {"electronic": 0.9, "hiphop": 0.1},  # 3: not hip hop
            {"soul": 0.8, "pop": 0.2},  # 4
            {"city pop": 0.7, "pop": 0.3},  # 5: a genre this server taught
            {"rock": 0.85, "metal": 0.15},  # 6
        ],
        [True, False, True, True, True, True],
        tag_probs=tags,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        *[("hip hop", {1, 2}), ("HipHop", {1, 2}), ("r&b", {4}), ("Soul, R&B & funk", {4}), ("punk", {6})],
        *[("city pop", {5}), ("City-Pop", {5}), ("chillout", {6})],
    ],
)
def test_genre_filters_match_families_aliases_custom_genres_and_tags(text, expected):
    picks = Recommender(_filter_catalog(), [], now=NOW).cold_start(ME, genres=[text], count=10)
    assert {p.track_id for p in picks} == expected


def test_a_family_nobody_shared_yet_is_known_but_has_nothing():
    with pytest.raises(NothingMatches, match="folk & world"):
        Recommender(_filter_catalog(), [like(ME, 1)], now=NOW).for_user(ME, genre="world")


# -- taste match ---------------------------------------------------------------------------------


def test_two_members_whose_tracks_only_share_a_doubtful_top_genre_barely_overlap():
    # Both members' liked tracks came out "hiphop 30%" (the issue's mislabels); what the tracks
    # really are differs (electronic for me, metal for you) and nobody liked the other's tracks.
    mine = {"hiphop": 0.3, "electronic": 0.28, "ambient": 0.22, "pop": 0.2}
    yours = {"hiphop": 0.3, "metal": 0.28, "rock": 0.22, "pop": 0.2}
    cat = catalog([mine, mine, yours, yours], [False] * 4)
    recommender = Recommender(cat, [like(ME, 1), like(ME, 2), like(YOU, 3), like(YOU, 4)], now=NOW)
    a, b = recommender.profile(ME), recommender.profile(YOU)
    overlap = genre_overlap(a, b)
    assert overlap is not None and overlap < 0.45  # with top-1 labels it was 1.0
    one_hot = catalog([{"hiphop": 1.0}] * 4, [True] * 4, embeddings=cat.embeddings)
    old = Recommender(one_hot, [like(ME, 1), like(ME, 2), like(YOU, 3), like(YOU, 4)], now=NOW)
    assert genre_overlap(old.profile(ME), old.profile(YOU)) == pytest.approx(1.0)
    match, old_match = taste_match(a, b, cat), taste_match(old.profile(ME), old.profile(YOU), one_hot)
    assert match is not None and old_match is not None and match < old_match - 0.15


def test_track_lists_mark_a_doubtful_genre():
    from bot.catalog import Track

    track = Track(
        id=1, guild_id=GUILD, title="Nebula", source_url=None, source_kind="file", content_hash="0" * 64,
        duration=200.0, genres=(("electronic", 0.6), ("ambient", 0.3)), top_genre="electronic",
        tag_probs=np.zeros(50, np.float32), embedding=np.zeros(200, np.float32), tempo=None,
        added_at=NOW, added_by=None, confident=False,
    )  # fmt: skip
    assert track_line(track, markdown=False) == "Nebula · electronic? · 3:20"


def test_a_taste_built_on_unsure_tracks_is_not_stated_as_a_fact():
    # I liked one track Crate was unsure of (ambient 0.4 / electronic 0.35); a surely electronic
    # candidate is close in genre, but "you like electronic" would state a doubtful taste.
    rng = np.random.default_rng(9)
    embeddings = np.stack([_unit(rng.normal(size=EMBEDDING_DIM)) for _ in range(2)])
    cat = catalog(
        [{"ambient": 0.4, "electronic": 0.35, "rock": 0.25}, {"electronic": 0.9, "ambient": 0.1}],
        [False, True],
        embeddings=embeddings,
    )
    recommender = Recommender(cat, [like(ME, 1)], now=NOW)
    assert "electronic" in recommender.profile(ME).unsure_genres
    (pick,) = recommender.for_user(ME, count=1)
    assert pick.track_id == 2 and "electronic" not in reason_text(pick.reason), reason_text(pick.reason)
