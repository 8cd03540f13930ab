"""The sidebar's unread counts without reading the rooms' Seqs: while this process reads the activity
feed (a signed-in stream or a signed-in page keeps it running), every post's `s-` event brings its
room's Seq into the Seq cache, so an entry read after the feed's coverage began stays exact for up
to CHAT_ROOM_SEQ_FEED_SECONDS (a post counted within 2 x CHAT_ACTIVITY_REFRESH_SECONDS of its
event), instead of being read again every CHAT_ROOM_SEQ_CACHE_SECONDS. So a member's room page of a
room viewed a moment ago costs the sidebar Query alone, and the first view of a room at most 3
calls. When the feed is not fresh, entries fall back to the short bound."""

from __future__ import annotations

import threading
import time

import pytest

from chatsite.dynamodb import count_calls
from rooms import activity, room_tail, selectors, services
from tests.support.seeding import messages_posted, rooms_created
from tests.support.sessions import one_session_feed_bucket, request_user, sign_in

SHORT = 2.0  # production's CHAT_ROOM_SEQ_CACHE_SECONDS


class Clock:
    def __init__(self):
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


# --- the coverage rule, as pure logic -----------------------------------------------------------------

BOUNDS = {"fresh_seconds": 2.0, "max_age": 60.0}


def test_an_entry_read_before_the_feed_began_is_not_kept():
    clock = Clock()
    feed = selectors.SeqFeed(clock=clock.monotonic)
    read_at = clock.now
    clock.now += 0.1
    feed.done(feed.begin())
    assert not feed.keeps(read_at, clock.now, **BOUNDS)  # a post before the refresh may be missed
    assert feed.keeps(clock.now, clock.now + 0.5, **BOUNDS)


def test_an_entry_is_kept_while_refreshes_are_fresh_and_for_at_most_max_age():
    clock = Clock()
    feed = selectors.SeqFeed(clock=clock.monotonic)
    feed.done(feed.begin())
    read_at = clock.now
    for _ in range(59):
        clock.now += 1
        feed.done(feed.begin())
        assert feed.keeps(read_at, clock.now, **BOUNDS)
    clock.now += 1.5
    feed.done(feed.begin())
    assert not feed.keeps(read_at, clock.now, **BOUNDS)  # 60.5 s old: read again
    clock.now += 2.1  # no refresh done for longer than fresh_seconds: nothing is kept
    assert not feed.keeps(clock.now - 1, clock.now, **BOUNDS)


def test_a_restart_ends_coverage_and_a_refresh_begun_before_it_counts_for_nothing():
    clock = Clock()
    feed = selectors.SeqFeed(clock=clock.monotonic)
    feed.done(feed.begin())
    read_at = clock.now
    token = feed.begin()
    feed.restart()  # the hub stopped: its watermarks are gone
    feed.done(token)
    assert not feed.keeps(read_at, clock.now, **BOUNDS)
    clock.now += 1
    feed.done(feed.begin())  # the new run's coverage starts here, after the entry's read
    assert not feed.keeps(read_at, clock.now, **BOUNDS)
    assert feed.keeps(clock.now, clock.now, **BOUNDS)


def test_a_replaced_hub_stopping_leaves_the_new_hubs_coverage_alone():
    clock = Clock()
    feed = selectors.SeqFeed(clock=clock.monotonic)
    old_run = feed.restart()
    new_run = feed.restart()  # another hub took over
    feed.done(feed.begin(new_run))
    feed.done(feed.begin(old_run))  # a late round of the old one: nothing
    feed.restart(old_run)  # the old hub's thread exits
    assert feed.keeps(clock.now, clock.now + 1, **BOUNDS)


def test_a_failed_shard_loses_no_event_and_says_nothing_of_coverage(moto_tables, room):
    feed = selectors.SeqFeed()
    failing = {"left": 1}

    def query(*, shard, since):
        if shard == 1 and failing["left"]:
            failing["left"] -= 1
            raise RuntimeError("throttled")
        return selectors.activity_since(shard=shard, since=since)

    noted = []
    hub = activity.ActivityHub(query=query, shards=2, autostart=False, seq_feed=feed,
                               note_seq=lambda room_id, seq: noted.append((room_id, seq)))
    services.message_post(room=room, author=request_user("bob"), comment="hi", idempotency_key="k" * 16)
    with pytest.raises(RuntimeError):
        hub.refresh_now()
    assert not feed.fresh(time.monotonic(), fresh_seconds=60)
    assert hub.refresh_now() and noted == [("art", 1)]  # whichever shard holds it: read again, dispatched once
    assert feed.fresh(time.monotonic(), fresh_seconds=60)


# --- room pages ---------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _one_feed_bucket(monkeypatch):
    one_session_feed_bucket(monkeypatch)


@pytest.fixture
def scene(moto_tables, settings, monkeypatch, request):
    """Alice in ``request.param`` rooms, caught up in the first; Carol's public room next to them;
    this process's hub refreshed by the test (the clock moved by it too)."""
    settings.CHAT_ROOM_SEQ_CACHE_SECONDS = SHORT
    settings.CHAT_ROOM_SEQ_FEED_SECONDS = 60
    settings.CHAT_ACTIVITY_REFRESH_SECONDS = 1
    settings.CHAT_LIVE_REFRESH_SECONDS = 30  # "a room viewed a moment ago", however slow the host
    settings.ACCOUNTS_SESSION_CACHE_SECONDS = 3600  # the session cache's own bounds are tested elsewhere
    settings.CHAT_POST_RATE_LIMIT = 1000
    clock = Clock()
    monkeypatch.setattr(selectors.time, "monotonic", clock.monotonic)
    rooms = rooms_created([f"Room {n:03d}" for n in range(request.param)], created_by="alice")
    newest = messages_posted(rooms[0], [f"m{n}" for n in range(60)], author=request_user("bob"))[-1]
    services.read_cursor_advance(user_id="alice", room_id=rooms[0].room_id, seq=newest.seq, pos=newest.sk)
    (elsewhere,) = rooms_created(["Carol's"], created_by="carol")
    messages_posted(elsewhere, ["hello"], author=request_user("carol"))
    hub = activity.ActivityHub(autostart=False)
    monkeypatch.setattr(activity, "_hub", hub)
    return rooms, elsewhere, hub, clock


def posted_elsewhere(settings, room, text):
    """A post this process does not make (its Seq cache learns nothing from the write)."""
    short, settings.CHAT_ROOM_SEQ_CACHE_SECONDS = settings.CHAT_ROOM_SEQ_CACHE_SECONDS, 0
    try:
        messages_posted(room, [text], author=request_user("bob"))
    finally:
        settings.CHAT_ROOM_SEQ_CACHE_SECONDS = short


def page(client, room_id):
    with count_calls() as calls:
        response = client.get(f"/rooms/{room_id}/")
    assert response.status_code == 200
    return dict(calls), response


def counts(response) -> dict[str, int]:
    return {r.room_id: r.unread for r in response.context["your_rooms"]}


def true_counts() -> dict[str, int]:
    return {r.room_id: r.unread for r in selectors.with_unread(selectors.user_rooms(user_id="alice"), cached=False)}


def batches(n_rooms: int) -> int:
    return -(-n_rooms // 100)


@pytest.mark.parametrize("scene", [50, 200], indirect=True)
def test_steady_state_a_members_page_costs_the_sidebar_query_only_and_its_counts_are_exact(client, scene,
                                                                                          settings):
    rooms, _, hub, clock = scene
    sign_in(client, "alice")
    hub.refresh_now()  # the feed's coverage begins
    page(client, rooms[0].room_id)  # the session and the rooms' Seqs read, after coverage began
    for n in range(1, 4):
        posted_elsewhere(settings, rooms[n], f"news {n}")
        clock.now += SHORT + 3  # far past the short bound
        hub.refresh_now()  # what the refresher does every second
        calls, response = page(client, rooms[0].room_id)
        assert calls == {"Query": 1}, calls  # the sidebar (also the membership check): no Seq read
        assert counts(response) == true_counts()
        assert counts(response)[rooms[n].room_id] == 1


@pytest.mark.parametrize("scene", [50], indirect=True)
def test_a_post_is_counted_once_the_feed_has_read_it_never_later(client, scene, settings):
    rooms, _, hub, clock = scene
    sign_in(client, "alice")
    hub.refresh_now()
    page(client, rooms[0].room_id)
    posted_elsewhere(settings, rooms[7], "news")
    clock.now += SHORT + 0.5
    hub.refresh_now()
    assert counts(page(client, rooms[0].room_id)[1])[rooms[7].room_id] == 1


@pytest.mark.parametrize("scene", [200], indirect=True)
def test_when_the_feed_is_not_fresh_the_short_bound_rules_again(client, scene, settings):
    rooms, _, hub, clock = scene
    sign_in(client, "alice")
    hub.refresh_now()
    page(client, rooms[0].room_id)
    posted_elsewhere(settings, rooms[3], "news")
    clock.now += 2.5  # no refresh done for more than 2 x CHAT_ACTIVITY_REFRESH_SECONDS
    calls, response = page(client, rooms[0].room_id)
    assert calls == {"Query": 1, "BatchGetItem": 2}, calls  # read again: the post is counted
    assert counts(response)[rooms[3].room_id] == 1


@pytest.mark.parametrize("scene", [200], indirect=True)
def test_entries_the_feed_keeps_are_read_again_after_max_age_all_together(client, scene):
    rooms, _, hub, clock = scene
    sign_in(client, "alice")
    hub.refresh_now()
    page(client, rooms[0].room_id)
    for _ in range(6):  # 60 s of refreshes
        clock.now += 10
        hub.refresh_now()
    clock.now += 1
    calls, _ = page(client, rooms[0].room_id)
    assert calls == {"Query": 1, "BatchGetItem": 2}, calls
    calls, _ = page(client, rooms[0].room_id)
    assert calls == {"Query": 1}, calls  # the whole sidebar was read again, not one room at a time


@pytest.mark.parametrize("scene", [50, 200], indirect=True)
def test_cold_the_first_view_of_a_room_costs_at_most_three_calls(client, scene):
    rooms, elsewhere, hub, clock = scene
    sign_in(client, "alice")
    hub.refresh_now()
    page(client, rooms[0].room_id)
    clock.now += SHORT + 3
    hub.refresh_now()
    room_tail.clear_tails()
    calls, _ = page(client, rooms[5].room_id)  # a member's room, never viewed on this process
    assert calls == {"Query": 2}, calls  # the sidebar, room history's Query (the tail)
    calls, response = page(client, elsewhere.room_id)  # a public room she is not in
    assert calls == {"Query": 2, "GetItem": 1}, calls  # + the room (no sidebar entry carries it)
    assert response.context["can_join"] is True


@pytest.mark.parametrize("scene", [50], indirect=True)
def test_a_private_room_is_still_a_404_like_a_missing_one(client, scene):
    _, _, hub, clock = scene
    services.room_create(name="Secret", created_by="carol", kind="private")
    sign_in(client, "alice")
    hub.refresh_now()
    page(client, "room-000")
    for room_id in ("secret", "never-made"):
        selectors.clear_room_cache()
        with count_calls() as calls:
            assert client.get(f"/rooms/{room_id}/").status_code == 404
        assert dict(calls) == {"Query": 1, "GetItem": 1}, (room_id, calls)


def test_a_signed_in_page_keeps_the_feed_running_and_can_be_told_not_to(client, moto_tables, room, settings):
    settings.CHAT_ROOM_SEQ_FEED_SECONDS = 60
    sign_in(client, "alice")
    client.get("/rooms/art/")
    hub = activity.hub()
    deadline = time.monotonic() + 10
    while hub.queries == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert hub.queries > 0 and any(t.name == "activity" for t in threading.enumerate())
    hub.close()
    settings.CHAT_ROOM_SEQ_FEED_SECONDS = 0
    client.get("/rooms/art/")
    assert activity.hub().queries == 0 and activity.hub()._refresher is None


FEED = 2.0  # ACCOUNTS_SESSION_FEED_SECONDS, stretched for a slow host


def test_the_hubs_round_refreshes_the_session_feed_so_the_page_need_not(client, moto_tables, room, settings,
                                                                       monkeypatch):
    settings.ACCOUNTS_SESSION_CACHE_SECONDS = 0.05  # the short bound: past it, the feed decides
    settings.ACCOUNTS_SESSION_CACHE_WITH_FEED_SECONDS = 600
    settings.ACCOUNTS_SESSION_FEED_SECONDS = FEED
    settings.CHAT_ROOM_SEQ_CACHE_SECONDS = 600  # the Seqs out of the picture
    settings.CHAT_LIVE_REFRESH_SECONDS = 30
    monkeypatch.setattr(activity, "_hub", activity.ActivityHub(autostart=False))
    sign_in(client, "alice")
    for _ in range(2):  # the feed's first refresh begins coverage; the session is read again under it
        page(client, "art")
        time.sleep(0.1)
    assert page(client, "art")[0] == {"Query": 1}
    time.sleep(FEED + 0.1)  # the feed is due: the next cache hit needs a refresh
    activity.keep_session_feed_current()  # what the hub's thread does at the top of each round
    assert page(client, "art")[0] == {"Query": 1}  # the sidebar alone
    time.sleep(FEED + 0.1)
    assert page(client, "art")[0] == {"Query": 2}  # no round meanwhile: the page refreshes the feed


def test_each_round_of_the_running_hub_keeps_the_session_feed_first(moto_tables):
    order = []
    hub = activity.ActivityHub(shards=1, interval=0.05, keep_session_feed=lambda: order.append("session feed"),
                               query=lambda **_: order.append("activity") or [])
    hub.keep_for_pages()
    try:
        deadline = time.monotonic() + 10
        while order.count("activity") < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        hub.close()
    assert order[:6] == ["session feed", "activity"] * 3
