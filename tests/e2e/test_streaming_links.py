"""Members paste streaming links on a (fake) Discord server: a song, and an album to pick from.

The real bot against the fake Discord, with the streaming services' endpoints pointed at local
imitations (``tests/servicefakes.py``, real response shapes) through ``CRATE_SERVICE_URLS``.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
import pytest_asyncio

from tests.e2e.cards import card
from tests.fakediscord import FakeDiscord
from tests.fakediscord.harness import music_server, running_crate, settings_for
from tests.servicefakes import service_fakes

pytestmark = pytest.mark.asyncio(loop_scope="module")

DEEZER_SONG = "https://www.deezer.com/en/track/1001"
DEEZER_ALBUM = "https://www.deezer.com/en/album/77"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory):
    scratch = tmp_path_factory.mktemp("services")
    async with FakeDiscord() as fake, service_fakes(scratch) as services:
        bases = {name: f"{services.base}/{name}" for name in ("spotify", "apple", "deezer", "tidal")}
        settings = settings_for(fake, scratch / "crate.sqlite3", service_urls=bases)
        async with running_crate(fake, settings):
            yield fake, services


def music(fake):
    guild = fake.guilds[0]
    return guild, next(c for c in guild.channels if c.name == "music")


def fields(message) -> dict[str, str]:
    return card(message).fields


async def test_a_deezer_song_is_heard_from_its_preview_and_the_answer_says_so(world):
    fake, _ = world
    guild, channel = music(fake)
    ix = await fake.slash(guild, channel, "alice", "genre", {"url": DEEZER_SONG})
    message = await ix.wait_original(predicate=lambda m: m.shown, timeout=90)
    assert not message.ephemeral
    assert fields(message)["Heard"] == "30-s preview of “Awakening” by Singularity, from Deezer"
    assert fields(message)["From"] == f"[link]({DEEZER_SONG})"  # the member's own link is the source
    assert card(message).title == "Singularity - Awakening"


async def test_an_album_link_offers_its_tracks_and_shares_the_ones_picked(world):
    fake, _ = world
    guild, channel = music(fake)
    ix = await fake.slash(guild, channel, "bob", "genre", {"url": DEEZER_ALBUM})
    (picker,) = await ix.wait_followups(timeout=90)
    assert picker.ephemeral and ix.original is not None and ix.original.deleted
    assert "Fake Album" in picker.content and "holds 2 tracks" in picker.content
    (custom_id,) = [c for c in picker.custom_ids if c.startswith("crate:album:")]
    menu = picker.component(custom_id)
    offered = [option["value"] for option in menu["options"]]
    assert offered == ["https://www.deezer.com/track/1001", "https://www.deezer.com/track/1002"]
    assert all(option.get("default") for option in menu["options"])  # the first five are chosen

    # Only the member who shared the album may pick from its menu.
    stranger = await fake.select(guild, channel, "carol", picker, custom_id, offered[:1])
    refusal = (await stranger.wait_response()).data
    assert "for the member who shared the album" in str(refusal)

    picked = await fake.select(guild, channel, "bob", picker, custom_id, offered)
    answers = await picked.wait_followups(count=2, timeout=120)
    heard = [fields(a)["Heard"] for a in answers]
    assert heard == [
        "30-s preview of “Awakening” by Singularity, from Deezer",
        "30-s preview of “Brainsukker” by Nexuiz, from Deezer",
    ]
    assert not any(a.ephemeral for a in answers)
    assert all(any(c.startswith("crate:rate:") for c in a.custom_ids) for a in answers)
    assert await picked.wait_original(predicate=lambda m: "Shared 2 of 2" in (m.content or ""), timeout=30)


async def test_analyze_with_crate_offers_an_album_link_s_tracks_to_the_member_who_asked(world):
    fake, _ = world
    guild, channel = music(fake)
    posted = await fake.send_user_message(guild, channel, "alice", f"this whole album: {DEEZER_ALBUM}")
    ix = await fake.context_menu(guild, channel, "carol", "Analyze with Crate", posted)
    done = await ix.wait_original(predicate=lambda m: "analyzed" in (m.content or ""), timeout=120)
    assert "0 tracks analyzed, 1 album or playlist to pick from" in done.content and "failed" not in done.content
    (picker,) = await ix.wait_followups(1)
    assert picker.ephemeral and "Fake Album" in picker.content
    (custom_id,) = [c for c in picker.custom_ids if c.startswith("crate:album:")]
    assert custom_id.split(":")[2] == str(fake.member(guild, "carol").id)  # hers to pick from, not alice's


async def test_the_same_song_by_a_streaming_link_and_a_video_link_is_one_track(world):
    fake, services = world
    guild, channel = music(fake)
    first = await fake.slash(guild, channel, "alice", "genre", {"url": "https://open.spotify.com/track/1002"})
    spotify = await first.wait_original(predicate=lambda m: m.shown, timeout=90)
    assert card(spotify).title == "Nexuiz - Brainsukker"
    track_ids = {c.split(":")[2] for c in spotify.custom_ids if c.startswith("crate:rate:")}
    # The same song as a video elsewhere (other audio: the whole recording, not the preview).
    video = "Nexuiz - Brainsukker (Official Video).mp3"
    async with music_server({f"/{video}": (services.previews["brainsukker.mp3"] + b"\0", "audio/mpeg")}) as web:
        second = await fake.slash(guild, channel, "bob", "genre", {"url": f"{web}/{quote(video)}"})
        again = await second.wait_original(predicate=lambda m: m.shown, timeout=90)
    assert {c.split(":")[2] for c in again.custom_ids if c.startswith("crate:rate:")} == track_ids
    assert "already in this server's catalog" in card(again).footer
    assert fields(again)["From"] == fields(spotify)["From"]  # the track keeps the audio it was heard from
