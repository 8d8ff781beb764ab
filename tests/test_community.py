"""The social use cases without Discord, on a real SQLite file: charts by period, who likes a
track, comparing two members' taste, and the audio found in a posted message."""

from __future__ import annotations

import hashlib
import time

import numpy as np
import pytest

from bot import store
from bot.app.community import server_charts, who_likes
from bot.app.compare import compare_taste
from bot.app.messages import MAX_ITEMS, PostedFile, PostedMessage, audio_sources, links_in
from bot.app.sessions import SessionService
from bot.catalog import DISLIKE, EMBEDDING_DIM, LIKE, TAG_COUNT
from bot.recommend.service import CatalogCache
from bot.store import Database

GUILD = 7007
ALICE, BOB, CAROL, DAVE = 11, 22, 33, 44
DAY = 86_400.0
NOW = time.time()


def direction(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(EMBEDDING_DIM).astype(np.float32)


async def add(db: Database, name: str, family: str, embedding: np.ndarray, *, by: int = ALICE, days_ago: float = 0):
    tags = np.zeros(TAG_COUNT, np.float32)
    tags[{"ambient": 3, "metal": 7}[family]] = 0.9
    track, _ = await store.add_track(
        db,
        GUILD,
        title=name,
        source_url=None,
        source_kind="attachment",
        content_hash=hashlib.sha256(name.encode()).hexdigest(),
        duration=100.0 + len(name),
        genres=[(family, 0.8), ("other", 0.2)],
        confident=True,  # Crate is sure of these tracks' genres: a taste may name them
        tag_probs=tags,
        embedding=embedding,
        tempo=None,
        shared_by=by,
        now=NOW - days_ago * DAY,
    )
    return track.id


@pytest.fixture
async def server(db):
    """Two families far apart in sound: ambient tracks around one direction, metal around another."""
    ambient, metal = direction(1), direction(2)
    rng = np.random.default_rng(3)
    ids = {}
    for i in range(3):
        ids[f"calm{i}"] = await add(db, f"calm{i}", "ambient", ambient + 0.3 * rng.standard_normal(EMBEDDING_DIM))
        ids[f"loud{i}"] = await add(
            db, f"loud{i}", "metal", metal + 0.3 * rng.standard_normal(EMBEDDING_DIM), by=BOB, days_ago=40
        )
    return ids


async def rate(db, user, track, value=LIKE, days_ago=0.0):
    await store.rate(db, GUILD, user, track, value, now=NOW - days_ago * DAY)


async def test_charts_count_only_the_period_asked_for(db, server):
    await rate(db, ALICE, server["calm0"])  # today
    await rate(db, BOB, server["calm0"], days_ago=10)
    await rate(db, CAROL, server["loud0"], days_ago=20)
    await rate(db, DAVE, server["loud1"], days_ago=100)
    await rate(db, DAVE, server["calm1"], DISLIKE)

    week = await server_charts(CatalogCache(db), GUILD, "week", now=NOW)
    assert [(c.track.title, c.likes) for c in week.tracks] == [("calm0", 1)]
    # each like split over its track's distribution (ambient 0.8, "other" 0.2), as shares of the likes
    assert week.likes == 1 and week.families == (("ambient", pytest.approx(0.8)), ("other", pytest.approx(0.2)))
    assert week.sharers == ((ALICE, 3),)  # bob's shares are 40 days old

    month = await server_charts(CatalogCache(db), GUILD, "month", now=NOW)
    assert [(c.track.title, c.likes) for c in month.tracks] == [("calm0", 2), ("loud0", 1)]
    assert dict(month.families) == pytest.approx({"ambient": 0.8 * 2 / 3, "metal": 0.8 / 3, "other": 0.2})

    ever = await server_charts(CatalogCache(db), GUILD, "all", now=NOW)
    assert [c.track.title for c in ever.tracks] == ["calm0", "loud0", "loud1"]
    assert ever.likes == 4 and set(ever.sharers) == {(ALICE, 3), (BOB, 3)}
    assert ever.styles and all(0 <= p <= 1 for _, p in ever.styles)

    with pytest.raises(ValueError):
        await server_charts(CatalogCache(db), GUILD, "year")


async def test_forgetting_a_member_takes_them_out_of_every_count(db, server):
    await rate(db, ALICE, server["loud0"])
    await rate(db, BOB, server["loud0"])
    await rate(db, BOB, server["calm2"])
    before = await server_charts(CatalogCache(db), GUILD, "all", now=NOW)
    assert before.likes == 3 and (BOB, 3) in before.sharers

    await store.forget_member(db, GUILD, BOB)
    after = await server_charts(CatalogCache(db), GUILD, "all", now=NOW)
    assert after.likes == 1 and [c.likes for c in after.tracks] == [1]
    assert all(user != BOB for user, _ in after.sharers)
    who = await who_likes(CatalogCache(db), GUILD, server["loud0"], now=NOW)
    assert who.likers == (ALICE,)


async def test_who_likes_names_likers_and_the_members_whose_taste_it_fits(db, server):
    await rate(db, ALICE, server["calm0"])
    await rate(db, BOB, server["calm1"])  # an ambient fan who hasn't rated calm0
    await rate(db, CAROL, server["loud1"])  # a metal fan
    await rate(db, DAVE, server["calm0"], DISLIKE)

    who = await who_likes(CatalogCache(db), GUILD, server["calm0"], now=NOW)
    assert who.likers == (ALICE,) and who.dislikers == 1
    fits = dict(who.fits)
    assert set(fits) == {BOB}  # raters of the track are not "fits"; nor is the metal fan
    assert fits[BOB] > 0.7


async def test_comparing_taste_uses_the_session_taste_match_and_shows_evidence(db, server):
    for track in ("calm0", "calm1", "loud0"):
        await rate(db, ALICE, server[track])
    await rate(db, BOB, server["calm0"])
    await rate(db, BOB, server["calm1"])
    await rate(db, BOB, server["loud0"], DISLIKE)

    comparison = await compare_taste(CatalogCache(db), GUILD, ALICE, BOB, now=NOW)
    sessions = SessionService(db, clock=lambda: NOW)
    assert comparison.match == pytest.approx((await sessions.taste_match(GUILD, [ALICE, BOB])).of(ALICE, BOB))
    assert {t.title for t in comparison.both_liked} == {"calm0", "calm1"}
    # Only families both clearly like are shared: ambient; the 20 % "other" every track leaks into
    # each taste is not a liking (docs/recommending.md, "Reasons").
    assert [r.family for r in comparison.shared] == ["ambient"]
    # Where they differ: a family one clearly likes and the other doesn't like at all; a dislike
    # shows as no liking, never as a negative percentage.
    assert all(r.family != "other" for r in comparison.different)
    assert [r.family for r in comparison.different] == ["metal"]  # alice liked loud0; bob disliked it
    assert comparison.different[0].mine > 0 == comparison.different[0].theirs
    picked = {p.title for p in comparison.picks}
    assert len(picked) == 3 and not picked & {"calm0", "calm1", "loud0"}  # nothing either has rated
    assert "calm2" in picked

    nobody = await compare_taste(CatalogCache(db), GUILD, ALICE, DAVE, now=NOW)
    assert nobody.match is None and nobody.without_ratings == (DAVE,)


def test_the_audio_of_a_message_attachments_first_then_links():
    files = (
        PostedFile("https://cdn/a/song.mp3", "song.mp3", 100, "audio/mpeg"),
        PostedFile("https://cdn/a/cover.png", "cover.png", 100, "image/png"),
        PostedFile("https://cdn/a/clip.webm", "clip.webm", 100, None),
        PostedFile("https://cdn/a/notes.txt", "notes.txt", 100, "text/plain"),
        PostedFile("https://cdn/a/x.opus", "x.opus", 100, "application/octet-stream"),
    )
    text = "hear <https://example.com/a.ogg>, https://example.com/page). pic: https://example.com/p.jpg https://example.com/a.ogg"
    message = PostedMessage(GUILD, 5, 6, BOB, text, files)
    found = audio_sources(message)
    assert [label for _, label in found] == [
        "song.mp3",
        "clip.webm",
        "x.opus",
        "https://example.com/a.ogg",
        "https://example.com/page",
    ]
    attachment = found[0][0]
    assert (attachment.kind, attachment.channel_id, attachment.message_id) == ("attachment", 5, 6)
    assert links_in("no links here") == []
    many = PostedMessage(GUILD, 5, 6, BOB, " ".join(f"https://e.com/{i}" for i in range(9)))
    assert len(audio_sources(many)) == MAX_ITEMS
