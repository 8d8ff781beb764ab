"""Get the audio a user shared onto disk: from a link (via yt-dlp) or a Discord attachment.

Both paths enforce ``AudioLimits`` as early as the information allows: before downloading when
the metadata or headers state a size or duration, and while downloading otherwise. Everything is
written into a directory the caller owns (``scratch_directory``), which is removed afterwards
whatever happens. Decoding, and the exact duration checks, happen later (``bot.audio.decode``).

Links are untrusted, so every connection yt-dlp makes is vetted by ``bot.audio.address``
(see there for what that covers). Every response yt-dlp reads is capped: while it looks for
the audio (reading pages into memory to parse them) at ``max_page_bytes``, while it downloads
the media at ``AudioLimits.max_bytes``; compressed responses are decoded within the same cap.
Known limits: HLS-only sources are refused (see ``SAFE_PROTOCOLS``); direct links without a
telling extension or type are downloaded and left for the decoder to reject.

``download_link`` is blocking and CPU-hungry (yt-dlp): the bot runs it in a process of its own,
with a wall-clock deadline, through ``bot.audio.download``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import http.client
import io
import logging
import re
import socket
import tempfile
import time
import urllib.request
import urllib.response
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import aiohttp
import yt_dlp
from yt_dlp.networking import _urllib as ytdlp_urllib
from yt_dlp.networking.common import Response as YtdlpResponse
from yt_dlp.networking.exceptions import HTTPError as YtdlpHTTPError
from yt_dlp.utils import MEDIA_EXTENSIONS, UnsupportedError

from bot.audio.address import BlockedAddress, check_url, guarded_connection
from bot.audio.errors import (
    BadLink,
    BlockedLink,
    DownloadFailed,
    HiddenCharactersLink,
    LinkTimeout,
    LinkUnavailable,
    LiveLink,
    NotAudio,
    NotAudioLink,
    PageTooLarge,
    PlaylistLink,
    PodcastLink,
    RedirectLoop,
    TooLarge,
    TooLong,
)
from bot.audio.jsruntime import js_runtimes
from bot.audio.services import Collection, Heard, Services, Song, recognise
from bot.audio.tracklist import LISTED_MAX, ListedTrack, TrackList
from bot.config import AudioLimits
from bot.errors import CrateError
from bot.format import clip, format_duration
from bot.i18n import N_
from bot.safe_text import has_unsafe

log = logging.getLogger(__name__)

#: Protocols yt-dlp may download with. All of them go through yt-dlp's own HTTP code (and so
#: through ``guarded_connection``). HLS is left out because yt-dlp hands some HLS streams to
#: ffmpeg, which would connect without the guard.
SAFE_PROTOCOLS = frozenset({"http", "https", "http_dash_segments"})

#: Declared attachment types worth downloading; anything else is refused before download.
AUDIO_CONTENT_TYPES = ("audio/", "video/")
GENERIC_CONTENT_TYPES = frozenset({"application/ogg", "application/x-ogg", "application/octet-stream"})

_CHUNK = 64 * 1024
#: Default cap on a web page read while looking for the audio (``Settings.max_page_bytes``).
MAX_PAGE_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class FetchedAudio:
    path: Path  # inside a temp dir owned by the caller's context
    title: str  # human title (yt-dlp title, or attachment filename)
    source_url: str  # the link or attachment URL
    size: int
    #: For a streaming link: what Crate listened to (a preview, or a matched recording).
    heard: Heard | None = None


@contextlib.contextmanager
def scratch_directory() -> Iterator[Path]:
    """A fresh temporary directory that is removed on exit, even when the body raises."""
    with tempfile.TemporaryDirectory(prefix="crate-") as name:
        yield Path(name)


# --- Links -----------------------------------------------------------------------------------


def download_link(
    url: str,
    directory: Path,
    *,
    limits: AudioLimits,
    allowlist: Sequence[str],
    timeout: float,
    deadline: float | None = None,
    max_page_bytes: int = MAX_PAGE_BYTES,
    services: Mapping[str, str] | None = None,
) -> FetchedAudio:
    """Download the audio behind ``url`` into ``directory`` with yt-dlp. Blocking.

    ``timeout`` bounds each socket operation; ``deadline`` (seconds, optional) bounds the
    media download as checked between blocks (``bot.audio.download`` enforces the wall-clock
    deadline of the whole job from outside, by killing the process). Pages read while looking
    for the audio may be ``max_page_bytes`` long at most, media ``limits.max_bytes``.
    A link to a song on a streaming service (or a page with OpenGraph music tags) is resolved
    to the song, then to audio for it (:mod:`bot.audio.services`, at the base URLs
    ``services`` overrides); the answer's ``heard`` says what that audio is.
    Raises a ``CrateError`` subclass with a sentence for the user on every expected failure.
    """
    media = functools.partial(
        _download_media, directory=directory, limits=limits, allowlist=allowlist, timeout=timeout,
        deadline=deadline, max_page_bytes=max_page_bytes,
    )  # fmt: skip
    link = recognise(url)
    if link is None:
        check_url(url, allowlist)
    elif has_unsafe(url.strip()):  # never fetched itself (its service's endpoints are), but stored
        raise HiddenCharactersLink(detail=f"hidden characters in {url!r}")
    if link is not None:
        with _page_reader(allowlist, timeout, max_page_bytes) as get:
            resolver = Services(get, services)
            if link.kind != "track":
                kind: Literal["album", "playlist"] = "album" if link.kind == "album" else "playlist"
                tracks = _album_tracks(resolver.collection(link, url), kind)
                raise PlaylistLink(detail=f"{url}: a {link.service} {link.kind}", tracks=tracks)
            return _song_audio(resolver, resolver.song(link, url), url, media)
    try:
        return media(url)
    except NotAudioLink:
        with _page_reader(allowlist, timeout, max_page_bytes) as get:
            resolver = Services(get, services)
            song = _declared_song(resolver, get, url)
            if song is None:
                raise
            return _song_audio(resolver, song, url, media)


def _song_audio(resolver: Services, song: Song, url: str, media: Callable[[str], FetchedAudio]) -> FetchedAudio:
    """Audio for ``song`` (its preview, or a matched recording), kept under the member's link."""
    audio_url, heard = resolver.audio(song, url)
    fetched = media(audio_url)
    title = f"{song.artist} - {song.title}" if song.artist else song.title
    return dataclasses.replace(fetched, title=title, source_url=url, heard=heard)


def _declared_song(resolver: Services, get: Callable[[str], bytes], url: str) -> Song | None:
    """The song a page declares with OpenGraph music tags, if it is such a page."""
    try:
        return resolver.page_song(get(url))
    except CrateError:
        return None


@contextlib.contextmanager
def _page_reader(allowlist: Sequence[str], timeout: float, max_page_bytes: int) -> Iterator[Callable[[str], bytes]]:
    """``get(url) -> body`` through the guarded opener (the address guard, the page cap), for
    the streaming services' pages and APIs; failures are the user's sentences."""
    cap = ReadCap(max_page_bytes, lambda: PageTooLarge(detail=f"a page over {max_page_bytes} bytes"))
    params = {"socket_timeout": timeout, "quiet": True, "no_warnings": True, "proxy": "", "logger": _YtdlpLogger()}
    with _GuardedYoutubeDL(params, allowlist=allowlist, cap=cap) as ydl:

        def get(page_url: str) -> bytes:
            check_url(page_url, allowlist)
            try:
                with ydl.urlopen(page_url) as response:
                    return response.read()
            except CrateError:
                raise
            except Exception as error:
                raise _translate(error, page_url) from error

        yield get


def _album_tracks(collection: Collection, kind: Literal["album", "playlist"]) -> TrackList:
    """An album's or playlist's songs as links to share (the first ``LISTED_MAX``)."""
    listed = [
        ListedTrack(f"{s.artist} - {s.title}" if s.artist else s.title, s.page_url, s.duration)
        for s in collection.songs
        if s.page_url
    ]
    return TrackList(collection.title.strip() or None, tuple(listed[:LISTED_MAX]), len(listed), kind)


def _playlist_tracks(info: dict[str, Any]) -> TrackList:
    """A playlist's entries as yt-dlp lists them (flat: none of them visited)."""
    listed = []
    for entry in info.get("entries") or []:
        entry_url = entry.get("webpage_url") or entry.get("url") if isinstance(entry, dict) else None
        if isinstance(entry_url, str) and entry_url.startswith(("http://", "https://")) and not has_unsafe(entry_url):
            duration = entry.get("duration")
            title = str(entry.get("title") or entry.get("id") or entry_url)
            listed.append(ListedTrack(title, entry_url, float(duration) if duration else None))
    total = max(int(info.get("playlist_count") or 0), len(listed))
    title = str(info.get("title") or "").strip()
    return TrackList(title or None, tuple(listed[:LISTED_MAX]), total, "playlist")


def _download_media(
    url: str,
    *,
    directory: Path,
    limits: AudioLimits,
    allowlist: Sequence[str],
    timeout: float,
    deadline: float | None,
    max_page_bytes: int,
) -> FetchedAudio:
    """The audio behind a link yt-dlp can read: a page of a site it knows, or a media file."""
    check_url(url, allowlist)
    started = time.monotonic()
    cap = ReadCap(max_page_bytes, lambda: PageTooLarge(detail=f"{url}: a page over {max_page_bytes} bytes"))

    def progress(status: dict[str, Any]) -> None:
        # Raised exceptions abort the download and propagate out of yt-dlp unchanged.
        if status.get("status") != "downloading":
            return
        expected = status.get("total_bytes") or 0  # from Content-Length, before the body
        if max(expected, status.get("downloaded_bytes") or 0) > limits.max_bytes:
            raise _too_large(limits, detail=f"{url}: {expected or 'more than limit'} bytes")
        if deadline is not None and time.monotonic() - started > deadline:
            raise LinkTimeout(detail=f"{url}: download exceeded {deadline:g} s")

    params = {
        "format": "bestaudio/best",
        "noplaylist": True,
        "extract_flat": "in_playlist",  # a playlist's entries are listed for the member, never visited
        "playlistend": LISTED_MAX,
        "socket_timeout": timeout,
        "retries": 0,
        "extractor_retries": 0,
        "fragment_retries": 0,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "cachedir": False,
        "js_runtimes": js_runtimes(),  # Deno from the PyPI package, by path: no PATH needed (bot/audio/jsruntime.py)
        "proxy": "",  # a proxy would connect on our behalf, past the address guard
        "external_downloader": {"default": "native"},
        "outtmpl": {"default": "link.%(ext)s"},
        "paths": {"home": str(directory), "temp": str(directory)},
        "overwrites": True,
        "progress_hooks": [progress],
        "logger": _YtdlpLogger(),
    }
    try:
        with _GuardedYoutubeDL(params, allowlist=allowlist, cap=cap) as ydl:
            info = ydl.extract_info(url, download=False)
            _check_metadata(info, url, limits, allowlist)
            cap.limit, cap.error = limits.max_bytes, lambda: _too_large(limits, detail=f"{url}: body over limit")
            info = ydl.process_ie_result(info, download=True)
    except CrateError:
        raise
    except Exception as error:  # yt-dlp wraps everything; find out what really happened
        raise _translate(error, url) from error
    return _downloaded(info, directory, url)


def _check_metadata(info: dict[str, Any] | None, url: str, limits: AudioLimits, allowlist: Sequence[str]) -> None:
    """Refuse, before any media is downloaded, what the extracted metadata already rules out."""
    if not info:
        raise NotAudioLink(detail=f"{url}: no info")
    if info.get("_type") in ("playlist", "multi_video"):
        raise PlaylistLink(detail=f"{url}: {info.get('_type')}", tracks=_playlist_tracks(info))
    if info.get("is_live") or info.get("live_status") in ("is_live", "is_upcoming", "post_live"):
        raise LiveLink(detail=f"{url}: live_status={info.get('live_status')}")
    if _is_podcast(info):
        raise PodcastLink(detail=f"{url}: {info.get('extractor_key')} episode")
    duration = info.get("duration")
    if duration and duration > limits.max_duration:
        raise TooLong(
            N_("That track is too long for me (the limit is {limit})."),
            values={"limit": format_duration(limits.max_duration)},
            detail=f"{url}: duration {duration} s",
        )
    size = info.get("filesize") or info.get("filesize_approx")
    if size and size > limits.max_bytes:
        raise _too_large(limits, detail=f"{url}: metadata size {size}")
    if info.get("requested_formats"):
        raise NotAudioLink(detail=f"{url}: would need merging {info['format_id']}")
    if info.get("protocol") not in SAFE_PROTOCOLS:
        raise NotAudioLink(
            N_("That site only offers this track as a stream I can't download. Try another link, or send the file."),
            detail=f"{url}: protocol {info.get('protocol')}",
        )
    ext = info.get("ext")
    if info.get("direct") and ext not in (*MEDIA_EXTENSIONS.audio, *MEDIA_EXTENSIONS.video, "unknown_video"):
        # yt-dlp's generic extractor offers any non-HTML file as "media" (e.g. a PNG).
        raise NotAudioLink(detail=f"{url}: direct link to .{ext}")
    # Redundant with the connection guard, but gives a clear answer before connecting.
    for checked in (info.get("webpage_url"), info.get("url")):
        if checked:
            check_url(checked, allowlist)


def _is_podcast(info: dict[str, Any]) -> bool:
    """A podcast episode (speech, an hour of it), not a song: by yt-dlp's extractor or its fields."""
    extractor = str(info.get("extractor_key") or info.get("extractor") or "").lower()
    if "podcast" in extractor or info.get("media_type") == "podcast":
        return True
    return bool(info.get("episode") and info.get("series") and not info.get("track"))


def _downloaded(info: dict[str, Any], directory: Path, url: str) -> FetchedAudio:
    downloads = info.get("requested_downloads") or [{}]
    filepath = downloads[0].get("filepath")
    path = Path(filepath).resolve() if filepath else None
    if path is None or not path.is_file() or directory.resolve() not in path.parents:
        raise DownloadFailed(detail=f"{url}: yt-dlp reported no file ({filepath!r})")
    title = str(info.get("title") or info.get("id") or "Untitled")
    return FetchedAudio(path=path, title=title, source_url=url, size=path.stat().st_size)


def _translate(error: BaseException, url: str) -> CrateError:
    """Map whatever yt-dlp raised onto the error the user should read."""
    detail = f"{url}: {error}"
    chain = list(_causes(error))
    for cause in chain:
        if isinstance(cause, CrateError):
            return cause
        if isinstance(cause, BlockedAddress):
            return BlockedLink(detail=detail)
    for cause in chain:
        if isinstance(cause, YtdlpHTTPError):
            if getattr(cause, "redirect_loop", False):  # a chain past urllib's 10 hops, or a circle
                return RedirectLoop(detail=detail)
            if 300 <= cause.status < 400:  # a redirect urllib refused to follow (file:, ftp:...)
                return BadLink(detail=detail)
            if cause.status in (401, 403, 404, 410, 451):
                return LinkUnavailable(detail=detail)
            return DownloadFailed(
                N_("That site answered with an error (HTTP {status}). Try again later."),
                values={"status": cause.status},
                detail=detail,
            )
        if isinstance(cause, (TimeoutError, socket.timeout)):
            return LinkTimeout(detail=detail)
        if isinstance(cause, socket.gaierror):
            return LinkUnavailable(
                N_("I couldn't find the website in that link. Check the address and try again."), detail=detail
            )
        if isinstance(cause, UnsupportedError):
            return NotAudioLink(detail=detail)
    message = str(error).lower()
    if "timed out" in message:
        return LinkTimeout(detail=detail)
    for hints, sentence in _UNAVAILABLE:
        if any(hint in message for hint in hints):
            return LinkUnavailable(sentence, detail=detail)
    if any(
        hint in message
        for hint in ("unsupported url", "no video formats", "no formats", "requested format is not available")
    ):
        return NotAudioLink(detail=detail)
    return DownloadFailed(detail=detail)


#: What sites say (in yt-dlp's error text) when a video or track can't be had, and what members read.
_UNAVAILABLE: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("private video", "this video is private", "is private"),
        N_("That video or track is private, so I can't hear it."),
    ),
    (
        ("sign in to confirm your age", "age-restricted", "age restricted", "inappropriate for some users"),
        N_("That video is age-restricted, so I can't get it without an account. Send another link, or the file."),
    ),
    (
        (
            "not available in your country",
            "not made this video available in your country",
            "geo restrict",
            "geo-restrict",
        ),
        N_("That video or track isn't available where I am (it's region-blocked). Send another link, or the file."),
    ),
    (
        ("video unavailable", "has been removed", "no longer available", "does not exist", "this track was not found"),
        N_("That video or track isn't there any more (removed or deleted)."),
    ),
)


def _causes(error: BaseException | None) -> Iterator[BaseException]:
    """The error and everything it wraps: Python chaining plus yt-dlp's and urllib's own fields."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop(0)
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        exc_info = getattr(current, "exc_info", None)
        pending += [
            current.__cause__,
            current.__context__,
            getattr(current, "cause", None),  # ExtractorError, RequestError
            getattr(current, "reason", None),  # urllib.error.URLError
            exc_info[1] if isinstance(exc_info, tuple) and len(exc_info) > 1 else None,  # DownloadError
            *(getattr(current, "unexpected_errors", None) or ()),  # NoSupportingHandlers
        ]


class _GuardedYoutubeDL(yt_dlp.YoutubeDL):
    """A YoutubeDL whose every HTTP request goes through ``GuardedRH``.

    yt-dlp normally picks among several request handlers (urllib, requests, curl_cffi,
    websockets); this one only has the guarded urllib handler, so there is no way around it.
    """

    def __init__(self, params: dict[str, Any], *, allowlist: Sequence[str], cap: ReadCap | None = None):
        self._allowlist = tuple(allowlist)
        self._cap = cap
        super().__init__(params)

    @functools.cached_property
    def _request_director(self):
        return self.build_request_director([functools.partial(GuardedRH, allowlist=self._allowlist, cap=self._cap)])


class ReadCap:
    """How many bytes one response may deliver, and the error raised beyond that (changes per phase)."""

    def __init__(self, limit: int, error: Callable[[], CrateError]):
        self.limit = limit
        self.error = error


class _CappedResponse(YtdlpResponse):
    """A yt-dlp response that raises ``cap.error()`` once more than ``cap.limit`` bytes are read."""

    def __init__(self, inner: YtdlpResponse, cap: ReadCap):
        super().__init__(
            fp=inner.fp, url=inner.url, headers=inner.headers, status=inner.status,
            reason=inner.reason, extensions=inner.extensions,
        )  # fmt: skip
        self._inner = inner
        self._cap = cap
        self._count = 0

    def read(self, amt: int | None = None) -> bytes:
        limit = self._cap.limit
        if amt is not None and amt >= 0:
            data = self._inner.read(amt)
        else:  # "everything": read in blocks, so that memory stays within the cap
            parts: list[bytes] = []
            while True:
                part = self._inner.read(min(_CHUNK, limit - self._count - sum(map(len, parts)) + 1))
                if not part:
                    break
                parts.append(part)
                if self._count + sum(map(len, parts)) > limit:
                    break
            data = b"".join(parts)
        self._count += len(data)
        if self._count > limit:
            self.close()
            raise self._cap.error()
        return data

    def close(self) -> None:
        self._inner.close()
        super().close()


class GuardedRH(ytdlp_urllib.UrllibRH):
    """yt-dlp's urllib request handler, with http(s) only and every connection vetted.

    Redirects are followed by urllib inside the handler, so each hop opens a new connection
    through ``guarded_connection`` as well.
    """

    _SUPPORTED_URL_SCHEMES = ("http", "https")

    def __init__(self, *, allowlist: Sequence[str] = (), cap: ReadCap | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.allowlist = tuple(allowlist)
        self.cap = cap

    def _prepare_headers(self, request, headers):
        if "Accept-Encoding" not in headers:  # a media download asks for identity itself
            headers["Accept-Encoding"] = "gzip, deflate"  # the encodings decoded within the cap (no br)

    def _send(self, request):
        response = super()._send(request)
        return response if self.cap is None else _CappedResponse(response, self.cap)

    def _create_instance(self, proxies, cookiejar, legacy_ssl_support=None):
        # Mirrors UrllibRH._create_instance, minus file/ftp/data handlers and with guarded sockets.
        opener = urllib.request.OpenerDirector()
        handlers = [
            ytdlp_urllib.ProxyHandler(proxies),
            _GuardedHTTPHandler(
                allowlist=self.allowlist,
                cap=self.cap,
                debuglevel=int(bool(self.verbose)),
                context=self._make_sslcontext(legacy_ssl_support=legacy_ssl_support),
                source_address=self.source_address,
            ),
            ytdlp_urllib.HTTPCookieProcessor(cookiejar),
            ytdlp_urllib.UnknownHandler(),
            ytdlp_urllib.HTTPDefaultErrorHandler(),
            ytdlp_urllib.HTTPErrorProcessor(),
            ytdlp_urllib.RedirectHandler(),
        ]
        for handler in handlers:
            opener.add_handler(handler)
        opener.addheaders = []
        return opener


class _GuardedHTTPHandler(ytdlp_urllib.HTTPHandler):
    def __init__(self, *, allowlist: Sequence[str], cap: ReadCap | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self._allowlist = allowlist
        self._cap = cap

    def http_response(self, req, resp):
        """Decode gzip/deflate without ever holding more than the cap (yt-dlp's own decoder
        reads the whole compressed body into memory first, and inflates it without a limit)."""
        encodings = [e.strip().lower() for e in resp.headers.get("Content-Encoding", "").split(",")]
        encodings = [e for e in encodings if e and e != "identity"]
        if not encodings:
            return resp
        limit = self._cap.limit if self._cap is not None else MAX_PAGE_BYTES
        error = self._cap.error if self._cap is not None else (lambda: PageTooLarge())
        data = resp.read(limit + 1)
        resp.close()
        for encoding in reversed(encodings):
            data = _inflate(data, encoding, limit, error)
        decoded = urllib.response.addinfourl(io.BytesIO(data), resp.headers, resp.url, resp.code)
        # urllib's handlers read the status text (HTTPErrorProcessor: response.msg), which typeshed's addinfourl lacks
        decoded.msg = resp.msg  # type: ignore[attr-defined]
        return decoded

    https_response = http_response

    def http_open(self, req):
        return self.do_open(functools.partial(self._connection, http.client.HTTPConnection), req)

    def https_open(self, req):
        return self.do_open(
            functools.partial(self._connection, http.client.HTTPSConnection), req, context=self._context
        )

    def _connection(self, connection_class, *args, **kwargs):
        # http.client connects through ``_create_connection((host, port), timeout, source)``;
        # for HTTPS it then wraps the socket with TLS for ``host``, so certificates still match.
        connection = connection_class(*args, **kwargs)
        connection._create_connection = functools.partial(guarded_connection, allowlist=self._allowlist)
        if self._source_address is not None:
            connection.source_address = (self._source_address, 0)
        return connection


def _inflate(data: bytes, encoding: str, limit: int, error: Callable[[], CrateError]) -> bytes:
    if len(data) > limit:
        raise error()
    if encoding in ("gzip", "x-gzip"):
        attempts = [zlib.MAX_WBITS | 16]
    elif encoding == "deflate":
        attempts = [-zlib.MAX_WBITS, zlib.MAX_WBITS]  # raw deflate, or zlib-wrapped as some servers send
    else:
        raise DownloadFailed(detail=f"unsupported Content-Encoding {encoding!r}")
    for wbits in attempts:
        inflater = zlib.decompressobj(wbits)
        try:
            out = inflater.decompress(data, limit + 1)
        except zlib.error:
            continue
        if len(out) > limit or inflater.unconsumed_tail:
            raise error()
        return out
    raise DownloadFailed(detail=f"undecodable {encoding} body")


class _YtdlpLogger:
    """Send yt-dlp's chatter to our log instead of stdout/stderr."""

    def debug(self, message: str) -> None:
        log.debug("yt-dlp: %s", message)

    info = debug

    def warning(self, message: str) -> None:
        log.info("yt-dlp: %s", message)

    def error(self, message: str) -> None:
        log.info("yt-dlp: %s", message)


# --- Attachments -----------------------------------------------------------------------------


async def download_attachment(
    session: aiohttp.ClientSession,
    url: str,
    *,
    filename: str,
    size: int | None,
    content_type: str | None,
    directory: Path,
    limits: AudioLimits,
    timeout: float,
    deadline: float | None = None,
) -> FetchedAudio:
    """Stream a Discord attachment into ``directory``, refusing what can't be audio or is too big.

    The URL comes from Discord (its CDN), not from the user, so the private-address guard does
    not apply here. ``size`` and ``content_type`` are what Discord declared; the server's
    Content-Length is checked too, and the limit is enforced on the bytes actually read.
    ``timeout`` bounds connecting and each read, ``deadline`` (optional) the whole download.
    """
    name = _display_name(filename)
    if size is not None and size > limits.max_bytes:
        raise _too_large(limits, detail=f"attachment {filename!r}: declared {size} bytes")
    if not _looks_like_media(content_type):
        raise NotAudio(
            N_("I can't read “{name}” as audio. Send an MP3, OGG, Opus, FLAC, WAV, M4A/AAC or WebM file."),
            values={"name": name},
            detail=f"attachment {filename!r}: content type {content_type!r}",
        )
    path = directory / f"attachment{_safe_suffix(filename)}"
    client_timeout = aiohttp.ClientTimeout(total=deadline, sock_connect=timeout, sock_read=timeout)
    written = 0
    try:
        async with session.get(url, timeout=client_timeout) as response:
            if response.status in (403, 404, 410):
                raise LinkUnavailable(
                    N_("That attachment isn't available any more."), detail=f"{url}: HTTP {response.status}"
                )
            if response.status != 200:
                raise DownloadFailed(detail=f"{url}: HTTP {response.status}")
            if response.content_length is not None and response.content_length > limits.max_bytes:
                raise _too_large(limits, detail=f"{url}: Content-Length {response.content_length}")
            with open(path, "wb") as sink:  # noqa: ASYNC230  (a local file written in chunks of 64 KiB at most)
                async for chunk in response.content.iter_chunked(_CHUNK):
                    written += len(chunk)
                    if written > limits.max_bytes:
                        raise _too_large(limits, detail=f"{url}: more than {limits.max_bytes} bytes sent")
                    sink.write(chunk)
    except BaseException as error:
        path.unlink(missing_ok=True)
        if isinstance(error, TimeoutError):  # aiohttp's timeouts subclass it
            raise LinkTimeout(N_("Downloading that attachment took too long."), detail=f"{url}: {error!r}") from error
        if isinstance(error, aiohttp.ClientError):
            raise DownloadFailed(
                N_("I couldn't download that attachment. Try again in a moment."), detail=f"{url}: {error!r}"
            ) from error
        raise
    title = _display_name(Path(filename).stem or filename)  # "My Song.mp3" is titled "My Song"
    return FetchedAudio(path=path, title=title, source_url=url, size=written)


def _looks_like_media(content_type: str | None) -> bool:
    """Unknown types pass (ffmpeg decides later); known non-media types (text, images...) don't."""
    if not content_type:
        return True
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind.startswith(AUDIO_CONTENT_TYPES) or kind in GENERIC_CONTENT_TYPES


def looks_like_audio_file(filename: str, content_type: str | None) -> bool:
    """Whether a file someone posted is worth analyzing: a media content type, or (none or a
    generic one declared) a media file extension. Pictures, text and the like are not."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind and not _looks_like_media(kind):
        return False
    if kind.startswith(AUDIO_CONTENT_TYPES):
        return True
    return Path(filename).suffix.lower().lstrip(".") in (*MEDIA_EXTENSIONS.audio, *MEDIA_EXTENSIONS.video)


def _safe_suffix(filename: str) -> str:
    """The file's extension if it is plain (helps ffmpeg guess), never a path from the user."""
    suffix = Path(filename).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""


def _display_name(filename: str) -> str:
    cleaned = "".join(ch for ch in filename if ch.isprintable()).replace("`", "'")
    return clip(cleaned, 80)


def _too_large(limits: AudioLimits, *, detail: str) -> TooLarge:
    return TooLarge(
        N_("That file is too large for me (the limit is {limit})."),
        values={"limit": limits.describe_bytes()},
        detail=detail,
    )
