"""While the activity hub keeps the session feed (it refreshes it ahead, and came by within two
intervals: SessionFeed.kept_ahead), a page that finds the feed due with no refresh under way yet
(the hub late by a call or two under CPU load) waits up to half an interval for the hub's refresh
instead of making the feed's Query itself. The bound is unchanged (freshness still counts from the
start of the last refresh done); a hub stalled for longer, or whose refresh does not come in time,
leaves the page to make the Query itself, as before.
"""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth import SESSION_KEY

from tests.accounts.test_session_cache_kept_by_the_feed import (  # noqa: F401 - fixtures
    FEED,
    _feed_on,
    _warm_and_covered,
    here,
)
from tests.accounts.test_sessions import _signed_in


def _upkeep(cache) -> bool:
    """What the activity hub's thread does (rooms.activity.keep_session_feed_current)."""
    return cache.feed.refresh_if_due(cache.forget_partitions, ahead=cache.feed._refresh_seconds() / 2)  # noqa: SLF001


def _hub_refreshes_once_the_page_waits(cache, monkeypatch) -> list[threading.Thread]:
    """The hub's refresh, run in its thread as soon as a page starts waiting on the feed."""
    condition = cache.feed._refresh_ended  # noqa: SLF001
    wait_for, threads = condition.wait_for, []

    def waiting(predicate, timeout=None):
        if not threads:
            threads.append(threading.Thread(target=_upkeep, args=(cache,)))
            threads[0].start()  # it takes the lock once this wait releases it
        return wait_for(predicate, timeout)

    monkeypatch.setattr(condition, "wait_for", waiting)
    return threads


def test_a_page_finding_the_feed_due_waits_for_the_hubs_refresh_instead_of_making_it(here, monkeypatch):
    store = _signed_in("alice")
    _warm_and_covered(here, store.session_key)
    assert _upkeep(here.cache) is True  # the hub came by: the feed refreshed ahead
    here.advance(FEED + 0.1)  # then the hub is late: the feed is due, no refresh under way
    threads = _hub_refreshes_once_the_page_waits(here.cache, monkeypatch)

    data, calls = here.load(store.session_key)
    assert data[SESSION_KEY] == "alice"
    assert calls == {}, calls  # before: the page made the feed's Query itself ({"Query": 1})
    assert len(threads) == 1
    threads[0].join(5)


def test_a_page_with_its_entry_in_the_short_bound_waits_for_it_too(here, monkeypatch, settings):
    store = _signed_in("alice")
    _warm_and_covered(here, store.session_key)
    assert _upkeep(here.cache) is True
    here.advance(FEED + 0.1)
    settings.ACCOUNTS_SESSION_CACHE_SECONDS = 3600  # the entry serves without the feed
    threads = _hub_refreshes_once_the_page_waits(here.cache, monkeypatch)

    data, calls = here.load(store.session_key)
    assert data[SESSION_KEY] == "alice" and calls == {}, calls  # before: the feed's Query
    threads[0].join(5)
    assert here.cache.feed.due_in() > 0  # the hub's refresh made the feed fresh: a revocation still ends it


def test_a_page_with_no_entry_leaves_the_feed_to_the_hub(here):
    store = _signed_in("alice")
    _warm_and_covered(here, store.session_key)
    assert _upkeep(here.cache) is True
    here.advance(FEED + 0.1)
    here.cache.clear()  # no entry (cleared: the feed too, so the hub comes by again)
    assert _upkeep(here.cache) is True
    here.advance(FEED + 0.1)
    data, calls = here.load(store.session_key)
    assert data[SESSION_KEY] == "alice" and calls == {"Query": 1}, calls  # its session; before: + the feed's


def test_a_stalled_hub_is_not_waited_for(here, monkeypatch):
    store = _signed_in("alice")
    _warm_and_covered(here, store.session_key)
    assert _upkeep(here.cache) is True
    here.advance(2 * FEED + 0.1)  # the hub has not come by for two intervals
    assert not here.cache.feed.kept_ahead()
    condition = here.cache.feed._refresh_ended  # noqa: SLF001
    monkeypatch.setattr(condition, "wait_for", lambda *a, **k: pytest.fail("waited for a stalled hub"))

    data, calls = here.load(store.session_key)
    assert data[SESSION_KEY] == "alice" and calls == {"Query": 1}, calls  # the feed's Query, its own, at once


def test_the_wait_for_the_hub_is_bounded_then_the_page_reads_itself(here, settings):
    settings.ACCOUNTS_SESSION_FEED_SECONDS = FEED  # its half: the longest wait
    store = _signed_in("alice")
    _warm_and_covered(here, store.session_key)
    assert _upkeep(here.cache) is True
    here.advance(FEED + 0.1)
    here.cache.FEED_WAIT_FRACTION = 0.02  # a short real wait: the hub's refresh never comes
    data, calls = here.load(store.session_key)
    assert data[SESSION_KEY] == "alice" and calls == {"Query": 1}, calls  # the feed's, its own

