"""Recaps without Discord, on SQLite and PostgreSQL: what a member's and the server's month hold
(plays, likes, families against the month before, the best match, first shares), the card drawn
from it (its size and every line it drew), and the monthly post: due on the 1st for servers that
opted in, once (remembered in the database), with an injected clock."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from PIL import Image

from bot import store
from bot.app.recap import RETRY_AFTER, Recaps, period_span, recap_card
from bot.app.settings import SettingsService
from bot.caller import Caller
from bot.catalog import LIKE
from bot.config import Settings
from bot.present.recap import HEIGHT, WIDTH, RecapCard
from bot.present.recap import recap_card as draw
from bot.recommend.service import CatalogCache
from bot.store import Database
from bot.store import sessions as store_sessions
from tests.tastes import Clock, add_sure_track, direction

GUILD = 8008
ALICE, BOB, CAROL = 11, 22, 33
#: 14 November 2026, noon UTC; October is the month before.
NOV = datetime(2026, 11, 14, 12, tzinfo=UTC).timestamp()
OCT = datetime(2026, 10, 10, 12, tzinfo=UTC).timestamp()


async def add(db: Database, name: str, family: str, seed: int, *, by: int, at: float) -> int:
    embedding = direction(100 + seed) + 2 * direction({"ambient": 1, "metal": 2}[family])
    genres = [(family, 0.9), ("other", 0.1)]
    return await add_sure_track(db, GUILD, name, genres, embedding, duration=100.0 + 37 * seed, shared_by=by, now=at)


@pytest.fixture
def clock():
    return Clock(NOV)


@pytest.fixture
def recaps(db, clock):
    settings = SettingsService(db, Settings())
    return Recaps(db, CatalogCache(db), settings, clock=clock), settings


@pytest.fixture
async def month(db):
    """October: alice shares and likes ambient. November: she turns to metal, bob shares it, a
    session plays "Iron" twice."""
    ids = {}
    for i in range(3):
        ids[f"calm{i}"] = await add(db, f"Calm {i}", "ambient", i, by=ALICE, at=OCT)
    for i in range(3):
        ids[f"iron{i}"] = await add(db, f"Iron {i}", "metal", 10 + i, by=BOB, at=NOV - 86_400 * (3 - i))
    for i in range(3):
        await store.rate(db, GUILD, ALICE, ids[f"calm{i}"], LIKE, now=OCT)
    await store.rate(db, GUILD, ALICE, ids["iron0"], LIKE, now=NOV - 3600)
    await store.rate(db, GUILD, ALICE, ids["iron1"], LIKE, now=NOV - 3600)
    for i in range(3):
        await store.rate(db, GUILD, BOB, ids[f"iron{i}"], LIKE, now=NOV - 7200)
    await store.rate(db, GUILD, CAROL, ids["calm0"], LIKE, now=NOV - 7200)  # one rating: no match for carol
    session = await store_sessions.open_session(db, GUILD, 5, ALICE, now=NOV - 1000)
    for track in ("iron0", "iron0", "iron2"):
        await store_sessions.enqueue(db, GUILD, session.id, ids[track], added_by=ALICE, now=NOV - 900)
    for step in range(4):
        await store_sessions.advance(db, GUILD, session.id, now=NOV - 800 + step)
    return ids


async def test_a_members_month(recaps, month):
    service, _ = recaps
    recap = await service.recap(GUILD, ALICE, "month")
    assert recap.span.key == "2026-11" and recap.previous.key == "2026-10"
    assert [(c.title, c.count) for c in recap.played] == [("Iron 0", 2), ("Iron 2", 1)]
    assert [c.title for c in recap.liked] == ["Iron 0", "Iron 1"] and recap.likes == 2
    families = {f.family: (round(f.share, 2), f.previous) for f in recap.families}
    assert families["metal"][0] > 0.8 and families["metal"][1] is not None and families["metal"][1] < 0.2
    assert recap.best_match == (BOB,) and recap.match is not None  # carol has one rating: never a match
    assert recap.first_shares == () and recap.new_tracks == 0  # alice shared nothing new in November
    bob = await service.recap(GUILD, BOB, "month")
    assert [t for t, _ in bob.first_shares] == ["Iron 0", "Iron 1", "Iron 2"] and bob.new_tracks == 3
    # on her card, a like count is the server's, and says so (not "2 likes" beside her one like)
    [(_heading, lines)] = [s for s in recap_card(recap, {ALICE: "alice"}).sections if s[0] == "Most liked"]
    assert lines[0].startswith("1. Iron 0 · liked by ") and lines[0].endswith(" members"), lines


async def test_a_family_shifts_from_its_true_share_even_when_it_was_not_among_the_top_five(recaps, db):
    """October: alice liked six families twice each and metal once (metal 1/13 of her likes, the
    seventh family); November: only metal. Metal rose from 8 %, not from nothing."""
    service, _ = recaps
    seed = 0
    for family, likes in (
        ("rock", 2),
        ("jazz", 2),
        ("pop", 2),
        ("blues", 2),
        ("ambient", 2),
        ("classical", 2),
        ("metal", 1),
    ):
        for _ in range(likes):
            seed += 1
            track = await add_sure_track(
                db, GUILD, f"Song {seed}", [(family, 1.0)], direction(500 + seed), duration=100.0 + seed,
                shared_by=BOB, now=OCT,
            )  # fmt: skip
            await store.rate(db, GUILD, ALICE, track, LIKE, now=OCT)
    iron = await add_sure_track(
        db, GUILD, "Iron", [("metal", 1.0)], direction(600), duration=90.0, shared_by=BOB, now=NOV
    )
    await store.rate(db, GUILD, ALICE, iron, LIKE, now=NOV - 60)
    recap = await service.recap(GUILD, ALICE, "month")
    (metal,) = recap.families
    assert metal.family == "metal" and metal.share == pytest.approx(1.0)
    assert metal.previous == pytest.approx(1 / 13, abs=1e-3)


async def test_the_servers_year_and_its_card(recaps, month):
    service, _ = recaps
    recap = await service.recap(GUILD, None, "year")
    assert recap.span.words == "2026" and recap.previous.words == "2025"
    assert {(c.title, c.count) for c in recap.liked[:3]} == {("Calm 0", 2), ("Iron 0", 2), ("Iron 1", 2)}
    assert recap.best_match == (ALICE, BOB)
    assert recap.new_tracks == 6
    card = recap_card(recap, {ALICE: "alice", BOB: "bob <@&1>\nx"}, server_name="Lounge")
    png, drawn = draw(card)
    image = Image.open(io.BytesIO(png))
    assert image.size == (WIDTH, HEIGHT) == (drawn.width, drawn.height)
    assert drawn.texts[0] == "Lounge's 2026"
    assert "1. Calm 0 · 2 likes" in drawn.texts  # ties by title
    assert any(t.startswith("alice & bob <@&1> x · ") and t.endswith("taste match") for t in drawn.texts)
    assert drawn.bars == len(recap.families) >= 2
    assert all("\n" not in t for t in drawn.texts)


def test_user_text_is_drawn_as_it_is():
    from bot.present.recap import FamilyBar, RecapCard

    card = RecapCard(
        title="a $\\bad$ title",
        subtitle="line\nbreak",
        sections=(("Most liked", ("1. $x^2$ <@1> · 2 likes",)),),
        families=(FamilyBar("$\\frac", 0.5, None),),
    )
    png, drawn = draw(card)  # mathematics would fail on "$\bad$"
    assert drawn.texts[:2] == ("a $\\bad$ title", "line break") and "1. $x^2$ <@1> · 2 likes" in drawn.texts
    assert Image.open(io.BytesIO(png)).size == (WIDTH, HEIGHT)


async def test_an_empty_month_says_so(recaps, db):
    service, _ = recaps
    recap = await service.recap(GUILD, ALICE, "month")
    assert recap.is_empty and recap.match is None
    _, drawn = draw(recap_card(recap, {ALICE: "alice"}))
    assert "Nothing played in a session this month." in drawn.texts
    assert any(t.startswith("Not enough ratings yet") for t in drawn.texts)
    assert drawn.bars == 0


async def test_a_german_card_says_its_sentences_whole_and_inside_the_card(recaps, db):
    """German runs a third longer than English: the card's lines are cut by their drawn width,
    not by a count of characters that only English fitted (the best-match sentence and the
    families' heading ended in "…" halfway)."""
    from bot.i18n import _, speaking
    from bot.present.recap import FamilyBar
    from bot.recommend.blend import MATCH_MIN_RATINGS

    service, _settings = recaps
    recap = await service.recap(GUILD, ALICE, "month")
    with speaking("de"):
        card = recap_card(recap, {ALICE: "Alice"})
        card = RecapCard(card.title, card.subtitle, card.sections, (FamilyBar("Elektronisch", 0.5, 0.2),))
        png, drawn = draw(card)
        needs = _("Not enough ratings yet (a match needs {count} ratings from each member).")
        heading = _("Families: share of likes (grey: the period before)").upper()
    assert needs.format(count=MATCH_MIN_RATINGS) in drawn.texts, drawn.texts
    assert heading in drawn.texts and heading.startswith("FAMILIEN"), drawn.texts
    with speaking("de"):  # a title too long for the card is cut at its edge, "…" and all
        _png, long = draw(RecapCard("Dezember 2026 von " + "Maximilian " * 6, "", ()))
    assert long.texts[0].startswith("Dezember 2026 von Maximilian") and long.texts[0].endswith("…")
    pixels = Image.open(io.BytesIO(png)).convert("RGB").crop((int(0.96 * WIDTH), 0, WIDTH, HEIGHT))
    assert {colour for _count, colour in pixels.getcolors(1 << 16)} == {(0x19, 0x14, 0x14)}  # only the ground


def test_a_full_card_keeps_its_lines_and_its_chart_apart():
    """A busy month (five tracks played, five liked, a match, three first shares and more, five
    families) drew the families' chart over the first shares and its own heading: the lines now
    share what the chart leaves, set smaller when they must."""
    from bot.present.recap import FamilyBar

    title = "A rather long title of a song (feat. Someone) [Remastered 2011]"
    card = RecapCard(
        "November 2026 of Maximilian",
        "Crate recap · 123 likes · compared with October 2026",
        (
            ("Most played", tuple(f"{i}. {title} · 12 plays" for i in range(1, 6))),
            ("Most liked", tuple(f"{i}. {title} · 9 likes" for i in range(1, 6))),
            ("Best taste match", ("Maximilian & Alexandra · 88% taste match",)),
            ("First shares", (*(f"{title} · shared by Max" for _ in range(3)), "and 42 more new to the server")),
        ),
        tuple(FamilyBar(f, s, p) for f, s, p in (("soul", 0.3, 0.1), ("jazz", 0.25, 0.3), ("folk", 0.2, None))),
        footer="Made by Crate from what this server shares, plays and rates.",
    )
    _png, drawn = draw(card)
    assert drawn.bars == 3 and drawn.chart is not None and len(drawn.boxes) == 2 + 4 + 15 + 1 + 1

    def overlap(a, b) -> bool:
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

    for i, box in enumerate(drawn.boxes):
        assert min(box) >= 0 and box[2] <= WIDTH and box[3] <= HEIGHT, box
        assert not overlap(box, drawn.chart), (i, box, drawn.chart)
        assert not any(overlap(box, other) for other in drawn.boxes[:i]), (i, box)


async def test_the_monthly_post_is_due_on_the_first_once(recaps, clock, db):
    service, settings = recaps
    clock.now = datetime(2026, 12, 1, 0, 5, tzinfo=UTC).timestamp()
    assert await service.monthly_due() == ("2026-11", [])  # nobody opted in
    await settings.change(GUILD, Caller(ALICE, manages_server=True), recap_monthly=True, announce_channel_id=77)
    assert (await settings.get(GUILD)).recap_line() == "posted on the 1st of each month in <#77>"
    assert await service.monthly_due() == ("2026-11", [GUILD])
    assert await service.claim_post(GUILD, "2026-11", 77)
    assert not await service.claim_post(GUILD, "2026-11", 77)  # a second process, or after a restart
    assert await service.monthly_due() == ("2026-11", [])
    await service.release_post(GUILD, "2026-11")  # the post failed: try again
    assert await service.monthly_due() == ("2026-11", [GUILD])
    assert await service.claim_post(GUILD, "2026-11", 77)
    await service.post_failed(GUILD, "2026-11")  # Discord refused it (403): not again at every round
    assert await service.monthly_due() == ("2026-11", [])
    clock.now += RETRY_AFTER + 1
    assert await service.monthly_due() == ("2026-11", [GUILD])
    clock.now = datetime(2026, 12, 9, tzinfo=UTC).timestamp()
    assert await service.monthly_due() == ("2026-11", [])  # long past the 1st
    recap = await service.recap(GUILD, None, "month", ended=True)
    assert recap.span.key == "2026-11"


def test_periods():
    jan = datetime(2027, 1, 1, 3, tzinfo=UTC).timestamp()
    assert period_span("month", jan, ended=True).key == "2026-12"
    assert period_span("month", jan).words == "January 2027"
    assert period_span("year", jan, ended=True).key == "2026"
