"""Typed errors for audio a user shared: each one says, in plain words, what is wrong."""

from bot.errors import CrateError


class AudioError(CrateError):
    """Something about this audio prevents analysis."""

    user_message = "I couldn't read that audio."


class EmptyFile(AudioError):
    user_message = "That file is empty."


class NotAudio(AudioError):
    user_message = (
        "That doesn't look like audio I can read. Send an MP3, OGG, Opus, FLAC, WAV, M4A/AAC "
        "or WebM file."
    )


class CorruptAudio(AudioError):
    user_message = "That audio file seems corrupt or truncated, so I couldn't decode it."


class TooLarge(AudioError):
    user_message = "That file is too large for me."


class TooLong(AudioError):
    user_message = "That track is too long for me."


class TooShort(AudioError):
    user_message = "That clip is too short to tell what it is."


class SilentAudio(AudioError):
    user_message = "That audio is silent, so there's nothing to listen to."
