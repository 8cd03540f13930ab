"""The page a reader with unread messages opens: the room's history around their read cursor (a
few read messages, then the unread ones, oldest first), with "load older" above and "load newer"
below, each a signed cursor bound to the room and to its direction."""

from __future__ import annotations

import pytest

from chatsite.dynamodb import count_calls
from chatsite.pagination import InvalidCursor
from rooms import selectors, services
from tests.rooms.test_views import seed
from tests.support.seeding import messages_posted
from tests.support.sessions import request_user


def pos(message) -> str:
    return f"{message.created_at}#{message.message_id}"


def ids(messages) -> list[str]:
    return [m.message_id for m in messages]


@pytest.fixture(autouse=True)
def many_posts(settings):
    settings.CHAT_POST_RATE_LIMIT = 1000


@pytest.fixture
def history(room):
    messages_posted(room, [f"message {n:03d}" for n in range(120)], author=request_user("alice"))
    return selectors.room_history(room_id="art", limit=500).items  # all 120, oldest first


def test_the_page_starts_a_few_messages_before_the_cursor_and_runs_fifty_past_it(history, settings):
    settings.CHAT_HISTORY_PAGE_SIZE = 50
    with count_calls() as calls:
        page = selectors.room_history_around(room_id="art", read_pos=pos(history[30]))
    assert dict(calls) == {"Query": 2}, calls  # from the cursor on, and the few before it
    # 5 read ones for context, the last read one, 49 unread: 50 from the cursor on.
    assert ids(page.items) == ids(history[25:80])
    assert page.first_unread == history[31].message_id
    assert page.next_cursor and page.newer_cursor


def test_mark_as_unread_position_makes_that_message_the_first_unread(history):
    # The position Mark as unread stores: the message's time and an empty id, just before it.
    page = selectors.room_history_around(room_id="art", read_pos=f"{history[30].created_at}#")
    assert page.first_unread == history[30].message_id
    assert ids(page.items)[:6] == ids(history[25:31])


def test_load_newer_continues_to_the_newest_and_load_older_from_there_goes_back(history):
    around = selectors.room_history_around(room_id="art", read_pos=pos(history[30]))
    with count_calls() as calls:
        newer = selectors.room_history_newer(room_id="art", cursor=around.newer_cursor)
    assert dict(calls) == {"Query": 1}, calls
    assert ids(newer.items) == ids(history[80:]) and newer.newer_cursor is None  # the newest reached
    older = selectors.room_history(room_id="art", cursor=newer.next_cursor)
    assert ids(older.items) == ids(history[30:80])
    before_context = selectors.room_history(room_id="art", cursor=around.next_cursor)
    assert ids(before_context.items) == ids(history[:25])


def test_near_the_start_and_the_end_there_is_nothing_more_to_load(room):
    messages = seed(room, 4)
    history = selectors.room_history(room_id="art").items
    page = selectors.room_history_around(room_id="art", read_pos=pos(history[1]))
    assert ids(page.items) == ids(history) and page.first_unread == history[2].message_id
    assert page.next_cursor is None and page.newer_cursor is None
    read_all = selectors.room_history_around(room_id="art", read_pos=pos(history[-1]))
    assert read_all.first_unread is None and len(messages) == 4


def test_newer_cursors_are_signed_and_bound_to_room_and_direction(history):
    around = selectors.room_history_around(room_id="art", read_pos=pos(history[30]))
    services.room_create(name="Other", created_by="alice")
    with pytest.raises(InvalidCursor):
        selectors.room_history_newer(room_id="art", cursor=around.newer_cursor[:-3] + "abc")  # tampered
    with pytest.raises(InvalidCursor):
        selectors.room_history_newer(room_id="other", cursor=around.newer_cursor)  # another room
    with pytest.raises(InvalidCursor):
        selectors.room_history_newer(room_id="art", cursor=around.next_cursor)  # a "load older" cursor
    with pytest.raises(InvalidCursor):
        selectors.room_history(room_id="art", cursor=around.newer_cursor)  # and the other way round
