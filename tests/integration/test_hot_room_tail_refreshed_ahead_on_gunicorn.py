"""A hot room under real gunicorn (gevent worker) on dynalite: anonymous readers' pages of a public
room, a few dozen a second, find the tail fresh because the process's tails' upkeep refreshes the
room's feed ahead (rooms.room_tail.TailUpkeep), so they make no DynamoDB call; with the upkeep
off (CHAT_ROOM_TAILS_AHEAD_MAX=0) one page per interval makes the feed's Query itself. Calls per
page come from the request log's ``dynamodb=<calls>``."""

from __future__ import annotations

import re
import time

import pytest
import requests

from tests.support.servers import GunicornServer, free_port
from tests.support.web import Person

pytestmark = pytest.mark.integration

READING_SECONDS = 3
LINE = re.compile(r"GET rooms:room 200 .* dynamodb=(\d+)/")


def server(dynalite, prefix, log_path, **env) -> GunicornServer:
    started = GunicornServer(port=free_port(), log_path=log_path, env={
        "DYNAMODB_ENDPOINT_URL": dynalite.url, "DYNAMODB_TABLE_PREFIX": prefix, "GUNICORN_WORKERS": "1",
        "DJANGO_LOG_LEVEL": "INFO", **env})
    started.start()
    return started


def calls_per_page(one: GunicornServer, room: str) -> list[int]:
    """Read ``room`` anonymously for READING_SECONDS, a page at a time; each page's calls, from the log."""
    offset = one.log_path.stat().st_size if one.log_path.exists() else 0
    reader = requests.Session()
    deadline = time.monotonic() + READING_SECONDS
    pages = 0
    while time.monotonic() < deadline:
        assert reader.get(one.url + room, timeout=10).status_code == 200
        pages += 1
        time.sleep(0.02)
    for _ in range(50):  # the log lines of the last pages may trail the responses
        with open(one.log_path, "rb") as log:
            log.seek(offset)
            found = [int(m.group(1)) for m in LINE.finditer(log.read().decode())]
        if len(found) >= pages:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{len(found)} request lines for {pages} pages")


def test_a_hot_rooms_pages_make_no_feed_query_when_refreshed_ahead(dynalite, dynalite_tables, tmp_path):
    ahead = server(dynalite, dynalite_tables, tmp_path / "ahead.log")
    before = server(dynalite, dynalite_tables, tmp_path / "before.log", CHAT_ROOM_TAILS_AHEAD_MAX="0")
    try:
        owner = Person(ahead.url)
        owner.sign_up("alice", "Alice")
        room = owner.create_room("Hot Room")
        assert owner.post_message(room, "hello").status_code == 200
        with_upkeep = calls_per_page(ahead, room)[3:]  # past the cold pages (the room, its tail loaded)
        without = calls_per_page(before, room)[3:]
    finally:
        ahead.stop()
        before.stop()
    paying_with, paying_without = sum(1 for c in with_upkeep if c), sum(1 for c in without if c)
    # Without: about one page per CHAT_LIVE_REFRESH_SECONDS (0.5 s) pays the feed's Query.
    assert paying_without >= READING_SECONDS, (paying_without, without)
    # With: none in the steady state (one or two allowed: a worker starved for CPU on a busy host
    # can serve a page before the upkeep's late wake-up).
    assert paying_with <= 2 and paying_with < paying_without, (paying_with, with_upkeep)
    assert max(with_upkeep) <= 1
