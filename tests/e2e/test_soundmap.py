"""/map, the 📍 "Where is this?" button and /path through the real bot, the fake Discord, real
music and SQLite.

The server's catalog is two real tracks alice shares by link plus 160 tracks written into the
database before the bot starts (six families, "Artist - Song" titles, so that /path has room to
walk and names artists). Every command is acknowledged within 3 s, then answered; the pictures
are opened and checked (size, the highlighted track's red ring), and the path is read back from
the database: it starts at A, ends at B, every step is closer to B than the one before it (by
the stored embeddings' cosine and distance) and no artist comes twice.
"""

from __future__ import annotations

import hashlib
import io
import itertools

import numpy as np
import pytest
import pytest_asyncio
from PIL import Image

from bot import store
from bot.catalog import EMBEDDING_DIM, TAG_COUNT
from bot.listen.families import default_model
from bot.present.soundmap import SIZE
from bot.reasons import Reason, ReasonKind
from bot.recommend.songpath import artist_of
from bot.store import open_database
from bot.store import sessions as store_sessions
from bot.store.tracks import load_catalog
from tests.e2e import test_sessions as _sessions
from tests.e2e.cards import card
from tests.fakediscord import FakeDiscord
from tests.fakediscord.harness import music_server, running_crate, settings_for

pytestmark = pytest.mark.asyncio(loop_scope="module")

links = _sessions.links  # four real tracks, served by link
FAMILY_SET = ("rock", "jazz", "electronic", "classical", "hiphop", "ambient")
SYNTHETIC = 160
ACK_LIMIT = 3.0


async def fill_catalog(database, guild_id: int) -> list[int]:
    """160 tracks in six families of sound, written as `crate index` would store them."""
    rng = np.random.default_rng(25)
    model = default_model().version
    centres = rng.normal(size=(len(FAMILY_SET), EMBEDDING_DIM))
    ids = []
    async with open_database(database) as db:
        for i in range(SYNTHETIC):
            family = i % len(FAMILY_SET)
            embedding = centres[family] + 0.9 * rng.normal(size=EMBEDDING_DIM) + 0.3
            track, _ = await store.add_track(
                db, guild_id, title=f"Artist {i % 70} - Song {i}", source_url=None, source_kind="file",
                content_hash=hashlib.sha256(f"synthetic {i}".encode()).hexdigest(), duration=120.0 + i,
                genres=((FAMILY_SET[family], 0.9), ("pop", 0.1)), tag_probs=np.full(TAG_COUNT, 0.05, np.float32),
                embedding=embedding.astype(np.float32), tempo=None, shared_by=None, confident=True,
                genre_model=model,  # answered by the bot's model: its start does not relabel them
            )  # fmt: skip
            ids.append(track.id)
    return ids


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory, links):
    database = tmp_path_factory.mktemp("db") / "crate.sqlite3"
    async with FakeDiscord() as fake, music_server(links) as web:
        guild = fake.guilds[0]
        synthetic = await fill_catalog(database, guild.id)
        channel = next(c for c in guild.channels if c.name == "general")
        async with running_crate(fake, settings_for(fake, database)):
            shared = []
            for path in ("/Nebula.ogg", "/Media-Threat.ogg"):
                ix = await fake.slash(guild, channel, "alice", "genre", {"url": web + path})
                message = await ix.wait_original(predicate=lambda m: m.shown, timeout=90)
                shared.append(message)
            yield fake, guild, channel, database, synthetic, shared


async def answered(ix, timeout: float = 30, *, ephemeral: bool = False):
    """Acknowledged at once (deferred), then answered in a follow-up of the same visibility."""
    response = await ix.wait_response()
    assert response.type == 5 and ix.ack_latency < ACK_LIMIT, response
    assert response.ephemeral == ephemeral
    message = (await ix.wait_followups(1, timeout=timeout))[-1]
    assert message.ephemeral == ephemeral
    return message


def picture(message) -> Image.Image:
    png = message.attachment("map.png").data
    assert png.startswith(b"\x89PNG")
    return Image.open(io.BytesIO(png)).convert("RGB")


def red_pixels(image: Image.Image) -> int:
    """Pixels of the 📍 ring's red (#ff1744)."""
    pixels = np.asarray(image).reshape(-1, 3).astype(int)
    return int(((pixels[:, 0] > 220) & (pixels[:, 1] < 60) & (pixels[:, 2] > 40) & (pixels[:, 2] < 110)).sum())


async def test_map_shows_the_catalog_and_a_members_likes(world):
    fake, guild, channel, _, synthetic, _ = world
    registered = {c["name"] for c in fake.commands()}
    assert {"map", "path"} <= registered
    for track, verb in ((synthetic[0], "like"), (synthetic[7], "like"), (synthetic[2], "dislike")):
        ix = await fake.slash(guild, channel, "alice", verb, {"track": track})
        assert "You " in (await ix.wait_original()).content

    message = await answered(await fake.slash(guild, channel, "alice", "map"))
    image = picture(message)
    assert image.size == SIZE
    assert "/map.png" in message.embed["image"]["url"]  # the embed shows the attached map
    description = message.embed["description"]
    assert "2 likes, × 1 dislike" in description and "taste's centre" in description
    assert red_pixels(image) == 0  # nothing is pinned on /map

    # another member's map of alice (profiles are public by default), one family highlighted
    jazz = await answered(await fake.slash(guild, channel, "bob", "map", {"member": "alice", "genre": "Jazz"}))
    assert "Highlighted: **Jazz**" in jazz.embed["description"] and picture(jazz).size == SIZE
    assert f"<@{fake.member(guild, 'alice').id}>" in jazz.embed["description"]

    choices = await fake.autocomplete(guild, channel, "bob", "map", "genre", "hip")
    assert [c["name"] for c in choices] == ["Hip hop"]

    refused = await fake.slash(guild, channel, "carol", "map", {"genre": "vaporwave"})
    assert (await refused.wait_response()).type == 5
    [error] = await refused.wait_followups(1, timeout=30)
    assert error.ephemeral and error.content.startswith("⚠️ The map colours tracks by family")


async def test_where_is_this_pins_the_track_privately(world):
    fake, guild, channel, _, _, shared = world
    message = shared[0]
    where = next(c for c in message.custom_ids if c.startswith("crate:where:"))
    track_id = int(where.split(":")[2])
    assert f"crate:rate:{track_id}:up" in message.custom_ids  # under the track's own answer
    answer = await answered(await fake.click(guild, channel, "bob", message, where), ephemeral=True)
    assert "📍" in answer.embed["title"] and "is the red ring" in answer.embed["description"]
    assert card(message).title in answer.embed["description"]
    image = picture(answer)
    assert image.size == SIZE and red_pixels(image) > 200


async def test_path_walks_a_session_from_a_to_b(world):
    fake, guild, channel, database, synthetic, _ = world
    start, end = synthetic[1], synthetic[4]  # a jazz track to a hip hop one
    choices = await fake.autocomplete(guild, channel, "carol", "path", "from", "Artist 1 - Song 1")
    assert start in [c["value"] for c in choices]

    ix = await fake.slash(guild, channel, "carol", "path", {"from": start, "to": end, "length": 7})
    opened = await answered(ix, timeout=60)
    assert "started a song path from **Artist 1 - Song 1** to **Artist 4 - Song 4**" in opened.content

    async with open_database(database) as db:
        session = await store_sessions.get_open_session(db, guild.id, channel.id)
        assert session is not None
        entries = await store_sessions.queue_of(db, guild.id, session.id)
        catalog = await load_catalog(db, guild.id)
    ids = [e.track_id for e in entries]
    assert ids[0] == start and ids[-1] == end and 3 <= len(ids) <= 7
    reasons = [e.reason for e in entries]
    assert all(isinstance(r, Reason) and r.kind == ReasonKind.PATH for r in reasons)
    assert [r.step for r in reasons if isinstance(r, Reason)] == list(range(1, len(ids) + 1))
    rows = [catalog.index_of(t) for t in ids]
    unit = catalog.embeddings[rows] / np.linalg.norm(catalog.embeddings[rows], axis=1, keepdims=True)
    closeness = unit @ unit[-1]
    assert all(b > a for a, b in itertools.pairwise(closeness)), closeness  # each step closer to B
    distance = np.linalg.norm(catalog.embeddings[rows] - catalog.embeddings[rows[-1]], axis=1)
    assert all(b < a for a, b in itertools.pairwise(distance)), distance
    artists = [artist_of(catalog.titles[r]) for r in rows]
    assert len(set(artists)) == len(artists)  # no artist twice

    queue = await answered(await fake.slash(guild, channel, "carol", "session queue"))
    text = queue.embed["description"] + "\n".join(f["value"] for f in queue.embed.get("fields", []))
    assert "the start of the path from “Artist 1 - Song 1” to “Artist 4 - Song 4”" in text
    assert f"step 2 of {len(ids)} on the path" in text

    # a second path in the same session is queued after the first, none of its steps again
    again = await answered(
        await fake.slash(guild, channel, "carol", "path", {"from": synthetic[5], "to": synthetic[9]}), timeout=60
    )
    assert again.content.startswith("➕ Queued a song path from **Artist 5 - Song 5**")
    async with open_database(database) as db:
        later = await store_sessions.queue_of(db, guild.id, session.id)
    added = [e.track_id for e in later[len(entries) :]]
    assert added[0] == synthetic[5] and added[-1] == synthetic[9]
    assert not set(added[1:-1]) & set(ids)

    same = await fake.slash(guild, channel, "carol", "path", {"from": start, "to": start})
    assert (await same.wait_response()).type == 5
    [error] = await same.wait_followups(1, timeout=30)
    assert error.ephemeral and "two different songs" in error.content
