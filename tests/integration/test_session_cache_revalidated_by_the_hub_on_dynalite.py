"""The session cache kept off the page path, on a real gunicorn server and dynalite: with the longer
bound shrunk to WITH_FEED, a member's room pages over three times that bound each cost the sidebar
Query alone (its request log counts every call): the activity hub's thread refreshed the session
feed before it was due and read the session again (a consistent BatchGetItem, which dynalite
serves) before its entry reached the bound. A session deleted behind the server's back (no
announcement) still stops working there within the bound."""

from __future__ import annotations

import time

import pytest

from accounts import session_patterns
from accounts.session_keys import StoredKey
from tests.integration.test_unread_counts_kept_by_the_activity_feed_across_processes import page_calls
from tests.support.servers import SERVER_SECRET_KEY, GunicornServer, free_port
from tests.support.web import Person, wait_until

pytestmark = pytest.mark.integration

SHORT, WITH_FEED, FEED = 0.2, 6.0, 1.0
SLACK = 3.0  # a shared, busy host


@pytest.fixture
def server(dynalite, dynalite_tables, tmp_path):
    env = {"DYNAMODB_ENDPOINT_URL": dynalite.url, "DYNAMODB_TABLE_PREFIX": dynalite_tables, "GUNICORN_WORKERS": "1",
           "ACCOUNTS_SESSION_CACHE_SECONDS": str(SHORT), "ACCOUNTS_SESSION_CACHE_WITH_FEED_SECONDS": str(WITH_FEED),
           "ACCOUNTS_SESSION_FEED_SECONDS": str(FEED), "CHAT_ROOM_SEQ_FEED_SECONDS": "60",
           "CHAT_ROOM_SEQ_CACHE_SECONDS": "60", "CHAT_LIVE_REFRESH_SECONDS": "30", "DJANGO_LOG_FORMAT": "json"}
    running = GunicornServer(port=free_port(), env=env, log_path=tmp_path / "server.log")
    running.start()
    yield running
    running.stop()


def test_room_pages_over_three_bounds_cost_the_sidebar_query_alone(server):
    alice = Person(server.url)
    alice.sign_up("alice", "Alice")
    art = alice.create_room("Art")
    for _ in range(6):  # the hub starts; the feed's coverage begins; the session is read under it
        assert alice.get(art).status_code == 200
        time.sleep(0.5)
    before = len(page_calls(server))
    until = time.monotonic() + 3 * WITH_FEED
    while time.monotonic() < until:
        assert alice.get(art).status_code == 200
        time.sleep(0.5)
    steady = page_calls(server)[before:]
    assert len(steady) >= 10
    assert [calls for calls in steady if calls != {"Query": 1}] == [], steady


def test_a_session_deleted_behind_the_servers_back_stops_within_the_bound(server, settings):
    settings.SECRET_KEY = SERVER_SECRET_KEY  # to find the record by its cookie, as the server does
    alice = Person(server.url)
    alice.sign_up("alice", "Alice")
    art = alice.create_room("Art")
    for _ in range(6):  # room pages keep the hub running: it revalidates the session
        assert alice.get(art).status_code == 200
        time.sleep(0.5)
    assert alice.profile().status_code == 200
    record = session_patterns.get_session_by_session_id(StoredKey.of(alice.session_cookie))
    session_patterns.delete_record(record.PK, record.SK)  # not announced: as if the announcement were lost
    deleted_at = time.monotonic()
    wait_until(lambda: alice.get(art).status_code == 200 and alice.profile().status_code == 302, timeout=WITH_FEED + SLACK, interval=0.25,
               message="the session to stop working on the server")
    assert time.monotonic() - deleted_at <= WITH_FEED + SLACK
