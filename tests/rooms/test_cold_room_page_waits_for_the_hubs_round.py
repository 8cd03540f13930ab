"""A room page whose sidebar's Seqs the activity feed keeps, arriving while the hub's round is late
(under CPU load a round can outlast its interval, so the last round done began more than
2 x CHAT_ACTIVITY_REFRESH_SECONDS ago and the feed is no longer fresh), waits up to half an
interval for the round under way (selectors.SeqFeed.await_round) instead of reading the 200 rooms'
Seqs itself: the cold view still costs a non-member 3 calls and a member 2. What it then serves is
judged by the same rule, from that round's start, so a count misses a post for no longer than
before. A hub stalled for longer, a round that fails or does not end in time: the page reads the
Seqs itself, as before."""

from __future__ import annotations

import threading
import time

import pytest

from accounts import session_engine, session_patterns
from accounts.session_cache import SessionCache
from rooms import activity, selectors
from tests.accounts.test_session_feed_upkeep_is_waited_for import _hub_refreshes_once_the_page_waits
from tests.rooms.room_page_patterns import Recorder, messages_elsewhere
from tests.rooms.test_room_page_calls_by_pattern import (  # noqa: F401 - the scene fixture
    ROOM,
    ROOM_HISTORY,
    SEQS,
    SIDEBAR_QUERY,
    counts,
    page,
    scene,
    true_counts,
    warm,
)
from tests.support.sessions import one_session_feed_bucket


class LateRound:
    """The hub's next round in its thread, its first Query held until a page waits for the round."""

    def __init__(self, hub, monkeypatch, *, fail: bool = False):
        self.hub, self.fail = hub, fail
        self.started, self.release = threading.Event(), threading.Event()
        self.errors: list[BaseException] = []
        query = hub.query

        def held_query(**kwargs):
            self.started.set()
            assert self.release.wait(5)
            if self.fail:
                raise RuntimeError("throttled")
            return query(**kwargs)

        monkeypatch.setattr(hub, "query", held_query)
        condition = getattr(selectors.seq_feed, "_round_ended", None)  # none: pages never waited
        if condition is not None:
            wait_for = condition.wait_for

            def waiting(predicate, timeout=None):
                self.release.set()  # a page waits: the hub's Query answers
                return wait_for(predicate, timeout)

            monkeypatch.setattr(condition, "wait_for", waiting)
        self.thread = threading.Thread(target=self._run)

    def _run(self):
        try:
            self.hub.refresh_now()
        except Exception as exc:  # noqa: BLE001 - the failing round's test looks at it
            self.errors.append(exc)

    def begin(self):
        self.thread.start()
        assert self.started.wait(5)  # begun: under way

    def end(self):
        self.release.set()
        self.thread.join(5)
        assert not self.thread.is_alive()


def _late(scene, monkeypatch, **kwargs) -> LateRound:
    """Warm, then the hub's next round begins 1.5 s after the last one done and is still under way
    when the page comes, 0.7 s later: the last round done began 2.2 s ago, not fresh."""
    rooms, elsewhere, hub, clock = scene
    clock.now += 1.5
    late = LateRound(hub, monkeypatch, **kwargs)
    late.begin()
    clock.now += 0.7
    assert not selectors.seq_feed.fresh(clock.now, fresh_seconds=2)
    return late


def test_a_cold_view_during_a_late_round_waits_for_it_instead_of_reading_the_seqs(client, scene, monkeypatch):
    rooms, elsewhere, hub, clock = scene
    with Recorder() as recorder:
        warm(client, recorder, scene)
        messages_elsewhere(rooms[7].room_id, 2, "bob")  # its event is read by the late round
        late = _late(scene, monkeypatch)
        named, response = page(client, recorder, elsewhere.room_id)  # public, she is not in it
        late.end()
        assert named == {SIDEBAR_QUERY: 1, ROOM: 1, ROOM_HISTORY: 1}, named  # before: + SEQS 2
        assert counts(response) == true_counts() and counts(response)[rooms[7].room_id] == 2
        late = _late(scene, monkeypatch)
        named, response = page(client, recorder, rooms[8].room_id)  # hers, never viewed here
        late.end()
        assert named == {SIDEBAR_QUERY: 1, ROOM_HISTORY: 1}, named  # before: + SEQS 2
        assert counts(response) == true_counts()


def test_a_stalled_hub_is_not_waited_for_and_the_page_reads_the_seqs(client, scene, monkeypatch):
    rooms, elsewhere, hub, clock = scene
    with Recorder() as recorder:
        warm(client, recorder, scene)
        late = _late(scene, monkeypatch)
        clock.now += 1.4  # the round under way began 2.1 s ago: even done, it could not serve
        monkeypatch.setattr(selectors.seq_feed._round_ended, "wait_for",  # noqa: SLF001
                            lambda *a, **k: pytest.fail("waited for a stalled round"))
        messages_elsewhere(rooms[3].room_id, 1, "bob")
        named, response = page(client, recorder, elsewhere.room_id)
        late.end()
        assert named == {SIDEBAR_QUERY: 1, ROOM: 1, ROOM_HISTORY: 1, SEQS: 2}, named
        assert counts(response) == true_counts() and counts(response)[rooms[3].room_id] == 1


def test_a_round_that_fails_while_a_page_waits_leaves_the_page_its_own_read(client, scene, monkeypatch):
    rooms, elsewhere, hub, clock = scene
    with Recorder() as recorder:
        warm(client, recorder, scene)
        late = _late(scene, monkeypatch, fail=True)
        messages_elsewhere(rooms[4].room_id, 1, "bob")
        named, response = page(client, recorder, elsewhere.room_id)
        late.end()
        assert late.errors and named == {SIDEBAR_QUERY: 1, ROOM: 1, ROOM_HISTORY: 1, SEQS: 2}, named
        assert counts(response) == true_counts() and counts(response)[rooms[4].room_id] == 1


def test_the_wait_is_bounded_then_the_page_reads_the_seqs(client, scene, monkeypatch):
    rooms, elsewhere, hub, clock = scene
    monkeypatch.setattr(selectors, "SEQ_FEED_WAIT_FRACTION", 0.02)  # a short real wait
    with Recorder() as recorder:
        warm(client, recorder, scene)
        late = _late(scene, monkeypatch)
        condition = selectors.seq_feed._round_ended  # noqa: SLF001
        monkeypatch.setattr(condition, "wait_for", type(condition).wait_for.__get__(condition))  # never released
        messages_elsewhere(rooms[5].room_id, 1, "bob")
        named, response = page(client, recorder, elsewhere.room_id)
        late.end()
        assert named == {SIDEBAR_QUERY: 1, ROOM: 1, ROOM_HISTORY: 1, SEQS: 2}, named
        assert counts(response) == true_counts() and counts(response)[rooms[5].room_id] == 1


def test_await_round_as_pure_logic():
    now = [100.0]
    feed = selectors.SeqFeed(clock=lambda: now[0])
    run = feed.restart()
    feed.done(feed.begin(run))
    now[0] += 2.5
    assert feed.await_round(fresh_seconds=2, wait=0) is False  # no round under way: no wait
    token = feed.begin(run)
    now[0] += 0.5
    ended = threading.Timer(0.05, feed.done, args=(token,))
    ended.start()
    assert feed.await_round(fresh_seconds=2, wait=5) is True  # the round under way, once done
    ended.join()
    now[0] += 2.5
    token = feed.begin(run)
    threading.Timer(0.05, feed.failed, args=(token,)).start()
    assert feed.await_round(fresh_seconds=2, wait=5) is False  # it failed: not fresh, no long wait
    feed.begin(run)
    feed.restart(run)  # the hub replaced: its round says nothing of the new run
    assert feed.await_round(fresh_seconds=2, wait=5) is False


def test_a_cold_view_when_the_hub_is_late_for_both_the_seqs_and_the_session_feed(client, scene, monkeypatch,
                                                                                  settings):
    """The benchmark's worst cold view (5 calls: + the sidebar's Seqs 2, + the session feed's Query)
    on a hub late for both: the page waits for the hub's session feed refresh and its round."""
    rooms, elsewhere, hub, clock = scene
    one_session_feed_bucket(monkeypatch)
    settings.ACCOUNTS_SESSION_CACHE_SECONDS = 3  # production's bounds: past 3 s an entry needs the feed
    settings.ACCOUNTS_SESSION_FEED_SECONDS = 1
    settings.ACCOUNTS_SESSION_CACHE_WITH_FEED_SECONDS = 60
    started, wall = clock.now, time.time()
    cache = SessionCache(clock=clock.monotonic, wall=lambda: wall + clock.now - started)
    for module in (session_engine, session_patterns, activity):
        monkeypatch.setattr(module, "session_cache", cache)

    with Recorder() as recorder:
        sign_in_and_warm(client, recorder, scene, cache)
        messages_elsewhere(rooms[7].room_id, 1, "bob")
        clock.now += 0.2
        assert cache.feed.refresh_if_due(cache.forget_partitions, ahead=0.5)  # the hub's upkeep: a refresh
        clock.now += 0.45
        assert cache.feed.refresh_if_due(cache.forget_partitions, ahead=0.5)  # again: not due yet
        late = LateRound(hub, monkeypatch)  # then its round begins, and is slow
        late.begin()
        clock.now += 0.65  # the page: the feed 1.1 s old (due), the last round done begun 2.3 s ago
        assert not selectors.seq_feed.fresh(clock.now, fresh_seconds=2) and cache.feed.due_in() == 0
        threads = _hub_refreshes_once_the_page_waits(cache, monkeypatch)
        named, response = page(client, recorder, rooms[9].room_id)  # hers, never viewed here
        late.end()
        for thread in threads:
            thread.join(5)
        assert named == {SIDEBAR_QUERY: 1, ROOM_HISTORY: 1}, named  # before: + SEQS 2 + the feed's Query
        assert len(threads) == 1  # the feed refreshed by the hub's thread, the page waiting for it
        assert counts(response) == true_counts() and counts(response)[rooms[7].room_id] == 1


def sign_in_and_warm(client, recorder, scene, cache):
    """warm(), then the session read again once the feed's coverage began, so its entry is kept by it."""
    rooms, elsewhere, hub, clock = scene
    warm(client, recorder, scene)
    assert cache.feed.refresh_if_due(cache.forget_partitions, ahead=0.5)  # coverage begins
    clock.now += 0.5
    page(client, recorder, rooms[0].room_id)  # past the short bound: the session read again, covered
    clock.now += 0.5


def test_with_the_seq_feed_off_a_round_under_way_is_not_waited_for(client, scene, monkeypatch, settings):
    """A stream's hub runs rounds, but CHAT_ROOM_SEQ_FEED_SECONDS=0: no round can keep an entry."""
    rooms, elsewhere, hub, clock = scene
    with Recorder() as recorder:
        warm(client, recorder, scene)
        late = _late(scene, monkeypatch)
        settings.CHAT_ROOM_SEQ_FEED_SECONDS = 0
        monkeypatch.setattr(selectors.seq_feed._round_ended, "wait_for",  # noqa: SLF001
                            lambda *a, **k: pytest.fail("waited for a round that could keep nothing"))
        named, response = page(client, recorder, elsewhere.room_id)
        late.end()
        assert named == {SIDEBAR_QUERY: 1, ROOM: 1, ROOM_HISTORY: 1, SEQS: 2}, named
        assert counts(response) == true_counts()
