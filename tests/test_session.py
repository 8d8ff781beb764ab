"""Group listening sessions against a real SQLite database (bot/app/sessions.py, bot/store/sessions.py).

Most tests store tracks with *constructed clustered embeddings* (a few genre centres plus noise,
see tests/test_group.py) so that who likes what is unambiguous; one test stores real analyses of
real tracks (tests/music.py) and runs a whole session on them.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from bot import store
from bot.app.sessions import (
    AlreadyVoted,
    AlreadyVotedFor,
    NoSession,
    NoSuchPosition,
    NothingToShuffle,
    NotHost,
    NotInSession,
    SessionAlreadyOpen,
    SessionEnded,
    SessionService,
)
from bot.catalog import DISLIKE, EMBEDDING_DIM, LIKE, UnknownTrack
from bot.errors import CrateError
from bot.listen.musicnn import TAGS
from bot.present.reasons import reason_text
from bot.store import Database, open_database
from bot.store import sessions as store_sessions
from bot.store import settings as store_settings
from tests.databases import INTEGRITY_ERRORS

DIM = EMBEDDING_DIM
GUILD, OTHER_GUILD = 100, 200
TEXT, TEXT_2, VOICE = 1000, 1001, 2000
HOST, ALICE, BOB, CAROL = 1, 2, 3, 4
NAMES = {HOST: "host", ALICE: "alice", BOB: "bob", CAROL: "carol"}
GENRES = ("ambient", "jazz", "metal", "classical", "disco")
PER_GENRE = 6
T0 = 1_700_000_000.0


class Clock:
    def __init__(self, now: float = T0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float = 10.0) -> float:
        self.now += seconds
        return self.now


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


async def add_clustered_tracks(db: Database, guild_id: int, seed: int = 0) -> dict[str, list[int]]:
    """PER_GENRE tracks per genre around nearly orthogonal centres; returns ids by genre."""
    rng = np.random.default_rng(seed)
    ids: dict[str, list[int]] = {}
    for genre in GENRES:
        centre = unit(rng.normal(size=DIM))
        for k in range(PER_GENRE):
            embedding = unit(centre + 0.5 * unit(rng.normal(size=DIM)))
            track, _ = await store.add_track(
                db, guild_id, title=f"{genre.title()} {k + 1}", source_url=f"https://example.org/{genre}/{k}",
                source_kind="link", content_hash=hashlib.sha256(f"{guild_id}{genre}{k}".encode()).hexdigest(),
                duration=100.0 + 10 * k, genres=[(genre, 0.9)], tag_probs=np.full(len(TAGS), 0.05),
                embedding=embedding, tempo=120.0, shared_by=None, now=T0 - 86_400,
            )  # fmt: skip
            ids.setdefault(genre, []).append(track.id)
    return ids


@pytest.fixture
def db_path(db_target):
    """A SQLite file or a fresh PostgreSQL database: the session suite runs on both."""
    return db_target


@pytest.fixture
async def db(db_path):
    async with open_database(db_path) as database:
        yield database


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def service(db, clock):
    return SessionService(db, clock=clock)


async def rate_all(db, user, track_ids, value=LIKE, now=T0 - 3600):
    for t in track_ids:
        await store.rate(db, GUILD, user, t, value, now=now)


# -- schema -------------------------------------------------------------------------------------


async def test_schema_is_guild_scoped_with_one_open_session_per_channel(db, clock):
    session = await store_sessions.open_session(db, GUILD, TEXT, HOST, now=clock())
    with pytest.raises(store_sessions.SessionAlreadyOpenError):
        await store_sessions.open_session(db, GUILD, TEXT, ALICE, now=clock())
    # Another guild's track can't be queued in this guild's session.
    ids = await add_clustered_tracks(db, OTHER_GUILD)
    with pytest.raises(UnknownTrack):
        await store_sessions.enqueue(db, GUILD, session.id, ids["jazz"][0], added_by=HOST)
    with pytest.raises(INTEGRITY_ERRORS):  # the composite key refuses a cross-guild row
        await db.execute(
            "INSERT INTO session_members (guild_id, session_id, user_id, joined_at) VALUES (?, ?, ?, ?)",
            (OTHER_GUILD, session.id, ALICE, clock()),
        )
    # After closing, the channel may open a new session; the old one stays as history.
    assert await store_sessions.close_session(db, GUILD, session.id, now=clock())
    again = await store_sessions.open_session(db, GUILD, TEXT, ALICE, now=clock())
    assert again.id != session.id and (await store_sessions.get_session(db, GUILD, session.id)).status == "closed"


# -- a session from start to end ----------------------------------------------------------------------


async def test_three_members_join_add_rate_and_the_queue_explains_itself(db, service, clock):
    ids = await add_clustered_tracks(db, GUILD)
    session = await service.start(GUILD, TEXT, HOST, VOICE)
    assert session.voice_channel_id == VOICE and session.host_id == HOST
    with pytest.raises(SessionAlreadyOpen) as caught:
        await service.start(GUILD, TEXT, ALICE)
    assert isinstance(caught.value, CrateError) and "already a listening session" in caught.value.user_message
    assert await service.join(session, ALICE) and await service.join(session, BOB)
    assert not await service.join(session, BOB)
    assert await service.present(session) == [HOST, ALICE, BOB]

    await rate_all(db, ALICE, ids["ambient"][:3])
    await rate_all(db, BOB, ids["metal"][:3])
    await rate_all(db, HOST, ids["jazz"][:3])
    await rate_all(db, BOB, ids["classical"][1:2], DISLIKE)

    added = await service.add_track(session, ids["classical"][0], ALICE)
    assert added.added_by == ALICE and added.for_user_ids == (ALICE,) and added.position == 1
    clock.tick()
    first = await service.start_playing(session)
    assert first.id == added.id and first.status == "playing"
    assert await service.start_playing(session) == first  # already playing: nothing moves

    filled = await service.fill_queue(session, count=3)
    assert len(filled) == 3 and all(e.added_by is None and e.reason for e in filled)
    view = await service.queue_view(session)
    assert view.now_playing.id == first.id and [e.id for e in view.upcoming] == [e.id for e in filled]
    assert view.present == (HOST, ALICE, BOB)
    assert ids["classical"][1] not in {e.track_id for e in view.upcoming}  # bob disliked it
    # Three different tastes, three picks: one for each (fairness within a fill).
    served = [e.for_user_ids for e in filled]
    assert sorted(u for s in served for u in s) == [HOST, ALICE, BOB], served
    for entry in filled:
        (user,) = entry.for_user_ids
        assert reason_text(entry.reason, NAMES).startswith(f"for {NAMES[user]}"), entry.reason

    with pytest.raises(UnknownTrack):
        await service.add_track(session, 999_999, ALICE)
    # Adding a track joins the member.
    await service.add_track(session, ids["disco"][0], CAROL)
    assert CAROL in await service.present(session)


async def test_forgetting_a_member_does_not_turn_their_entries_into_crates_picks(db, service):
    ids = await add_clustered_tracks(db, GUILD)
    session = await service.start(GUILD, TEXT, HOST)
    await rate_all(db, HOST, ids["jazz"][:3])
    added = await service.add_track(session, ids["ambient"][0], ALICE)
    assert not added.picked_by_crate
    (pick,) = await service.fill_queue(session, count=1)
    assert pick.picked_by_crate and pick.added_by is None

    await store.forget_member(db, GUILD, ALICE)
    view = await service.queue_view(session)
    entries = {entry.id: entry for entry in view.upcoming}
    assert entries[added.id].added_by is None and not entries[added.id].picked_by_crate
    assert entries[pick.id].picked_by_crate


async def test_crates_picks_queued_before_a_member_joins_are_picked_again_for_everyone(db, service):
    """/session start queues picks for whoever is there (often the host alone): a member who
    joins later would otherwise wait through picks chosen without them."""
    ids = await add_clustered_tracks(db, GUILD)
    await rate_all(db, HOST, ids["jazz"][:3])
    await rate_all(db, ALICE, ids["metal"][:3])
    session = await service.start(GUILD, TEXT, HOST)
    for_host_alone = await service.fill_queue(session, count=3)
    assert [e.for_user_ids for e in for_host_alone] == [(HOST,)] * 3
    own = await service.add_track(session, ids["ambient"][0], HOST)

    assert await service.join(session, ALICE)
    upcoming = (await service.queue_view(session)).upcoming
    assert [e.id for e in upcoming] == [own.id]  # the member's own track stays, Crate's picks go
    refilled = await service.fill_queue(session, count=2)
    assert sorted(u for e in refilled for u in e.for_user_ids) == [HOST, ALICE]

    assert not await service.join(session, ALICE)  # already present: nothing is dropped
    assert len((await service.queue_view(session)).upcoming) == 3


async def test_fill_never_queues_a_track_a_present_member_disliked(db, service):
    """Property-style: random tastes and dislikes, several fills, over several seeds."""
    ids = await add_clustered_tracks(db, GUILD)
    every = [t for genre in GENRES for t in ids[genre]]
    for seed in range(5):
        rng = np.random.default_rng(seed)
        await db.execute("DELETE FROM ratings WHERE guild_id = ?", (GUILD,))
        session = await service.start(GUILD, TEXT + 10 + seed, HOST)
        members = [HOST, ALICE, BOB, CAROL]
        for user in members[1:]:
            await service.join(session, user)
        for user in members:
            rated = rng.choice(every, size=10, replace=False)
            for t in rated:
                await store.rate(db, GUILD, user, int(t), LIKE if rng.random() < 0.4 else DISLIKE, now=T0 - 60)
        leaving = int(rng.choice(members[1:]))
        await service.leave(session, leaving)
        present = await service.present(session)
        vetoed = {
            r.track_id for r in await store.ratings_in_guild(db, GUILD) if r.value == DISLIKE and r.user_id in present
        }
        queued = []
        for _ in range(3):
            queued += await service.fill_queue(session, count=3)
        assert queued and not {e.track_id for e in queued} & vetoed, seed
        assert len({e.track_id for e in queued}) == len(queued)


async def test_a_member_who_leaves_no_longer_vetoes(db, service):
    ids = await add_clustered_tracks(db, GUILD)
    ambient = ids["ambient"]
    await rate_all(db, ALICE, ambient[:3])
    await rate_all(db, BOB, ambient[:3])
    await rate_all(db, CAROL, ambient[3:4], DISLIKE)
    session = await service.start(GUILD, TEXT, ALICE)
    await service.join(session, BOB)
    await service.join(session, CAROL)
    for t in ambient[:3]:  # the liked ones are already in the queue
        await service.add_track(session, t, ALICE)
    with_carol = await service.fill_queue(session, count=6)
    assert ambient[3] not in {e.track_id for e in with_carol}
    await db.execute(f"DELETE FROM session_queue WHERE id IN ({db.dialect.id_list()})",
                     (str([e.id for e in with_carol]),))  # fmt: skip
    await service.leave(session, CAROL)
    without = await service.fill_queue(session, count=3)
    assert ambient[3] in {e.track_id for e in without}


# -- moving on ---------------------------------------------------------------------------------------


async def test_vote_skip_needs_a_strict_majority_of_members_present(db, service, clock):
    ids = await add_clustered_tracks(db, GUILD)
    session = await service.start(GUILD, TEXT, HOST)
    await service.join(session, ALICE)
    await service.join(session, BOB)
    for t in ids["jazz"][:4]:
        await service.add_track(session, t, HOST)
    first = await service.start_playing(session)

    one = await service.next(session, ALICE)  # 1 of 3: not enough
    assert (one.moved, one.votes, one.needed) == (False, 1, 2)
    assert (await service.now_playing(session)).id == first.id
    with pytest.raises(AlreadyVoted):
        await service.next(session, ALICE)
    with pytest.raises(NotInSession) as caught:
        await service.next(session, CAROL)
    assert "/session join" in caught.value.user_message
    two = await service.next(session, BOB)  # 2 of 3: moves on
    assert two.moved and (two.votes, two.needed) == (2, 2) and not two.by_host
    assert two.skipped.id == first.id and two.skipped.status == "skipped"
    second = two.now_playing
    assert second.track_id == ids["jazz"][1] and second.status == "playing"

    # Votes reset with the track: alice's vote for the first track doesn't count now.
    again = await service.next(session, ALICE)
    assert (again.moved, again.votes) == (False, 1)
    # A voter who leaves no longer counts; the threshold follows who is present.
    await service.leave(session, ALICE)  # now 2 present: host and bob; needed 2
    bob = await service.next(session, BOB)
    assert (bob.moved, bob.votes, bob.needed) == (False, 1, 2)
    # The host moves on at once.
    clock.tick()
    hosted = await service.next(session, HOST)
    assert hosted.moved and hosted.by_host and hosted.skipped.id == second.id
    assert hosted.now_playing.track_id == ids["jazz"][2]

    # When the player finishes a track, a stale "finished" (already skipped) changes nothing.
    current = await service.now_playing(session)
    assert (await service.track_finished(session, second.id)).id == current.id
    after = await service.track_finished(session, current.id)
    assert after.track_id == ids["jazz"][3]
    assert (await store_sessions.get_entry(db, GUILD, session.id, current.id)).status == "played"

    # The queue runs out: Crate fills it for the group and keeps playing.
    moved = await service.next(session, HOST)
    assert moved.moved and moved.now_playing is not None and moved.now_playing.added_by is None
    assert len(moved.filled) >= 1 and moved.now_playing.id == moved.filled[0].id

    # A track the player could not fetch or play at all is recorded as skipped, not played.
    unplayable = moved.now_playing
    after = await service.track_finished(session, unplayable.id, unplayable=True)
    assert (await store_sessions.get_entry(db, GUILD, session.id, unplayable.id)).status == "skipped"
    assert after is None or after.id != unplayable.id


async def test_in_a_text_session_moving_on_is_not_a_skip_but_a_vote_is(db, service):
    ids = await add_clustered_tracks(db, GUILD)
    session = await service.start(GUILD, TEXT, HOST)
    await service.join(session, ALICE)
    await service.join(session, BOB)
    for t in ids["jazz"][:4]:
        await service.add_track(session, t, HOST)
    await service.start_playing(session)
    host = await service.next(session, HOST, audible=False)  # the host moves on: nothing was cut short
    assert host.moved and host.skipped.status == "played"
    await service.next(session, ALICE, audible=False)
    vote = await service.next(session, BOB, audible=False)  # the members voted it away: a skip
    assert vote.moved and vote.skipped.status == "skipped"
    cut = await service.next(session, HOST, audible=True)  # in voice the host cuts a track short
    assert cut.skipped.status == "skipped"
    summary = await service.end(session, HOST)
    assert summary.skipped == 2 and len(summary.played) >= 3


async def test_host_leaving_hands_over_and_only_the_host_ends(db, service):
    session = await service.start(GUILD, TEXT, HOST)
    await service.join(session, ALICE)
    await service.join(session, BOB)
    with pytest.raises(NotHost):
        await service.end(session, ALICE)
    result = await service.leave(session, HOST)
    assert result.left and result.new_host == ALICE and not result.empty
    assert (await service.get(GUILD, TEXT)).host_id == ALICE
    assert not (await service.leave(session, HOST)).left
    await service.leave(session, ALICE)
    assert (await service.get(GUILD, TEXT)).host_id == BOB
    summary = await service.end(session, BOB)
    assert summary.session.status == "closed"
    with pytest.raises(NoSession) as caught:
        await service.get(GUILD, TEXT)
    assert caught.value.user_message.startswith("There's no listening session in this channel")
    with pytest.raises(SessionEnded):
        await service.next(session, BOB)


# -- fairness across fills ----------------------------------------------------------------------------


async def test_picks_rotate_between_members_over_several_fills(db, service):
    ids = await add_clustered_tracks(db, GUILD)
    await rate_all(db, ALICE, ids["ambient"][:2])
    await rate_all(db, BOB, ids["metal"][:4])  # a stronger profile than the others
    await rate_all(db, CAROL, ids["disco"][:1])
    session = await service.start(GUILD, TEXT, ALICE)
    await service.join(session, BOB)
    await service.join(session, CAROL)
    await service.start_playing(session)  # the queue is empty: Crate fills it
    for _ in range(11):  # the host moves on; every third time the queue runs out and is refilled
        await service.next(session, ALICE)
    entries = await store_sessions.queue_of(db, GUILD, session.id)
    order = [e.for_user_ids for e in entries if e.added_by is None]
    assert len(order) == 12
    flat = [u for s in order for u in s]
    for user in (ALICE, BOB, CAROL):
        assert flat.count(user) >= len(order) // 3 - 1, order
    for i in range(len(order) - 2):
        window = {u for s in order[i : i + 3] for u in s}
        assert window == {ALICE, BOB, CAROL}, order


# -- isolation --------------------------------------------------------------------------------------


async def test_sessions_in_two_channels_and_two_guilds_do_not_cross(db, service):
    ids = await add_clustered_tracks(db, GUILD)
    other_ids = await add_clustered_tracks(db, OTHER_GUILD, seed=1)
    a = await service.start(GUILD, TEXT, HOST)
    b = await service.start(GUILD, TEXT_2, ALICE)
    c = await service.start(OTHER_GUILD, TEXT, HOST)  # same channel id, other guild
    await service.join(a, BOB)
    await service.add_track(a, ids["jazz"][0], HOST)
    await service.add_track(b, ids["metal"][0], ALICE)
    await service.add_track(c, other_ids["disco"][0], HOST)
    for s in (a, b, c):
        await service.start_playing(s)
    assert (await service.get(GUILD, TEXT)).id == a.id
    assert (await service.get(GUILD, TEXT_2)).id == b.id
    assert (await service.get(OTHER_GUILD, TEXT)).id == c.id
    assert (await service.now_playing(a)).track_id == ids["jazz"][0]
    assert (await service.now_playing(b)).track_id == ids["metal"][0]
    assert (await service.now_playing(c)).track_id == other_ids["disco"][0]
    assert await service.present(a) == [HOST, BOB] and await service.present(b) == [ALICE]

    vote = await service.next(a, BOB)  # 1 of 2 in a
    assert not vote.moved
    assert await store_sessions.count_skip_votes(db, GUILD, b.id, (await service.now_playing(b)).id) == 0
    moved = await service.next(b, ALICE)  # b's host
    assert moved.moved and (await service.now_playing(a)).track_id == ids["jazz"][0]
    filled = await service.fill_queue(c, count=3)
    assert filled and all(e.guild_id == OTHER_GUILD for e in filled)
    assert {e.track_id for e in filled} <= {t for v in other_ids.values() for t in v}
    # A session id from another guild is not found.
    with pytest.raises(SessionEnded):
        await service.by_id(OTHER_GUILD, a.id)
    await service.end(b)
    assert (await service.get(GUILD, TEXT)).id == a.id and (await service.get(OTHER_GUILD, TEXT)).id == c.id


# -- restart ----------------------------------------------------------------------------------------


async def test_restore_after_reopening_returns_open_sessions_or_closes_idle_ones(db_path):
    clock = Clock()
    async with open_database(db_path) as db:
        service = SessionService(db, clock=clock)
        ids = await add_clustered_tracks(db, GUILD)
        other_ids = await add_clustered_tracks(db, OTHER_GUILD, seed=2)
        a = await service.start(GUILD, TEXT, HOST, VOICE)
        await service.join(a, ALICE)
        await service.add_track(a, ids["jazz"][0], HOST)
        await service.add_track(a, ids["jazz"][1], ALICE)
        playing = await service.start_playing(a)
        await service.set_now_playing_message(a, 555_000_111)
        idle = await service.start(GUILD, TEXT_2, BOB)
        c = await service.start(OTHER_GUILD, TEXT, CAROL)
        await service.add_track(c, other_ids["metal"][0], CAROL)
        closed = await service.start(GUILD, 3000, HOST)
        await service.end(closed)
        clock.tick(4 * 3600)
        await service.join(a, BOB)  # activity keeps a alive
        await service.join(c, HOST)

    clock.tick(3 * 3600)  # idle has seen nothing for 7 hours
    async with open_database(db_path) as db:
        service = SessionService(db, clock=clock)
        report = await service.restore()
        resumed = {r.session.id: r for r in report.resumed}
        assert set(resumed) == {a.id, c.id}
        ra = resumed[a.id]
        assert ra.session.now_playing_message_id == 555_000_111 and ra.session.voice_channel_id == VOICE
        assert ra.now_playing.id == playing.id and ra.now_playing.track_id == ids["jazz"][0]
        assert [e.track_id for e in ra.upcoming] == [ids["jazz"][1]]
        assert ra.present == (HOST, ALICE, BOB)
        assert resumed[c.id].session.guild_id == OTHER_GUILD and resumed[c.id].now_playing is None
        assert [s.session.id for s in report.closed] == [idle.id]
        assert report.closed[0].session.status == "closed"
        assert await store_sessions.get_open_session(db, GUILD, TEXT_2) is None
        # Resumed sessions carry on.
        assert (await service.next(ra.session, HOST)).now_playing.track_id == ids["jazz"][1]


async def test_a_sharded_process_restores_only_its_guilds_and_the_sweep_closes_stale_ones_everywhere(
    db, service, clock
):
    mine = await service.start(GUILD, TEXT, HOST)
    theirs = await service.start(OTHER_GUILD, TEXT, CAROL)
    clock.tick(3600)
    report = await service.restore(owns=lambda guild_id: guild_id == GUILD)  # this process's shards
    assert [r.session.id for r in report.resumed] == [mine.id] and report.closed == ()
    assert await service.close_stale() == []  # nothing idle yet
    clock.tick(7 * 3600)
    swept = await service.close_stale()  # the primary process sweeps every guild
    assert {summary.session.id for summary in swept} == {mine.id, theirs.id}
    assert all(summary.session.status == "closed" for summary in swept)
    assert (await service.restore()).resumed == ()


# -- the summary ------------------------------------------------------------------------------------


async def test_end_summarises_tracks_reactions_and_taste_match(db, service, clock):
    ids = await add_clustered_tracks(db, GUILD)
    await rate_all(db, ALICE, ids["ambient"][:3], now=T0 - 86_400)
    await rate_all(db, BOB, ids["ambient"][3:6], now=T0 - 86_400)
    await rate_all(db, CAROL, ids["metal"][:3], now=T0 - 86_400)
    session = await service.start(GUILD, TEXT, ALICE)
    for user in (BOB, CAROL):
        await service.join(session, user)
    await service.add_track(session, ids["jazz"][0], ALICE)
    await service.add_track(session, ids["jazz"][1], BOB)
    await service.add_track(session, ids["jazz"][2], BOB)
    await service.start_playing(session)
    clock.tick(200)
    await store.rate(db, GUILD, BOB, ids["jazz"][0], LIKE, now=clock())  # during the session
    await store.rate(db, GUILD, CAROL, ids["jazz"][0], DISLIKE, now=clock())
    await store.rate(db, GUILD, ALICE, ids["disco"][0], LIKE, now=clock())  # not a session track
    await service.track_finished(session, (await service.now_playing(session)).id)
    clock.tick(100)
    await service.next(session, ALICE)  # host skips the second
    clock.tick(50)
    summary = await service.end(session, ALICE)

    assert summary.session.status == "closed" and summary.duration == pytest.approx(350.0)
    played = [(e.track_id, e.status) for e in summary.played]
    # The third was playing when the session ended: it counts as played.
    assert played == [(ids["jazz"][0], "played"), (ids["jazz"][1], "skipped"), (ids["jazz"][2], "played")]
    assert summary.skipped == 1
    assert summary.members == (ALICE, BOB, CAROL)
    assert summary.liked_by() == {BOB: ["Jazz 1"]} and summary.disliked_by() == {CAROL: ["Jazz 1"]}
    assert all(r.track_id != ids["disco"][0] for r in summary.ratings)
    match = summary.match
    assert match.of(ALICE, BOB) > match.of(ALICE, CAROL)
    pairs = [v for _, _, v in match.pairs]
    assert match.group == pytest.approx(sum(pairs) / len(pairs))
    # Ended: the channel is free again.
    with pytest.raises(NoSession):
        await service.get(GUILD, TEXT)


# -- real music -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_analyses():
    """Real analyses of real tracks: three calm singularity tracks, three nexuiz game-metal/electronic."""
    from bot.listen.analyze import Listener
    from tests.music import MissingTestMusic, nexuiz_names, nexuiz_track, singularity_tracks

    try:
        calm = singularity_tracks()[:3]
        loud = [nexuiz_track(name) for name in nexuiz_names()[:3]]
    except (MissingTestMusic, FileNotFoundError) as error:  # pragma: no cover - setup.sh installs them
        pytest.skip(str(error))
    listener = Listener.load()
    out = []
    for kind, path in [("calm", p) for p in calm] + [("loud", p) for p in loud]:
        analysis = listener.analyze(path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        out.append((kind, path.stem, digest, analysis))
    return out


async def test_a_session_on_real_analyses(db, service, real_analyses):
    ids: dict[str, list[int]] = {"calm": [], "loud": []}
    for kind, title, digest, analysis in real_analyses:
        track, _ = await store.add_track(
            db, GUILD, title=title, source_url=None, source_kind="file", content_hash=digest,
            duration=analysis.duration, genres=analysis.genres, tag_probs=analysis.tag_probs,
            embedding=analysis.embedding, tempo=analysis.tempo, shared_by=None,
        )  # fmt: skip
        ids[kind].append(track.id)
    calm, loud = ids["calm"], ids["loud"]
    await rate_all(db, ALICE, calm[:2])
    await rate_all(db, ALICE, loud[:1], DISLIKE)
    await rate_all(db, BOB, calm[:1] + calm[2:3])
    await rate_all(db, CAROL, loud[:2])
    await rate_all(db, CAROL, calm[:1], DISLIKE)

    match = await service.taste_match(GUILD, [ALICE, BOB, CAROL])
    assert match.of(ALICE, BOB) > match.of(ALICE, CAROL)
    assert match.of(ALICE, BOB) > 0.5 > match.of(ALICE, CAROL)

    session = await service.start(GUILD, TEXT, ALICE)
    await service.join(session, BOB)
    await service.join(session, CAROL)
    picks = await service.fill_queue(session, count=4)
    assert picks
    vetoed = {loud[0], calm[0]}  # alice's and carol's dislikes
    assert not {e.track_id for e in picks} & vetoed
    assert all(e.reason for e in picks)
    await service.leave(session, CAROL)  # carol's veto of calm[0] lifts; alice's of loud[0] stays
    more = await service.fill_queue(session, count=2)
    assert loud[0] not in {e.track_id for e in more}


class RoundTrips:
    """Counts the statements a database sends (each one a round trip to PostgreSQL): every one goes
    through the store's single ``_run`` path, on SQLite and on PostgreSQL alike."""

    def __init__(self, db, monkeypatch):
        self.count = 0
        original = db._run

        async def counted(operation):
            self.count += 1
            return await original(operation)

        monkeypatch.setattr(db, "_run", counted)


async def test_moving_on_takes_a_handful_of_round_trips(db, service, monkeypatch):
    # The host's /session next reads the session, who is here and what plays once each, then
    # moves on; filling an empty queue adds the picks' inputs and one transaction of inserts.
    ids = await add_clustered_tracks(db, GUILD)
    await rate_all(db, ALICE, ids["jazz"][:2])
    session = await service.start(GUILD, TEXT, HOST)
    await service.join(session, ALICE)
    for t in ids["jazz"][2:4]:
        await service.add_track(session, t, HOST)
    await service.start_playing(session)
    await service.fill_queue(session, count=1)  # the catalog is cached from here on
    trips = RoundTrips(db, monkeypatch)
    moved = await service.next(session, HOST)
    assert moved.moved and not moved.filled
    # the session, who is here, what plays, whether anything is queued; then one transaction that
    # finishes the entry, finds the next, starts it and reads both back
    assert trips.count <= 8, trips.count
    while await store.sessions.has_upcoming(db, GUILD, session.id):
        await service.next(session, HOST)
    trips.count = 0
    refilled = await service.next(session, HOST)
    assert refilled.moved and len(refilled.filled) >= 1
    # 8 as above; the change counts, the queue, the radio seed, who was served (two reads); then
    # one enqueue transaction: its position, one insert per pick, the served rows, the picks back.
    assert trips.count <= 8 + 5 + 3 + len(refilled.filled), trips.count


# -- the controls: pause and resume, remove, move, shuffle, volume ---------------------------------


async def test_pause_and_resume_the_host_at_once_others_by_a_majority(db, service):
    ids = await add_clustered_tracks(db, GUILD)
    session = await service.start(GUILD, TEXT, HOST, VOICE)
    await service.join(session, ALICE)
    await service.join(session, BOB)
    await service.add_track(session, ids["jazz"][0], ALICE)
    await service.start_playing(session)
    assert (await service.pause(session, HOST)).done
    first = await service.pause(session, ALICE)
    assert not first.done and (first.votes, first.needed) == (1, 2)
    with pytest.raises(AlreadyVotedFor):
        await service.pause(session, ALICE)
    assert not (await service.pause(session, BOB, resume=True)).done  # resume votes are their own
    assert (await service.pause(session, BOB)).done
    assert (await service.pause(session, CAROL, dj=True, resume=True)).done  # a DJ, even absent
    with pytest.raises(NotInSession):
        await service.pause(session, CAROL)


async def test_remove_own_track_at_once_someone_elses_by_vote(db, service):
    ids = await add_clustered_tracks(db, GUILD)
    session = await service.start(GUILD, TEXT, HOST)
    await service.join(session, ALICE)
    await service.join(session, BOB)
    playing = await service.add_track(session, ids["jazz"][0], HOST)
    alices = await service.add_track(session, ids["jazz"][1], ALICE)
    bobs = await service.add_track(session, ids["jazz"][2], BOB)
    await service.start_playing(session)
    assert [e.id for e in (await service.queue_view(session)).upcoming] == [alices.id, bobs.id]

    with pytest.raises(NoSuchPosition):
        await service.remove(session, ALICE, 3)
    vote = await service.remove(session, ALICE, 2)  # bob's: a vote
    assert not vote.done and vote.entry.id == bobs.id and (vote.votes, vote.needed) == (1, 2)
    own = await service.remove(session, ALICE, 1)  # her own: at once
    assert own.done and own.entry.id == alices.id
    assert [e.id for e in (await service.queue_view(session)).upcoming] == [bobs.id]
    assert (await service.remove(session, HOST, 1)).done  # the host: at once
    view = await service.queue_view(session)
    assert view.upcoming == () and view.now_playing.id == playing.id


async def test_move_is_the_hosts_and_keeps_every_entry(db, service):
    ids = await add_clustered_tracks(db, GUILD)
    session = await service.start(GUILD, TEXT, HOST)
    await service.join(session, ALICE)
    added = [await service.add_track(session, t, ALICE) for t in ids["metal"][:4]]
    with pytest.raises(NotHost):
        await service.move(session, ALICE, 4, 1)
    moved = await service.move(session, HOST, 4, 1)
    assert moved.id == added[3].id
    order = [e.id for e in (await service.queue_view(session)).upcoming]
    assert order == [added[3].id, added[0].id, added[1].id, added[2].id]
    await service.move(session, ALICE, 1, 4, dj=True)
    assert [e.id for e in (await service.queue_view(session)).upcoming] == [e.id for e in added]
    with pytest.raises(NoSuchPosition):
        await service.move(session, HOST, 1, 5)
    # The queue plays in its new order.
    await service.move(session, HOST, 3, 1)
    assert (await service.start_playing(session)).id == added[2].id


async def test_shuffle_mixes_crates_picks_and_keeps_members_tracks_in_place(db, service):
    import random

    ids = await add_clustered_tracks(db, GUILD)
    await rate_all(db, HOST, ids["jazz"][:3])
    session = await service.start(GUILD, TEXT, HOST)
    with pytest.raises(NothingToShuffle):
        await service.shuffle(session, HOST)
    own = await service.add_track(session, ids["ambient"][0], HOST)
    picks = await service.fill_queue(session, count=5)
    own_2 = await service.add_track(session, ids["disco"][0], HOST)
    before = [e.id for e in (await service.queue_view(session)).upcoming]
    assert (await service.shuffle(session, HOST, rng=random.Random(3))).done
    after = [e.id for e in (await service.queue_view(session)).upcoming]
    assert after[0] == own.id and after[-1] == own_2.id  # members' additions keep their places
    assert sorted(after[1:-1]) == sorted(p.id for p in picks) and after != before
    await service.join(session, ALICE)  # drops Crate's picks (picked again for both)
    await service.fill_queue(session, count=3)
    await service.join(session, BOB)
    await service.fill_queue(session, count=3)
    vote = await service.shuffle(session, ALICE)
    assert not vote.done and vote.votes == 1


async def test_volume_is_the_servers_remembered_and_the_hosts_to_set(db, service, db_path):
    session = await service.start(GUILD, TEXT, HOST)
    await service.join(session, ALICE)
    assert await service.volume(GUILD) == 100
    with pytest.raises(NotHost):
        await service.set_volume(session, ALICE, 50)
    assert await service.set_volume(session, HOST, 150) == 150
    assert await service.set_volume(session, ALICE, 250, dj=True) == 200
    assert await service.volume(GUILD) == 200 and await service.volume(OTHER_GUILD) == 100
    # The settings a server's managers chose are left alone, and the volume survives a new session.
    await store_settings.save_guild_settings(db, GUILD, store_settings.StoredSettings(profiles_public=True))
    assert await service.volume(GUILD) == 200
    await service.end(session, HOST)
    again = await service.start(GUILD, TEXT_2, ALICE)
    assert again.id != session.id and await service.volume(GUILD) == 200
    assert (await store_settings.guild_settings(db, GUILD)).profiles_public is True
