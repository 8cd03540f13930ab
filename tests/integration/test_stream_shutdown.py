"""Stopping gunicorn with live streams open: the streams end at once (their tabs reconnect
elsewhere) instead of holding the worker for the whole graceful timeout."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest

from tests.support.sse import Stream
from tests.support.web import Person

pytestmark = pytest.mark.integration


def test_a_stop_with_streams_open_ends_them_instead_of_waiting_out_the_graceful_timeout(gunicorn_server):
    server = gunicorn_server()
    alice = Person(server.url)
    alice.sign_up("alice", "Alice")
    room = alice.create_room("Closing time")
    tabs = [Stream(Person(server.url).http, f"{server.url}{room}stream?w={quote(alice.watermark(room))}").open()
            for _ in range(6)]
    for tab in tabs:
        assert tab.status == 200
        tab.wait_for(lambda e: e.name == "beat")
    alice.http.close()  # an idle keep-alive connection is held up to gunicorn's keepalive (5 s), streams or not
    started = time.monotonic()
    server.stop()  # SIGTERM, then waits for the exit
    took = time.monotonic() - started
    print(f"stopped in {took:.2f} s")
    assert took < 4.0, took  # gunicorn.conf.py's graceful_timeout is 10 s: streams no longer hold it
    for tab in tabs:
        tab.wait_for(lambda e: e.name == "closed", timeout=5)
