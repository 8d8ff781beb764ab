"""Database URLs are read by libpq's rules and shown without their password (issue 24, point 1)."""

from __future__ import annotations

import pytest
from asyncpg import connect_utils

from bot import database_url as dburl
from bot.config import Settings
from bot.errors import CrateError

SECRET = "Sw0rdf1sh"

#: Every form a reviewer wrote: (URL, libpq's host, port, password) — or None where it is refused.
FORMS = {
    "plain": (f"postgresql://crate:{SECRET}@db.local:5432/crate", "db.local", "5432", SECRET),
    "hash": (f"postgresql://crate:{SECRET}#x@db.local:5432/crate", "db.local", "5432", f"{SECRET}#x"),
    "question": (f"postgresql://crate:{SECRET}?x@db.local/crate", "db.local", None, f"{SECRET}?x"),
    "query": (f"postgresql://crate@db.local/crate?password={SECRET}", "db.local", None, SECRET),
    "multi-host": (f"postgresql://crate:{SECRET}@h1:5432,h2:5433/crate", "h1,h2", "5432,5433", SECRET),
    "ipv6": (f"postgresql://crate:{SECRET}@[::1]:5432/crate", "::1", "5432", SECRET),
    "encoded": (f"postgresql://crate:{SECRET}%40%2F@db.local/crate", "db.local", None, f"{SECRET}@/"),
    "port-word": (f"postgresql://crate:{SECRET}@db.local:abc/crate", None, None, None),
    "slash": (f"postgresql://crate:{SECRET}/x@db.local/crate", None, None, None),
    "at": (f"postgresql://crate:{SECRET}@x@db.local/crate", None, None, None),
    "space": (f"postgresql://crate:{SECRET} x@db.local/crate", None, None, None),
    "unknown-option": (f"postgresql://crate:{SECRET}@db.local/crate?passwort={SECRET}", None, None, None),
}


@pytest.mark.parametrize("form", FORMS)
def test_every_form_is_read_as_libpq_reads_it_or_refused_without_the_password(form):
    url, host, port, password = FORMS[form]
    assert SECRET not in dburl.shown(url)
    if host is None:
        with pytest.raises(dburl.DatabaseUrlError) as refused:
            dburl.parse(url)
        assert SECRET not in refused.value.user_message and "\n" not in refused.value.user_message
        with pytest.raises(CrateError) as refused_at_start:
            Settings.from_env({"CRATE_DATABASE_URL": url}, dotenv_path=None)
        assert SECRET not in str(refused_at_start.value)
        return
    params = dburl.parse(url)
    assert (params["host"], params.get("port"), params["password"]) == (host, port, password)
    # asyncpg, handed the re-encoded URL, reads the same hosts, ports and password as libpq
    hosts, parameters = connect_utils._parse_connect_dsn_and_args(
        dsn=dburl.asyncpg_dsn(url), host=None, port=None, user=None, password=None, passfile=None, database=None,
        ssl=None, direct_tls=False, server_settings=None, target_session_attrs=None, krbsrvname=None, gsslib=None,
        service=None, servicefile=None,
    )  # fmt: skip
    assert [h for h, _ in hosts] == host.split(",")
    if port:
        assert [str(p) for _, p in hosts] == port.split(",")
    assert (parameters.password, parameters.user, parameters.database) == (password, "crate", "crate")
    settings = Settings.from_env({"CRATE_DATABASE_URL": url}, dotenv_path=None)
    assert SECRET not in repr(settings)


def test_shown_keeps_what_an_operator_needs():
    assert dburl.shown(FORMS["ipv6"][0]) == "postgresql://crate@[::1]:5432/crate"
    assert dburl.shown(FORMS["multi-host"][0]) == "postgresql://crate@h1:5432,h2:5433/crate"
    assert dburl.shown(FORMS["query"][0]) == "postgresql://crate@db.local/crate"
    assert dburl.shown(FORMS["slash"][0]) == "postgresql://(a URL Crate cannot read)"
    assert dburl.shown("crate.sqlite3") == "crate.sqlite3"
