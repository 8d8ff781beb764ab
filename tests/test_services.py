"""Links to streaming services: the song, then audio Crate can hear for it.

Against local imitations of the Spotify track page, the iTunes Lookup/Search API and the Deezer
API (``tests/servicefakes.py``, their real response shapes), through ``CRATE_SERVICE_URLS``:
``crate classify`` answers a Spotify, an Apple Music and a Deezer link from the song's preview
and says what it heard; a song whose service has no preview is matched by search; a song with
no audio anywhere gets its own sentence; nothing but the imitations is asked.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.audio.services import Link, Song, matches, recognise
from tests.servicefakes import json_lines, service_fakes

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("url", "link"),
    [
        (
            "https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC?si=x",
            Link("spotify", "track", "4uLU6hMCjMI75M1A2tKUQC"),
        ),
        (
            "https://open.spotify.com/intl-de/track/4uLU6hMCjMI75M1A2tKUQC",
            Link("spotify", "track", "4uLU6hMCjMI75M1A2tKUQC"),
        ),
        ("https://open.spotify.com/album/1DFixLWuPkv3KT3TnV35m3", Link("spotify", "album", "1DFixLWuPkv3KT3TnV35m3")),
        (
            "https://music.apple.com/us/album/abbey-road/1441164426?i=1441164430",
            Link("apple", "track", "1441164430", "us"),
        ),
        ("https://music.apple.com/gb/song/come-together/1441164430", Link("apple", "track", "1441164430", "gb")),
        ("https://music.apple.com/us/album/abbey-road/1441164426", Link("apple", "album", "1441164426", "us")),
        ("https://www.deezer.com/en/track/3135556", Link("deezer", "track", "3135556")),
        ("https://deezer.com/album/302127", Link("deezer", "album", "302127")),
        ("https://tidal.com/browse/track/77646170", Link("tidal", "track", "77646170")),
        ("https://listen.tidal.com/album/77646168", Link("tidal", "album", "77646168")),
    ],
)
def test_streaming_links_are_recognised(url, link):
    assert recognise(url) == link


@pytest.mark.parametrize(
    "url",
    [
        "https://www.youtube.com/watch?v=abc",
        "https://example.com/track/1",
        "https://open.spotify.com/user/x",
        "ftp://deezer.com/track/1",
    ],
)
def test_other_links_are_left_to_yt_dlp(url):
    assert recognise(url) is None


def test_a_match_needs_the_title_the_artist_and_the_length():
    wanted = Song("Come Together (Remastered 2009)", "The Beatles", 259.0)
    assert matches(wanted, Song("Come Together", "Beatles, The", 260.0)) is False  # artist reads otherwise
    assert matches(wanted, Song("Come Together", "The Beatles", 260.0))
    assert matches(wanted, Song("Come Together - Remastered 2009", "The Beatles", 262.0))
    assert not matches(wanted, Song("Something", "The Beatles", 182.0))  # another song
    assert not matches(wanted, Song("Come Together", "The Beatles", 540.0))  # a 9-minute live jam
    assert not matches(wanted, Song("Come Together", "Aerosmith", 230.0))  # a cover
    assert matches(Song("Joga", "Björk", None), Song("Jóga", "Bjork", 305.0))  # accents, no length known


def classify(*links: str, service_urls: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRATE_", "DISCORD_"))}
    env.update(PYTHONPATH=str(REPO), CRATE_SERVICE_URLS=service_urls, CRATE_URL_ALLOWLIST="127.0.0.1")
    return subprocess.run(
        [sys.executable, "-m", "bot", "classify", "--json", *links],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


async def test_classify_answers_streaming_links_from_the_song_s_preview_and_says_what_it_heard(tmp_path):
    import asyncio

    links = {
        "spotify": "https://open.spotify.com/track/1001",
        "apple": "https://music.apple.com/us/album/fake-album/9?i=1002",
        "deezer": "https://www.deezer.com/en/track/1001",
        "matched": "https://open.spotify.com/track/1003",
        "unheard": "https://tidal.com/browse/track/1004",
        "album": "https://www.deezer.com/album/77",
    }
    async with service_fakes(tmp_path) as fakes:
        done = await asyncio.to_thread(classify, *links.values(), service_urls=fakes.service_urls)
        asked = list(fakes.requests)
    records = {record["path"]: record for record in json_lines(done.stdout)}
    assert list(records) == list(links.values()), done.stderr
    spotify, apple, deezer = records[links["spotify"]], records[links["apple"]], records[links["deezer"]]
    assert spotify["heard"] == {
        "kind": "preview", "service": "Spotify", "title": "Awakening", "artist": "Singularity",
        "description": "30-s preview of “Awakening” by Singularity, from Spotify",
    }  # fmt: skip
    assert apple["heard"]["kind"] == "preview" and apple["heard"]["service"] == "Apple Music"
    assert apple["heard"]["title"] == "Brainsukker"
    assert deezer["heard"]["service"] == "Deezer"
    for record in (spotify, apple, deezer):
        assert record["error"] is None and record["genres"] and record["source"] == record["path"]
        assert 0 < record["duration"] <= 31  # a preview (of at most 30 s)
    # The same song through two services is the same audio, so the same answer.
    assert spotify["genres"] == deezer["genres"]
    # No preview on Spotify: a recording found on Deezer by ISRC / artist and title, checked.
    matched = records[links["matched"]]
    assert matched["heard"]["kind"] == "match" and matched["heard"]["service"] == "Deezer"
    assert matched["heard"]["title"] == "Brainsukker" and matched["error"] is None
    # A song found, but no audio anywhere: said as it is, and the others still ran.
    assert records[links["unheard"]]["error"].startswith("I found the song but no audio I can hear")
    assert "playlist" in records[links["album"]]["error"]
    assert done.returncode == 1  # two inputs failed
    # Every request went to the imitations (none to the real services): paths they serve.
    assert asked and all(path.split("/")[1] in ("spotify", "apple", "deezer", "tidal", "previews") for path in asked)
    # Spotify's page gives no ISRC: the match was searched by artist and title.
    assert any(path.startswith("/deezer/search?q=artist") and "Nexuiz" in path for path in asked)


async def test_a_page_with_opengraph_music_tags_is_a_song_too(tmp_path):
    import asyncio

    from tests.fakediscord.harness import music_server

    def page(*tags: tuple[str, str]) -> tuple[bytes, str]:
        meta = "".join(f'<meta property="{k}" content="{v}"/>' for k, v in tags)
        return f"<html><head>{meta}</head><body>A song page</body></html>".encode(), "text/html"

    song = (("og:type", "music.song"), ("og:title", "Brain Sucker"), ("music:musician_description", "Nexuiz"))
    async with service_fakes(tmp_path) as fakes:
        pages = {
            # its own audio: yt-dlp finds it (og:audio), as for any page with a media file
            "/with-audio": page(*song, ("og:audio", fakes.preview_url("brainsukker.mp3"))),
            # no audio of its own: the song it declares, matched on Deezer
            "/declared": page(*song, ("music:duration", "190")),
            "/not-a-song": page(("og:type", "website"), ("og:title", "Brain Sucker")),
        }
        async with music_server(pages) as web:
            done = await asyncio.to_thread(classify, *(web + path for path in pages), service_urls=fakes.service_urls)
    own, declared, other = json_lines(done.stdout)
    assert own["error"] is None and own["heard"]["kind"] == "link", done.stderr
    assert declared["error"] is None and declared["heard"]["kind"] == "match", done.stderr
    assert declared["heard"]["service"] == "Deezer" and declared["heard"]["title"] == "Brainsukker"
    assert other["error"] == "I couldn't find any audio at that link."


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        ("Nexuiz - Brainsukker", "Nexuiz - Brainsukker (Official Video)", True),
        ("Daft Punk - Get Lucky", "DAFT PUNK – Get Lucky (feat. Pharrell Williams) [Official Audio]", True),
        ("The Beatles - Come Together", "The Beatles - Come Together - Remastered 2009", True),
        ("Björk - Jóga", "Bjork - Joga (Live)", True),
        ("Artist - Song", "Artist - Song (Some Remix)", False),  # a remix is another recording
        ("Artist - Song", "Other Artist - Song", False),  # a cover
    ],
)
def test_one_song_under_two_titles(one, other, same):
    from bot.audio.services import song_key

    assert (song_key(one) == song_key(other)) is same
    assert song_key(one) is not None


def test_a_title_without_an_artist_names_no_song():
    from bot.audio.services import song_key

    assert song_key("Awakening") is None and song_key("track 07") is None
