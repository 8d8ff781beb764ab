"""Local imitations of the streaming services' public endpoints, for ``CRATE_SERVICE_URLS``.

One aiohttp server on 127.0.0.1 answers, under a prefix per service, the paths Crate asks with
the response shapes of the real endpoints:

* ``/spotify/track/{id}`` — the track page's OpenGraph tags as open.spotify.com writes them
  (``og:title`` the song, ``og:description`` "Artist · Album · Song · Year", ``music:duration``,
  ``music:musician_description``, ``og:audio`` the 30-s preview when there is one);
  ``/spotify/album/{id}`` lists its songs as ``music:song`` tags;
* ``/apple/lookup?id=…&entity=song`` and ``/apple/search?term=…`` — the iTunes Lookup/Search API
  (``resultCount``, ``results`` with ``wrapperType``, ``kind``, ``trackName``, ``artistName``,
  ``trackTimeMillis``, ``previewUrl``);
* ``/deezer/track/{id}``, ``/deezer/track/isrc:{isrc}``, ``/deezer/search?q=…``,
  ``/deezer/album/{id}`` — the Deezer API (``title``, ``duration``, ``isrc``, ``preview``,
  ``artist.name``; ``{"error": {...}}`` for an unknown id);
* ``/previews/{name}`` — the preview audio (MP3 made from the example music).

Every request is recorded in ``requests`` (method, path and query), so tests can tell what was
asked.
"""

from __future__ import annotations

import contextlib
import html
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from tests import music

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@dataclass
class FakeSong:
    id: str
    title: str
    artist: str
    seconds: int
    isrc: str
    preview: str | None  # a file name under /previews, or None: no preview


@dataclass
class ServiceFakes:
    base: str
    songs: dict[str, FakeSong]
    previews: dict[str, bytes]
    requests: list[str] = field(default_factory=list)

    @property
    def service_urls(self) -> str:
        """The ``CRATE_SERVICE_URLS`` value pointing every service here."""
        return ",".join(f"{name}={self.base}/{name}" for name in ("spotify", "apple", "deezer", "tidal"))

    def preview_url(self, name: str) -> str:
        return f"{self.base}/previews/{name}"


def preview_files(scratch: Path) -> dict[str, bytes]:
    """30-s MP3 previews cut from the example music (as Deezer's and iTunes' previews are)."""
    files = {}
    for source, name in (("singularity-awakening.ogg", "awakening.mp3"), ("nexuiz-brainsukker.ogg", "brainsukker.mp3")):
        target = music.convert(EXAMPLES / source, scratch / name, "-t", "30", "-c:a", "libmp3lame", "-b:a", "128k")
        files[name] = target.read_bytes()
    return files


SONGS = (
    FakeSong("1001", "Awakening", "Singularity", 287, "USCRT1000001", "awakening.mp3"),
    FakeSong("1002", "Brainsukker", "Nexuiz", 193, "USCRT1000002", "brainsukker.mp3"),
    # Known to the link's service, but without a preview there: found again by search on Deezer.
    FakeSong("1003", "Brain Sucker (Remastered 2011)", "Nexuiz", 195, "USCRT1000003", None),
    # No preview anywhere and nothing to match: "I found the song but no audio I can hear".
    FakeSong("1004", "Unheard Song", "Nobody Known", 200, "USCRT1000004", None),
)


@contextlib.asynccontextmanager
async def service_fakes(scratch: Path) -> AsyncIterator[ServiceFakes]:
    previews = preview_files(scratch)
    songs = {song.id: song for song in SONGS}
    fakes = ServiceFakes("", songs, previews)

    def preview_of(song: FakeSong) -> str | None:
        return fakes.preview_url(song.preview) if song.preview else None

    def deezer_track(song: FakeSong, *, with_preview: bool = True) -> dict:
        return {
            "id": int(song.id),
            "title": song.title,
            "duration": song.seconds,
            "isrc": song.isrc,
            "preview": (preview_of(song) or "") if with_preview else "",
            "artist": {"id": 1, "name": song.artist, "type": "artist"},
            "album": {"id": 9, "title": "Album", "type": "album"},
            "type": "track",
        }

    def itunes_track(song: FakeSong) -> dict:
        result = {
            "wrapperType": "track",
            "kind": "song",
            "trackId": int(song.id),
            "trackName": song.title,
            "artistName": song.artist,
            "collectionName": "Album",
            "trackTimeMillis": song.seconds * 1000,
            "country": "USA",
        }
        if song.preview:
            result["previewUrl"] = preview_of(song)
        return result

    def page(tags: list[tuple[str, str]]) -> web.Response:
        meta = "\n".join(f'<meta property="{k}" content="{html.escape(v)}"/>' for k, v in tags)
        return web.Response(
            text=f"<!DOCTYPE html><html><head>{meta}</head><body></body></html>", content_type="text/html"
        )

    def spotify_song_tags(song: FakeSong) -> list[tuple[str, str]]:
        tags = [
            ("og:site_name", "Spotify"),
            ("og:title", song.title),
            ("og:description", f"{song.artist} · Album · Song · 2011"),
            ("og:type", "music.song"),
            ("music:duration", str(song.seconds)),
            ("music:musician_description", song.artist),
        ]
        if song.preview and song.id != "1003":  # Spotify has no preview of 1003
            tags.append(("og:audio", preview_of(song) or ""))
        return tags

    async def handle(request: web.Request) -> web.StreamResponse:
        fakes.requests.append(request.path_qs)
        parts = request.path.strip("/").split("/")
        service, rest = parts[0], parts[1:]
        if service == "previews" and rest and rest[0] in previews:
            return web.Response(body=previews[rest[0]], content_type="audio/mpeg")
        if service == "deezer":
            if rest[:1] == ["track"] and len(rest) == 2:
                key = rest[1]
                song = (
                    next((s for s in songs.values() if f"isrc:{s.isrc}" == key), None)
                    if key.startswith("isrc:")
                    else songs.get(key)
                )
                if song is None:
                    return web.json_response({"error": {"type": "DataException", "message": "no data", "code": 800}})
                # The song without a preview anywhere has none on Deezer either.
                return web.json_response(deezer_track(song, with_preview=song.id != "1004"))
            if rest == ["search"]:
                query = request.query.get("q", "").lower()
                found = [
                    deezer_track(s)
                    for s in songs.values()
                    if s.preview and s.artist.lower() in query and s.title.split(" (")[0].lower()[:5] in query
                ]
                return web.json_response({"data": found, "total": len(found)})
            if rest[:1] == ["album"]:
                tracks = [deezer_track(s) for s in songs.values() if s.preview]
                return web.json_response({"id": int(rest[1]), "title": "Fake Album", "tracks": {"data": tracks}})
        if service == "apple":
            if rest == ["lookup"]:
                song = songs.get(request.query.get("id", ""))
                results = [itunes_track(song)] if song else []
                return web.json_response({"resultCount": len(results), "results": results})
            if rest == ["search"]:
                term = request.query.get("term", "").lower()
                found = [itunes_track(s) for s in songs.values() if s.preview and s.artist.lower() in term]
                return web.json_response({"resultCount": len(found), "results": found})
        if service in ("spotify", "tidal"):
            kind, key = (rest[-2], rest[-1]) if len(rest) >= 2 else ("", "")
            if kind == "track" and key in songs:
                return page(spotify_song_tags(songs[key]))
            if kind == "album":
                base = f"{fakes.base}"
                tags = [("og:title", "Fake Album"), ("og:type", "music.album")]
                tags += [("music:song", f"https://open.spotify.com/track/{s.id}") for s in songs.values()]
                return page(tags) if base else page([])
        raise web.HTTPNotFound()

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fakes.base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    try:
        yield fakes
    finally:
        await runner.cleanup()


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]
