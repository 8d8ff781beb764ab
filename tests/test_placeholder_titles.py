"""A title that only stood in for a name gives way to a real one when the same audio is shared again.

yt-dlp names audio that names nothing after the link ("rock-7", "Rock 7 (1)" for a page's first
player); the same recording shared later as a named file, or from a page with a title, brings its
real name, and the track takes it in the share's own transaction. A real title is never replaced.
On SQLite and PostgreSQL (``db_target``).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from bot.analysis import Analysis
from bot.catalog import EMBEDDING_DIM, TAG_COUNT
from bot.store import get_track, load_catalog, search_tracks, store_share
from bot.store import sharing as store_sharing
from bot.store.tracks import TrackSource, is_placeholder_title

GUILD = 1001
ALICE, BOB = 11, 22


def analysis(seed: int, duration: float = 180.0, noise: float = 0.0) -> Analysis:
    rng = np.random.default_rng(seed)
    embedding = rng.standard_normal(EMBEDDING_DIM).astype(np.float32)
    if noise:
        embedding = embedding + np.random.default_rng(99).standard_normal(EMBEDDING_DIM).astype(np.float32) * noise
    return Analysis(
        duration=duration,
        genres=(("rock", 0.7), ("metal", 0.3)),
        tags=(("rock", 0.9),),
        embedding=embedding,
        tag_probs=rng.random(TAG_COUNT).astype(np.float32),
        tempo=120.0,
        excerpt_starts=(0.0,),
        confident=True,
    )


def digest(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def link(url: str) -> TrackSource:
    return TrackSource("link", url)


def attachment(name: str) -> TrackSource:
    return TrackSource("attachment", f"https://cdn.example/attachments/1/2/{name}", channel_id=1)


async def share(db, title: str, source: TrackSource, *, audio: str = "rock7", seed: int = 7, **kw):
    return await store_share(
        db,
        GUILD,
        kw.pop("analyzed", None) or analysis(seed),
        content_hash=digest(audio),
        title=title,
        source=source,
        shared_by=kw.pop("shared_by", ALICE),
        asked_by=kw.pop("asked_by", ALICE),
    )


# -------------------------------------------------------------------------------- the rule


@pytest.mark.parametrize(
    ("title", "kind", "url", "placeholder"),
    [
        # yt-dlp's names for a link that names nothing
        ("rock-7", "link", "https://music.example/files/rock-7.ogg", True),
        ("rock-7.ogg", "link", "https://music.example/files/rock-7.ogg", True),
        ("Rock 7", "link", "https://music.example/files/Rock%207.ogg", True),  # percent-decoded
        ("ROCK-7", "link", "https://music.example/files/rock-7.ogg?x=1#t", True),
        ("rock-7", "link", "https://music.example/rock-7/", True),  # a page: its last segment
        ("rock-7-1", "link", "https://music.example/rock-7", True),  # a page's first player's id
        ("Rock 7 (1)", "link", "https://music.example/page.html", True),  # a page's first player
        ("Night Drive (2)", "link", "https://music.example/page.html", True),
        ("video", "link", "https://music.example/", True),  # a page without a title
        ("videoplayback", "link", "https://rr1.example/videoplayback?id=1", True),
        ("Untitled", "link", "https://music.example/x", True),
        ("untitled", "attachment", "https://cdn.example/a/untitled.ogg", True),
        # real names
        ("Nexuiz — Rock 7", "link", "https://music.example/files/rock-7.ogg", False),
        ("Rock 7", "link", "https://music.example/page.html", False),  # the page's own title
        ("rock-7 remix", "link", "https://music.example/files/rock-7.ogg", False),
        ("rock-7-b", "link", "https://music.example/rock-7", False),
        ("rock-7", "attachment", "https://cdn.example/attachments/1/2/rock-7.ogg", False),  # a file's name
        ("Rock 7 (1)", "attachment", "https://cdn.example/attachments/1/2/Rock_7_1.ogg", False),
        ("rock-7", "file", None, False),
        ("rock-7", "link", None, False),
    ],
)
def test_which_titles_are_placeholders(title, kind, url, placeholder):
    assert is_placeholder_title(title, kind, url) is placeholder


# -------------------------------------------------------------------------------- shares


async def test_a_page_title_gives_way_to_the_named_file_of_the_same_audio(db):
    first, created = await share(db, "Rock 7 (1)", link("https://music.example/rock-7"))
    assert created and first.title == "Rock 7 (1)"
    again, created = await share(db, "Nexuiz - Rock 7", attachment("Nexuiz - Rock 7.ogg"), shared_by=BOB)
    assert not created and again.id == first.id
    assert again.title == "Nexuiz - Rock 7"
    stored = await get_track(db, GUILD, first.id)
    assert stored is not None and stored.title == "Nexuiz - Rock 7" and stored.source_kind == "attachment"
    assert [t.id for t in await search_tracks(db, GUILD, "nexuiz")] == [first.id]
    assert await search_tracks(db, GUILD, "(1)") == []
    assert (await load_catalog(db, GUILD)).titles == ["Nexuiz - Rock 7"]


async def test_a_link_stem_gives_way_to_a_page_with_a_title(db):
    first, _ = await share(db, "rock-7", link("https://music.example/files/rock-7.ogg"))
    again, _ = await share(db, "Rock 7 (live at home)", link("https://band.example/songs/42"))
    assert again.id == first.id and again.title == "Rock 7 (live at home)"
    assert (await get_track(db, GUILD, first.id)).title == "Rock 7 (live at home)"


async def test_another_cut_of_the_same_audio_renames_too(db):
    first, _ = await share(db, "videoplayback", link("https://rr1.example/videoplayback?id=1"))
    near, created = await share(
        db, "Rock 7", attachment("Rock 7.mp3"), audio="rock7 re-encoded", analyzed=analysis(7, 180.6, noise=0.02)
    )
    assert not created and near.id == first.id and near.title == "Rock 7"


async def test_a_real_title_stays_whatever_comes_after(db):
    first, _ = await share(db, "Awakening", attachment("Awakening.ogg"))
    for title, source in [
        ("awakening-page", link("https://music.example/awakening-page")),  # a placeholder
        ("Rock 7 (1)", link("https://music.example/page.html")),
        ("Singularity - Awakening (remaster)", link("https://band.example/songs/1")),  # another real name
        ("awakening 2", attachment("awakening 2.ogg")),
    ]:
        again, _ = await share(db, title, source)
        assert again.title == "Awakening", title
    assert (await get_track(db, GUILD, first.id)).title == "Awakening"


async def test_a_placeholder_follows_the_link_the_track_now_points_to(db):
    """Two placeholders: the re-shared link becomes the source, and its stand-in comes with it, so
    the title stays recognisably a placeholder (and a later real name still replaces it)."""
    await share(db, "rock-7", link("https://music.example/files/rock-7.ogg"))
    moved, _ = await share(db, "mirror-3", link("https://mirror.example/mirror-3.ogg"))
    assert moved.title == "mirror-3" and moved.source_url == "https://mirror.example/mirror-3.ogg"
    named, _ = await share(db, "Rock 7", attachment("Rock 7.ogg"))
    assert named.title == "Rock 7"


async def test_a_generic_file_name_does_not_replace_a_placeholder(db):
    await share(db, "Rock 7 (1)", link("https://music.example/page.html"))
    again, _ = await share(db, "Untitled", attachment("Untitled.ogg"))
    assert again.title == "Rock 7 (1)"


async def test_the_new_title_is_taken_in_the_share_s_one_transaction(db, monkeypatch):
    first, _ = await share(db, "rock-7", link("https://music.example/files/rock-7.ogg"))

    async def broken(*args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(store_sharing, "set_last_track", broken)
    with pytest.raises(RuntimeError):
        await share(db, "Rock 7", attachment("Rock 7.ogg"), shared_by=BOB, asked_by=BOB)
    stored = await get_track(db, GUILD, first.id)
    assert stored.title == "rock-7" and stored.source_kind == "link"  # nothing of the failed share stayed
