"""The session feed across real processes: two gunicorn servers on one dynalite, one worker each,
with a short cache bound (SHORT) and the feed on (a session serves from memory for up to
WITH_FEED while the feed is read every FEED seconds).

Past the short bound, a server keeps serving a session it read without reading it again (a record
deleted behind its back, unannounced, still works there); a sign-out on the other server is
announced, and ends the session here within FEED.
"""

from __future__ import annotations

import time

import pytest

from accounts import session_patterns
from accounts.session_keys import StoredKey
from tests.integration.test_two_servers import moved_to
from tests.support.servers import SERVER_SECRET_KEY
from tests.support.web import Person, wait_until

pytestmark = pytest.mark.integration

SHORT, WITH_FEED, FEED = 0.2, 60.0, 1.0
SLACK = 2.0  # a shared, busy host: requests themselves can take a while


@pytest.fixture
def two_servers(gunicorn_server):
    env = {"ACCOUNTS_SESSION_CACHE_SECONDS": str(SHORT), "ACCOUNTS_SESSION_CACHE_WITH_FEED_SECONDS": str(WITH_FEED),
           "ACCOUNTS_SESSION_FEED_SECONDS": str(FEED), "GUNICORN_WORKERS": "1"}
    return gunicorn_server(**env), gunicorn_server(**env)


def _warm(person: Person) -> None:
    """Past the short bound twice: the feed's first refresh starts coverage, the session is read
    again under it, and from then on the server keeps it."""
    for _ in range(3):
        assert person.profile().status_code == 200
        time.sleep(SHORT + 0.1)


def test_past_the_short_bound_a_server_keeps_a_session_it_read(two_servers, settings):
    settings.SECRET_KEY = SERVER_SECRET_KEY  # to find the record by its cookie, as the servers do
    one, two = two_servers
    alice = Person(one.url)
    alice.sign_up("alice", "Alice")
    on_two = moved_to(alice, two.url)
    _warm(on_two)
    record = session_patterns.get_session_by_session_id(StoredKey.of(alice.session_cookie))
    session_patterns.delete_record(record.PK, record.SK)  # behind the servers' backs: not announced
    assert alice.profile().status_code == 302  # server one's cache entry is older than SHORT: read again
    for _ in range(3):
        time.sleep(SHORT + 0.1)
        assert on_two.profile().status_code == 200  # no session read: the feed says nothing changed


def test_a_sign_out_on_one_server_ends_the_session_on_the_other_within_the_feeds_interval(two_servers):
    one, two = two_servers
    alice = Person(one.url)
    alice.sign_up("alice", "Alice")
    on_two = moved_to(alice, two.url)
    _warm(on_two)
    assert alice.post("/accounts/logout/", {}, form_path="/accounts/profile/").status_code == 302
    signed_out_at = time.monotonic()
    assert moved_to(alice, one.url).profile().status_code == 302
    wait_until(lambda: on_two.profile().status_code == 302, timeout=FEED + SLACK, interval=0.1,
               message="the session to end on server two")
    assert time.monotonic() - signed_out_at <= FEED + SLACK  # not WITH_FEED: the announcement reached it
