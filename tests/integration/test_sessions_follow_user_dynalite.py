"""Sessions follow the user record across processes: two gunicorn servers (2 workers each) on one
dynalite, 20 real concurrent sign-ins with the old password, and one change made by a third
process (this test, as `manage.py` would). Every worker's cached copy of the user is stale, so
the bound is ACCOUNTS_USER_RECHECK_SECONDS; after it, none of the 20 sessions acts with the old
rights. (The same races on one process, bound 0: tests/accounts/test_sessions_follow_user.py.)
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from accounts import auth, services
from rooms import services as room_services
from tests.support.web import PASSWORD, Person

pytestmark = pytest.mark.integration

RECHECK_SECONDS = 1.0
SIGN_INS = 20


@pytest.fixture
def servers(gunicorn_server):
    env = {"ACCOUNTS_USER_RECHECK_SECONDS": str(RECHECK_SECONDS),
           # 20 sign-ins at once from one address, and failures once the password changed
           "ACCOUNTS_SIGN_IN_FAILURE_LIMIT": "1000", "ACCOUNTS_SIGN_IN_IP_FAILURE_LIMIT": "1000"}
    return gunicorn_server(**env), gunicorn_server(**env)


def _race(servers, change, username: str = "alice") -> list[Person]:
    """SIGN_INS browsers (alternating servers) sign in at once; ``change`` runs once 3 have finished."""
    people = [Person(servers[n % 2].url) for n in range(SIGN_INS)]
    for person in people:
        person.get("/accounts/login/")  # a CSRF cookie first, so the sign-ins themselves are the race
    done = threading.Semaphore(0)
    start = threading.Barrier(SIGN_INS + 1)

    def sign_in(person: Person) -> bool:
        start.wait()
        try:
            return person.sign_in(username).status_code == 302
        finally:
            done.release()

    def change_midway():
        start.wait()
        for _ in range(3):
            done.acquire()
        change()

    with ThreadPoolExecutor(SIGN_INS + 1) as pool:
        changing = pool.submit(change_midway)
        won = list(pool.map(sign_in, people))
        changing.result()
    time.sleep(RECHECK_SECONDS + 0.2)  # the documented bound for processes that didn't make the change
    return [person for person, ok in zip(people, won) if ok]


def _signed_in(person: Person) -> bool:
    return person.profile().status_code == 200


def test_sign_ins_racing_a_password_change_all_end(servers):
    Person(servers[0].url).sign_up("alice", "Alice")
    won = _race(servers, lambda: services.user_set_password(user_id="alice", password="a-new-long-passphrase-1"))
    assert len(won) >= 3
    assert [p for p in won if _signed_in(p)] == []


def test_sign_ins_racing_a_deactivation_all_end(servers):
    Person(servers[0].url).sign_up("alice", "Alice")
    won = _race(servers, lambda: services.user_set_active(user_id="alice", active=False))
    assert len(won) >= 3
    assert [p for p in won if _signed_in(p)] == []


def test_staff_sign_ins_racing_a_demotion_lose_staff_powers(servers):
    services.user_create(username="alice", display_name="Alice", password=PASSWORD, is_staff=True)
    room = room_services.room_create(name="Art", description="", created_by="bob")
    bob = auth.session_user(services.user_create(username="bob", display_name="Bob", password=PASSWORD))
    message = room_services.message_post(room=room, author=bob, comment="hello", idempotency_key="k" * 20).message
    won = _race(servers, lambda: services.user_set_staff(user_id="alice", staff=False))
    assert len(won) >= 3
    assert all(_signed_in(p) for p in won)  # still signed in, without the staff power
    statuses = [p.post("/rooms/art/messages/delete", {"author": "bob", "sk": message.sk},
                       form_path="/rooms/art/").status_code for p in won]
    assert set(statuses) == {403}, statuses
    assert "hello" in Person(servers[1].url).get("/rooms/art/").text
