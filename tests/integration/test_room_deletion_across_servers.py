"""delete_room against two real gunicorn servers (two workers each, every worker with its own room
cache): once the command has returned, no server accepts a post to the room, and a room created
again with the same name shows none of the old messages, not even ones a stale server accepted
while the command was running."""

from __future__ import annotations

import io
import threading
import time

import pytest
from django.core.management import call_command

from rooms import selectors, validators
from tests.support.web import HX, Person, comments, csrf_from

pytestmark = pytest.mark.integration

CACHE_SECONDS = 3


@pytest.fixture
def two_servers(gunicorn_server, settings):
    settings.CHAT_ROOM_CACHE_SECONDS = CACHE_SECONDS  # the command waits out what the servers cache
    settings.CHAT_ROOM_DELETE_GRACE_SECONDS = 1
    env = {"CHAT_ROOM_CACHE_SECONDS": str(CACHE_SECONDS), "CHAT_POST_RATE_LIMIT": "1000"}
    return gunicorn_server(**env), gunicorn_server(**env)


def post(person: Person, room_path: str, csrf: str, comment: str) -> int:
    """A post from an open tab: its CSRF token from the page it loaded earlier, a fresh key."""
    response = person.http.post(person.base_url + room_path + "messages",
                                data={"csrfmiddlewaretoken": csrf, "comment": comment,
                                      "idempotency_key": validators.new_token()},
                                headers={"Referer": person.base_url + room_path, **HX},
                                timeout=15, allow_redirects=False)
    assert response.status_code in (200, 404), response.status_code
    return response.status_code


def test_after_delete_room_returns_no_server_accepts_posts_and_a_new_room_starts_empty(two_servers):
    one, two = two_servers
    alice = Person(one.url)
    alice.sign_up("alice", "Alice")
    room = alice.create_room("Doomed")
    tabs = []
    for server in (one, two):
        tab = Person(server.url)
        tab.http.cookies.update(alice.http.cookies)
        pages = [tab.get(room) for _ in range(4)]  # fills the room cache of whichever workers answer
        assert all(page.status_code == 200 for page in pages)
        tabs.append((tab, csrf_from(pages[0].text)))
    assert post(tabs[0][0], room, tabs[0][1], "before the delete") == 200

    out, err = io.StringIO(), io.StringIO()
    deleting = threading.Thread(target=call_command, args=("delete_room", "doomed", "--yes"),
                                kwargs={"stdout": out, "stderr": err})
    deleting.start()
    accepted_while_deleting = 0
    n = 0
    while deleting.is_alive():
        tab, csrf = tabs[n % 2]
        accepted_while_deleting += post(tab, room, csrf, f"while deleting {n}") == 200
        n += 1
        time.sleep(0.1)
    deleting.join()
    assert "deleted room doomed" in out.getvalue() and "waiting" in err.getvalue()
    assert accepted_while_deleting >= 1  # a stale worker did accept posts: the case being tested

    # Acknowledged: from now on every worker of every server refuses.
    statuses = [post(tab, room, csrf, f"after {i}") for i in range(8) for tab, csrf in tabs]
    assert set(statuses) == {404}
    assert {tab.get(room).status_code for tab, _ in tabs for _ in range(4)} == {404}

    bob = Person(two.url)
    bob.sign_up("bob", "Bob")
    assert bob.create_room("DOOMED") == room
    for server in (one, two):
        for _ in range(4):
            page = Person(server.url).get(room)
            assert page.status_code == 200 and comments(page.text) == []
    assert selectors.room_history(room_id="doomed").items == []
