"""A member's room page costs 3 Queries and the unread counts' BatchGetItem even when this
process has neither the room nor the user cached (a fresh worker, an expired entry): the member's
`room#` sidebar item carries what the page needs of the room, so the page reads no room record.
Non-members still read the room."""

from __future__ import annotations

import pytest

from chatsite import caches
from chatsite.dynamodb import count_calls
from rooms import selectors, services
from tests.support.sessions import request_user, sign_in
from tests.support.users import ensure_user_item


@pytest.mark.parametrize("kind", ["public", "private", "direct"])
def test_a_members_room_page_is_three_queries_and_the_unread_counts_with_cold_caches(client, moto_tables, kind):
    ensure_user_item("alice", display_name="Alice")
    ensure_user_item("bob", display_name="Bob")
    if kind == "direct":
        room_id = services.direct_start(starter=request_user("alice"), usernames=["bob"])
    else:
        room_id = services.room_create(name="Zed", description="the last room", created_by="alice", kind=kind).room_id
    sign_in(client, "alice", display_name="Alice")
    client.get(f"/rooms/{room_id}/")
    caches.clear_all()
    with count_calls() as calls:
        response = client.get(f"/rooms/{room_id}/")
    assert response.status_code == 200
    # the session, the user with the sidebar, the history; the sidebar's room Seqs (unread counts)
    assert dict(calls) == {"Query": 3, "BatchGetItem": 1}, calls
    room = response.context["room"]
    stored = selectors.room_get(room_id=room_id)
    assert (room.room_id, room.kind, room.description, room.created_by, room.created_at) == (
        stored.room_id, stored.kind, stored.description, stored.created_by, stored.created_at)
    if kind != "direct":
        assert room.name == "Zed" and "the last room" in response.content.decode()
        assert response.context["can_manage"] is True
    else:
        assert room.name == "Bob"


def test_a_rename_and_a_new_description_reach_the_members_pages(client, moto_tables):
    room = services.room_create(name="Zed", description="old", created_by="alice", kind="private")
    services.room_update(room=room, actor=request_user("alice"), name="Zed", description="new words")
    entry = selectors.user_rooms(user_id="alice")[0]
    assert (entry.name, entry.description) == ("Zed", "new words")
    sign_in(client, "alice")
    caches.clear_all()
    assert client.get("/rooms/zed/").context["room"].description == "new words"


def test_a_non_member_of_a_public_room_still_reads_the_room(client, moto_tables):
    services.room_create(name="Zed", created_by="alice")
    sign_in(client, "bob")
    client.get("/rooms/zed/")
    caches.clear_all()
    with count_calls() as calls:
        assert client.get("/rooms/zed/").status_code == 200
    assert dict(calls) == {"Query": 3, "GetItem": 1}, calls
