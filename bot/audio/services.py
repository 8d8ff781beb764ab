"""Links to streaming services: which song it is, and what audio Crate can hear for it.

Spotify, Apple Music, Deezer and Tidal sell no downloadable audio, so a link to a song there is
resolved the way every Discord music bot does: its title, artist, length (and ISRC where
public) come from the services' keyless public endpoints — the page's OpenGraph tags (Spotify,
Tidal, and any page that declares ``og:type`` ``music.song``), the iTunes Lookup/Search API
(Apple Music) and the Deezer API — and the audio is the service's own 30-s preview where there
is one (Spotify's ``og:audio``, iTunes, Deezer), else a recording found by ISRC or by artist
and title on Deezer or iTunes, kept only when title, artist and length agree.

Every request goes through the caller's ``get`` (yt-dlp's guarded opener in
:mod:`bot.audio.fetch`: the private-address guard and the page cap apply), and every base URL
can be pointed elsewhere (``CRATE_SERVICE_URLS``, for tests against local imitations).
"""

from __future__ import annotations

import dataclasses
import difflib
import html
import json
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, Literal
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from bot.audio.errors import NoAudioForSong, SongNotFound
from bot.i18n import _

#: Each service's public endpoints; ``CRATE_SERVICE_URLS`` replaces any of them.
DEFAULT_SERVICE_URLS: Mapping[str, str] = {
    "spotify": "https://open.spotify.com",
    "apple": "https://itunes.apple.com",
    "deezer": "https://api.deezer.com",
    "tidal": "https://tidal.com",
}
#: How services are named to members.
SERVICE_NAMES: Mapping[str, str] = {"spotify": "Spotify", "apple": "Apple Music", "deezer": "Deezer", "tidal": "Tidal"}

#: A recording found by search is the song only if its title and artist read alike (difflib's
#: ratio of their normalized forms) and its length is within this many seconds (or 10 %).
MATCH_MIN_SIMILARITY = 0.8
MATCH_MAX_SECONDS_OFF = 7.0

#: Fetches a URL's body (bytes), through the guarded opener; raises a CrateError on failure.
Get = Callable[[str], bytes]


@dataclass(frozen=True)
class Song:
    """A song as a streaming service describes it."""

    title: str
    artist: str
    duration: float | None = None
    isrc: str | None = None
    preview_url: str | None = None
    service: str = ""  # the service that described it (a key of DEFAULT_SERVICE_URLS, or "page")
    #: The song's own link on that service (what a member would share), when known.
    page_url: str | None = None


@dataclass(frozen=True)
class Heard:
    """What Crate listened to for a streaming link, to say so in the answer."""

    kind: Literal["preview", "match"]  # the song's 30-s preview, or a recording matched by search
    title: str
    artist: str
    source: str  # the service the audio came from, as members read it ("Deezer")

    @property
    def description(self) -> str:
        """``30-s preview of “Song” by Artist, from Deezer`` (user-given text: escape it to show it)."""
        if self.kind == "preview":
            said = _("30-s preview of “{title}” by {artist}, from {source}")
        else:
            said = _("matched recording of “{title}” by {artist}, from {source}")
        return said.format(title=self.title, artist=self.artist, source=self.source)


@dataclass(frozen=True)
class Link:
    """A recognised streaming link: the service, what it points at, and its id there."""

    service: str
    kind: Literal["track", "album", "playlist"]
    id: str
    country: str = "us"


@dataclass(frozen=True)
class Collection:
    """An album or playlist: its title and songs, in order."""

    title: str
    songs: tuple[Song, ...] = field(default_factory=tuple)


_SPOTIFY = re.compile(r"^/(?:intl-[a-z-]+/)?(track|album|playlist)/([A-Za-z0-9]+)")
_DEEZER = re.compile(r"^/(?:[a-z]{2}/)?(track|album|playlist)/(\d+)")
_TIDAL = re.compile(r"^/(?:browse/)?(track|album|playlist)/([A-Za-z0-9-]+)")
_APPLE_SONG = re.compile(r"^/([a-z]{2})/song/(?:[^/]+/)?(\d+)")
_APPLE_ALBUM = re.compile(r"^/([a-z]{2})/album/(?:[^/]+/)?(\d+)")
_APPLE_PLAYLIST = re.compile(r"^/([a-z]{2})/playlist/(?:[^/]+/)?(pl\.[A-Za-z0-9-]+)")


def recognise(url: str) -> Link | None:
    """The streaming link ``url`` is, or None for any other link."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return None
    host = (parts.hostname or "").lower().removeprefix("www.")
    if host == "open.spotify.com" and (match := _SPOTIFY.match(parts.path)):
        return Link("spotify", match.group(1), match.group(2))  # type: ignore[arg-type]
    if host == "deezer.com" and (match := _DEEZER.match(parts.path)):
        return Link("deezer", match.group(1), match.group(2))  # type: ignore[arg-type]
    if host in ("tidal.com", "listen.tidal.com") and (match := _TIDAL.match(parts.path)):
        return Link("tidal", match.group(1), match.group(2))  # type: ignore[arg-type]
    if host in ("music.apple.com", "itunes.apple.com"):
        track = parse_qs(parts.query).get("i", [""])[0]
        if (match := _APPLE_ALBUM.match(parts.path)) and track.isdigit():
            return Link("apple", "track", track, match.group(1))
        if match := _APPLE_SONG.match(parts.path):
            return Link("apple", "track", match.group(2), match.group(1))
        if match := _APPLE_ALBUM.match(parts.path):
            return Link("apple", "album", match.group(2), match.group(1))
        if match := _APPLE_PLAYLIST.match(parts.path):
            return Link("apple", "playlist", match.group(2), match.group(1))
    return None


class Services:
    """The services' endpoints (``bases``) read through ``get``."""

    def __init__(self, get: Get, bases: Mapping[str, str] | None = None):
        self.get = get
        self.bases = {**DEFAULT_SERVICE_URLS, **(bases or {})}

    def _url(self, service: str, path: str, **query: str) -> str:
        base = self.bases[service].rstrip("/")
        return f"{base}{path}" + (f"?{urlencode(query)}" if query else "")

    def _json(self, url: str) -> Any:
        try:
            return json.loads(self.get(url))
        except ValueError:
            return None

    # -- what a link is -----------------------------------------------------------------------

    def song(self, link: Link, url: str) -> Song:
        """The song a track link names (raises :class:`SongNotFound`)."""
        if link.service == "deezer":
            found = _deezer_song(self._json(self._url("deezer", f"/track/{link.id}")))
        elif link.service == "apple":
            found = self._apple_lookup(link.id, link.country)
        elif link.service == "spotify":
            found = _page_song(self.get(self._url("spotify", f"/track/{link.id}")), "spotify")
            if found is not None and not found.artist:
                found = None
        else:
            found = _page_song(self.get(self._url("tidal", f"/browse/track/{link.id}")), "tidal")
        if found is None:
            raise SongNotFound(detail=f"{url}: no song in {link.service}'s answer")
        return found

    def collection(self, link: Link, url: str) -> Collection:
        """An album's or playlist's songs (raises :class:`SongNotFound`)."""
        songs: list[Song] = []
        title = ""
        if link.service == "deezer":
            data = self._json(self._url("deezer", f"/{link.kind}/{link.id}")) or {}
            title = str(data.get("title") or "")
            songs = [s for s in map(_deezer_song, (data.get("tracks") or {}).get("data") or []) if s]
        elif link.service == "apple" and link.kind == "album":
            data = self._json(self._url("apple", "/lookup", id=link.id, entity="song", country=link.country)) or {}
            results = data.get("results") or []
            title = next(
                (str(r.get("collectionName") or "") for r in results if r.get("wrapperType") == "collection"), ""
            )
            songs = [s for s in map(_itunes_song, results) if s]
        elif link.service in ("spotify", "tidal"):
            path = f"/{link.kind}/{link.id}" if link.service == "spotify" else f"/browse/{link.kind}/{link.id}"
            tags = _meta_tags(self.get(self._url(link.service, path)))
            title = tags.get("og:title", "")
            for song_url in tags.get_all("music:song"):
                inner = recognise(song_url)
                if inner is not None and inner.kind == "track":
                    try:
                        songs.append(dataclasses.replace(self.song(inner, song_url), page_url=song_url))
                    except SongNotFound:
                        continue
        if not songs:
            raise SongNotFound(detail=f"{url}: no songs in {link.service}'s {link.kind}")
        return Collection(title, tuple(songs))

    def page_song(self, page: bytes) -> Song | None:
        """The song a page declares with OpenGraph music tags (``og:type`` ``music.song``)."""
        return _page_song(page, "page")

    def _apple_lookup(self, track_id: str, country: str) -> Song | None:
        data = self._json(self._url("apple", "/lookup", id=track_id, entity="song", country=country)) or {}
        return next((s for s in map(_itunes_song, data.get("results") or []) if s), None)

    # -- what Crate can hear for a song ---------------------------------------------------------

    def audio(self, song: Song, url: str) -> tuple[str, Heard]:
        """The URL of audio for ``song`` and what it is: its own preview, or a matched recording
        on Deezer or iTunes (raises :class:`NoAudioForSong`)."""
        if song.preview_url:
            return song.preview_url, Heard("preview", song.title, song.artist, _source_name(song.service))
        for candidate in self._candidates(song):
            if candidate.preview_url and matches(song, candidate):
                return candidate.preview_url, Heard(
                    "match", candidate.title, candidate.artist, _source_name(candidate.service)
                )
        raise NoAudioForSong(detail=f"{url}: no preview or match for {song.artist} - {song.title}")

    def _candidates(self, song: Song) -> list[Song]:
        found: list[Song] = []
        if song.isrc:
            found += filter(None, [_deezer_song(self._json(self._url("deezer", f"/track/isrc:{quote(song.isrc)}")))])
        query = f'artist:"{song.artist}" track:"{song.title}"'
        found += filter(
            None, map(_deezer_song, (self._json(self._url("deezer", "/search", q=query)) or {}).get("data") or [])
        )
        itunes = self._json(
            self._url("apple", "/search", term=f"{song.artist} {song.title}", entity="song", limit="10")
        )
        found += filter(None, map(_itunes_song, (itunes or {}).get("results") or []))
        return found


def matches(wanted: Song, found: Song) -> bool:
    """Whether ``found`` is the recording ``wanted`` names: title and artist alike, length close."""
    if _similarity(wanted.title, found.title) < MATCH_MIN_SIMILARITY:
        return False
    if _similarity(wanted.artist, found.artist) < MATCH_MIN_SIMILARITY:
        return False
    if wanted.duration and found.duration:
        off = abs(wanted.duration - found.duration)
        return off <= max(MATCH_MAX_SECONDS_OFF, 0.1 * wanted.duration)
    return True


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, _normal(a), _normal(b)).ratio()


_NOISE = re.compile(
    r"\s*[\(\[][^\)\]]*(remaster|version|edit|(?<!re)mix|mono|stereo|live|feat\.?|ft\.|official|video|audio|lyric|"
    r"visuali[sz]er|hd|4k)[^\)\]]*[\)\]]",
    re.I,
)
_FEAT = re.compile(r"\s+(feat\.?|ft\.|featuring)\s.*$", re.I)
_SUFFIX = re.compile(r"\s+-\s+[^-]*(remaster|version|edit|(?<!re)mix|mono|stereo|live)[^-]*$", re.I)


def _normal(text: str) -> str:
    """Lower case, accents and punctuation gone; "(Remastered 2011)", "- Live" and "feat. X" dropped."""
    text = _FEAT.sub("", _SUFFIX.sub("", _NOISE.sub("", text)))
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def song_key(title: str) -> str | None:
    """Who and what a title names, as "artist|song" in normal form, when it has the shape every
    service and most music videos use, "Artist - Song (Official Video)"; None otherwise. Two
    tracks with one key are one song, whatever their audio (a service's preview, a video)."""
    parts = _SEPARATOR.split(title, maxsplit=1)
    if len(parts) != 2:
        return None
    artist, song = _normal(parts[0]), _normal(parts[1])
    return f"{artist}|{song}" if artist and song else None


_SEPARATOR = re.compile(r"\s+[-–—]\s+")


def _source_name(service: str) -> str:
    return SERVICE_NAMES.get(service, "the page")


def _deezer_song(data: Any) -> Song | None:
    if not isinstance(data, dict) or data.get("error") or not data.get("title"):
        return None
    artist = data.get("artist") or {}
    return Song(
        title=str(data["title"]),
        artist=str(artist.get("name") or "") if isinstance(artist, dict) else "",
        duration=_number(data.get("duration")),
        isrc=str(data["isrc"]) if data.get("isrc") else None,
        preview_url=str(data["preview"]) if data.get("preview") else None,
        service="deezer",
        page_url=f"https://www.deezer.com/track/{data['id']}" if data.get("id") else None,
    )


def _itunes_song(data: Any) -> Song | None:
    if not isinstance(data, dict) or data.get("kind") != "song" or not data.get("trackName"):
        return None
    millis = _number(data.get("trackTimeMillis"))
    return Song(
        title=str(data["trackName"]),
        artist=str(data.get("artistName") or ""),
        duration=None if millis is None else millis / 1000.0,
        preview_url=str(data["previewUrl"]) if data.get("previewUrl") else None,
        service="apple",
        page_url=f"https://music.apple.com/us/song/{data['trackId']}" if data.get("trackId") else None,
    )


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _page_song(page: bytes, service: str) -> Song | None:
    """A song from a page's OpenGraph tags: ``og:title`` (the song), the artist from
    ``music:musician_description`` or the first part of ``og:description`` ("Artist · Album ·
    Song · 2019", as Spotify writes it), ``music:duration``, ``music:isrc`` and ``og:audio``."""
    tags = _meta_tags(page)
    kind = tags.get("og:type", "")
    title = tags.get("og:title", "")
    if not title or (service == "page" and not kind.startswith("music.song")):
        return None
    artist = tags.get("music:musician_description", "") or tags.get("music:musician:name", "")
    if not artist:
        description = tags.get("og:description", "")
        parts = [p.strip() for p in re.split(r"\s+[·•|-]\s+", description) if p.strip()]
        artist = parts[0] if len(parts) >= 2 else ""
    if not artist and " - " in title:  # "Song - Artist" (Tidal's titles)
        title, artist = (part.strip() for part in title.split(" - ", 1))
    audio = tags.get("og:audio", "") or tags.get("og:audio:url", "") or tags.get("og:audio:secure_url", "")
    return Song(
        title=title,
        artist=artist,
        duration=_number(tags.get("music:duration")),
        isrc=tags.get("music:isrc") or None,
        preview_url=audio or None,
        service=service,
    )


class _Tags(dict[str, str]):
    """``<meta>`` tags by property/name: the first value, and every value with :meth:`get_all`."""

    def __init__(self) -> None:
        super().__init__()
        self._all: dict[str, list[str]] = {}

    def add(self, key: str, value: str) -> None:
        self._all.setdefault(key, []).append(value)
        self.setdefault(key, value)

    def get_all(self, key: str) -> Sequence[str]:
        return self._all.get(key, [])


class _MetaParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags = _Tags()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "meta":
            return
        found = dict(attrs)
        key = (found.get("property") or found.get("name") or "").strip().lower()
        value = found.get("content")
        if key and value is not None:
            self.tags.add(key, html.unescape(value).strip())


def _meta_tags(page: bytes) -> _Tags:
    parser = _MetaParser()
    parser.feed(page.decode("utf-8", errors="replace"))
    return parser.tags
