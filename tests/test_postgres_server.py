"""The PostgreSQL fixture itself: a real server, unprivileged, with a fresh database per test."""

from __future__ import annotations

import pytest

from tests import postgres_server as pg


def test_server_runs_unprivileged_and_answers(postgres_server):
    assert postgres_server.psql("SELECT 1 + 1").strip() == "2"
    # The server never runs as root (PostgreSQL refuses to; when we are root it runs as postgres).
    datadir = postgres_server.psql("SELECT current_setting('data_directory')").strip()
    assert datadir.startswith(str(postgres_server.root))
    if postgres_server.run_as:
        assert postgres_server.datadir.stat().st_uid != 0


def test_each_test_gets_a_fresh_empty_database(postgres_server, postgres_url):
    name = postgres_url.rsplit("/", 1)[1]
    assert postgres_server.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", name).strip() == "0"
    postgres_server.psql("CREATE TABLE marker (x integer)", name)
    second = postgres_server.create_database()
    try:
        assert second != postgres_url
        other = second.rsplit("/", 1)[1]
        assert postgres_server.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", other).strip() == "0"
    finally:
        postgres_server.drop_database(second)
    assert postgres_server.psql(f"SELECT count(*) FROM pg_database WHERE datname = '{other}'").strip() == "0"


def test_missing_postgresql_is_reported_not_skipped(monkeypatch, tmp_path):
    # A machine without the package: the reason names setup.sh (the fixture turns it into a failure).
    monkeypatch.setenv("CRATE_TEST_PG_BINDIR", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(pg.PostgresUnavailable, match="setup.sh"):
        pg.find_bindir(debian_root=tmp_path)
