"""In a hot room (one the tails' upkeep keeps fresh), a reader with more unread messages than the
tail holds (the "many-unread" readers) has the tail deepened once, by one Query for the messages
older than its oldest (selectors.room_history_before), so that page and the next such pages come
from memory: the same page room_history_around reads from DynamoDB. Not hot, or more unread than
CHAT_ROOM_TAIL_DEEP_MAX allows: as before (room_history_around's 2 Queries). The depth goes when
the room leaves the hot set, or the tail is loaded again. Clocks and the upkeep's rounds as in
tests/rooms/test_hot_room_tail_refreshed_ahead.py."""

from __future__ import annotations

import dataclasses
import time

import pytest

from chatsite import keys, pagination
from rooms import live, room_tail, selectors, services
from tests.rooms.room_page_patterns import Recorder
from tests.rooms.test_hot_room_tail_refreshed_ahead import INTERVAL_MS, SIDEBAR_QUERY, Clock, Run
from tests.support.seeding import messages_posted
from tests.support.sessions import request_user, sign_in

DEEPENING = "selectors.room_history_before"
AROUND = "selectors.room_history_around"
DEFAULT_CAPACITY = 51


@pytest.fixture
def deep_scene(room, settings, monkeypatch):
    """Art with 100 messages; alice caught up (her pages make the room hot), carol and dave members
    who read the first 20 (80 unread each)."""
    settings.CHAT_LIVE_REFRESH_SECONDS = INTERVAL_MS / 1000
    settings.CHAT_ROOM_TAILS_AHEAD_MAX = 20
    settings.CHAT_ROOM_TAIL_DEEP_MAX = 200
    settings.ACCOUNTS_SESSION_CACHE_SECONDS = 3600
    settings.ACCOUNTS_USER_RECHECK_SECONDS = 3600
    settings.CHAT_ROOM_SEQ_CACHE_SECONDS = 3600
    settings.CHAT_ROOM_CACHE_SECONDS = 3600
    posted = messages_posted(room, [f"message {n:03d}" for n in range(100)], author=request_user("bob"))
    services.read_cursor_advance(user_id="alice", room_id="art", seq=posted[-1].seq, pos=posted[-1].sk)
    for reader in ("carol", "dave"):
        services.room_join(room=room, user=request_user(reader), read_seq=0)
        services.read_cursor_advance(user_id=reader, room_id="art", seq=posted[19].seq, pos=posted[19].sk)
    clock = Clock()
    monkeypatch.setattr(time, "monotonic", clock.monotonic)
    monkeypatch.setattr(time, "time_ns", clock.time_ns)
    upkeep = room_tail.TailUpkeep(autostart=False)
    monkeypatch.setattr(room_tail, "_upkeep", upkeep)
    return upkeep, clock, posted


def hot(client, recorder, upkeep, clock) -> Run:
    """alice's pages every 100 ms until Art is hot."""
    sign_in(client, "alice")
    run = Run(client, recorder, upkeep, clock)
    run.page()
    run.pages(every_ms=100, count=5)
    assert upkeep.hot_rooms() == ["art"]
    return run


def as_reader(client, name: str) -> None:
    client.cookies.clear()
    sign_in(client, name)


def cursor_key(cursor: str | None, purpose: str) -> dict | None:
    return None if cursor is None else pagination.decode(cursor, purpose=purpose, scope="art",
                                                         key_names=selectors._INDEX_KEY_NAMES)


def assert_same_page(from_memory: selectors.HistoryPage, from_dynamodb: selectors.HistoryPage) -> None:
    assert [m.message_id for m in from_memory.items] == [m.message_id for m in from_dynamodb.items]
    assert [m.comment for m in from_memory.items] == [m.comment for m in from_dynamodb.items]
    assert from_memory.first_unread == from_dynamodb.first_unread is not None
    assert cursor_key(from_memory.next_cursor, "history") == cursor_key(from_dynamodb.next_cursor, "history")
    assert cursor_key(from_memory.newer_cursor, "history-newer") == cursor_key(from_dynamodb.newer_cursor,
                                                                               "history-newer")
    assert from_dynamodb.next_cursor is not None and from_dynamodb.newer_cursor is not None


def test_a_many_unread_page_in_a_hot_room_deepens_the_tail_once_then_comes_from_memory(client, deep_scene, room):
    upkeep, clock, posted = deep_scene
    with Recorder() as recorder:
        run = hot(client, recorder, upkeep, clock)
        as_reader(client, "carol")
        run.until(clock.ms + 100)
        run.page()  # her session read and cached: the page's floor is the sidebar's Query from here on
        tail = live.existing_feed("art").follower
        assert tail.capacity > DEFAULT_CAPACITY  # that first page deepened it
        as_reader(client, "dave")
        run.until(clock.ms + 100)
        first, body = run.page()
        assert first == {SIDEBAR_QUERY: 1}, first  # dave's page: from the deepened tail
        # 5 read, the last read, 49 unread
        assert "message 014" in body and "message 068" in body and "message 069" not in body
        as_reader(client, "carol")
        run.until(clock.ms + 100)
        again, _ = run.page()
        assert again == {SIDEBAR_QUERY: 1}, again
    read_pos = posted[19].sk
    memory_page, _ = room_tail.room_page_around(room, read_pos, 80)
    assert_same_page(memory_page, selectors.room_history_around(room_id="art", read_pos=read_pos))


def test_the_deepening_page_costs_the_sidebar_and_one_query(client, deep_scene):
    upkeep, clock, posted = deep_scene
    as_reader(client, "carol")
    client.get("/rooms/design/")  # carol's session and user cached, away from Art (404 is fine)
    client.cookies.clear()
    with Recorder() as recorder:
        run = hot(client, recorder, upkeep, clock)
        as_reader(client, "carol")
        run.until(clock.ms + 100)
        cost, body = run.page()
    assert cost == {SIDEBAR_QUERY: 1, DEEPENING: 1}, cost
    assert "message 020" in body and "message 014" in body and "message 013" not in body  # 5 read above


def test_more_unread_than_the_bound_reads_room_history_around(client, deep_scene, settings):
    upkeep, clock, _ = deep_scene
    settings.CHAT_ROOM_TAIL_DEEP_MAX = 60  # 80 unread + 7 > 60
    with Recorder() as recorder:
        run = hot(client, recorder, upkeep, clock)
        as_reader(client, "carol")
        for _ in range(3):
            run.until(clock.ms + 100)
            cost, _ = run.page()
            assert cost.get(AROUND) == 2 and DEEPENING not in cost, cost
        assert upkeep.hot_rooms() == ["art"]
        assert live.existing_feed("art").follower.capacity == DEFAULT_CAPACITY


def test_a_room_not_hot_is_not_deepened(client, deep_scene):
    upkeep, clock, _ = deep_scene
    with Recorder() as recorder:
        sign_in(client, "alice")
        run = Run(client, recorder, upkeep, clock)
        run.page()  # the tail loaded
        as_reader(client, "carol")
        run.until(clock.ms + INTERVAL_MS + 100)  # slower than the interval: never hot
        cost, _ = run.page()
        assert upkeep.hot_rooms() == []
        assert cost.get(AROUND) == 2 and DEEPENING not in cost, cost
        assert live.existing_feed("art").follower.capacity == DEFAULT_CAPACITY


def test_the_depth_goes_when_the_room_leaves_the_hot_set_or_the_tail_is_reloaded(client, deep_scene, room):
    upkeep, clock, posted = deep_scene
    with Recorder() as recorder:
        run = hot(client, recorder, upkeep, clock)
        assert room_tail.room_page_around(room, posted[19].sk, 80) is not None
        tail = live.existing_feed("art").follower
        assert tail.capacity == 80 + 1 + selectors.HISTORY_CONTEXT + 1 and len(tail.messages) == tail.capacity
        run.until(clock.ms + 60_000)  # nobody looks for a minute
        assert upkeep.hot_rooms() == []
        assert tail.capacity == DEFAULT_CAPACITY and len(tail.messages) == DEFAULT_CAPACITY
        # Deepened again (hot again), then loaded again: the default capacity.
        run.pages(every_ms=100, count=3)
        assert room_tail.room_page_around(room, posted[19].sk, 80) is not None
        assert tail.capacity > DEFAULT_CAPACITY
        tail.load(live.existing_feed("art"))
        assert tail.capacity == DEFAULT_CAPACITY and len(tail.messages) == DEFAULT_CAPACITY


def test_a_deleted_message_older_than_the_tail_is_not_brought_back(deep_scene, room):
    """The index may still show a message the tail knows was deleted: deepening skips it."""
    _, clock, posted = deep_scene
    tail = room_tail.RoomTail("art", room.created_at)
    tail.load()
    assert posted[30].message_id not in tail.messages  # older than the tail's oldest
    tail.local(live.Event(at_ms=room_tail.now_ms(), message_id=posted[30].message_id))  # deleted here
    stale_index = selectors.room_history_before  # the Query as it reads, the deleted message still in it
    assert tail.deepened(86, before=stale_index)
    ids = [m.message_id for m in tail.view().items]
    assert posted[30].message_id not in ids
    assert ids == [m.message_id for m in posted[100 - 86:] if m.message_id != posted[30].message_id]


def test_an_edit_after_the_watermark_is_shown_once(deep_scene, room):
    """A message older than the tail edited after its watermark: the deepening's Query reads its
    new state; the live update of the edit then finds that version held and changes nothing."""
    _, clock, posted = deep_scene
    tail = room_tail.RoomTail("art", room.created_at)
    tail.load()
    old = posted[30]
    edited = dataclasses.replace(old, comment="edited later", version=old.version + 1, edit_version=1)

    def index_with_the_edit(**kwargs):
        return [edited if m.message_id == old.message_id else m for m in selectors.room_history_before(**kwargs)]

    assert tail.deepened(86, before=index_with_the_edit)
    tail.local(live.Event(at_ms=room_tail.now_ms(), message_id=old.message_id, message=edited, update=True))
    items = tail.view().items
    assert [m.comment for m in items if m.message_id == old.message_id] == ["edited later"]
    assert len(items) == len({m.message_id for m in items}) == 86


def test_deepening_after_a_gap_or_a_failed_query_gives_nothing(deep_scene, room, caplog):
    _, clock, posted = deep_scene
    tail = room_tail.RoomTail("art", room.created_at)
    tail.load()

    def failing(**kwargs):
        raise RuntimeError("ProvisionedThroughputExceededException")

    assert not tail.deepened(86, before=failing)
    assert tail.capacity == DEFAULT_CAPACITY and "deepening its tail failed" in caplog.text

    def reloaded_meanwhile(**kwargs):
        found = selectors.room_history_before(**kwargs)
        tail.load()
        return found

    assert not tail.deepened(86, before=reloaded_meanwhile)
    assert tail.capacity == DEFAULT_CAPACITY and len(tail.messages) == DEFAULT_CAPACITY
    assert keys.message_sk_parts(posted[-1].sk)  # the tail still the newest 51, served as before
    assert tail.view().items[-1].message_id == posted[-1].message_id


def test_a_deletion_in_a_deepened_tail_keeps_it(deep_scene, room):
    """A deep tail still holds more than a page and a "load older" need after a deletion: it
    stays (a default tail, full, gives up: it could no longer show the newest page)."""
    _, clock, posted = deep_scene
    tail = room_tail.RoomTail("art", room.created_at)
    tail.load()
    assert tail.deepened(86)
    tail.local(live.Event(at_ms=room_tail.now_ms(), message_id=posted[50].message_id))
    assert tail.messages is not None and tail.capacity == 86
    ids = [m.message_id for m in tail.view().items]
    assert ids == [m.message_id for m in posted[14:] if m.message_id != posted[50].message_id]
    # Back to the default: the next deletion makes it fewer than a full tail, which gives up as before.
    tail.undeepened()
    assert len(tail.messages) == DEFAULT_CAPACITY
    tail.local(live.Event(at_ms=room_tail.now_ms(), message_id=posted[-1].message_id))
    assert tail.messages is None
