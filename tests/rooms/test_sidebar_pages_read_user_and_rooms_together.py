"""Pages with the sidebar read the user item and the user's rooms in ONE Query (both live in
`User:<id>`), and that fresh item is what request.user is built from: with a cold user cache a
signed-in room page costs the session, that Query and the history, and a password change,
deactivation or demotion made elsewhere (not through this process's cache) shows on that page."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import make_password

from accounts.models import UserRecord
from accounts.user_cache import user_cache
from chatsite import keys
from chatsite.dynamodb import count_calls
from rooms import selectors, services
from rooms.models import DIRECT
from tests.rooms.test_views import seed
from tests.support.seeding import rooms_created
from tests.support.sessions import request_user, sign_in
from tests.support.users import ensure_user_item


def _two_hundred_rooms(kind: str) -> str:
    rooms_created([f"Room {n:03d}" for n in range(199)], created_by="alice",
                  kinds=["private" if n % 2 else "public" for n in range(199)])
    if kind == DIRECT:
        ensure_user_item("bob")
        return services.direct_start(starter=request_user("alice"), usernames=["bob"])
    return services.room_create(name="Zed", created_by="alice", kind=kind).room_id


@pytest.mark.parametrize("kind", ["public", "private", DIRECT])
def test_a_room_page_with_a_cold_user_cache_is_three_queries_and_the_unread_counts(client, moto_tables, kind):
    room_id = _two_hundred_rooms(kind)
    sign_in(client, "alice")
    selectors.room_get(room_id=room_id)  # the room cached, as on a warm process
    user_cache.clear()
    selectors.clear_seq_cache()
    with count_calls() as calls:
        response = client.get(f"/rooms/{room_id}/")
    assert response.status_code == 200
    # the session, the user with the sidebar, the history; the 200 rooms' Seqs, 100 a call
    assert dict(calls) == {"Query": 3, "BatchGetItem": 2}, calls
    assert len(response.context["your_rooms"]) == 200 and response.context["is_member"] is True
    assert response.wsgi_request.user.id == "alice"


def test_other_sidebar_pages_read_no_user_item_of_their_own(client, moto_tables):
    room_id = _two_hundred_rooms("public")
    ensure_user_item("bob")
    sign_in(client, "alice")
    selectors.room_get(room_id=room_id)
    # Each with the unread counts of the 200 rooms: 2 BatchGetItems (none cached here).
    for url, expected in [(f"/rooms/{room_id}/members/", {"Query": 3, "BatchGetItem": 2}),  # + the member list
                          ("/u/bob/", {"Query": 2, "GetItem": 1, "BatchGetItem": 2}),  # + the person shown
                          ("/direct/new/", {"Query": 2, "BatchGetItem": 2})]:
        user_cache.clear()
        selectors.clear_seq_cache()
        with count_calls() as calls:
            response = client.get(url)
        assert response.status_code == 200, url
        assert dict(calls) == expected, (url, calls)
        assert len(response.context["your_rooms"]) == 200, url


def test_the_combined_read_is_only_the_user_item_and_the_sidebar(moto_tables):
    room = services.room_create(name="Art", created_by="alice")
    ensure_user_item("alice")
    seed(room, 3)  # alice's messages: in her partition, sorted before "meta"
    with count_calls() as calls:
        record, rooms = selectors.user_with_rooms(user_id="alice")
    assert dict(calls) == {"Query": 1}
    assert record.user_id == "alice" and [r.room_id for r in rooms] == ["art"]
    assert selectors.user_with_rooms(user_id="nobody") == (None, [])


def _changed_elsewhere(user_id: str, **attributes) -> None:
    """Change the user item without this process's services, so the cache isn't told (as when
    another process makes the change)."""
    record = UserRecord.get(keys.user_pk(user_id), keys.META)
    for name, value in attributes.items():
        setattr(record, name, value)
    record.save()


@pytest.mark.parametrize("change", ["password", "deactivation"])
def test_a_password_change_or_deactivation_ends_the_session_on_the_next_sidebar_page(client, moto_tables, change):
    # Hashed here (with the unit tier's fast hasher), not at collection: an Argon2 hash there cost
    # every xdist worker ~0.4 s.
    change = {"password": make_password("another-passphrase-99")} if change == "password" else {"is_active": False}
    room = services.room_create(name="Den", created_by="alice", kind="private")
    sign_in(client, "alice")
    assert client.get("/rooms/den/").status_code == 200  # the user now cached, as before the change
    _changed_elsewhere("alice", **change)
    response = client.get(f"/rooms/{room.room_id}/")
    assert response.status_code == 404  # signed out: a private room is a room that doesn't exist
    assert not response.wsgi_request.user.is_authenticated
    assert client.get("/rooms/den/").status_code == 404  # the session was flushed


def test_a_demotion_shows_on_the_next_sidebar_page(client, moto_tables):
    services.room_create(name="Art", created_by="alice")
    sign_in(client, "alice", is_staff=True)
    assert client.get("/rooms/art/").wsgi_request.user.is_staff is True
    _changed_elsewhere("alice", is_staff=False)
    response = client.get("/rooms/art/")
    assert response.status_code == 200 and response.wsgi_request.user.is_authenticated
    assert response.wsgi_request.user.is_staff is False
