"""A room whose pages come faster than the feed's refresh interval (hot on this process) has its
feed refreshed ahead by the tails' upkeep (rooms.room_tail.TailUpkeep), off the page path, so its
pages find the tail fresh and cost the sidebar's Query alone; a room viewed once, or quiet, is not
refreshed ahead; the rooms kept so are bounded; a failed refresh backs off and the pages refresh
the feed themselves, as before. The upkeep's rounds are run here as its thread would run them,
on a clock the test moves (no real sleeps), each wake-up late by ``LATE`` of the interval."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from chatsite.dynamodb import count_calls
from rooms import live, room_tail, services
from tests.rooms.room_page_patterns import Recorder, messages_elsewhere, patterns
from tests.rooms.test_room_page_shows_the_readers_own_write import on_another_process
from tests.rooms.test_views import composer_key
from tests.support.seeding import messages_posted
from tests.support.sessions import request_user, sign_in

SIDEBAR_QUERY = "selectors.user_with_rooms"
FEED_REFRESH = "selectors.live_events_since"
ROOM_HISTORY = "selectors.room_tail_messages"
INTERVAL_MS = 500  # CHAT_LIVE_REFRESH_SECONDS, production's
LATE_MS = 100  # each wake-up of the upkeep's thread comes this late (a loaded host)


class Clock:
    """Both clocks rooms code reads, moved by the test: time.monotonic (feeds' refresh ages) and
    time.time_ns (rooms.timestamps.now_ms: watermarks, the upkeep's page times)."""

    def __init__(self):
        self.ms = 0
        self.base_ns = time.time_ns()

    def monotonic(self) -> float:
        return 1000 + self.ms / 1000

    def time_ns(self) -> int:
        return self.base_ns + self.ms * 1_000_000


@pytest.fixture
def scene(room, settings, monkeypatch):
    """Art with 8 messages (a small page: calls are measured here, not rendering), alice a member
    caught up (her page is the newest messages, from the tail); her session, user, room and Seqs
    cached all along, so a page's floor is the sidebar's Query; the clocks the test moves
    (``clock``) and an upkeep whose rounds the test runs."""
    settings.CHAT_LIVE_REFRESH_SECONDS = INTERVAL_MS / 1000
    settings.CHAT_ROOM_TAILS_AHEAD_MAX = 20
    settings.ACCOUNTS_SESSION_CACHE_SECONDS = 3600
    settings.ACCOUNTS_USER_RECHECK_SECONDS = 3600
    settings.CHAT_ROOM_SEQ_CACHE_SECONDS = 3600
    settings.CHAT_ROOM_CACHE_SECONDS = 3600
    settings.CHAT_POST_RATE_LIMIT = 1000
    newest = messages_posted(room, [f"message {n:03d}" for n in range(8)], author=request_user("bob"))[-1]
    services.read_cursor_advance(user_id="alice", room_id="art", seq=newest.seq, pos=newest.sk)
    clock = Clock()  # after the seeding, which waits for its last message to be in the past
    monkeypatch.setattr(time, "monotonic", clock.monotonic)
    monkeypatch.setattr(time, "time_ns", clock.time_ns)
    upkeep = room_tail.TailUpkeep(autostart=False)
    monkeypatch.setattr(room_tail, "_upkeep", upkeep)
    return upkeep, clock


class Run:
    """Pages of Art every ``every_ms``, and the upkeep's rounds when its thread would wake: when
    the last round's wait is over, or at once when a page makes a room hot, ``LATE_MS`` late."""

    def __init__(self, client, recorder, upkeep, clock):
        self.client, self.recorder, self.upkeep, self.clock = client, recorder, upkeep, clock
        self.wake_ms: float = float("inf")
        self.rounds = 0
        self.in_round = False  # the upkeep's round is running (its thread's calls, not a page's)

    def _round(self) -> None:
        self.in_round = True
        try:
            wait = self.upkeep.step()
        finally:
            self.in_round = False
        self.rounds += 1
        self.wake_ms = float("inf") if wait is None else self.clock.ms + wait * 1000 + LATE_MS

    def until(self, ms: int) -> None:
        """Only the upkeep's rounds, up to ``ms``."""
        while self.wake_ms <= ms:
            self.clock.ms = max(self.clock.ms, int(self.wake_ms))
            self._round()
        self.clock.ms = max(self.clock.ms, ms)

    def page(self, room_id: str = "art", query: str = "") -> tuple[Counter, str]:
        """The page's calls by pattern, and its HTML; ``self.calls``: by operation."""
        self.until(self.clock.ms)
        hot_before = set(self.upkeep.hot_rooms())
        with count_calls() as calls, self.recorder.page() as named:
            response = self.client.get(f"/rooms/{room_id}/{query}")
        assert response.status_code == 200
        assert sum(calls.values()) == len(named)  # every call of the page named
        self.calls = dict(calls)
        if set(self.upkeep.hot_rooms()) - hot_before:
            self.wake_ms = min(self.wake_ms, self.clock.ms + LATE_MS)
        return patterns(named), response.content.decode()

    def pages(self, *, every_ms: int, count: int, room_id: str = "art") -> list[Counter]:
        costs = []
        for _ in range(count):
            self.until(self.clock.ms + every_ms)
            cost = self.page(room_id)[0]
            if cost == {SIDEBAR_QUERY: 1}:
                assert self.calls == {"Query": 1}, self.calls
            costs.append(cost)
        return costs


def background_refreshes(recorder) -> int:
    return sum(n for (op, pattern, why), n in recorder.background.items() if pattern == FEED_REFRESH)


def test_a_hot_rooms_pages_cost_the_sidebar_query_alone(client, scene):
    upkeep, clock = scene
    sign_in(client, "alice")
    with Recorder() as recorder:
        run = Run(client, recorder, upkeep, clock)
        first, _ = run.page()
        assert first[ROOM_HISTORY] == 1, first  # cold: the tail is loaded (and the session, the Seqs read)
        costs = run.pages(every_ms=100, count=50)  # 10 pages a second for 5 s
        assert all(cost == {SIDEBAR_QUERY: 1} for cost in costs), costs
        assert upkeep.hot_rooms() == ["art"]
        # The tail is kept current, not only young: a post made elsewhere shows within an interval.
        messages_elsewhere("art", 1, "bob", comment="posted on another host")
        run.until(clock.ms + INTERVAL_MS)
        cost, body = run.page()
        assert cost == {SIDEBAR_QUERY: 1} and run.calls == {"Query": 1}, cost
        assert "posted on another host" in body
    # The cost bound: one refresh per 2/3 of the interval at most, made by the upkeep's rounds.
    refreshes = background_refreshes(recorder)
    assert refreshes == upkeep.refreshes
    assert 5_600 / (INTERVAL_MS * 2 / 3 + LATE_MS) - 2 <= refreshes <= 5_600 / (INTERVAL_MS * 2 / 3) + 1


def test_without_the_upkeep_one_page_an_interval_makes_the_feeds_query(client, scene, settings):
    """The cost the upkeep takes off the page path: CHAT_ROOM_TAILS_AHEAD_MAX = 0, as before it."""
    upkeep, clock = scene
    settings.CHAT_ROOM_TAILS_AHEAD_MAX = 0
    sign_in(client, "alice")
    with Recorder() as recorder:
        run = Run(client, recorder, upkeep, clock)
        run.page()
        costs = run.pages(every_ms=100, count=50)
    paying = [cost for cost in costs if cost != {SIDEBAR_QUERY: 1}]
    assert all(cost == {SIDEBAR_QUERY: 1, FEED_REFRESH: 1} for cost in paying), paying
    assert len(paying) == 10  # one page in 5: the first page past each interval
    assert upkeep.hot_rooms() == [] and background_refreshes(recorder) == 0


def test_a_room_whose_feed_a_stream_refreshes_is_not_refreshed_again_ahead(client, scene):
    """An open stream's channel refreshes the room's feed every CHAT_LIVE_PUSH_REFRESH_SECONDS
    (0.2 s), which keeps the tail younger than 2/3 of the interval: the upkeep adds no Query."""
    upkeep, clock = scene
    sign_in(client, "alice")
    with Recorder() as recorder:
        run = Run(client, recorder, upkeep, clock)
        run.page()
        feed = live.existing_feed("art")
        costs = []
        for n in range(1, 51):
            run.until(clock.ms + 100)
            if n % 2 == 0:
                feed.refresh_now()  # the stream channel's refresher (rooms.streams.Channel)
            costs.append(run.page()[0])
        assert upkeep.hot_rooms() == ["art"]
    assert costs == [{SIDEBAR_QUERY: 1}] * 50, costs
    assert upkeep.refreshes == 0 and run.rounds > 0  # woken, and found nothing to do
    assert background_refreshes(recorder) == 25  # the stream's alone


def test_a_room_viewed_once_or_slower_than_the_interval_is_not_refreshed_ahead(client, scene):
    upkeep, clock = scene
    sign_in(client, "alice")
    with Recorder() as recorder:
        run = Run(client, recorder, upkeep, clock)
        run.page()
        run.until(clock.ms + 5_000)
        costs = run.pages(every_ms=INTERVAL_MS + 100, count=6)  # each page pays its own refresh, as before
        run.until(clock.ms + 5_000)
    assert costs == [{SIDEBAR_QUERY: 1, FEED_REFRESH: 1}] * 6
    assert upkeep.hot_rooms() == [] and run.rounds == 0  # the thread was never woken
    assert background_refreshes(recorder) == 0


def test_the_ahead_refresh_stops_when_the_room_goes_quiet(client, scene):
    upkeep, clock = scene
    sign_in(client, "alice")
    with Recorder() as recorder:
        run = Run(client, recorder, upkeep, clock)
        run.page()
        run.pages(every_ms=100, count=20)
        assert upkeep.hot_rooms() == ["art"]
        recorder.background.clear()
        last_page = clock.ms
        run.until(last_page + 60_000)  # nobody looks for a minute
        assert upkeep.hot_rooms() == [] and run.wake_ms == float("inf")  # the thread would end
        # At most the refreshes due before the quiet was seen (within an interval of the last page).
        assert background_refreshes(recorder) <= INTERVAL_MS / (INTERVAL_MS * 2 / 3) + 1
        # The feed is not kept from going idle either: nothing touched it since the last page.
        assert time.monotonic() - live.existing_feed("art").last_used >= 60


def test_the_rooms_kept_ahead_are_bounded_the_coldest_giving_way(settings):
    settings.CHAT_ROOM_TAILS_AHEAD_MAX = 2
    now = {"ms": 0}
    upkeep = room_tail.TailUpkeep(clock=lambda: now["ms"], autostart=False)
    tails = {name: room_tail.RoomTail(name) for name in ("slow", "fast", "faster", "cold")}

    def view(name, at):
        now["ms"] = at
        upkeep.page(tails[name])

    view("slow", 0)
    view("cold", 100)
    view("slow", 400)  # 400 ms after its last page: hot
    view("fast", 410)
    view("fast", 510)  # 100 ms
    assert sorted(upkeep.hot_rooms()) == ["fast", "slow"]
    view("faster", 520)
    view("faster", 540)  # 20 ms: hotter than the coldest kept ("slow", 400 ms), which gives way
    assert sorted(upkeep.hot_rooms()) == ["fast", "faster"]
    view("cold", 545)  # 445 ms: colder than both kept, so not taken
    assert sorted(upkeep.hot_rooms()) == ["fast", "faster"]
    view("cold", 900)  # 355 ms; "fast" has had no page for 390 ms: the room still paged takes its place
    assert sorted(upkeep.hot_rooms()) == ["cold", "faster"]
    settings.CHAT_ROOM_TAILS_AHEAD_MAX = 0  # off: no room is kept
    upkeep = room_tail.TailUpkeep(clock=lambda: now["ms"], autostart=False)
    view("faster", 910)
    view("faster", 920)
    assert upkeep.hot_rooms() == []


def test_a_failed_ahead_refresh_backs_off_and_the_pages_refresh_the_feed_themselves(client, scene, caplog):
    upkeep, clock = scene
    sign_in(client, "alice")
    with Recorder() as recorder:
        run = Run(client, recorder, upkeep, clock)
        run.page()
        run.pages(every_ms=100, count=10)
        feed = live.existing_feed("art")
        working = feed.source
        failing = {"left": 1}

        def throttled(room_id, since, limit=None):
            if failing["left"] and run.in_round:
                failing["left"] -= 1
                raise RuntimeError("ProvisionedThroughputExceededException")
            return working(room_id, since, limit)

        feed.source = throttled
        before = upkeep.refreshes
        costs = run.pages(every_ms=100, count=12)
        assert upkeep.failures == 1 and failing["left"] == 0
        assert "refreshing its feed ahead of its pages failed" in caplog.text
        # Backed off: no attempt for 2 intervals after the failure; the pages refresh it meanwhile.
        paying = [cost for cost in costs if cost != {SIDEBAR_QUERY: 1}]
        assert paying and all(cost == {SIDEBAR_QUERY: 1, FEED_REFRESH: 1} for cost in paying), costs
        # Then the upkeep takes over again.
        messages_elsewhere("art", 1, "bob", comment="after the throttling")
        later = run.pages(every_ms=100, count=20)
        assert upkeep.refreshes > before and later[-10:] == [{SIDEBAR_QUERY: 1}] * 10, later
        assert "after the throttling" in run.page()[1]


def test_a_page_finding_the_upkeeps_refresh_under_way_waits_for_it(client, scene):
    """RoomFeed.refresh_if_stale waits (up to STALL_PATIENCE_SECONDS) for a refresh under way on
    the feed's single-flight lock: a page finding the tail stale while the upkeep refreshes it
    takes that refresh's result and makes no Query of its own."""
    upkeep, clock = scene
    sign_in(client, "alice")
    with Recorder() as recorder:
        run = Run(client, recorder, upkeep, clock)
        run.page()
        run.pages(every_ms=100, count=5)
        feed = live.existing_feed("art")
        working, started, release = feed.source, threading.Event(), threading.Event()

        def slow(room_id, since, limit=None):
            started.set()
            assert release.wait(5)
            return working(room_id, since, limit)

        feed.source = slow
        tail = feed.follower
        clock.ms += tail.watermark_ms + INTERVAL_MS - room_tail.now_ms()  # the tail is stale now
        upkeep.page(tail)  # another page meanwhile: still hot, and the upkeep is late
        ahead = threading.Thread(target=upkeep.step)
        ahead.start()
        assert started.wait(5)
        threading.Timer(0.1, release.set).start()  # while the page waits on the feed's lock
        cost, _ = run.page()
        ahead.join(5)
        assert cost == {SIDEBAR_QUERY: 1}, cost
        assert upkeep.refreshes >= 2


def test_a_poster_in_a_hot_room_sees_their_post_made_on_another_process(client, scene):
    upkeep, clock = scene
    sign_in(client, "alice")
    with Recorder() as recorder:
        run = Run(client, recorder, upkeep, clock)
        _, body = run.page()
        run.pages(every_ms=100, count=10)
        with on_another_process("art"):
            posted = client.post("/rooms/art/messages", {"comment": "hello from the other host",
                                                         "idempotency_key": composer_key(Body(body))})
        assert posted.status_code == 302
        location = posted["Location"]
        clock.ms += 50  # the redirect comes at once: the tail is fresh, but from before the post
        assert "hello from the other host" not in run.page()[1]  # memory is behind without `sent`
        cost, body = run.page(query=location.removeprefix("/rooms/art/").split("#")[0])
        assert "hello from the other host" in body
        assert cost == {SIDEBAR_QUERY: 1, FEED_REFRESH: 1}, cost  # a refresh started after the request began


class Body:
    """A page's HTML as tests.rooms.test_views.composer_key reads it."""

    def __init__(self, html: str):
        self.content = html.encode()


def test_the_upkeeps_thread_runs_while_a_room_is_hot_and_ends_when_it_goes_quiet(client, room, settings):
    """The real thread, on real time: started by a room turning hot, refreshing its feed ahead,
    gone once no room is hot."""
    settings.CHAT_LIVE_REFRESH_SECONDS = 0.2
    settings.CHAT_ROOM_TAILS_AHEAD_MAX = 20
    sign_in(client, "alice")
    upkeep = room_tail.upkeep()
    deadline = time.monotonic() + 10
    while upkeep.refreshes < 3 and time.monotonic() < deadline:
        assert client.get("/rooms/art/").status_code == 200
        time.sleep(0.02)
    assert upkeep.refreshes >= 3, upkeep.refreshes
    thread = upkeep.thread()
    assert thread is not None
    thread.join(5)  # no more pages: the room goes quiet and the thread ends
    assert not thread.is_alive() and upkeep.thread() is None and upkeep.hot_rooms() == []
