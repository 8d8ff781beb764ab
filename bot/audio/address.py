"""Refuse links that would make Crate connect to private or local network addresses.

A user-supplied link is a request for Crate to connect somewhere; without a guard, a link to
``http://169.254.169.254/`` or ``http://localhost:8080/admin`` would reach services that only
the bot's host can reach (server-side request forgery). Two layers use the same policy:

* ``check_url`` validates a link before anything is fetched: http/https only, a host, and
  *every* address the host resolves to must be public. This gives the user a clear answer early.
* ``guarded_connection`` is a drop-in for ``socket.create_connection`` that resolves, vets and
  connects to the *vetted* addresses in one step. ``bot.audio.fetch`` installs it under every
  HTTP connection yt-dlp opens, so redirects, the media URL yt-dlp picks, and any further page
  an extractor fetches are checked too. Because the addresses checked are the addresses
  connected to, a DNS answer that changes between the check and the connection (DNS
  rebinding) cannot sneak through.

Not covered here: traffic through a proxy (``fetch`` disables proxies for yt-dlp) and programs
other than Python's sockets (``fetch`` only lets yt-dlp use its native HTTP downloader, never
ffmpeg or other external downloaders, which would open their own connections).

The allow-list (``CRATE_URL_ALLOWLIST``) lets an operator (and the tests) permit specific hosts:
each entry is a hostname (``localhost``), an address (``127.0.0.1``, ``::1``) or a network in
CIDR form (``127.0.0.0/8``). A hostname entry allows that host whatever it resolves to; an
address or network entry allows the resolved addresses inside it.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse
from collections.abc import Sequence

from bot.audio.errors import BadLink, BlockedLink, HiddenCharactersLink, LinkUnavailable
from bot.i18n import N_
from bot.safe_text import has_unsafe

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class BlockedAddress(OSError):
    """Raised by ``guarded_connection`` for a non-public destination.

    An ``OSError`` on purpose: HTTP libraries treat it like any other connection failure and
    keep it as the cause of their own error, where ``fetch`` finds it again.
    """

    def __init__(self, host: str, address: str):
        super().__init__(f"refusing to connect to {host} ({address}): not a public address")
        self.host = host
        self.address = address


def check_url(url: str, allowlist: Sequence[str] = ()) -> None:
    """Raise ``BadLink``/``BlockedLink`` unless ``url`` is an http(s) link to a public host.

    Resolves the host with ``socket.getaddrinfo``; a host that doesn't resolve raises
    ``LinkUnavailable``. A link carrying a control character, a line or paragraph separator or a
    bidi control (inside it: surrounding whitespace is not part of a link) raises
    ``HiddenCharactersLink``: stored as the track's source, it would split an export's lines.
    """
    if has_unsafe(url.strip()):
        raise HiddenCharactersLink(detail=f"hidden characters in {url!r}")
    try:
        parts = urllib.parse.urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise BadLink(detail=f"unparsable URL {url!r}") from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise BadLink(detail=f"scheme {scheme!r} in {url!r}")
    host = parts.hostname
    if not host:
        raise BadLink(detail=f"no host in {url!r}")
    try:
        resolve_public(host, port or _DEFAULT_PORTS[scheme], allowlist)
    except BlockedAddress as error:
        raise BlockedLink(detail=str(error)) from None
    except (socket.gaierror, UnicodeError) as error:
        raise LinkUnavailable(
            N_("I couldn't find the website in that link. Check the address and try again."),
            detail=f"cannot resolve {host!r}: {error}",
        ) from None


def resolve_public(host: str, port: int, allowlist: Sequence[str] = ()) -> list[tuple]:
    """``getaddrinfo`` results for ``host``, or ``BlockedAddress`` if any of them isn't public.

    All addresses must pass, not just one: otherwise which address a client ends up using
    decides whether the guard works.
    """
    host = host.strip("[]").rstrip(".").lower()
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not infos:
        raise socket.gaierror(f"no addresses for {host}")
    names, networks = _parse_allowlist(allowlist)
    if host in names:
        return infos
    for info in infos:
        host_address = info[4][0]
        if not isinstance(host_address, str):  # (a Python built without IPv6) no address to check
            raise BlockedAddress(host, repr(info[4]))
        address = ipaddress.ip_address(host_address.split("%", 1)[0])  # drop an IPv6 zone id
        if is_blocked(address) and not any(_unmapped(address) in net for net in networks):
            raise BlockedAddress(host, str(address))
    return infos


def is_blocked(address: IPAddress) -> bool:
    """True for addresses Crate must not connect to on a user's behalf.

    Private, loopback, link-local, multicast, reserved, unspecified and shared (CGNAT) addresses,
    IPv4-mapped IPv6 forms of these (``::ffff:127.0.0.1``), and 6to4/Teredo addresses that embed
    one. (``is_global`` alone misses multicast.)
    """
    address = _unmapped(address)
    embedded: list[IPAddress] = []
    if isinstance(address, ipaddress.IPv6Address):
        if address.sixtofour is not None:
            embedded.append(address.sixtofour)
        if address.teredo is not None:
            embedded.extend(address.teredo)
    return (
        not address.is_global
        or address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
        or any(is_blocked(inner) for inner in embedded)
    )


def guarded_connection(
    address: tuple[str, int],
    timeout: float | None = None,
    source_address: tuple[str, int] | None = None,
    *,
    allowlist: Sequence[str] = (),
) -> socket.socket:
    """Like ``socket.create_connection``, but only to addresses that pass ``resolve_public``."""
    host, port = address
    error: OSError | None = None
    for family, kind, proto, _, sockaddr in resolve_public(host, port, allowlist):
        sock = socket.socket(family, kind, proto)
        try:
            if timeout is not None:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as failure:
            sock.close()
            error = failure
    assert error is not None
    raise error


def _parse_allowlist(allowlist: Sequence[str]) -> tuple[set[str], list[Network]]:
    names: set[str] = set()
    networks: list[Network] = []
    for entry in allowlist:
        entry = entry.strip().strip("[]").rstrip(".").lower()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            names.add(entry)
    return names, networks


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
