"""The sidebar's unread counts kept by the activity feed, across real processes: two gunicorn
servers on one dynalite, one worker each, the plain Seq cache bound shrunk to SHORT. A member's room
page on server two reads no room Seq past that bound (its request log counts the session and the
sidebar Queries, nothing else), and a post made on server one still shows in its count within
2 x CHAT_ACTIVITY_REFRESH_SECONDS (plus a busy host's slack): the feed brought the Seq."""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.integration.test_two_servers import moved_to
from tests.support.servers import GunicornServer, free_port
from tests.support.web import Person, wait_until

pytestmark = pytest.mark.integration

SHORT = 0.1  # CHAT_ROOM_SEQ_CACHE_SECONDS: past it, a page without the feed reads the Seqs again
REFRESH = 1.0  # CHAT_ACTIVITY_REFRESH_SECONDS
SLACK = 3.0  # a shared, busy host


@pytest.fixture
def two_servers(dynalite, dynalite_tables, tmp_path):
    env = {"DYNAMODB_ENDPOINT_URL": dynalite.url, "DYNAMODB_TABLE_PREFIX": dynalite_tables, "GUNICORN_WORKERS": "1",
           "CHAT_ROOM_SEQ_CACHE_SECONDS": str(SHORT), "CHAT_ACTIVITY_REFRESH_SECONDS": str(REFRESH),
           "CHAT_ROOM_SEQ_FEED_SECONDS": "60", "CHAT_LIVE_REFRESH_SECONDS": "30", "DJANGO_LOG_FORMAT": "json",
           "ACCOUNTS_SESSION_CACHE_SECONDS": "0"}  # the session read on every page: counted exactly
    servers = [GunicornServer(port=free_port(), env=env, log_path=tmp_path / f"server-{n}.log") for n in (1, 2)]
    for server in servers:
        server.start()
    yield servers
    for server in servers:
        server.stop()


def page_calls(server: GunicornServer) -> list[dict[str, int]]:
    """DynamoDB calls of each room page in the server's request log, by operation, in order (alice's
    alone here)."""
    pages = []
    for line in server.log_path.read_text(errors="replace").splitlines():
        try:
            fields = json.loads(line)
        except ValueError:
            continue
        if fields.get("view") == "rooms:room" and fields.get("status") == 200:
            pages.append(fields["dynamodb_ops"])
    return pages


def unread_in(body: str, room_id: str) -> int:
    """The sidebar entry's count (templates/rooms/_your_rooms.html)."""
    return int(re.search(rf'data-room="{room_id}" data-unread="(\d+)"', body).group(1))


def test_a_page_reads_no_seq_and_a_post_elsewhere_is_counted_within_the_feeds_bound(two_servers):
    one, two = two_servers
    alice = Person(one.url)
    alice.sign_up("alice", "Alice")
    art, bits = alice.create_room("Art"), alice.create_room("Bits")
    bob = Person(one.url)
    bob.sign_up("bob", "Bob")
    on_two = moved_to(alice, two.url)
    for _ in range(8):  # the feed's first round begins coverage; the Seqs are read again after it
        assert on_two.get(art).status_code == 200
        time.sleep(0.25)
    before = len(page_calls(two))
    for _ in range(12):
        assert on_two.get(art).status_code == 200
        time.sleep(SHORT + 0.15)  # past the plain cache's bound every time
    steady = page_calls(two)[before:]
    assert len(steady) == 12
    # The session and the sidebar; without the feed, every page would also read the two rooms' Seqs
    # (a BatchGetItem): their entries are older than SHORT each time.
    assert steady == [{"Query": 2}] * 12, steady

    assert unread_in(on_two.get(art).text, "bits") == 0
    assert bob.post_message(bits, "news").status_code == 200  # on server one
    posted = time.monotonic()
    wait_until(lambda: unread_in(on_two.get(art).text, "bits") == 1, timeout=2 * REFRESH + SLACK,
               interval=0.1, message="the post on server one to show in server two's count")
    assert time.monotonic() - posted <= 2 * REFRESH + SLACK
