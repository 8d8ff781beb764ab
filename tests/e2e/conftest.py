"""Every end-to-end test also fails on an error Crate logged that the test did not expect.

An exception in a listener or a task is only a log line in discord.py ("Ignoring exception in
on_voice_state_update"): the member sees nothing happen, and the test's own assertions may still
pass. A test that provokes an error on purpose names the loggers it expects one from:
``@pytest.mark.logs_errors("bot.jobs.pool")``.
"""

from __future__ import annotations

import logging

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "logs_errors(*loggers): errors these loggers may log in this test")


@pytest.fixture(autouse=True)
def no_unexpected_errors(request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture):
    yield
    marker = request.node.get_closest_marker("logs_errors")
    expected = marker.args if marker is not None else ()
    errors = [
        record
        for record in caplog.get_records("call")
        if record.levelno >= logging.ERROR
        and not any(record.name == name or record.name.startswith(f"{name}.") for name in expected)
    ]
    assert not errors, "errors logged:\n" + "\n".join(
        f"{r.name}: {r.getMessage()}" + (f" ({r.exc_info[1]!r})" if r.exc_info else "") for r in errors
    )
