"""Why Crate picked a track, as data: what the recommender found (a kind, the track it is close
to, the members it is for), never a sentence. Front ends word it with the names they show
(:func:`bot.present.reasons.reason_text`); a session's queue stores it as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from enum import StrEnum

from bot.i18n import N_

#: The two reasons a session's queue stores as sentences (English, said in the member's language
#: by :func:`bot.present.reasons.reason_text`).
RADIO_SEED = N_("the radio's seed")
FROM_PLAYLIST = N_("from the playlist “{name}”")


class ReasonKind(StrEnum):
    # one member (/recommend, "More like this", a start for newcomers)
    CLOSE_TO_LIKED = "close_to_liked"  # close in sound to a track they liked (track_title)
    LIKED_GENRE = "liked_genre"  # a genre they clearly like, and Crate is sure of the track's (genre)
    LIKED_GENRES = "liked_genres"  # no longer given (it claimed tastes): read from old queues, worded as NEW_TO_YOU
    NEW_TO_YOU = "new_to_you"  # new to them, from what the server shares: nothing truer to name
    SIMILAR_TASTE = "similar_taste"  # liked by members whose taste is like theirs (member_ids, count)
    FILTER_NEW = "filter_new"  # matches the asked genre, not heard here yet (genre: the filter)
    DIFFERENT = "different"  # something different to widen the mix (genre, if sure)
    CLOSE_TO = "close_to"  # close in sound to the seed of "More like this" (track_title)
    MORE_OF_GENRE = "more_of_genre"  # the seed's genre, like the seed (genre, track_title)
    POPULAR = "popular"  # liked by the server (count)
    STARTER = "starter"  # a pick of the genre a newcomer chose (genre)
    EXPLORE = "explore"  # a sample of what the server shares (genre, if sure)
    # a group (sessions, /taste)
    GROUP_NEW = "group_new"  # nobody present turned it down (genre, if sure)
    EVERYONE_LIKED = "everyone_liked"
    EVERYONE_INTO = "everyone_into"  # everyone present clearly likes its genre (genre)
    FOR_LIKED = "for_liked"  # for these members, who liked it (member_ids / everyone)
    FOR_CLOSE_TO_LIKED = "for_close_to_liked"  # close to a track some of them liked (track_title, liked_by)
    FOR_INTO = "for_into"  # for these members, into its genre (genre)
    FOR = "for"  # for these members
    # a radio
    AFTER = "after"  # follows the track played before it (track_title), for these members
    # a song path (/path)
    PATH = "path"  # step `step` of `steps` on the path from track_title to to_title


@dataclass(frozen=True)
class Reason:
    kind: ReasonKind
    genre: str = ""  # a genre in words, named only when Crate is sure of the track's genre
    track_id: int | None = None  # the track it is close to, or follows
    track_title: str = ""
    member_ids: tuple[int, ...] = ()  # whom it is for, or (SIMILAR_TASTE) who liked it, closest taste first
    liked_by: tuple[int, ...] = ()  # FOR_CLOSE_TO_LIKED: who of them liked that track
    everyone: bool = False  # it is for everyone present
    count: int = 0  # likes (POPULAR), or listeners with that taste (SIMILAR_TASTE)
    to_track_id: int | None = None  # PATH: where the path goes (track_id, track_title: where it starts)
    to_title: str = ""
    step: int = 0  # PATH: this track's place on the path (1: the start), of `steps`
    steps: int = 0

    def to_json(self) -> str:
        given = {key: value for key, value in asdict(self).items() if value not in ("", (), None, False, 0)}
        return json.dumps(given, separators=(",", ":"), ensure_ascii=False)  # "kind" first: see bot.store.sessions

    @classmethod
    def from_json(cls, text: str) -> Reason:
        data = json.loads(text)
        return cls(
            kind=ReasonKind(data["kind"]),
            genre=str(data.get("genre", "")),
            track_id=None if data.get("track_id") is None else int(data["track_id"]),
            track_title=str(data.get("track_title", "")),
            member_ids=tuple(int(u) for u in data.get("member_ids", ())),
            liked_by=tuple(int(u) for u in data.get("liked_by", ())),
            everyone=bool(data.get("everyone", False)),
            count=int(data.get("count", 0)),
            to_track_id=None if data.get("to_track_id") is None else int(data["to_track_id"]),
            to_title=str(data.get("to_title", "")),
            step=int(data.get("step", 0)),
            steps=int(data.get("steps", 0)),
        )
