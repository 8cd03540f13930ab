"""Two gunicorn servers on different ports share one dynalite: the web tier keeps no host-local
state a person depends on. A session made on one works on the other, a revocation on one holds on
the other, and a message posted on one reaches a watcher polling the other."""

from __future__ import annotations

import re

import pytest

from rooms import selectors
from tests.support.web import Person, comments, text, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def two_servers(gunicorn_server):
    return gunicorn_server(), gunicorn_server()


def moved_to(person: Person, base_url: str) -> Person:
    """The same browser's cookies, sent to another server (as a load balancer would)."""
    other = Person(base_url)
    other.http.cookies.update(person.http.cookies)
    return other


def test_a_session_made_on_one_server_works_on_the_other(two_servers):
    one, two = two_servers
    alice = Person(one.url)
    alice.sign_up("alice", "Alice Liddell")
    assert alice.is_signed_in_as("Alice Liddell")

    on_two = moved_to(alice, two.url)
    assert on_two.is_signed_in_as("Alice Liddell")
    # Writes through server two use the same session: change the display name there, read it on one.
    response = on_two.post("/accounts/profile/", {"display_name": "Alice of Two"})
    assert response.status_code == 302
    # Server one's workers hold a copy of the user for up to ACCOUNTS_USER_RECHECK_SECONDS (3 s).
    wait_until(lambda: alice.is_signed_in_as("Alice of Two"), timeout=3 + 2, message="the new name on server one")
    # Signing out on server two ends the session on server one too.
    assert on_two.post("/accounts/logout/", {}, form_path="/accounts/profile/").status_code == 302
    assert alice.profile().status_code == 302


def test_a_message_posted_on_one_server_reaches_a_watcher_on_the_other(two_servers):
    one, two = two_servers
    alice = Person(one.url)
    alice.sign_up("alice", "Alice")
    room = alice.create_room("Both Ends")
    bob = Person(two.url)  # anonymous watcher on the other server: polls are public
    page = bob.get(room)
    assert page.status_code == 200 and comments(page.text) == []
    watermark = re.search(r'data-watermark="([^"]+)"', page.text).group(1)  # signed by server two

    assert alice.post_message(room, "posted on one").status_code == 200

    def delivered():
        response = bob.poll(room, watermark)
        assert response.status_code in (200, 204), response.status_code
        return response.status_code == 200 and "posted on one" in comments(response.text)

    wait_until(delivered, timeout=10, message="the message to reach server two's poll")
    # And the other way round, with the poll on server one and the post on two.
    bob_signed_in = Person(two.url)
    bob_signed_in.sign_up("bob", "Bob")
    watermark = alice.watermark(room)  # signed by server one, before the post
    assert bob_signed_in.post_message(room, "posted on two").status_code == 200
    wait_until(lambda: "posted on two" in comments(alice.poll(room, watermark).text), timeout=10,
               message="the reply to reach server one's poll")
    for server in (one, two):
        assert comments(Person(server.url).get(room).text) == ["posted on one", "posted on two"]
    assert [m.comment for m in selectors.room_history(room_id="both-ends").items] == ["posted on one",
                                                                                     "posted on two"]


def test_a_session_revoked_on_one_server_is_signed_out_on_the_other(two_servers):
    one, two = two_servers
    laptop = Person(one.url)
    laptop.sign_up("alice", "Alice")
    phone = Person(two.url)
    assert phone.sign_in("alice").status_code == 302
    assert phone.is_signed_in_as("Alice")
    page = laptop.get("/accounts/sessions/").text
    current = page[page.index("session-current"):]
    laptop_ref = re.search(r'name="session" value="([0-9a-f]+)"', current).group(1)
    phone_ref = next(r for r in re.findall(r'name="session" value="([0-9a-f]+)"', page) if r != laptop_ref)
    response = laptop.post("/accounts/sessions/revoke/", {"session": phone_ref}, form_path="/accounts/sessions/")
    assert response.status_code == 302
    # Server two may have cached the session; it must not keep honouring it.
    assert phone.profile().status_code == 302
    assert "Sign in" in text(phone.get("/").text)
    assert laptop.is_signed_in_as("Alice")
