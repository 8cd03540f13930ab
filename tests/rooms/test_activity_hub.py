"""The per-process activity hub: one consistent Query per shard per refresh, whatever the number
of subscriptions; each new event reaches the subscriptions it concerns once; posts' Seqs feed the
room Seq cache; a subscription made after reading its state gets what was dispatched meanwhile."""

from __future__ import annotations

import threading
import time

import pytest

from chatsite.dynamodb import count_calls
from rooms import activity, selectors, services, validators
from rooms.timestamps import now_ms
from tests.support.sessions import request_user


class Clock:
    def __init__(self):
        self.now = now_ms()

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def hub(moto_tables, clock):
    return activity.ActivityHub(clock=clock, shards=4, overlap_ms=10_000, autostart=False)


def post(room, text="hi", author="bob"):
    return services.message_post(room=room, author=request_user(author), comment=text,
                                 idempotency_key=validators.new_token()).message


def woken() -> tuple[list[int], callable]:
    calls: list[int] = []
    return calls, lambda: calls.append(1)


def test_a_refresh_is_one_query_per_shard_whatever_the_subscriptions(hub, room):
    for n in range(20):
        hub.subscribe(f"user{n}", lambda: None, rooms=["art"])
    post(room)
    with count_calls() as calls:
        hub.refresh_now()
    assert dict(calls) == {"Query": 4}


def test_new_events_reach_the_subscriptions_they_concern_once(hub, room, clock):
    services.room_join(room=room, user=request_user("carol"))
    alice_wakes, alice_wake = woken()
    alice = hub.subscribe("alice", alice_wake, rooms=["art"])
    elsewhere = hub.subscribe("dave", lambda: None, rooms=["zoo"])
    hub.refresh_now()  # the first refresh after a start learns what is there
    message = post(room)
    services.read_cursor_advance(user_id="carol", room_id="art", seq=message.seq, pos=message.sk)
    clock.now += 1000
    new = hub.refresh_now()
    assert sorted(e.kind for e in new) == [activity.READ, activity.MESSAGE]
    got = alice.take()
    assert [(e.kind, e.message_id, fresh) for e, fresh in got] == [(activity.MESSAGE, message.message_id, True)]
    assert alice_wakes == [1]
    assert elsewhere.take() == []  # another room, another user
    clock.now += 1000
    assert hub.refresh_now() == []  # seen within the overlap: not again
    assert alice.take() == []


def test_a_users_own_events_reach_every_one_of_their_subscriptions(hub, room):
    services.room_join(room=room, user=request_user("carol"))
    tabs = [hub.subscribe("carol", lambda: None, rooms=["art"]) for _ in range(3)]
    hub.refresh_now()
    message = post(room)
    services.read_cursor_advance(user_id="carol", room_id="art", seq=message.seq, pos=message.sk)
    hub.refresh_now()
    for tab in tabs:
        assert sorted(e.kind for e, _ in tab.take()) == [activity.READ, activity.MESSAGE]


def test_what_the_first_refresh_finds_is_not_fresh(hub, room):
    tab = hub.subscribe("alice", lambda: None, rooms=["art"])
    post(room, "before the hub started")
    hub.refresh_now()
    [(event, fresh)] = tab.take()
    assert event.kind == activity.MESSAGE and fresh is False
    post(room, "after")
    hub.refresh_now()
    [(_, fresh)] = tab.take()
    assert fresh is True


def test_a_subscription_after_a_mark_gets_what_was_dispatched_since(hub, room):
    hub.subscribe("someone", lambda: None, rooms=["art"])
    hub.refresh_now()
    mark = hub.mark()
    message = post(room)  # dispatched while the new stream reads its state
    hub.refresh_now()
    late = hub.subscribe("alice", lambda: None, rooms=["art"], after=mark)
    assert [e.message_id for e, _ in late.take()] == [message.message_id]
    later = hub.subscribe("alice", lambda: None, rooms=["art"], after=hub.mark())
    assert later.take() == []


def test_a_subscription_without_rooms_yet_gets_every_post(hub, room):
    tab = hub.subscribe("alice", lambda: None)
    hub.refresh_now()
    post(room)
    hub.refresh_now()
    assert len(tab.take()) == 1
    hub.set_rooms(tab, ["zoo"])
    post(room)
    hub.refresh_now()
    assert tab.take() == []


def test_an_unsubscribed_stream_gets_nothing(hub, room):
    tab = hub.subscribe("alice", lambda: None, rooms=["art"])
    hub.unsubscribe(tab)
    hub.unsubscribe(tab)  # twice: harmless
    assert hub.subscriptions == 0
    post(room)
    hub.refresh_now()
    assert tab.take() == []


def test_an_event_stamped_by_a_clock_behind_within_the_overlap_is_still_found(hub, clock, room):
    tab = hub.subscribe("alice", lambda: None, rooms=["art"])
    hub.refresh_now()
    clock.now += 60_000  # this server's clock runs a minute ahead of the writer's
    hub.refresh_now()
    skewed = activity.setting_item(user_id="alice", room_id="art", notify="all", at_ms=clock.now - 8_000)
    activity.put_events([skewed])
    hub.refresh_now()
    assert [e.kind for e, _ in tab.take()] == [activity.SETTING]
    # and once the overlap has passed, the hub forgets it (its memory stays bounded)
    clock.now += 20_000
    hub.refresh_now()
    assert sum(len(seen) for seen in hub._seen.values()) == 0


def test_posts_feed_the_room_seq_cache(hub, room, settings):
    settings.CHAT_ROOM_SEQ_CACHE_SECONDS = 30
    hub.subscribe("alice", lambda: None, rooms=["art"])
    hub.refresh_now()
    post(room)
    selectors.clear_seq_cache()  # as if the post was made by another process
    hub.refresh_now()
    with count_calls() as calls:
        assert selectors.room_sequences(room_ids=["art"]) == {"art": 1}
    assert sum(calls.values()) == 0


def test_the_refresher_runs_while_someone_is_subscribed(moto_tables, room):
    live_hub = activity.ActivityHub(shards=2, interval=0.05)
    arrived = threading.Event()
    tab = live_hub.subscribe("alice", arrived.set, rooms=["art"])
    try:
        deadline = time.monotonic() + 5
        while live_hub.queries < 2 and time.monotonic() < deadline:  # primed
            time.sleep(0.02)
        post(room)
        assert arrived.wait(5)
        assert [e.kind for e, _ in tab.take()] == [activity.MESSAGE]
    finally:
        live_hub.unsubscribe(tab)
        live_hub.close()


def test_the_refresher_stops_after_its_last_subscription_lingers_and_starts_again(moto_tables, room):
    fake = {"now": 0.0}

    def sleep(seconds):
        fake["now"] += max(seconds, 0.5)
        time.sleep(0.002)

    live_hub = activity.ActivityHub(shards=1, interval=0.5, sleep=sleep, monotonic=lambda: fake["now"])
    try:
        tab = live_hub.subscribe("alice", lambda: None, rooms=["art"])
        deadline = time.monotonic() + 5
        while live_hub.queries < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        post(room, "while listening")
        while not tab.has_pending() and time.monotonic() < deadline:
            time.sleep(0.01)
        live_hub.unsubscribe(tab)
        left_at = fake["now"]
        deadline = time.monotonic() + 5
        while live_hub._refresher is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert live_hub._refresher is None
        assert fake["now"] - left_at >= activity.HUB_LINGER_SECONDS  # it lingered first
        queries = live_hub.queries
        mark = live_hub.mark()
        assert mark == 1
        unheard = post(room, "while nobody listens")
        again = live_hub.subscribe("alice", lambda: None, rooms=["art"], after=mark)
        deadline = time.monotonic() + 5
        while not again.has_pending() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert live_hub.queries > queries
        # A restart's first refresh learns the feed afresh (both posts are within the overlap), and
        # what it finds is not fresh: too old to notify about.
        got = again.take()
        assert unheard.message_id in {e.message_id for e, _ in got} and not any(fresh for _, fresh in got)
        assert live_hub.mark() > mark + 1  # marks keep counting across the restart
    finally:
        live_hub.close()
