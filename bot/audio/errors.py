"""Typed errors for audio a user shared: each one says, in plain words, what is wrong."""

from bot.audio.tracklist import TrackList
from bot.errors import CrateError
from bot.i18n import N_


class AudioError(CrateError):
    """Something about this audio prevents analysis."""

    user_message = N_("I couldn't read that audio.")


class EmptyFile(AudioError):
    user_message = N_("That file is empty.")


class NotAudio(AudioError):
    user_message = N_(
        "That doesn't look like audio I can read. Send an MP3, OGG, Opus, FLAC, WAV, M4A/AAC or WebM file."
    )


class CorruptAudio(AudioError):
    user_message = N_("That audio file seems corrupt or truncated, so I couldn't decode it.")


class TooLarge(AudioError):
    user_message = N_("That file is too large for me.")


class PageTooLarge(TooLarge):
    user_message = N_("That page is too large for me to read. Send a link to the track itself, or the file.")


class TooLong(AudioError):
    user_message = N_("That track is too long for me.")


class TooShort(AudioError):
    user_message = N_("That clip is too short to tell what it is.")


class SilentAudio(AudioError):
    user_message = N_("That audio is silent, so there's nothing to listen to.")


# --- Fetching audio from links and attachments (bot/audio/fetch.py) ---


class FetchError(AudioError):
    """Getting the audio failed before there was anything to analyse."""

    user_message = N_("I couldn't fetch that audio.")


class BadLink(FetchError):
    user_message = N_("That isn't a link I can open. Send an http:// or https:// link to a track.")


class HiddenCharactersLink(BadLink):
    user_message = N_(
        "That link holds hidden characters (a line break, a control or a text-direction character), "
        "so I won't open it. Copy the link again from the address bar and send just that."
    )


class RedirectLoop(BadLink):
    user_message = N_(
        "That link sends me round in circles (a redirect loop), so there's nothing to fetch. Try another link."
    )


class PlaylistLink(BadLink):
    """A link to an album, playlist or set; ``tracks`` lists them when they could be read, so
    that the member can pick which to share."""

    user_message = N_("That link is a playlist. Send a link to a single track.")

    def __init__(self, user_message: str | None = None, *, detail: str | None = None, tracks: TrackList | None = None):
        super().__init__(user_message, detail=detail)
        self.tracks = tracks


class PodcastLink(BadLink):
    user_message = N_("That link is a podcast episode, not a song. Send a link to a track, or the file.")


class LiveLink(BadLink):
    user_message = N_("That link is a live stream. Send a link to a recorded track.")


class BlockedLink(FetchError):
    user_message = N_("I can't open links to private or local network addresses.")


class NotAudioLink(FetchError):
    user_message = N_("I couldn't find any audio at that link.")


class LinkUnavailable(FetchError):
    user_message = N_("That link isn't available: the site says it doesn't exist or won't let me in.")


class LinkTimeout(FetchError):
    user_message = N_("That site is too slow, so I gave up waiting for it. Try another link, or send the file.")


class DownloadFailed(FetchError):
    user_message = N_("I couldn't download that audio. Try again later, or send the file itself.")


# --- Links to streaming services (bot/audio/services.py) ---


class SongNotFound(FetchError):
    user_message = N_("I couldn't find that song on the service the link points to: it may be private or removed.")


class NoAudioForSong(FetchError):
    user_message = N_(
        "I found the song but no audio I can hear: the service has no preview of it, and I found no "
        "matching recording. Send the file, or a link to the track on YouTube, SoundCloud or Bandcamp."
    )
