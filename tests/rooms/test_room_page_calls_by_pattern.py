"""The room page's DynamoDB calls on a warm process, each named by its access pattern
(tests/rooms/room_page_patterns.py), in the states a benchmark of many rooms' pages in turn meets
(tests/rooms/test_room_pages_in_turn_calls_by_pattern.py measures them): the first view of a room
costs a non-member 3 calls (the sidebar, the room, room history's Query) and a member 2, and a
later view its floor, whatever the age of the sidebar's Seqs (the activity hub reads them again
before they expire, and after its restart) or of the room's tail (one that no feed refresh can
bring up to date is loaded, not refreshed first)."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from chatsite.dynamodb import count_calls
from rooms import activity, live, room_tail, selectors, services
from tests.rooms.room_page_patterns import Recorder, messages_elsewhere, patterns
from tests.support.seeding import messages_posted, rooms_created
from tests.support.sessions import request_user, sign_in

SIDEBAR = 200
SIDEBAR_QUERY = "selectors.user_with_rooms"
ROOM = "selectors.room_get_any"
ROOM_HISTORY = "selectors.room_tail_messages"
FEED_REFRESH = "selectors.live_events_since"
SEQS = "selectors.room_sequences"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def scene(moto_tables, settings, monkeypatch):
    """Production's intervals for the Seqs and the activity feed (the tests' autouse fixtures turn
    the feed off); alice in 200 rooms, caught up in the first; Carol's public room beside them; the
    Seq cache's clock (``clock``) and this process's hub (``hub``, whose rounds the test makes)."""
    settings.CHAT_ROOM_SEQ_CACHE_SECONDS = 2
    settings.CHAT_ROOM_SEQ_FEED_SECONDS = 60
    settings.CHAT_ACTIVITY_REFRESH_SECONDS = 1
    settings.CHAT_LIVE_REFRESH_SECONDS = 30  # "a room viewed a moment ago", however slow the host
    settings.ACCOUNTS_SESSION_CACHE_SECONDS = 3600  # the session's own bounds are tested elsewhere
    settings.CHAT_POST_RATE_LIMIT = 1000
    clock = Clock()
    monkeypatch.setattr(selectors.time, "monotonic", clock.monotonic)
    rooms = rooms_created([f"Room {n:03d}" for n in range(SIDEBAR)], created_by="alice")
    newest = messages_posted(rooms[0], [f"m{n}" for n in range(60)], author=request_user("bob"))[-1]
    services.read_cursor_advance(user_id="alice", room_id=rooms[0].room_id, seq=newest.seq, pos=newest.sk)
    (elsewhere,) = rooms_created(["Carol's"], created_by="carol")
    messages_posted(elsewhere, ["hello"], author=request_user("carol"))
    hub = activity.ActivityHub(autostart=False)
    monkeypatch.setattr(activity, "_hub", hub)
    return rooms, elsewhere, hub, clock


def round_of(hub):
    """What the hub's thread does each round, the session feed aside: read the feed, then renew."""
    hub.refresh_now()
    selectors.renew_seqs()


def page(client, recorder, room_id) -> tuple[Counter, object]:
    with count_calls() as calls, recorder.page() as named:
        response = client.get(f"/rooms/{room_id}/")
    assert response.status_code == 200
    assert sum(calls.values()) == len(named)  # every call of the page named
    return patterns(named), response


def counts(response) -> dict[str, int]:
    return {r.room_id: r.unread for r in response.context["your_rooms"]}


def true_counts() -> dict[str, int]:
    """The counts from the rooms' Seqs as stored, leaving this process's Seq cache as it was."""
    from django.conf import settings

    kept, settings.CHAT_ROOM_SEQ_CACHE_SECONDS = settings.CHAT_ROOM_SEQ_CACHE_SECONDS, 0
    try:
        return {r.room_id: r.unread for r in selectors.with_unread(selectors.user_rooms(user_id="alice"), cached=False)}
    finally:
        settings.CHAT_ROOM_SEQ_CACHE_SECONDS = kept


def warm(client, recorder, scene):
    rooms, _, hub, clock = scene
    sign_in(client, "alice")
    round_of(hub)  # the feed's coverage begins
    page(client, recorder, rooms[0].room_id)  # the session and the rooms' Seqs read, after it began
    clock.now += 3
    round_of(hub)


def test_cold_first_views_cost_a_non_member_three_calls_and_a_member_two(client, scene):
    rooms, elsewhere, hub, clock = scene
    with Recorder() as recorder:
        warm(client, recorder, scene)
        for n in (5, 6):  # a member's rooms never viewed on this process (the second with 1 unread)
            if n == 6:
                messages_elsewhere(rooms[n].room_id, 1, "bob")
                clock.now += 1
                round_of(hub)
            named, response = page(client, recorder, rooms[n].room_id)
            assert named == {SIDEBAR_QUERY: 1, ROOM_HISTORY: 1}, named
        assert counts(response)[rooms[6].room_id] == 1
        named, response = page(client, recorder, elsewhere.room_id)  # public, she is not in it
        assert named == {SIDEBAR_QUERY: 1, ROOM: 1, ROOM_HISTORY: 1}, named
        assert response.context["can_join"] is True


def test_the_sidebars_seqs_are_read_again_by_the_hub_before_they_expire_not_by_a_page(client, scene):
    rooms, elsewhere, hub, clock = scene
    with Recorder() as recorder:
        warm(client, recorder, scene)
        recorder.background.clear()
        for step in range(15):  # 150 s, past two of the entries' CHAT_ROOM_SEQ_FEED_SECONDS
            if step % 4 == 1:
                messages_elsewhere(rooms[step].room_id, 1, "bob")  # the hub learns it from its event
            clock.now += 10
            round_of(hub)
            named, response = page(client, recorder, rooms[0].room_id)
            assert named == {SIDEBAR_QUERY: 1}, (step, named)  # no Seq read on the page
            assert counts(response) == true_counts()
        renewals = sum(n for (op, pattern, why), n in recorder.background.items()
                       if pattern == SEQS and "renew_seqs" in why)
        assert 2 <= renewals <= 2 * (150 // 45 + 1)  # 2 calls per 200 rooms, every 3/4 of a lifetime


def test_after_the_hub_restarts_only_the_first_page_reads_the_seqs(client, scene, monkeypatch):
    rooms, elsewhere, hub, clock = scene
    with Recorder() as recorder:
        warm(client, recorder, scene)
        hub = activity.ActivityHub(autostart=False)  # the old one stopped after its linger
        monkeypatch.setattr(activity, "_hub", hub)
        clock.now += 15
        named, _ = page(client, recorder, rooms[0].room_id)
        assert named == {SIDEBAR_QUERY: 1, SEQS: 2}, named  # nothing covers the cache yet
        clock.now += 0.1
        round_of(hub)  # coverage begins after that read: the entries it made are not kept by it
        clock.now += 3  # past the short bound
        round_of(hub)
        messages_elsewhere(rooms[9].room_id, 1, "bob")
        clock.now += 1
        round_of(hub)
        named, response = page(client, recorder, rooms[0].room_id)
        assert named == {SIDEBAR_QUERY: 1}, named
        assert counts(response) == true_counts() and counts(response)[rooms[9].room_id] == 1


def test_a_tail_no_refresh_can_bring_up_to_date_is_loaded_with_one_query(client, scene):
    rooms, elsewhere, hub, clock = scene
    with Recorder() as recorder:
        warm(client, recorder, scene)
        room = selectors.room_get(room_id=rooms[0].room_id)
        tail, feed = room_tail.tail_for(room)
        # Viewed 40 s ago and not since: the feed's next refresh starts over, reading back less
        # than the tail would need (its presence window, 45 s, less the overlap).
        assert feed.watermark_ms is None  # never refreshed: its next refresh starts over
        tail.watermark_ms -= 40_000
        tail.loaded_at_ms -= 40_000
        feed.refreshed_at = float("-inf")
        messages_elsewhere(room.room_id, 1, "bob", comment="while nobody looked")
        named, response = page(client, recorder, room.room_id)
        assert named == {SIDEBAR_QUERY: 1, ROOM_HISTORY: 1}, named  # no feed refresh first
        assert "while nobody looked" in response.content.decode()
        # Then a stale tail within the feed's reach costs the feed's one small Query, as before.
        tail.watermark_ms -= 31_000  # past CHAT_LIVE_REFRESH_SECONDS, within the restart's reach
        feed.refreshed_at = float("-inf")
        named, _ = page(client, recorder, room.room_id)
        assert named == {SIDEBAR_QUERY: 1, FEED_REFRESH: 1}, named


def test_each_round_done_renews_the_seqs_and_a_failed_one_does_not(moto_tables):
    order = []
    failing = {"left": 1}

    def query(**_):
        if failing["left"]:
            failing["left"] -= 1
            order.append("failed")
            raise RuntimeError("throttled")
        order.append("activity")
        return []

    hub = activity.ActivityHub(shards=1, interval=0.05, keep_session_feed=lambda: None, query=query,
                               renew_seqs=lambda: order.append("renew"))
    hub.keep_for_pages()
    try:
        deadline = time.monotonic() + 10
        while order.count("renew") < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        hub.close()
    assert order[:5] == ["failed", "activity", "renew", "activity", "renew"]


def test_renewal_reads_nothing_while_the_feed_is_not_fresh_or_no_page_asked(moto_tables, scene):
    rooms, elsewhere, hub, clock = scene
    with count_calls() as calls:
        assert selectors.renew_seqs() == 0  # no page asked for any Seq
    selectors.with_unread(selectors.user_rooms(user_id="alice"))
    clock.now += 0.5
    hub.refresh_now()  # coverage begins after that read: its entries are not kept by the feed
    clock.now += 2.5  # no round done since: the feed is not fresh
    with count_calls() as calls:
        assert selectors.renew_seqs() == 0
    assert dict(calls) == {}
    hub.refresh_now()
    with count_calls() as calls:
        assert selectors.renew_seqs() == 100  # read before coverage began: due, 100 a round
        assert selectors.renew_seqs() == 99  # the first room's Seq came with its posts' events
        assert selectors.renew_seqs() == 0
    assert dict(calls) == {"BatchGetItem": 2}
    clock.now += 61  # no page asked for a lifetime: nothing renewed, the entries left to expire
    hub.refresh_now()
    assert selectors.renew_seqs() == 0
