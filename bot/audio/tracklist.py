"""The tracks behind a link to an album, playlist or set: what a member picks from."""

from __future__ import annotations

from dataclasses import dataclass

#: Tracks of an album or playlist offered at most (a Discord select menu holds 25 options).
LISTED_MAX = 25


@dataclass(frozen=True)
class ListedTrack:
    """One track of an album or playlist: what to call it, and the link that shares it."""

    title: str
    url: str
    duration: float | None = None


@dataclass(frozen=True)
class TrackList:
    """The tracks behind a link to an album, playlist or set (the first :data:`LISTED_MAX`)."""

    title: str
    tracks: tuple[ListedTrack, ...]
    total: int  # how many the album or playlist holds
