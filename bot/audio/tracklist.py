"""The tracks behind a link to an album, playlist or set: what a member picks from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
    """The tracks behind a link to an album, playlist or set (the first :data:`LISTED_MAX`).

    ``title`` is the album's or playlist's own name, None when the site gives none: whoever shows
    it then says "this album" or "this playlist" (``kind``) in the member's language."""

    title: str | None
    tracks: tuple[ListedTrack, ...]
    total: int  # how many the album or playlist holds
    kind: Literal["album", "playlist"] = "playlist"
