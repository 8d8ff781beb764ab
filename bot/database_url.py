"""A PostgreSQL URL read by libpq's own rules, and the one way any part of Crate shows it.

``CRATE_DATABASE_URL`` (and ``crate migrate-db``'s arguments) are parsed by libpq's conninfo
parser (through psycopg, :func:`psycopg.conninfo.conninfo_to_dict`), never by ``urllib``: libpq
reads an unencoded ``#`` or ``?`` in a password, ``?password=``, several hosts and IPv6
hosts its own way, and the drivers (asyncpg for the store, psycopg for the queue) are handed
that reading re-encoded, so all three agree. A URL libpq cannot read, a port that is not a
number or a host no server can have is refused in one sentence that never quotes the URL:
a misplaced ``@`` or ``/`` moves part of the password into the host, the port or the database.

:func:`shown` is what every message and log line prints instead of a database target: the
scheme, user, hosts, ports and database, and nothing of the password or the query.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from urllib.parse import quote, urlencode

from bot.errors import CrateError
from bot.i18n import N_

SCHEMES = ("postgresql://", "postgres://")

#: A host name as DNS allows it (letters, digits, hyphens, dots, underscores in practice).
_HOSTNAME = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$")

#: Parameters the URL's path and authority carry; everything else travels as a query parameter.
_PLACED_KEYS = frozenset({"user", "password", "host", "hostaddr", "port", "dbname"})


class DatabaseUrlError(CrateError):
    """The database URL cannot be used as written; the sentence never quotes it."""

    user_message = N_("CRATE_DATABASE_URL is not a PostgreSQL URL Crate can read.")


def is_database_url(target: object) -> bool:
    """Whether ``target`` names a PostgreSQL database (``postgresql://…``) rather than a SQLite file."""
    return isinstance(target, str) and target.startswith(SCHEMES)


def parse(url: str, *, setting: str = "CRATE_DATABASE_URL") -> dict[str, str]:
    """libpq's reading of ``url`` (user, password, host, port, dbname, options…), checked.

    Raises :class:`DatabaseUrlError` naming ``setting`` when libpq cannot read it, a port is not
    a number or a host cannot be one; the sentence never contains any part of the URL.
    """
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    if not is_database_url(url):
        raise DatabaseUrlError(f"{setting} must be a postgresql:// URL.")
    try:
        params = {key: str(value) for key, value in conninfo_to_dict(url).items() if value is not None}
    except ProgrammingError:  # libpq's message quotes the URL: never shown
        raise DatabaseUrlError(
            f"{setting} is not a URL PostgreSQL can read; percent-encode special characters in the user name "
            "and password (%40 for @, %2F for /, %23 for #, %20 for a space)."
        ) from None
    hosts = _split(params.get("host", ""))
    ports = _split(params.get("port", ""))
    if any(not port.isdigit() or not 0 < int(port) < 65536 for port in ports if port):
        raise DatabaseUrlError(
            f"{setting} has a port that is not a number from 1 to 65535; a password with @ or / must be "
            "percent-encoded (%40, %2F)."
        )
    if len(ports) > 1 and len(ports) != len(hosts):
        raise DatabaseUrlError(f"{setting} names {len(hosts)} hosts but {len(ports)} ports.")
    if any(host and not _is_host(host) for host in hosts):
        raise DatabaseUrlError(
            f"{setting} has a host that is not a host name, an IP address or a socket folder; a password "
            "with @ or / must be percent-encoded (%40, %2F)."
        )
    if "@" in params.get("dbname", ""):
        raise DatabaseUrlError(
            f"{setting} has an @ in its database name; a password with @ or / must be percent-encoded (%40, %2F)."
        )
    return params


def shown(target: str | Path | None) -> str:
    """A database target as messages and logs print it: a SQLite file as its path, a PostgreSQL
    URL without its password or query (``postgresql://crate@[::1]:5432/crate``)."""
    if target is None:
        return "(no database)"
    if not is_database_url(target):
        return str(target)
    try:
        params = parse(str(target))
    except DatabaseUrlError:
        return "postgresql://(a URL Crate cannot read)"
    user = params.get("user")
    return f"postgresql://{quote(user, safe='') + '@' if user else ''}{_authority(params)}/{params.get('dbname', '')}"


def asyncpg_dsn(url: str) -> str:
    """``url`` as libpq reads it, re-encoded so that asyncpg (which splits URLs with urllib)
    reads the same user, password, hosts and database."""
    params = parse(url)
    user = quote(params.get("user", ""), safe="")
    password = params.get("password")
    credentials = f"{user}:{quote(password, safe='')}@" if password is not None else (f"{user}@" if user else "")
    query = {key: value for key, value in params.items() if key not in _PLACED_KEYS}
    tail = f"?{urlencode(query)}" if query else ""
    return f"postgresql://{credentials}{_authority(params)}/{quote(params.get('dbname', ''), safe='')}{tail}"


def libpq_conninfo(url: str) -> str:
    """``url`` as a libpq ``key=value`` string (psycopg, procrastinate): every value quoted."""
    from psycopg.conninfo import make_conninfo

    return make_conninfo("", **parse(url))


def _split(value: str) -> list[str]:
    return value.split(",") if value else []


def _is_host(host: str) -> bool:
    if host.startswith("/"):
        return "@" not in host  # a unix socket folder
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return bool(_HOSTNAME.match(host)) and len(host) <= 253


def _authority(params: dict[str, str]) -> str:
    """``host:port,host:port`` with IPv6 hosts in brackets and socket folders percent-encoded."""
    hosts = _split(params.get("host", "")) or [""]
    ports = _split(params.get("port", ""))
    if len(ports) == 1:
        ports = ports * len(hosts)
    parts = []
    for i, host in enumerate(hosts):
        if ":" in host:
            host = f"[{host}]"
        elif host.startswith("/"):
            host = quote(host, safe="")
        port = ports[i] if i < len(ports) else ""
        parts.append(f"{host}:{port}" if port else host)
    return ",".join(parts)
