"""The one rule of reasons and taste evidence (docs/recommending.md, "Reasons"), checked over
generated tastes: seeded random catalogs (genres as directions in sound, soft genre
distributions, some unsure tracks) and four members with random likes and dislikes. Every
sentence /recommend, "More like this", a session, the radio and /taste would say is checked
against the ratings themselves, not against the code's own notion of taste."""

from __future__ import annotations

import re

import numpy as np
import pytest

from bot.app.compare import family_evidence
from bot.catalog import DISLIKE, EMBEDDING_DIM, LIKE, Catalog, Rating
from bot.format import liking
from bot.listen.musicnn import TAGS
from bot.present.reasons import reason_text
from bot.reasons import Reason, ReasonKind
from bot.recommend.group import pick_for_group
from bot.recommend.profile import CLEAR_GENRE_MIN, CLEAR_GENRE_SHARE
from bot.recommend.radio import pick_radio
from bot.recommend.rank import REASON_MIN_COSINE, Recommender, features_of

GUILD, NOW, DAY = 5, 1_700_000_000.0, 86_400.0
GENRES = ("jazz", "blues", "classical", "rock", "pop", "electronic")
MEMBERS = (1, 2, 3, 4)
CASES = 40


def generated_taste(seed: int) -> tuple[Catalog, list[Rating]]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(GENRES), EMBEDDING_DIM))
    n = int(rng.integers(20, 60))
    top = rng.integers(0, len(GENRES), size=n)
    spread = rng.uniform(0.3, 1.5, size=n)
    embeddings = centres[top] + spread[:, None] * rng.normal(size=(n, EMBEDDING_DIM))
    probs = rng.dirichlet(np.full(len(GENRES), 0.3), size=n)
    probs[np.arange(n), top] += rng.uniform(0.2, 2.0, size=n)
    probs /= probs.sum(axis=1, keepdims=True)
    top = probs.argmax(axis=1)
    catalog = Catalog(
        guild_id=GUILD,
        ids=np.arange(1, n + 1, dtype=np.int64),
        titles=[f"T{i}" for i in range(1, n + 1)],
        top_genres=[GENRES[g] for g in top],
        durations=np.full(n, 200.0),
        tag_probs=np.full((n, len(TAGS)), 0.05, np.float32),
        embeddings=embeddings.astype(np.float32),
        genre_names=GENRES,
        genre_probs=probs.astype(np.float32),
        confident=probs.max(axis=1) >= 0.5,
    )
    ratings = []
    for user in MEMBERS:
        favourites = rng.choice(len(GENRES), size=int(rng.integers(1, 3)), replace=False)
        for row in range(n):
            chance = 0.5 if top[row] in favourites else 0.04
            if rng.random() < chance:
                value = LIKE if rng.random() < 0.85 else DISLIKE
                ratings.append(Rating(GUILD, user, int(catalog.ids[row]), value, NOW - rng.uniform(0, 200) * DAY))
    return catalog, ratings


class Truth:
    """What the ratings themselves say, independent of the recommender."""

    def __init__(self, catalog: Catalog, ratings: list[Rating]):
        self.catalog = catalog
        self.likes = {u: {r.track_id for r in ratings if r.user_id == u and r.value == LIKE} for u in MEMBERS}
        self.dislikes = {u: {r.track_id for r in ratings if r.user_id == u and r.value == DISLIKE} for u in MEMBERS}
        self.unit = features_of(catalog).unit

    def liked_genre(self, user: int, genre: str) -> bool:
        """A genre is a member's taste only if they liked a track of it, and more than they disliked."""
        liked = [t for t in self.likes[user] if self.catalog.top_genres[t - 1] == genre]
        disliked = [t for t in self.dislikes[user] if self.catalog.top_genres[t - 1] == genre]
        return len(liked) >= 1 and len(liked) > len(disliked)

    def close(self, a: int, b: int) -> bool:
        return float(self.unit[a - 1] @ self.unit[b - 1]) >= REASON_MIN_COSINE


def check(reason: Reason, track_id: int, for_user: int | None, truth: Truth, seed: int, served=()) -> None:
    where = f"seed {seed}, track {track_id}, {reason}"
    text = reason_text(reason, {u: f"m{u}" for u in MEMBERS})
    assert not re.search(r"-\d+\s?%", text), where
    assert reason.kind != ReasonKind.LIKED_GENRES, where  # "in genres you like" is never said
    if reason.kind == ReasonKind.LIKED_GENRE:
        assert for_user is not None and truth.liked_genre(for_user, reason.genre), where
    if reason.kind in (ReasonKind.EVERYONE_INTO, ReasonKind.FOR_INTO):
        assert reason.member_ids or served, where
        for user in reason.member_ids or served:
            assert truth.liked_genre(user, reason.genre), where
    if reason.kind == ReasonKind.CLOSE_TO_LIKED:
        assert reason.track_id in truth.likes[for_user], where
        assert truth.close(track_id, reason.track_id), where
    if reason.kind == ReasonKind.CLOSE_TO:
        assert truth.close(track_id, reason.track_id), where
    if reason.kind == ReasonKind.FOR_CLOSE_TO_LIKED:
        assert truth.close(track_id, reason.track_id), where
        for user in reason.liked_by:
            assert reason.track_id in truth.likes[user], where
    if reason.kind == ReasonKind.SIMILAR_TASTE:
        assert reason.member_ids, where
        for user in reason.member_ids:
            assert track_id in truth.likes[user], where
    if reason.kind in (ReasonKind.EVERYONE_LIKED, ReasonKind.FOR_LIKED) and not reason.everyone:
        for user in reason.member_ids:
            assert track_id in truth.likes[user], where


@pytest.mark.parametrize("seed", range(CASES))
def test_every_reason_is_true_of_the_ratings(seed):
    catalog, ratings = generated_taste(seed)
    truth = Truth(catalog, ratings)
    recommender = Recommender(catalog, ratings, now=NOW)
    for user in MEMBERS:
        for rec in recommender.for_user(user, count=8):
            check(rec.reason, rec.track_id, user, truth, seed)
        for seed_track in (1, len(catalog) // 2):
            for rec in recommender.more_like(seed_track, user, count=5):
                check(rec.reason, rec.track_id, user, truth, seed)
    for present in (MEMBERS[:2], MEMBERS):
        for pick in pick_for_group(catalog, ratings, present, count=6, now=NOW):
            check(pick.reason, pick.track_id, None, truth, seed, served=pick.for_user_ids)
        for pick in pick_radio(catalog, ratings, present, seed_track_id=1, count=4, now=NOW):
            check(pick.reason, pick.track_id, None, truth, seed)


@pytest.mark.parametrize("seed", range(CASES))
def test_taste_evidence_shows_only_what_both_like_and_no_negative_percentage(seed):
    catalog, ratings = generated_taste(seed)
    truth = Truth(catalog, ratings)
    recommender = Recommender(catalog, ratings, now=NOW)
    for a, b in ((1, 2), (3, 4), (1, 4)):
        mine, theirs = recommender.profile(a), recommender.profile(b)
        shared, different = family_evidence(mine, theirs)
        for row in shared:
            assert truth.liked_genre(a, row.family) and truth.liked_genre(b, row.family), (seed, row)
        for row in different:
            liker = a if row.mine > 0 else b
            assert truth.liked_genre(liker, row.family), (seed, row)
            assert min(row.mine, row.theirs) == 0, (seed, row)
        for row in (*shared, *different):
            assert row.mine >= 0 and row.theirs >= 0
            assert "-" not in liking(row.mine) + liking(row.theirs)


def test_a_genre_that_only_leaks_from_likes_of_another_is_not_named():
    """bob likes jazz and blues; his classical affinity comes from the jazz tracks' distributions."""
    catalog, _ = generated_taste(0)
    n = len(catalog)
    probs = np.zeros((n, len(GENRES)), np.float32)
    probs[:, GENRES.index("jazz")] = 0.9
    probs[:, GENRES.index("classical")] = 0.1
    probs[n // 2 :, :] = 0
    probs[n // 2 :, GENRES.index("classical")] = 1.0
    catalog = Catalog(
        guild_id=GUILD,
        ids=catalog.ids,
        titles=catalog.titles,
        top_genres=["jazz"] * (n // 2) + ["classical"] * (n - n // 2),
        durations=catalog.durations,
        tag_probs=catalog.tag_probs,
        embeddings=catalog.embeddings,
        genre_names=GENRES,
        genre_probs=probs,
        confident=np.ones(n, bool),
    )
    bob = [Rating(GUILD, 9, t, LIKE, NOW) for t in range(1, 6)]
    profile = Recommender(catalog, bob, now=NOW).profile(9)
    assert profile.genre_affinity["classical"] > 0
    assert profile.clear_genres == {"jazz"}
    for rec in Recommender(catalog, bob, now=NOW).for_user(9, count=10):
        assert rec.reason.genre != "classical" or rec.reason.kind == ReasonKind.DIFFERENT
    assert 0 < CLEAR_GENRE_MIN < 1 and 0 < CLEAR_GENRE_SHARE <= 1
