"""Blends without Discord, on SQLite and PostgreSQL: a playlist for members of different tastes,
with the song that brings them together on top, every member served in turn, nothing anyone
disliked; refilled after a rating and daily (an injected clock); leaving and /forget; its tracks
never changed by hand through /playlist, and deleted only by a server manager."""

from __future__ import annotations

import time

import numpy as np
import pytest

from bot import store
from bot.app.blends import BadBlendMembers, BlendExists, BlendService, NoBlend, NotABlend
from bot.app.library import Library
from bot.app.members import Members
from bot.app.playlists import BlendByHand, BlendNotDeleted, EmptyBlend, PlaylistService
from bot.app.sessions import SessionService
from bot.app.teaching import Teacher
from bot.app.titles import TitleIndex
from bot.caller import Caller
from bot.catalog import DISLIKE, EMBEDDING_DIM, LIKE
from bot.recommend.blend import MATCH_MIN_RATINGS, blend_tracks
from bot.recommend.service import CatalogCache
from bot.store import Database
from bot.store import blends as store_blends
from bot.store import playlists as store_playlists
from tests.tastes import Clock, add_sure_track, direction

GUILD = 9009
ALICE, BOB, CAROL, DAVE, ERIN = 11, 22, 33, 44, 55
NOW = time.time()


async def add(db: Database, name: str, family: str, embedding: np.ndarray, duration: float = 100.0) -> int:
    genres = [(family, 0.8), ("other", 0.2)]
    return await add_sure_track(db, GUILD, name, genres, embedding, duration=duration, shared_by=ALICE, now=NOW - 100)


@pytest.fixture
async def server(db):
    """Three sounds: ambient (alice's), metal (bob's), and jazz, one track of which each of them likes."""
    ambient, metal = direction(1), direction(2)
    between = direction(4)  # a third sound, that each of them likes one track of
    rng = np.random.default_rng(3)
    ids = {}
    for i in range(6):
        noise = 0.3 * rng.standard_normal(EMBEDDING_DIM)
        ids[f"calm{i}"] = await add(db, f"calm{i}", "ambient", ambient + noise, duration=100 + 40 * i)
        noise = 0.3 * rng.standard_normal(EMBEDDING_DIM)
        ids[f"loud{i}"] = await add(db, f"loud{i}", "metal", metal + noise, duration=120 + 40 * i)
    for i in range(3):  # three different songs that sound alike (their lengths tell them apart)
        noise = 0.05 * rng.standard_normal(EMBEDDING_DIM)
        ids[f"mid{i}"] = await add(db, f"mid{i}", "jazz", between + noise, duration=400 + 60 * i)
    return ids


@pytest.fixture
def clock():
    return Clock(NOW)


@pytest.fixture
def crate(db, clock):
    catalogs = CatalogCache(db)
    blends = BlendService(db, catalogs, clock=clock)
    titles = TitleIndex()
    library = Library(db, titles, catalogs)
    library.on_rated.append(blends.rated)
    members = Members(db, Teacher(db, titles), blends)
    return blends, library, members


async def tastes(library: Library, server: dict) -> None:
    """Alice likes ambient, bob likes metal; each also likes one jazz track and dislikes the other's."""
    for name in ("calm0", "calm1", "mid0"):
        await library.rate(GUILD, ALICE, LIKE, server[name])
    await library.rate(GUILD, ALICE, DISLIKE, server["loud0"])
    for name in ("loud1", "loud2", "mid1"):
        await library.rate(GUILD, BOB, LIKE, server[name])
    await library.rate(GUILD, BOB, DISLIKE, server["calm2"])


async def test_a_blend_serves_each_member_in_turn_with_the_song_that_brings_them_together_on_top(crate, server):
    blends, library, _ = crate
    await tastes(library, server)
    view = await blends.create(GUILD, Caller(ALICE), [BOB], names={ALICE: "alice", BOB: "bob"})
    assert view.name == "Blend: alice + bob"
    assert view.blend.member_ids == (ALICE, BOB)
    titles = [t.title for t in view.tracks]
    assert view.together is not None and view.together.title.startswith("mid")  # the jazz between them
    assert set(view.together.for_user_ids) == {ALICE, BOB}
    assert "loud0" not in titles and "calm2" not in titles  # nothing anyone disliked
    rest = view.tracks[1:]
    assert len(rest) >= 6
    for a, b in zip(rest[::2], rest[1::2], strict=False):  # every member served in turn
        assert {*a.for_user_ids, *b.for_user_ids} >= {ALICE, BOB}, (a, b)
    assert all(t.for_user_ids for t in view.tracks)
    assert view.blend.taste_match is not None and 0 < view.blend.taste_match < 1
    assert view.short_of_ratings == ()
    # a real playlist: what /playlist show and play read
    entries = await store_playlists.playlist_entries(library.db, GUILD, view.blend.playlist.id)
    assert [e.title for e in entries] == titles


async def test_a_like_refills_the_blend_at_once(crate, server, clock):
    blends, library, _ = crate
    await tastes(library, server)
    before = await blends.create(GUILD, Caller(ALICE), [BOB], names={ALICE: "alice", BOB: "bob"})
    assert "loud3" in [t.title for t in before.tracks]
    clock.now += 60
    await library.rate(GUILD, ALICE, DISLIKE, server["loud3"])  # alice now turns it down
    after = await blends.show(GUILD, BOB)
    assert "loud3" not in [t.title for t in after.tracks]
    assert after.blend.refreshed_at == clock.now


async def test_the_daily_refresh_uses_the_clock(crate, server, clock, db):
    blends, library, _ = crate
    await tastes(library, server)
    view = await blends.create(GUILD, Caller(ALICE), [BOB])
    assert await blends.refresh_due() == 0
    made = view.blend.refreshed_at
    clock.now += 3_600
    await store.rate(db, GUILD, BOB, server["loud4"], DISLIKE)  # behind Crate's back: no refill yet,
    later = await blends.view(GUILD, view.blend.playlist.id)
    assert "loud4" not in [t.title for t in later.tracks]  # but the dislike took it out at once
    assert later.blend.refreshed_at == made and await blends.refresh_due() == 0
    clock.now += 86_400 + 1
    assert await blends.refresh_due(owns=lambda guild: guild != GUILD) == 0  # another shard's server
    assert await blends.refresh_due() == 1
    assert (await blends.view(GUILD, view.blend.playlist.id)).blend.refreshed_at == clock.now
    assert await blends.refresh_due() == 0


async def test_the_daily_refresh_takes_out_a_member_who_left_the_server(crate, server, clock):
    blends, library, _ = crate
    await tastes(library, server)
    view = await blends.create(GUILD, Caller(ALICE), [BOB])
    clock.now += 86_400 + 1
    asked = []

    async def still_here(guild_id: int, user_id: int) -> bool | None:
        asked.append(user_id)
        return {ALICE: None, BOB: False}[user_id]  # alice: Discord didn't answer; bob has left

    assert await blends.refresh_due(still_here=still_here) == 1
    assert asked == [ALICE, BOB] and await blends.mine(GUILD, ALICE) == []  # one member left: no Blend
    with pytest.raises(NotABlend):
        await blends.view(GUILD, view.blend.playlist.id)


async def test_no_taste_match_from_near_empty_tastes(crate, server):
    blends, library, _ = crate
    await library.rate(GUILD, ALICE, LIKE, server["calm0"])
    for name in ("loud1", "loud2", "mid1"):
        await library.rate(GUILD, BOB, LIKE, server[name])
    view = await blends.create(GUILD, Caller(ALICE), [BOB])
    assert view.blend.taste_match is None
    assert view.short_of_ratings == ((ALICE, 1),)
    assert MATCH_MIN_RATINGS == 3


async def test_members_two_to_six_and_one_blend_per_group(crate, server):
    blends, _, _ = crate
    with pytest.raises(BadBlendMembers):
        await blends.create(GUILD, Caller(ALICE), [ALICE])
    with pytest.raises(BadBlendMembers):
        await blends.create(GUILD, Caller(ALICE), list(range(100, 106)))
    await blends.create(GUILD, Caller(ALICE), [BOB])
    with pytest.raises(BlendExists):
        await blends.create(GUILD, Caller(BOB), [ALICE])
    with pytest.raises(NoBlend):
        await blends.show(GUILD, CAROL)


async def test_leaving_and_forgetting(crate, server, db):
    blends, library, members = crate
    await tastes(library, server)
    for name in ("mid2", "calm3", "loud5"):
        await library.rate(GUILD, CAROL, LIKE, server[name])
    trio = await blends.create(GUILD, Caller(ALICE), [BOB, CAROL], names={ALICE: "a", BOB: "b", CAROL: "c"})
    duo = await blends.create(GUILD, Caller(ALICE), [BOB], names={ALICE: "a", BOB: "b"})
    # alice (owner of both) forgets: the trio goes on without her, owned by bob; the duo is gone
    report = await members.forget(GUILD, ALICE)
    assert report.blends_left == (trio.blend.playlist.id,) and report.blends_deleted == (duo.blend.playlist.id,)
    assert await store_playlists.get_playlist(db, GUILD, duo.blend.playlist.id) is None
    left = await blends.view(GUILD, trio.blend.playlist.id)
    assert left.blend.member_ids == (BOB, CAROL) and left.blend.playlist.owner_id == BOB
    assert all(ALICE not in t.for_user_ids for t in left.tracks)
    # carol leaves: one member left, so the Blend goes
    gone = await blends.leave(GUILD, CAROL)
    assert gone.deleted and gone.remaining == (BOB,)
    assert await store_blends.blend_ids_in_guild(db, GUILD) == []


async def test_a_blend_is_renamed_after_the_members_still_in_it(crate, server, db):
    """A Blend named "Blend: a + b + c" would, after c leaves, name someone no longer in it: "Blend: a +
    b" (by the names Crate remembers; a name taken gets a number). When a remaining member's name
    is unknown, the name stays as it was rather than say "member"."""
    blends, _, members = crate
    for user, name in ((ALICE, "alice"), (BOB, "bob"), (CAROL, "carol"), (DAVE, "dave")):
        await members.remember_name(GUILD, user, name)
    names = {ALICE: "alice", BOB: "bob", CAROL: "carol", DAVE: "dave"}
    duo = await blends.create(GUILD, Caller(ALICE), [BOB], names=names)
    trio = await blends.create(GUILD, Caller(ALICE), [BOB, CAROL], names=names)
    assert trio.name == "Blend: alice + bob + carol"
    await blends.leave(GUILD, CAROL, trio.name)
    renamed = await blends.view(GUILD, trio.blend.playlist.id)
    assert duo.name == "Blend: alice + bob" and renamed.name == "Blend: alice + bob (2)"
    # /forget: dave's way out of a Blend renames it too
    quartet = await blends.create(GUILD, Caller(ALICE), [BOB, CAROL, DAVE], names=names)
    await members.forget(GUILD, DAVE)
    assert (await blends.view(GUILD, quartet.blend.playlist.id)).name == "Blend: alice + bob + carol"
    # a member whose name Crate never learnt: the name stays
    unknown = await blends.create(GUILD, Caller(CAROL), [DAVE, ERIN], names={CAROL: "carol", DAVE: "d", ERIN: "erin"})
    await blends.leave(GUILD, CAROL, unknown.name)
    assert (await blends.view(GUILD, unknown.blend.playlist.id)).name == unknown.name


def test_an_empty_catalog_makes_an_empty_blend():
    from bot.catalog import TAG_COUNT, Catalog

    catalog = Catalog(
        GUILD,
        np.zeros(0, np.int64),
        [],
        [],
        np.zeros(0),
        np.zeros((0, TAG_COUNT), np.float32),
        np.zeros((0, EMBEDDING_DIM), np.float32),
    )
    empty = blend_tracks(catalog, [], [ALICE, BOB])
    assert empty.tracks == () and empty.together is None and empty.match is None


async def test_a_failing_refill_never_loses_the_rating(crate, server, db):
    _, library, _ = crate

    async def broken(guild_id: int, user_id: int) -> None:
        raise RuntimeError("the refill failed")

    library.on_rated.insert(0, broken)
    rated = await library.rate(GUILD, ALICE, LIKE, server["calm0"])
    assert rated.value == LIKE and await store.rating_of(db, GUILD, ALICE, server["calm0"]) == LIKE


async def test_a_dislike_leaves_no_blend_holding_the_track_even_when_its_refill_fails(crate, server, db):
    """No Blend keeps what a member disliked, even without the refill: the dislike itself takes the track out of
    the member's Blends (and only theirs), so a failed refill can't leave it for /playlist play."""
    blends, library, _ = crate
    await tastes(library, server)
    ours = await blends.create(GUILD, Caller(ALICE), [BOB], names={ALICE: "alice", BOB: "bob"})
    theirs = await blends.create(GUILD, Caller(BOB), [CAROL], names={BOB: "bob", CAROL: "carol"})
    track = server["loud3"]
    assert track in [t.track_id for t in ours.tracks]

    async def broken(guild_id: int, user_id: int) -> None:
        raise RuntimeError("the refill failed")

    library.on_rated[:] = [broken]  # the Blends' refill fails
    await library.rate(GUILD, ALICE, DISLIKE, track)
    entries = await store_playlists.playlist_entries(db, GUILD, ours.blend.playlist.id)
    assert track not in [e.track_id for e in entries] and entries  # the rest stays, as it was
    assert track not in [t.track_id for t in (await blends.view(GUILD, ours.blend.playlist.id)).tracks]
    others = [e.track_id for e in await store_playlists.playlist_entries(db, GUILD, theirs.blend.playlist.id)]
    assert others == [t.track_id for t in theirs.tracks]  # alice isn't in bob and carol's Blend


@pytest.fixture
def playlists(db):
    return PlaylistService(db, SessionService(db))


async def test_a_blends_tracks_are_not_changed_by_hand(crate, server, db, playlists):
    """/playlist add and remove would be undone at the next refill: refused, for its owner and a
    server manager alike, in a sentence that says why and what to do instead."""
    blends, _, _ = crate
    view = await blends.create(GUILD, Caller(ALICE), [BOB], names={ALICE: "alice", BOB: "bob"})
    name, before = view.name, [t.track_id for t in view.tracks]
    assert before and await store_blends.is_blend(db, GUILD, view.blend.playlist.id)
    outside = next(i for i in server.values() if i not in before)
    for caller in (Caller(ALICE), Caller(BOB), Caller(CAROL, manages_server=True)):
        with pytest.raises(BlendByHand) as added:
            await playlists.add(GUILD, caller, name, outside)
        with pytest.raises(BlendByHand):
            await playlists.remove(GUILD, caller, name, before[0])
    said = added.value.user_message
    assert said.startswith(f"“{name}” is a Blend") and "can't be changed by hand" in said and "/playlist create" in said
    assert [e.track_id for e in await store_playlists.playlist_entries(db, GUILD, view.blend.playlist.id)] == before

    # an ordinary playlist is still the owner's to change
    own = await playlists.create(GUILD, Caller(ALICE), "mine")
    assert not await store_blends.is_blend(db, GUILD, own.id) and not await store_blends.is_blend(db, GUILD, 2**70)
    assert (await playlists.add(GUILD, Caller(ALICE), "mine", outside)).added
    await playlists.remove(GUILD, Caller(ALICE), "mine", outside)


async def test_a_member_leaves_a_blend_and_only_a_server_manager_deletes_it(crate, server, db, playlists):
    """A Blend is all its members': its owner can't /playlist delete it for the others (they leave
    with /blend leave); a server manager can, and nothing of the Blend is left behind."""
    blends, _, _ = crate
    view = await blends.create(GUILD, Caller(ALICE), [BOB, CAROL], names={ALICE: "a", BOB: "b", CAROL: "c"})
    playlist_id = view.blend.playlist.id
    for caller in (Caller(ALICE), Caller(BOB)):
        with pytest.raises(BlendNotDeleted) as refused:
            await playlists.delete(GUILD, caller, view.name)
    assert "/blend leave" in refused.value.user_message and "Manage Server" in refused.value.user_message
    assert (await blends.view(GUILD, playlist_id)).blend.member_ids == (ALICE, BOB, CAROL)

    deleted = await playlists.delete(GUILD, Caller(99, manages_server=True), view.name)
    assert deleted.id == playlist_id and await store_playlists.get_playlist(db, GUILD, playlist_id) is None
    assert not await store_blends.is_blend(db, GUILD, playlist_id)
    assert await store_blends.blend_ids_in_guild(db, GUILD) == []
    assert [await store_blends.blend_ids_of_member(db, GUILD, u) for u in (ALICE, BOB, CAROL)] == [[], [], []]
    assert await store_blends.blend_track_members(db, GUILD, playlist_id) == {}
    assert await store_blends.blends_due(db, NOW + 10 * 86_400) == []
    with pytest.raises(NoBlend):
        await blends.show(GUILD, ALICE)


async def test_an_empty_blend_says_how_it_fills(crate, db, playlists):
    """Nothing shared on the server yet: playing the Blend says how Crate fills it, not to /playlist add."""
    blends, _, _ = crate
    view = await blends.create(GUILD, Caller(ALICE), [BOB])
    assert view.tracks == ()
    with pytest.raises(EmptyBlend) as empty:
        await playlists.play(GUILD, ALICE, view.name, channel_id=5)
    assert "/genre" in empty.value.user_message and "/playlist add" not in empty.value.user_message


async def test_a_refill_that_races_a_deletion_writes_nothing(crate, server, db, playlists):
    """The Blend deleted (its last member left, a manager deleted it) while a refill worked out its
    picks: the refill stores nothing and says the Blend is gone; a rating that started it stands."""
    blends, library, _ = crate
    await tastes(library, server)
    view = await blends.create(GUILD, Caller(ALICE), [BOB], names={ALICE: "alice", BOB: "bob"})
    playlist_id = view.blend.playlist.id
    read = blends.catalogs.catalog_and_ratings

    async def deleted_meanwhile(guild_id: int):
        out = await read(guild_id)
        if await store_blends.is_blend(db, GUILD, playlist_id):
            await playlists.delete(GUILD, Caller(99, manages_server=True), view.name)
        return out

    blends.catalogs.catalog_and_ratings = deleted_meanwhile  # type: ignore[method-assign]
    with pytest.raises(NotABlend):
        await blends.refresh(GUILD, playlist_id)
    assert await store_playlists.playlist_entries(db, GUILD, playlist_id) == []
    assert await store_blends.blend_track_members(db, GUILD, playlist_id) == {}

    # the same race during a like's refill: the refill simply finds no Blend
    blends.catalogs.catalog_and_ratings = read  # type: ignore[method-assign]
    view = await blends.create(GUILD, Caller(ALICE), [BOB], names={ALICE: "alice", BOB: "bob"})
    playlist_id = view.blend.playlist.id
    blends.catalogs.catalog_and_ratings = deleted_meanwhile  # type: ignore[method-assign]
    assert await blends.rated(GUILD, ALICE) == 1
    assert not await store_blends.is_blend(db, GUILD, playlist_id)


async def test_a_refill_leaves_out_a_track_forgotten_meanwhile(crate, server, db):
    blends, library, _ = crate
    await tastes(library, server)
    view = await blends.create(GUILD, Caller(ALICE), [BOB], names={ALICE: "alice", BOB: "bob"})
    playlist_id, kept = view.blend.playlist.id, server["calm3"]
    gone = max(server.values()) + 1000  # no such track any more
    picks = [(gone, (ALICE,)), (kept, (ALICE, BOB))]
    assert await store_blends.replace_blend_tracks(
        db, GUILD, playlist_id, picks, together_track_id=gone, taste_match=0.5
    )
    assert [e.track_id for e in await store_playlists.playlist_entries(db, GUILD, playlist_id)] == [kept]
    assert await store_blends.blend_track_members(db, GUILD, playlist_id) == {kept: (ALICE, BOB)}
    assert (await store_blends.get_blend(db, GUILD, playlist_id)).together_track_id is None
