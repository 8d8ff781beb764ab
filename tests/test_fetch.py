"""Fetching audio from links (real yt-dlp) and attachments (real aiohttp) from a local HTTP server.

Nothing is mocked: an aiohttp server on 127.0.0.1 serves real music from Debian packages (and
ffmpeg conversions of it). Addresses outside loopback (10.x, 169.254.x, 224.x, a public literal)
are only ever checked by the guard, never connected to.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gzip
import json
import socket
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.audio.address import BlockedAddress, check_url, guarded_connection, is_blocked
from bot.audio.download import download_link_in_process
from bot.audio.errors import (
    AudioError,
    BadLink,
    BlockedLink,
    DownloadFailed,
    FetchError,
    HiddenCharactersLink,
    LinkTimeout,
    LinkUnavailable,
    NotAudio,
    NotAudioLink,
    PageTooLarge,
    PlaylistLink,
    RedirectLoop,
    TooLarge,
    TooLong,
)
from bot.audio.fetch import FetchedAudio, download_attachment, download_link, scratch_directory
from bot.config import AudioLimits
from tests.music import convert, singularity_track
from tests.test_hostile_exports import HOSTILE, INJECTION

LIMITS = AudioLimits()
LOCAL = ("127.0.0.1",)
TIMEOUT = 2.0
STALL = 2 * TIMEOUT + 1
#: The "huge page" served below, and the page cap the tests use against it.
HUGE_PAGE = 300 * 1024 * 1024
PAGE_CAP = 1024 * 1024


# --- test media and server ----------------------------------------------------------------


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("fetch-media")
    ogg = singularity_track()
    mp3 = convert(ogg, folder / "track.mp3", "-t", "8", "-b:a", "96k")
    png = convert(ogg, folder / "spectrum.png", "-lavfi", "showspectrumpic=s=64x64:legend=0")
    return {"ogg": ogg.read_bytes(), "mp3": mp3.read_bytes(), "png": png.read_bytes()}


class Server:
    """A local web server plus a count of requests per path (and of bytes sent by the huge page)."""

    def __init__(self, base: str, port: int, hits: collections.Counter):
        self.base = base
        self.port = port
        self.hits = hits
        self.sent: collections.Counter = collections.Counter()

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


def _html(body: str, head: str = "") -> web.Response:
    page = f"<!DOCTYPE html><html><head><title>Test page</title>{head}</head><body>{body}</body></html>"
    return web.Response(text=page, content_type="text/html")


def _json_ld(**fields) -> str:
    data = {
        "@context": "https://schema.org",
        "@type": "AudioObject",
        "name": "Long mix",
        "encodingFormat": "audio/ogg",
        **fields,
    }
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


@pytest.fixture
async def server(media) -> Server:
    hits: collections.Counter = collections.Counter()
    app = web.Application()

    @web.middleware
    async def count(request, handler):
        hits[request.path] += 1
        return await handler(request)

    app.middlewares.append(count)

    def file(data: bytes, kind: str):
        async def handler(request):
            return web.Response(body=data, content_type=kind)

        return handler

    async def page_with_audio(request):
        return _html('<h1>Song</h1><audio controls src="/music/track.mp3"></audio>')

    async def two_tracks(request):
        return _html('<audio src="/music/track.mp3"></audio><audio src="/music/track.ogg"></audio>')

    async def no_media(request):
        return _html("<p>Just words, no music here.</p>")

    async def untitled_collection(request):  # the Deezer API's album or playlist, its title left empty
        songs = [{"id": i, "title": f"Song {i}", "duration": 100, "artist": {"name": "Band"}} for i in (1, 2)]
        return web.json_response({"id": 5, "title": "", "tracks": {"data": songs}})

    async def private_media(request):
        return _html('<audio src="http://10.0.0.1/secret.mp3"></audio>')

    async def long_metadata(request):
        return _html("", head=_json_ld(contentUrl=f"{server.base}/music/track.ogg", duration="PT3H"))

    async def big_metadata(request):
        return _html("", head=_json_ld(contentUrl=f"{server.base}/music/track.ogg", contentSize="900000000"))

    async def stall(request):
        await asyncio.sleep(STALL)
        return web.Response(body=media["ogg"], content_type="audio/ogg")

    async def trickle(request):
        response = web.StreamResponse(headers={"Content-Type": "audio/ogg"})
        await response.prepare(request)
        for start in range(0, len(media["ogg"]), 2048):
            await response.write(media["ogg"][start : start + 2048])
            await asyncio.sleep(0.2)
        return response

    async def chunked(request):
        # No Content-Length: the size is only known while reading.
        response = web.StreamResponse(headers={"Content-Type": "audio/ogg"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(media["ogg"]), 65536):
            await response.write(media["ogg"][start : start + 65536])
        return response

    async def drip(request):
        # One byte a second, for ever: never stalls long enough for a per-read timeout.
        response = web.StreamResponse(headers={"Content-Type": "audio/ogg", "Content-Length": str(len(media["ogg"]))})
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):  # the client gave up on it
            for byte in media["ogg"]:
                await response.write(bytes([byte]))
                await asyncio.sleep(1.0)
        return response

    async def huge_page(request):
        # An HTML page of HUGE_PAGE bytes, streamed: whoever reads it all holds 300 MB.
        response = web.StreamResponse(headers={"Content-Type": "text/html", "Content-Length": str(HUGE_PAGE)})
        await response.prepare(request)
        block = b"<p>" + b"la " * 21844 + b"</p>\n"
        head = b"<!DOCTYPE html><html><head><title>Huge</title></head><body>"
        await response.write(head)
        sent = len(head)
        with contextlib.suppress(ConnectionError, RuntimeError):
            while sent + len(block) <= HUGE_PAGE:
                await response.write(block)
                sent += len(block)
                server.sent[request.path] = sent
        return response

    async def gzip_bomb(request):
        # 40 MB of HTML that travels as ~40 KB of gzip.
        body = gzip.compress(b"<!DOCTYPE html><html><body>" + b" " * (40 * 1024 * 1024) + b"</body></html>")
        return web.Response(body=body, headers={"Content-Type": "text/html", "Content-Encoding": "gzip"})

    async def gzip_page(request):
        page = _html('<h1>Song</h1><audio controls src="/music/track.mp3"></audio>')
        return web.Response(
            body=gzip.compress(page.body), headers={"Content-Type": "text/html", "Content-Encoding": "gzip"}
        )

    def status(code: int):
        async def handler(request):
            return web.Response(status=code)

        return handler

    def redirect(target: str):
        async def handler(request):
            raise web.HTTPFound(target)

        return handler

    app.router.add_get("/music/track.ogg", file(media["ogg"], "audio/ogg"))
    app.router.add_get("/music/track.mp3", file(media["mp3"], "audio/mpeg"))
    app.router.add_get("/music/track", file(media["ogg"], "application/octet-stream"))
    app.router.add_get("/image.png", file(media["png"], "image/png"))
    app.router.add_get("/forbidden.mp3", status(403))
    app.router.add_get("/broken.mp3", status(500))
    app.router.add_get("/page.html", page_with_audio)
    app.router.add_get("/two.html", two_tracks)
    app.router.add_get("/words.html", no_media)
    app.router.add_get("/deezer/{kind}/{id}", untitled_collection)
    app.router.add_get("/private.html", private_media)
    app.router.add_get("/long.html", long_metadata)
    app.router.add_get("/big.html", big_metadata)
    app.router.add_get("/stall.ogg", stall)
    app.router.add_get("/trickle.ogg", trickle)
    app.router.add_get("/chunked.ogg", chunked)
    app.router.add_get("/drip.ogg", drip)
    app.router.add_get("/huge.html", huge_page)
    app.router.add_get("/bomb.html", gzip_bomb)
    app.router.add_get("/gzip.html", gzip_page)
    app.router.add_get("/to-file", redirect("file:///etc/passwd"))
    app.router.add_get("/to-local-track", redirect("/music/track.ogg"))
    app.router.add_get("/to-ipv6-loopback", redirect("http://[::1]:9/music/track.ogg"))
    app.router.add_get("/to-private", redirect("http://10.0.0.1/music/track.ogg"))
    app.router.add_get("/to-metadata", redirect("http://169.254.169.254/latest/meta-data/"))

    async def hop(request):  # a chain of 50 redirects, then the track
        number = int(request.match_info["number"])
        raise web.HTTPFound(f"/hop/{number + 1}" if number < 50 else "/music/track.ogg")

    app.router.add_get("/hop/{number}", hop)

    runner = web.AppRunner(app, shutdown_timeout=0.1)  # don't wait for stalled handlers
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    server = Server(f"http://127.0.0.1:{port}", port, hits)
    yield server
    await runner.cleanup()


async def fetch_link(url: str, directory: Path, *, limits: AudioLimits = LIMITS, allowlist=LOCAL, **kwargs):
    """download_link is blocking; the server runs in this loop, so call it from a thread."""
    return await asyncio.to_thread(
        download_link, url, directory, limits=limits, allowlist=allowlist, timeout=TIMEOUT, **kwargs
    )


def assert_friendly(error: Exception, kind: type) -> None:
    assert type(error) is kind, f"expected {kind.__name__}, got {type(error).__name__}: {error!r}"
    message = error.user_message
    assert message and message[0].isupper() and message.rstrip().endswith((".", "!")), message
    for leak in ("Traceback", "yt-dlp", "ERROR", "127.0.0.1", "urlopen", "Errno", "HTTP Error"):
        assert leak not in message, message


# --- the address guard --------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost:8080/admin",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://10.1.2.3/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",  # carrier-grade NAT
        "http://169.254.169.254/latest/meta-data/",
        "http://224.0.0.1/",
        "http://[ff02::1]/",
        "http://[fe80::1]/",
        "http://0.0.0.0/",
        "http://2130706433/",  # 127.0.0.1 as a number
    ],
)
def test_private_addresses_are_blocked(url):
    with pytest.raises(BlockedLink) as caught:
        check_url(url, ())
    assert_friendly(caught.value, BlockedLink)
    assert caught.value.user_message == "I can't open links to private or local network addresses."


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/song.mp3",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "http://",
        "not a link",
        "http://host:99999/",
    ],
)
def test_non_http_links_are_bad(url):
    with pytest.raises(BadLink) as caught:
        check_url(url, ())
    assert_friendly(caught.value, BadLink)


def test_public_literal_address_is_allowed():
    check_url("http://93.184.216.34/song.mp3", ())  # resolved locally, never contacted
    check_url("https://[2606:2800:220:1:248:1893:25c8:1946]/", ())


def test_allow_list_by_network_address_and_name():
    check_url("http://127.0.0.1/", ["127.0.0.0/8"])
    check_url("http://127.0.0.5:8000/x", ["127.0.0.0/8"])
    check_url("http://[::1]/", ["::1"])
    check_url("http://localhost/", ["localhost"])
    with pytest.raises(BlockedLink):
        check_url("http://10.1.2.3/", ["127.0.0.0/8", "localhost"])
    with pytest.raises(BlockedLink):
        check_url("http://[::1]/", ["127.0.0.1"])


def test_unresolvable_host_is_unavailable():
    with pytest.raises(LinkUnavailable) as caught:
        check_url("http://no-such-host.invalid/song.mp3", ())
    assert_friendly(caught.value, LinkUnavailable)


def test_an_address_that_is_not_an_ip_is_refused(monkeypatch):
    # A Python built without IPv6 returns an IPv6 result as (family, raw bytes): nothing to check.
    unchecked = [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (socket.AF_INET6, bytes(16)))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: unchecked)
    with pytest.raises(BlockedLink):
        check_url("http://example.com/song.mp3", ())


def test_is_blocked_covers_ipv6_forms():
    import ipaddress

    for text in ("::1", "::ffff:10.0.0.1", "fc00::1", "fe80::1", "ff02::1", "::", "2002:a00:1::1", "::7f00:1"):
        assert is_blocked(ipaddress.ip_address(text)), text
    for text in ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:93.184.216.34"):
        assert not is_blocked(ipaddress.ip_address(text)), text


async def test_guarded_connection_vets_the_address_it_connects_to(server):
    with pytest.raises(BlockedAddress):
        guarded_connection(("127.0.0.1", server.port), 1.0)
    with pytest.raises(BlockedAddress):
        guarded_connection(("localhost", server.port), 1.0, allowlist=["10.0.0.0/8"])
    sock = await asyncio.to_thread(guarded_connection, ("127.0.0.1", server.port), 1.0, allowlist=LOCAL)
    assert isinstance(sock, socket.socket)
    sock.close()


# --- links --------------------------------------------------------------------------------


async def test_direct_ogg_link(server, media):
    with scratch_directory() as directory:
        fetched = await fetch_link(server.url("/music/track.ogg"), directory)
        assert isinstance(fetched, FetchedAudio)
        assert fetched.path.parent == directory.resolve()
        assert fetched.path.read_bytes() == media["ogg"]
        assert fetched.size == len(media["ogg"])
        assert fetched.source_url == server.url("/music/track.ogg")
        assert fetched.title == "track"
    assert not directory.exists()


async def test_direct_mp3_link(server, media):
    with scratch_directory() as directory:
        fetched = await fetch_link(server.url("/music/track.mp3"), directory)
        assert fetched.path.suffix == ".mp3"
        assert fetched.path.read_bytes() == media["mp3"]


async def test_page_with_audio_tag(server, media):
    with scratch_directory() as directory:
        fetched = await fetch_link(server.url("/page.html"), directory)
        assert fetched.path.read_bytes() == media["mp3"]
        assert fetched.title.startswith("Test page")
        assert fetched.source_url == server.url("/page.html")


async def test_same_host_redirect_is_followed(server, media):
    with scratch_directory() as directory:
        fetched = await fetch_link(server.url("/to-local-track"), directory)
        assert fetched.path.read_bytes() == media["ogg"]


async def test_page_without_media(server):
    with scratch_directory() as directory, pytest.raises(NotAudioLink) as caught:
        await fetch_link(server.url("/words.html"), directory)
    assert_friendly(caught.value, NotAudioLink)
    assert caught.value.user_message == "I couldn't find any audio at that link."
    assert not directory.exists()


async def test_image_link(server):
    with scratch_directory() as directory:
        with pytest.raises(NotAudioLink) as caught:
            await fetch_link(server.url("/image.png"), directory)
        assert list(directory.iterdir()) == []
    assert_friendly(caught.value, NotAudioLink)


async def test_page_with_two_tracks_is_a_playlist(server):
    with scratch_directory() as directory, pytest.raises(PlaylistLink) as caught:
        await fetch_link(server.url("/two.html"), directory)
    assert_friendly(caught.value, PlaylistLink)
    assert "single track" in caught.value.user_message
    assert server.hits["/music/track.mp3"] == 0


@pytest.mark.parametrize("kind", ["album", "playlist"])
async def test_an_untitled_album_or_playlist_has_no_made_up_title(server, kind):
    """No title from the service: none in English either, only what it is, for the menu to say
    in the member's language (tests/test_i18n.py)."""
    with scratch_directory() as directory, pytest.raises(PlaylistLink) as caught:
        await fetch_link(f"https://www.deezer.com/{kind}/5", directory, services={"deezer": server.url("/deezer")})
    tracks = caught.value.tracks
    assert tracks is not None and (tracks.title, tracks.kind, tracks.total) == (None, kind, 2)
    assert [t.title for t in tracks.tracks] == ["Band - Song 1", "Band - Song 2"]


@pytest.mark.parametrize(
    ("path", "kind"),
    [("/missing.mp3", LinkUnavailable), ("/forbidden.mp3", LinkUnavailable), ("/broken.mp3", DownloadFailed)],
)
async def test_http_errors(server, path, kind):
    with scratch_directory() as directory, pytest.raises(kind) as caught:
        await fetch_link(server.url(path), directory)
    assert_friendly(caught.value, kind)
    assert not directory.exists()


async def test_stalled_server_times_out(server):
    with scratch_directory() as directory, pytest.raises(LinkTimeout) as caught:
        await fetch_link(server.url("/stall.ogg"), directory)
    assert_friendly(caught.value, LinkTimeout)


async def test_trickling_server_hits_the_deadline(server):
    with scratch_directory() as directory, pytest.raises(LinkTimeout):
        await fetch_link(server.url("/trickle.ogg"), directory, deadline=1.0)
    assert not directory.exists()


async def test_link_larger_than_limit_by_content_length(server, media):
    limits = AudioLimits(max_bytes=len(media["ogg"]) // 2)
    with scratch_directory() as directory, pytest.raises(TooLarge) as caught:
        await fetch_link(server.url("/music/track.ogg"), directory, limits=limits)
    assert_friendly(caught.value, TooLarge)
    assert "MB" in caught.value.user_message
    assert not directory.exists()


async def test_link_larger_than_limit_while_reading(server, media):
    limits = AudioLimits(max_bytes=200_000)
    with scratch_directory() as directory:
        with pytest.raises(TooLarge):
            await fetch_link(server.url("/chunked.ogg"), directory, limits=limits)
        leftovers = list(directory.iterdir())
        assert sum(p.stat().st_size for p in leftovers) <= limits.max_bytes + 65536
    assert not directory.exists()


async def test_metadata_duration_refused_before_download(server):
    with scratch_directory() as directory, pytest.raises(TooLong) as caught:
        await fetch_link(server.url("/long.html"), directory)
    assert_friendly(caught.value, TooLong)
    assert "1 h 30 min" in caught.value.user_message  # the limit phrased as decode phrases it (format_duration)
    assert server.hits["/music/track.ogg"] == 0


async def test_metadata_size_refused_before_download(server):
    with scratch_directory() as directory, pytest.raises(TooLarge):
        await fetch_link(server.url("/big.html"), directory)
    assert server.hits["/music/track.ogg"] == 0


async def test_link_to_unlisted_local_server_is_blocked(server):
    with scratch_directory() as directory, pytest.raises(BlockedLink):
        await fetch_link(server.url("/music/track.ogg"), directory, allowlist=())
    assert server.hits["/music/track.ogg"] == 0


@pytest.mark.parametrize("path", ["/to-ipv6-loopback", "/to-private", "/to-metadata"])
async def test_redirect_to_private_address_is_blocked(server, path):
    with scratch_directory() as directory:
        with pytest.raises(BlockedLink) as caught:
            await fetch_link(server.url(path), directory)
        assert list(directory.iterdir()) == []
    assert_friendly(caught.value, BlockedLink)
    assert server.hits[path] == 1


async def test_media_url_on_private_address_is_blocked(server):
    with scratch_directory() as directory, pytest.raises(BlockedLink):
        await fetch_link(server.url("/private.html"), directory)


async def test_redirect_to_a_file_is_not_a_link_i_can_open(server):
    with scratch_directory() as directory, pytest.raises(BadLink) as caught:
        await fetch_link(server.url("/to-file"), directory)
    assert_friendly(caught.value, BadLink)
    assert "isn't a link I can open" in caught.value.user_message
    assert "302" not in caught.value.user_message


async def test_a_fifty_redirect_chain_is_refused_as_a_redirect_loop(server):
    with scratch_directory() as directory, pytest.raises(RedirectLoop) as caught:
        await fetch_link(server.url("/hop/1"), directory)
    assert_friendly(caught.value, RedirectLoop)
    assert "redirect loop" in caught.value.user_message
    assert server.hits["/music/track.ogg"] == 0


@pytest.mark.parametrize("hidden", HOSTILE)
async def test_a_link_with_hidden_characters_is_refused_before_any_request(server, hidden):
    url = server.url("/music/track.ogg") + HOSTILE[hidden] + INJECTION.format(HOSTILE[hidden])
    with scratch_directory() as directory, pytest.raises(HiddenCharactersLink) as caught:
        await fetch_link(url, directory)
    assert_friendly(caught.value, HiddenCharactersLink)
    assert "hidden characters" in caught.value.user_message
    assert server.hits["/music/track.ogg"] == 0


async def test_huge_page_is_refused_before_it_is_parsed(server):
    with scratch_directory() as directory, pytest.raises(PageTooLarge) as caught:
        await fetch_link(server.url("/huge.html"), directory, max_page_bytes=PAGE_CAP)
    assert_friendly(caught.value, PageTooLarge)
    await asyncio.sleep(0.2)  # let the server notice the closed connection
    assert server.sent["/huge.html"] < HUGE_PAGE // 10  # reading stopped near the cap, far from 300 MB


async def test_compressed_page_inflates_within_the_cap(server):
    with scratch_directory() as directory, pytest.raises(PageTooLarge):
        await fetch_link(server.url("/bomb.html"), directory, max_page_bytes=PAGE_CAP)


async def test_compressed_page_is_still_read(server, media):
    with scratch_directory() as directory:
        fetched = await fetch_link(server.url("/gzip.html"), directory, max_page_bytes=PAGE_CAP)
        assert fetched.path.read_bytes() == media["mp3"]


async def in_process(url: str, directory: Path, *, deadline: float = 60.0, **kwargs):
    return await download_link_in_process(
        url, directory, limits=kwargs.pop("limits", LIMITS), allowlist=kwargs.pop("allowlist", LOCAL),
        timeout=TIMEOUT, deadline=deadline, **kwargs,
    )  # fmt: skip


async def test_download_in_its_own_process(server, media):
    with scratch_directory() as directory:
        fetched = await in_process(server.url("/music/track.ogg"), directory)
        assert isinstance(fetched, FetchedAudio)
        assert fetched.path.parent == directory and fetched.path.read_bytes() == media["ogg"]


async def test_errors_cross_the_process_boundary_with_their_sentence(server):
    with scratch_directory() as directory, pytest.raises(BlockedLink) as caught:
        await in_process(server.url("/music/track.ogg"), directory, allowlist=())
    assert_friendly(caught.value, BlockedLink)
    assert server.hits["/music/track.ogg"] == 0
    with scratch_directory() as directory, pytest.raises(PageTooLarge):
        await in_process(server.url("/huge.html"), directory)  # the default cap, 5 MiB


async def test_dripping_site_hits_the_wall_clock_deadline(server):
    # One byte a second never trips the per-read timeout (2 s); only the whole-download deadline ends it.
    with scratch_directory() as directory:
        with pytest.raises(LinkTimeout) as caught:
            await in_process(server.url("/drip.ogg"), directory, deadline=TIMEOUT * 2)
        assert_friendly(caught.value, LinkTimeout)
        assert "too slow" in caught.value.user_message
        assert "analyze" not in caught.value.user_message


def test_bad_link_is_refused_without_network():
    with scratch_directory() as directory, pytest.raises(BadLink):
        download_link("file:///etc/passwd", directory, limits=LIMITS, allowlist=(), timeout=TIMEOUT)


def test_fetch_errors_are_audio_errors():
    for kind in (BadLink, BlockedLink, NotAudioLink, LinkUnavailable, LinkTimeout, DownloadFailed, PlaylistLink):
        assert issubclass(kind, FetchError) and issubclass(kind, AudioError)
        assert_friendly(kind(), kind)


# --- attachments --------------------------------------------------------------------------


async def fetch_attachment(server, path, directory, *, limits=LIMITS, **declared):
    declared.setdefault("filename", "song.ogg")
    declared.setdefault("size", None)
    declared.setdefault("content_type", "audio/ogg")
    async with aiohttp.ClientSession() as session:
        return await download_attachment(
            session, server.url(path), directory=directory, limits=limits, timeout=TIMEOUT, **declared
        )


@pytest.mark.parametrize("size", ["known", None])
async def test_attachment_download(server, media, size):
    declared = len(media["ogg"]) if size == "known" else None
    with scratch_directory() as directory:
        fetched = await fetch_attachment(server, "/music/track.ogg", directory, size=declared, filename="My Song.ogg")
        assert fetched.path.read_bytes() == media["ogg"]
        assert fetched.size == len(media["ogg"])
        assert fetched.title == "My Song"
        assert fetched.path.parent == directory and fetched.path.suffix == ".ogg"
    assert not directory.exists()


async def test_attachment_filename_cannot_escape_directory(server, media):
    with scratch_directory() as directory:
        fetched = await fetch_attachment(
            server, "/music/track", directory, filename="../../etc/evil", content_type="application/octet-stream"
        )
        assert fetched.path.parent == directory
        assert fetched.path.read_bytes() == media["ogg"]


async def test_attachment_declared_too_large_is_not_downloaded(server):
    with scratch_directory() as directory, pytest.raises(TooLarge) as caught:
        await fetch_attachment(server, "/music/track.ogg", directory, size=LIMITS.max_bytes + 1)
    assert_friendly(caught.value, TooLarge)
    assert server.hits["/music/track.ogg"] == 0


async def test_attachment_lying_about_size(server, media):
    limits = AudioLimits(max_bytes=len(media["ogg"]) // 2)
    with scratch_directory() as directory:
        with pytest.raises(TooLarge):
            await fetch_attachment(server, "/music/track.ogg", directory, size=1000, limits=limits)
        assert list(directory.iterdir()) == []


async def test_attachment_limit_enforced_while_reading(server):
    limits = AudioLimits(max_bytes=200_000)
    with scratch_directory() as directory:
        with pytest.raises(TooLarge):
            await fetch_attachment(server, "/chunked.ogg", directory, size=1000, limits=limits)
        assert list(directory.iterdir()) == []  # the partial file is deleted


async def test_attachment_wrong_content_type(server):
    with scratch_directory() as directory, pytest.raises(NotAudio) as caught:
        await fetch_attachment(server, "/image.png", directory, filename="holiday.png", content_type="image/png")
    assert_friendly(caught.value, NotAudio)
    assert "holiday.png" in caught.value.user_message
    assert server.hits["/image.png"] == 0


async def test_attachment_missing(server):
    with scratch_directory() as directory, pytest.raises(LinkUnavailable) as caught:
        await fetch_attachment(server, "/gone.ogg", directory)
    assert_friendly(caught.value, LinkUnavailable)


async def test_attachment_stall_times_out(server):
    with scratch_directory() as directory:
        with pytest.raises(LinkTimeout):
            await fetch_attachment(server, "/stall.ogg", directory)
        assert list(directory.iterdir()) == []


async def test_dripping_attachment_hits_the_wall_clock_deadline(server):
    with scratch_directory() as directory:
        with pytest.raises(LinkTimeout):
            await fetch_attachment(server, "/drip.ogg", directory, deadline=TIMEOUT * 2)
        assert list(directory.iterdir()) == []


# --- scratch directory --------------------------------------------------------------------


def test_scratch_directory_is_removed_even_on_error():
    with pytest.raises(RuntimeError), scratch_directory() as directory:
        assert directory.name.startswith("crate-")
        (directory / "partial.ogg").write_bytes(b"x" * 1000)
        raise RuntimeError("boom")
    assert not directory.exists()
