"""Security flows not already covered elsewhere.

Already covered, so not repeated here:
- sign-in throttling per account and per address: tests/accounts/test_users.py and
  tests/integration/test_accounts_pages.py::test_throttled_account_gets_try_again_in_minutes;
- sign-up validation: tests/integration/test_accounts_pages.py (bad usernames, duplicates by case,
  width and ligature, long display names, weak or mismatched passwords, CSRF) and
  tests/accounts/test_validators.py; arbitrary input in tests/test_properties.py;
- `next` with https://evil.example, //evil.example and javascript: on sign-in:
  test_accounts_pages.py::test_sign_in_ignores_an_unsafe_next;
- revoking another device, and someone else's session refs:
  tests/integration/test_accounts_sessions.py (revoke, ownership, CSRF);
- someone else's message: tests/integration/test_rooms_http.py::test_author_and_staff_can_delete_others_cannot
  (the 403).

Added here: the throttle holding across two gunicorn servers, backslash/whitespace `next`
variants on every entry point, a signed-out cookie replayed, and forged delete ids (the message
stays, everywhere, and no tombstone reaches live feeds).
"""

from __future__ import annotations

import pytest
from django.test import Client

from accounts import selectors as account_selectors
from rooms import selectors, services, validators
from tests.support.users import PASSWORD, create_user
from tests.support.sessions import sign_in
from tests.support.web import Person, text

HX = {"HTTP_HX_REQUEST": "true"}
OFF_SITE = ["https://evil.example/", "//evil.example/", "/\\evil.example/", "\\\\evil.example/",
            "/\\/evil.example/", "https:evil.example", " //evil.example", "\t//evil.example",
            "http://testserver@evil.example/", "///evil.example/", "javascript:alert(1)", "0", "home"]


# --- sign-in throttling: the limit lives in DynamoDB, so it holds across servers ------------------


@pytest.mark.integration
def test_sign_in_throttle_holds_across_two_servers(gunicorn_server):
    one, two = gunicorn_server(), gunicorn_server()
    Person(one.url).sign_up("alice", "Alice")
    statuses = []
    for n in range(5):  # alternate servers, as a load balancer would
        attacker = Person((one, two)[n % 2].url)
        statuses.append(attacker.sign_in("alice", password=f"guess-{n}").status_code)
    assert statuses[:4] == [200, 200, 200, 200] and statuses[4] == 429
    for server in (one, two):
        response = Person(server.url).sign_in("alice")  # even the right password, on either server
        assert response.status_code == 429
        assert "Too many failed sign-ins" in text(response.text)


# --- open redirects through `next` ------------------------------------------------------------------


@pytest.fixture
def alice(moto_tables, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return create_user("alice", display_name="Alice")


def _assert_stays_on_site(response) -> None:
    assert response.status_code == 302
    assert response["Location"] == "/", response["Location"]


@pytest.mark.parametrize("next_url", OFF_SITE)
def test_sign_in_post_never_redirects_off_site(alice, next_url):
    client = Client()
    _assert_stays_on_site(client.post("/accounts/login/", {"username": "alice", "password": PASSWORD,
                                                           "next": next_url}))
    # Signed in, the sign-in and sign-up pages redirect at once: through `next` too.
    _assert_stays_on_site(client.get("/accounts/login/", {"next": next_url}))
    _assert_stays_on_site(client.get("/accounts/signup/", {"next": next_url}))


@pytest.mark.parametrize("next_url", OFF_SITE)
def test_sign_up_never_redirects_off_site(alice, next_url):
    response = Client().post("/accounts/signup/", {"username": "bob", "display_name": "Bob", "next": next_url,
                                                   "password1": PASSWORD, "password2": PASSWORD})
    _assert_stays_on_site(response)


@pytest.mark.parametrize("next_url", OFF_SITE)
def test_sign_in_form_does_not_carry_an_off_site_next(alice, next_url):
    body = Client().get("/accounts/login/", {"next": next_url}).content.decode()
    assert "evil.example" not in body and "javascript:" not in body


def test_a_local_next_is_honoured(alice):
    response = Client().post("/accounts/login/", {"username": "alice", "password": PASSWORD,
                                                  "next": "/rooms/art/?before=x#latest"})
    assert response.status_code == 302 and response["Location"] == "/rooms/art/?before=x#latest"


# --- revoked sessions -----------------------------------------------------------------------------------


def test_a_signed_out_cookie_replayed_is_signed_out(alice):
    client = Client()
    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    stolen = client.cookies["sessionid"].value
    assert client.get("/accounts/profile/").status_code == 200
    client.post("/accounts/logout/")
    replay = Client()
    replay.cookies["sessionid"] = stolen
    response = replay.get("/accounts/profile/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    # Nor can the dead cookie post or delete.
    services.room_create(name="Art", created_by="bob")
    post = replay.post("/rooms/art/messages", {"comment": "as alice?", "idempotency_key": validators.new_token()})
    assert post.status_code == 302 and post["Location"].startswith("/accounts/login/")
    assert selectors.room_history(room_id="art").items == []


def test_a_revoked_cookie_cannot_revoke_back_or_read_sessions(alice):
    laptop, phone = Client(), Client(HTTP_USER_AGENT="phone")
    laptop.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    phone.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    refs = account_selectors.user_sessions(user_id="alice", current_session_key=laptop.session.session_key)
    phone_ref = next(view.ref for view in refs if not view.is_current)
    laptop_ref = next(view.ref for view in refs if view.is_current)
    assert laptop.post("/accounts/sessions/revoke/", {"session": phone_ref}).status_code == 302
    assert phone.get("/accounts/sessions/").status_code == 302
    response = phone.post("/accounts/sessions/revoke/", {"session": laptop_ref})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert laptop.get("/accounts/profile/").status_code == 200


# --- another user's message ids ------------------------------------------------------------------------


@pytest.fixture
def two_rooms(moto_tables):
    art = services.room_create(name="Art", created_by="alice")
    jazz = services.room_create(name="Jazz", created_by="mallory")
    alice = sign_in(Client(), "alice")
    message = services.message_post(room=art, author=alice, comment="alice's words",
                                    idempotency_key=validators.new_token()).message
    return art, jazz, message


def _still_there(message) -> None:
    assert [m.comment for m in selectors.room_history(room_id="art").items] == ["alice's words"]
    assert selectors.message_get(author_id="alice", sk=message.sk) is not None
    assert selectors.deletions_since(room_id="art", since="2000-01-01T00:00:00.000Z") == []
    assert selectors.deletions_since(room_id="jazz", since="2000-01-01T00:00:00.000Z") == []


@pytest.mark.parametrize("htmx", [False, True])
def test_deleting_someone_elses_message_is_refused_and_it_stays(two_rooms, htmx):
    art, jazz, message = two_rooms
    mallory = Client()
    sign_in(mallory, "mallory")
    extra = HX if htmx else {}
    # Her own name as the author, with Alice's key: not her message, so nothing is found.
    assert mallory.post("/rooms/art/messages/delete", {"author": "mallory", "sk": message.sk},
                        **extra).status_code in (200, 302)
    # Alice's name and key: refused.
    assert mallory.post("/rooms/art/messages/delete", {"author": "alice", "sk": message.sk},
                        **extra).status_code == 403
    # Through her own room's URL: refused too.
    assert mallory.post("/rooms/jazz/messages/delete", {"author": "alice", "sk": message.sk},
                        **extra).status_code == 403
    _still_there(message)
    assert "alice's words" in text(Client().get("/rooms/art/").content.decode())


def test_the_author_cannot_delete_her_message_through_another_rooms_url(two_rooms):
    art, jazz, message = two_rooms
    alice = Client()
    sign_in(alice, "alice")
    response = alice.post("/rooms/jazz/messages/delete", {"author": "alice", "sk": message.sk}, **HX)
    assert response.status_code == 200 and "already deleted" in response.content.decode()
    _still_there(message)
    response = alice.post("/rooms/art/messages/delete", {"author": "alice", "sk": message.sk}, **HX)
    assert response.status_code == 200 and response.content.decode() == "Message deleted."
    assert selectors.room_history(room_id="art").items == []
