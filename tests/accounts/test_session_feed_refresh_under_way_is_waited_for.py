"""A page whose cached session needs the session feed, finding another thread's refresh under way
past the last one's interval (the activity hub's, late under CPU load), waits a little for that
refresh rather than falling back to reading its session: the answer is the same bound (freshness
still counts from the start of the last refresh done), and it costs the page no call.
"""

from __future__ import annotations

import threading

from django.contrib.auth import SESSION_KEY

from tests.accounts.test_session_cache_kept_by_the_feed import (  # noqa: F401 - fixtures
    FEED,
    _feed_on,
    _warm_and_covered,
    here,
)
from tests.accounts.test_session_feed import Table, new_feed, refresh
from tests.accounts.test_session_feed import clock, table  # noqa: F401 - fixtures
from tests.accounts.test_sessions import _signed_in


class HeldRead:
    """Wraps a feed's read: the next read waits until released (a Query under way)."""

    def __init__(self, read):
        self.read, self.started, self.release = read, threading.Event(), threading.Event()

    def __call__(self, since_ms, until_ms):
        self.started.set()
        assert self.release.wait(5)
        return self.read(since_ms, until_ms)


def _refresh_in_thread(feed) -> tuple[threading.Thread, list]:
    answers: list = []
    worker = threading.Thread(target=lambda: answers.append(refresh(feed)))
    worker.start()
    return worker, answers


def test_a_caller_that_may_wait_gets_the_refresh_under_way_and_reads_nothing_itself(clock, table: Table):
    feed = new_feed(clock, table)
    refresh(feed)
    clock.now += 1000  # the last refresh is an interval old: not fresh
    held = HeldRead(table.read)
    feed._read = held  # noqa: SLF001 - the hub's Query, under way
    worker, answers = _refresh_in_thread(feed)
    assert held.started.wait(5)
    threading.Timer(0.2, held.release.set).start()

    assert feed.refresh_if_due(lambda changed: None, wait=5.0) is True  # fresh once that Query ended
    worker.join(5)
    assert answers == [[]] and table.reads == 2  # the first refresh and the hub's: none of the page's


def test_the_wait_is_bounded_and_a_query_still_under_way_means_not_fresh(clock, table: Table):
    feed = new_feed(clock, table)
    refresh(feed)
    clock.now += 1000
    held = HeldRead(table.read)
    feed._read = held  # noqa: SLF001
    worker, _answers = _refresh_in_thread(feed)
    assert held.started.wait(5)

    assert feed.refresh_if_due(lambda changed: None, wait=0.05) is False  # falls back: the short bound
    held.release.set()
    worker.join(5)
    assert table.reads == 2  # it did not make a Query of its own either


def test_without_wait_it_still_falls_back_at_once(clock, table: Table):
    feed = new_feed(clock, table)
    refresh(feed)
    clock.now += 1000
    held = HeldRead(table.read)
    feed._read = held  # noqa: SLF001
    worker, _answers = _refresh_in_thread(feed)
    assert held.started.wait(5)
    assert feed.refresh_if_due(lambda changed: None) is False
    held.release.set()
    worker.join(5)


def test_a_page_served_from_the_cache_waits_for_the_hubs_refresh_instead_of_reading_its_session(here):
    store = _signed_in("alice")
    _warm_and_covered(here, store.session_key)
    assert here.load(store.session_key)[1] == {"Query": 1}  # the feed's refresh: covered from now
    here.advance(FEED + 0.1)  # past the feed's interval and the short bound: the entry needs the feed
    feed = here.cache.feed
    held = HeldRead(feed._read)  # noqa: SLF001
    feed._read = held  # noqa: SLF001 - the hub's refresh, under way in its thread
    hub = threading.Thread(target=lambda: feed.refresh_if_due(lambda changed: None))
    hub.start()
    assert held.started.wait(5)
    threading.Timer(0.2, held.release.set).start()

    data, calls = here.load(store.session_key)
    hub.join(5)
    assert data[SESSION_KEY] == "alice"
    assert calls == {}, calls  # before: the entry was dropped and the session read again ({"Query": 1})
