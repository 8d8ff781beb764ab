"""Links that can't be heard get a sentence that says why (issue 22, point 7).

What sites tell yt-dlp, as yt-dlp words it in its errors, is translated into the member's
sentence; a podcast episode is refused from its metadata, before anything is downloaded; the
other refusals (live streams, a 10-hour video, a song with no audio anywhere) have their own
tests in tests/test_fetch.py and tests/test_services.py.
"""

from __future__ import annotations

import pytest
from yt_dlp.utils import DownloadError, ExtractorError

from bot.audio.errors import LinkUnavailable, PodcastLink
from bot.audio.fetch import _check_metadata, _translate
from bot.config import AudioLimits


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("ERROR: [youtube] abc: Private video. Sign in if you've been granted access to this video", "private"),
        (
            "ERROR: [youtube] abc: Sign in to confirm your age. This video may be inappropriate for some users.",
            "age-restricted",
        ),
        ("ERROR: [youtube] abc: The uploader has not made this video available in your country", "region-blocked"),
        ("ERROR: [youtube] abc: Video unavailable. This video has been removed by the uploader", "removed or deleted"),
        ("ERROR: [soundcloud] x: This track was not found", "removed or deleted"),
    ],
)
def test_what_a_site_says_is_said_to_the_member(said, expected):
    error = DownloadError(said, exc_info=(ExtractorError, ExtractorError(said), None))
    translated = _translate(error, "https://www.youtube.com/watch?v=abc")
    assert isinstance(translated, LinkUnavailable)
    assert expected in translated.user_message


@pytest.mark.parametrize(
    "info",
    [
        {"extractor_key": "ApplePodcasts", "title": "Episode 12", "duration": 3600},
        {"extractor_key": "Generic", "media_type": "podcast", "title": "Episode 12"},
        {"extractor_key": "Spreaker", "episode": "Episode 12", "series": "A Show", "duration": 1800},
    ],
)
def test_a_podcast_episode_is_refused_before_downloading(info):
    with pytest.raises(PodcastLink) as refused:
        _check_metadata({"protocol": "https", "ext": "mp3", **info}, "https://example.com/ep12", AudioLimits(), ())
    assert "podcast episode, not a song" in refused.value.user_message


def test_a_song_with_an_episode_number_in_a_series_is_still_a_song():
    # YouTube Music tracks carry `track`; only episodes without one are refused.
    info = {"extractor_key": "Youtube", "episode": "1", "series": "Live sessions", "track": "Song", "protocol": "https",
            "ext": "m4a"}  # fmt: skip
    _check_metadata(info, "https://www.youtube.com/watch?v=abc", AudioLimits(), ())  # raises nothing
