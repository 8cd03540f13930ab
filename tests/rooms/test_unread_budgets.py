"""What unread counts cost with 200 rooms in the sidebar, 20 of them unread: the sidebar part is at
most 3 calls (the user's rooms, then the rooms' Seq 100 to a BatchGetItem), whatever the history
length; the room page's total is stated and asserted here (and in bench/report.py's BUDGETS)."""

from __future__ import annotations

import pytest

from accounts.user_cache import user_cache
from chatsite.dynamodb import count_calls
from rooms import room_tail, selectors
from tests.support.seeding import messages_posted, rooms_created
from tests.support.sessions import request_user, sign_in

UNREAD_ROOMS = 20


class Clock:
    def __init__(self):
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def two_hundred_rooms(moto_tables, settings, monkeypatch):
    """Alice's 200 rooms; Carol posted in every tenth (3 messages each, 20 rooms unread)."""
    settings.CHAT_POST_RATE_LIMIT = 1000
    clock = Clock()
    monkeypatch.setattr(selectors.time, "monotonic", clock.monotonic)  # the Seq cache's clock only
    rooms = rooms_created([f"Room {n:03d}" for n in range(200)], created_by="alice")
    carol = request_user("carol")
    for room in rooms[::10]:
        messages_posted(room, [f"m{n}" for n in range(3)], author=carol)
    selectors.clear_seq_cache()
    return rooms, clock


def test_the_sidebar_with_unread_counts_for_200_rooms_is_3_calls(two_hundred_rooms):
    with count_calls() as calls:
        _, sidebar = selectors.user_with_rooms(user_id="alice")
        sidebar = selectors.with_unread(sidebar)
    assert calls == {"Query": 1, "BatchGetItem": 2}, calls
    assert len(sidebar) == 200
    assert sorted(r.room_id for r in sidebar if r.unread) == sorted(r.room_id for r in two_hundred_rooms[0][::10])
    assert {r.unread for r in sidebar if r.unread} == {3}


def test_the_room_page_with_200_rooms_costs_5_calls_cold_and_3_warm(client, two_hundred_rooms):
    rooms, clock = two_hundred_rooms
    read_room = rooms[1].room_id  # nothing unread here: the newest page
    sign_in(client, "alice")
    selectors.room_get(room_id=read_room)
    user_cache.clear()
    with count_calls() as calls:
        response = client.get(f"/rooms/{read_room}/")
    assert response.status_code == 200
    # the session, the user with the sidebar, the history; the 200 rooms' Seq, 100 a call
    assert calls == {"Query": 3, "BatchGetItem": 2}, calls
    assert response.content.decode().count(" unread</span>") == UNREAD_ROOMS
    assert response.content.decode().count("<title>(60) ") == 1
    clock.now += 1.5  # within CHAT_ROOM_SEQ_CACHE_SECONDS of that read: the counts come from the cache
    room_tail.clear_tails()  # the history from DynamoDB, not a fresh tail (test_room_page_call_budget.py)
    with count_calls() as calls:
        assert client.get(f"/rooms/{read_room}/").status_code == 200
    assert calls == {"Query": 3}, calls


def test_opening_an_unread_room_adds_the_query_before_the_read_cursor(client, two_hundred_rooms):
    rooms, _ = two_hundred_rooms
    unread_room = rooms[0].room_id
    sign_in(client, "alice")
    client.get(f"/rooms/{rooms[1].room_id}/")  # the user item cached, as on a warm process
    selectors.clear_seq_cache()
    with count_calls() as calls:
        response = client.get(f"/rooms/{unread_room}/")
    assert response.status_code == 200
    # the page around the read cursor: 3 unread messages, so the room's tail holds it: room history's
    # one Query loads the tail (more unread than a page holds: 2 history Queries, as before)
    assert calls == {"Query": 3, "BatchGetItem": 2}, calls
    assert 'id="new-messages"' in response.content.decode()
