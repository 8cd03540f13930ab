"""The session cache across real processes: two gunicorn servers on one dynalite, one worker each
(so each server is one process with one cache), ACCOUNTS_SESSION_CACHE_SECONDS = BOUND.

A session ended on one server stops working there at once; the other keeps serving it from memory
until BOUND after its read began, polling it does not stretch that, and then it is signed out.
"""

from __future__ import annotations

import time

import pytest

from accounts import services
from tests.integration.test_two_servers import moved_to
from tests.support.web import Person, wait_until

pytestmark = pytest.mark.integration

BOUND = 3.0
SLACK = 2.0  # a shared, busy host: requests themselves can take a while


@pytest.fixture
def two_servers(gunicorn_server):
    env = {"ACCOUNTS_SESSION_CACHE_SECONDS": str(BOUND), "GUNICORN_WORKERS": "1"}
    return gunicorn_server(**env), gunicorn_server(**env)


def test_a_sign_out_ends_the_session_here_at_once_and_on_the_other_server_within_the_bound(two_servers):
    one, two = two_servers
    alice = Person(one.url)
    alice.sign_up("alice", "Alice")
    same_cookie_on_one = moved_to(alice, one.url)
    on_two = moved_to(alice, two.url)
    assert same_cookie_on_one.profile().status_code == 200

    read_began = time.monotonic()
    assert on_two.profile().status_code == 200  # server two reads the session, and keeps it
    assert alice.post("/accounts/logout/", {}, form_path="/accounts/profile/").status_code == 302
    signed_out_at = time.monotonic()

    assert same_cookie_on_one.profile().status_code == 302  # the process that ended it: at once
    response = on_two.profile()
    if time.monotonic() < read_began + BOUND:
        assert response.status_code == 200  # the stated bound is what server two uses, not less
    wait_until(lambda: on_two.profile().status_code == 302, timeout=BOUND + SLACK, interval=0.2,
               message="the session to end on server two")
    assert time.monotonic() - signed_out_at <= BOUND + SLACK  # polling it all along did not stretch it


def test_a_deactivation_by_command_ends_sessions_on_every_server_within_the_bound(two_servers):
    one, two = two_servers
    alice = Person(one.url)
    alice.sign_up("alice", "Alice")
    on_two = moved_to(alice, two.url)
    assert alice.profile().status_code == 200 and on_two.profile().status_code == 200  # both warm
    services.user_set_active(user_id="alice", active=False)  # this test is a third process, as manage.py is
    ended_at = time.monotonic()
    for person in (alice, on_two):
        wait_until(lambda: person.profile().status_code == 302, timeout=BOUND + SLACK, interval=0.2,
                   message="the deactivated user's session to end")
    assert time.monotonic() - ended_at <= BOUND + SLACK
