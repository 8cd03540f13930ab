"""POST /rooms/<id>/read, /rooms/<id>/unread and /rooms/read-all: signed in, CSRF, forward only,
and a private room's non-members get the 404 of a room that does not exist."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from chatsite.dynamodb import count_calls
from rooms import selectors, services, validators
from tests.rooms.test_views import HX
from tests.support.sessions import request_user, sign_in
from tests.support.users import ensure_user_item


def post(room, text="hi", author="alice"):
    return services.message_post(room=room, author=request_user(author), comment=text,
                                 idempotency_key=validators.new_token()).message


def read_seq(user_id: str, room_id: str):
    return selectors.user_room_get(user_id=user_id, room_id=room_id).read_seq


@pytest.fixture
def bob_in_art(client, room):
    bob = sign_in(client, "bob")
    services.room_join(room=room, user=bob)
    return room


def test_a_read_report_moves_the_cursor_forward_only(client, bob_in_art):
    messages = [post(bob_in_art, f"m{n}") for n in range(3)]
    newest = messages[-1]
    client.get("/rooms/art/")  # this process now has bob's user item, as while he reads the room
    selectors.room_get(room_id="art")  # and the room, as a serving process has
    selectors.clear_seq_cache()
    with count_calls() as calls:
        response = client.post("/rooms/art/read", {"seq": newest.seq, "pos": newest.sk}, **HX)
    assert response.status_code == 204 and read_seq("bob", "art") == 3
    # the session, the room's Seq (not in this process's copy: read fresh), the cursor's UpdateItem,
    # its activity event (other tabs and devices)
    assert calls == {"Query": 1, "GetItem": 1, "UpdateItem": 1, "PutItem": 1}, calls
    with count_calls() as calls:  # the Seq now cached, an older message: the no-op move, 2 calls
        assert client.post("/rooms/art/read", {"seq": 2, "pos": messages[1].sk}, **HX).status_code == 204
    assert calls == {"Query": 1, "UpdateItem": 1}, calls
    stale = messages[0]  # a slow tab's older report
    assert client.post("/rooms/art/read", {"seq": stale.seq, "pos": stale.sk}, **HX).status_code == 204
    assert read_seq("bob", "art") == 3


def test_a_read_report_past_the_rooms_newest_message_or_malformed_is_refused(client, bob_in_art):
    newest = post(bob_in_art)
    for data in ({"seq": newest.seq + 1, "pos": newest.sk}, {"seq": "x", "pos": newest.sk}, {"seq": 0, "pos": newest.sk},
                 {"seq": newest.seq, "pos": "yesterday#abc"}, {"seq": newest.seq, "pos": newest.sk + "<"}, {}):
        assert client.post("/rooms/art/read", data, **HX).status_code == 400, data
    assert read_seq("bob", "art") == 0


def test_a_read_report_needs_a_signed_in_user_and_the_csrf_token(room):
    message = post(room)
    anonymous = Client()
    assert anonymous.post("/rooms/art/read", {"seq": message.seq, "pos": message.sk}).status_code == 403
    strict = Client(enforce_csrf_checks=True)
    bob = sign_in(strict, "bob")
    services.room_join(room=room, user=bob)
    post(room, "after the join")
    assert strict.post("/rooms/art/read", {"seq": 2, "pos": message.sk}).status_code == 403
    assert read_seq("bob", "art") == 1
    page = strict.get("/rooms/art/").content.decode()
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    assert strict.post("/rooms/art/read", {"seq": 2, "pos": message.sk}, HTTP_X_CSRFTOKEN=token).status_code == 204
    assert read_seq("bob", "art") == 2
    assert strict.post("/rooms/read-all", {}).status_code == 403
    assert strict.post("/rooms/art/unread", {"author": "alice", "sk": message.sk}).status_code == 403


def test_mark_as_unread_over_htmx_and_as_a_plain_form(client, bob_in_art):
    messages = [post(bob_in_art, f"m{n}") for n in range(3)]
    services.read_cursor_advance(user_id="bob", room_id="art", seq=3, pos=messages[-1].sk)
    response = client.post("/rooms/art/unread", {"author": "alice", "sk": messages[1].sk}, **HX)
    assert response.status_code == 204 and read_seq("bob", "art") == 1
    services.read_cursor_advance(user_id="bob", room_id="art", seq=3, pos=messages[-1].sk)
    response = client.post("/rooms/art/unread", {"author": "alice", "sk": messages[0].sk})
    assert response.status_code == 302 and response["Location"] == "/rooms/art/"
    assert read_seq("bob", "art") == 0
    page = client.get("/rooms/art/").content.decode()
    assert "Art, 3 unread" in " ".join(re.sub(r"<[^>]+>", " ", page).split()).replace(" ,", ",")


def test_mark_as_unread_of_a_deleted_message_or_by_a_non_member_says_so(client, room):
    gone = post(room, "gone")
    services.message_delete(room_id="art", actor=request_user("alice"), author_id="alice", sk=gone.sk)
    kept = post(room, "kept")
    sign_in(client, "carol")  # signed in, not a member of this public room
    response = client.post("/rooms/art/unread", {"author": "alice", "sk": kept.sk}, **HX)
    assert response.status_code == 403 and "Join the room" in response.content.decode()
    assert selectors.user_room_get(user_id="carol", room_id="art") is None
    bob = sign_in(client, "bob")
    services.room_join(room=room, user=bob)
    response = client.post("/rooms/art/unread", {"author": "alice", "sk": gone.sk}, **HX)
    assert response.status_code == 404 and "deleted" in response.content.decode()
    assert client.post("/rooms/art/unread", {"author": "alice"}, **HX).status_code == 400


def test_mark_all_as_read_signed_out_goes_to_sign_in_and_a_foreign_next_goes_home(client, room):
    response = client.post("/rooms/read-all", {"next": "/rooms/art/"})
    assert response.status_code == 302 and "next=/rooms/art/" in response["Location"]
    bob = sign_in(client, "bob")
    services.room_join(room=room, user=bob)
    post(room)
    response = client.post("/rooms/read-all", {"next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert read_seq("bob", "art") == 1
    response = client.post("/rooms/read-all", {}, **HX)
    assert response.status_code == 200 and response["HX-Refresh"] == "true"


@pytest.mark.parametrize("path, data", [
    ("read", {"seq": "1", "pos": "2024-01-01T00:00:00.000Z#abcdefghij"}),
    ("unread", {"author": "alice", "sk": "2024-01-01T00:00:00.000Z#abcdefghij"}),
])
@pytest.mark.parametrize("who", ["anonymous", "signed-in non-member"])
def test_a_private_rooms_non_members_get_the_404_of_a_missing_room(client, moto_tables, path, data, who):
    den = services.room_create(name="Den", created_by="alice", kind="private")
    message = post(den, "secret")
    data = {**data, "sk": message.sk} if path == "unread" else data
    if who != "anonymous":
        sign_in(client, "bob")
    for extra in ({}, HX):
        private = client.post(f"/rooms/den/{path}", data, **extra)
        missing = client.post(f"/rooms/nowhere/{path}", data, **extra)
        assert (private.status_code, private.content) == (missing.status_code, missing.content) and \
            private.status_code == 404, (path, who, extra)
    ensure_user_item("bob")
    services.room_invite(room=den, username="bob")  # a member: allowed
    if who != "anonymous":
        assert client.post(f"/rooms/den/{path}", data, **HX).status_code in (204, 400)


def test_a_plain_post_reads_the_room_up_to_the_posted_message(client, bob_in_art):
    post(bob_in_art, "before")
    page = client.get("/rooms/art/")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.content.decode()).group(1)
    assert client.post("/rooms/art/messages", {"comment": "mine", "idempotency_key": key}).status_code == 302
    assert read_seq("bob", "art") == 2
