"""The session cache's revalidation (accounts.session_patterns.revalidate_cached_sessions, run by the
activity hub's thread through rooms.activity.keep_session_feed_current): a cached session used in
the last ACCOUNTS_SESSION_CACHE_WITH_FEED_SECONDS is read again in bulk before it reaches that bound,
so a page whose session this process used in the last minute pays no session read, however long
the user has been around. The bound on a lost announcement stays: no entry serves past its read's
start plus the bound, and revalidation reads the table (consistently), so a session ended or
rewritten elsewhere without an announcement is dropped or replaced at the latest then.

The process runs on clocks the test moves; the hub's thread is stood in for by calling its upkeep
once a (fake) second. "Another process" is the same code with its own cache on the same moto tables.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager

import pytest
from django.contrib.auth import SESSION_KEY

from accounts import session_engine, session_feed, session_patterns
from accounts.models import SessionRecord
from accounts.session_cache import SessionCache
from accounts.session_engine import SessionStore
from accounts.session_keys import StoredKey
from chatsite.dynamodb import count_calls
from rooms import activity
from tests.accounts.test_session_cache import Clock
from tests.accounts.test_sessions import _linked_device, _signed_in

SHORT, WITH_FEED, FEED = 3.0, 60.0, 1.0


@pytest.fixture(autouse=True)
def _feed_on(settings):
    settings.ACCOUNTS_SESSION_CACHE_SECONDS = SHORT
    settings.ACCOUNTS_SESSION_CACHE_WITH_FEED_SECONDS = WITH_FEED
    settings.ACCOUNTS_SESSION_FEED_SECONDS = FEED


class Wall:
    """Epoch seconds from now on (stored expiries are real), moved by the test."""

    def __init__(self):
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@contextmanager
def on_process(cache: SessionCache):
    """Run the block as the process owning ``cache``: its pages and its hub's upkeep."""
    modules = (session_engine, session_patterns, activity)
    previous = [module.session_cache for module in modules]
    for module in modules:
        module.session_cache = cache
    try:
        yield
    finally:
        for module, cache_before in zip(modules, previous):
            module.session_cache = cache_before


class Process:
    def __init__(self, clocks: tuple[Clock, Wall] | None = None):
        self.mono, self.wall = clocks or (Clock(), Wall())
        self.cache = SessionCache(clock=self.mono, wall=self.wall)
        self.upkeep_calls: dict = {}

    def advance(self, seconds: float) -> None:
        self.mono.now += seconds
        self.wall.now += seconds

    def load(self, key: str) -> tuple[dict, dict]:
        """What a page with this cookie loads, and what that cost the page."""
        with on_process(self.cache), count_calls() as calls:
            data = SessionStore(key).load()
        return data, dict(calls)

    def upkeep(self) -> None:
        """What the activity hub's thread does (at the top of a round, or when it asked to wake)."""
        with on_process(self.cache), count_calls() as calls:
            activity.keep_session_feed_current()
        for name, count in calls.items():
            self.upkeep_calls[name] = self.upkeep_calls.get(name, 0) + count

    def run(self, seconds: float, *, every: float = 1.0, pages=None) -> None:
        """Move the clocks ``seconds`` in steps of ``every``, with the hub's upkeep at each step and
        ``pages(elapsed)`` after it."""
        steps = round(seconds / every)
        for step in range(1, steps + 1):
            self.advance(every)
            self.upkeep()
            if pages is not None:
                pages(step * every)


@pytest.fixture
def here(moto_tables):
    process = Process()
    process.upkeep()  # the hub is running: the feed's coverage begins
    process.advance(0.01)
    with on_process(process.cache):
        yield process


@pytest.fixture
def elsewhere(here):
    return Process((here.mono, here.wall))


@pytest.fixture
def announcements_lost(monkeypatch):
    """Every announcement's PutItem fails after its write (logged; the write stands)."""

    def lost(*args, **kwargs):
        raise ConnectionError("the announcement's PutItem failed")

    monkeypatch.setattr(session_feed, "announce", lost)


def test_a_session_used_every_20_seconds_for_5_minutes_costs_its_pages_no_session_query(here):
    store = _signed_in("alice")  # cached as written, after the feed's coverage began
    costs = []

    def pages(elapsed):
        if elapsed % 20 == 0:
            data, calls = here.load(store.session_key)
            assert data[SESSION_KEY] == "alice"
            costs.append(calls)

    here.run(300, pages=pages)
    assert costs == [{}] * 15, costs  # not even the feed's Query: the hub keeps it
    # Read again about every 40-50 s in the hub's thread instead: one BatchGetItem each time.
    assert 5 <= here.upkeep_calls["BatchGetItem"] <= 8, here.upkeep_calls
    assert here.upkeep_calls["Query"] >= 300  # the feed's refreshes: at least once a (fake) second


def test_a_linked_device_used_every_20_seconds_is_kept_with_its_parent(here):
    parent = _signed_in("alice")
    device = _linked_device(parent)
    assert here.load(device.session_key)[1] == {"Query": 2}  # a device's write is not cached: read once
    costs = []
    here.run(200, pages=lambda elapsed: elapsed % 20 == 0 and costs.append(here.load(device.session_key)[1]))
    assert costs == [{}] * 10, costs


def test_a_session_not_used_for_the_bound_is_left_to_expire(here):
    store = _signed_in("alice")
    here.run(WITH_FEED + 1)
    before = here.upkeep_calls.get("BatchGetItem", 0)
    assert before == 1  # used (written) within the bound when it neared it: read again once
    here.run(2 * WITH_FEED)
    assert here.upkeep_calls.get("BatchGetItem", 0) == before  # not used since: not read again
    assert here.load(store.session_key)[1] == {"Query": 1}  # expired: the page reads it


def test_a_session_ended_elsewhere_whose_announcement_was_lost_stops_within_the_bound(
        here, elsewhere, announcements_lost):
    store = _signed_in("alice")
    here.run(30, pages=lambda elapsed: here.load(store.session_key))
    with on_process(elsewhere.cache):
        session_patterns.expire_session(StoredKey.of(store.session_key))  # its announcement fails
    ended_at = here.wall.now
    served = []

    def pages(elapsed):
        if here.load(store.session_key)[0]:
            served.append(here.wall.now - ended_at)

    here.run(WITH_FEED + 5, pages=pages)
    assert served, "the entry read before the end serves until revalidation finds it gone"
    assert max(served) < WITH_FEED
    assert len(here.cache) == 0


def test_revalidation_drops_a_session_ended_elsewhere_without_a_page_asking(here, elsewhere, announcements_lost):
    store = _signed_in("alice")
    here.advance(WITH_FEED * 5 / 6)  # due: used (written) within the bound, nearing it
    with on_process(elsewhere.cache):
        session_patterns.expire_session(StoredKey.of(store.session_key))
    assert len(here.cache) == 1
    here.upkeep()
    assert here.upkeep_calls["BatchGetItem"] == 1 and len(here.cache) == 0


def test_a_session_rewritten_elsewhere_without_an_announcement_is_read_again_after_revalidation(
        here, elsewhere, announcements_lost):
    store = _signed_in("alice")
    here.run(10, pages=lambda elapsed: here.load(store.session_key))
    with on_process(elsewhere.cache):
        other = SessionStore(store.session_key)
        other["note"] = "written elsewhere"
        other.save()  # its announcement fails
    assert "note" not in here.load(store.session_key)[0]  # the lost announcement: still the old data
    here.advance(WITH_FEED * 5 / 6 - 10)
    here.upkeep()
    assert len(here.cache) == 0  # revalidation found other data: the stale entry is gone
    data, calls = here.load(store.session_key)
    assert data["note"] == "written elsewhere" and calls == {"Query": 1}, calls  # as after an announcement
    here.run(WITH_FEED)
    assert here.load(store.session_key) == (data, {})  # and kept from then on


def test_a_session_whose_expiry_was_refreshed_elsewhere_is_replaced_by_what_was_read(here, elsewhere):
    store = _signed_in("alice")
    here.run(10, pages=lambda elapsed: here.load(store.session_key))
    key = StoredKey.of(store.session_key)
    before = here.cache.get(key).record.expires_at
    record = session_patterns.get_session_by_session_id(key)
    record.update(actions=[SessionRecord.expires_at.set(before + 3600)])  # as a last_seen refresh does: unannounced
    here.advance(WITH_FEED * 5 / 6 - 10)
    here.upkeep()
    entry = here.cache.get(key)
    assert entry is not None and entry.record.expires_at == before + 3600 and entry.live_until == before + 3600
    assert here.load(store.session_key)[1] == {}


def _cached(process: Process, sessions: int, devices: int) -> list[str]:
    """``sessions`` signed-in sessions and ``devices`` linked devices (of the first sessions),
    all used on ``process`` now."""
    stores = [_signed_in(f"user{n}") for n in range(sessions)]
    keys = [s.session_key for s in stores] + [_linked_device(stores[n]).session_key for n in range(devices)]
    for key in keys:
        process.load(key)
    return keys


@pytest.mark.parametrize(("sessions", "devices"), [(1, 0), (90, 10), (91, 10), (230, 20)])
def test_revalidation_reads_100_items_a_batchgetitem(here, sessions, devices):
    keys = _cached(here, sessions, devices)
    items = sessions + devices  # a device's parent is one of the sessions: read once
    here.advance(WITH_FEED * 5 / 6)
    with count_calls() as calls:
        assert session_patterns.revalidate_cached_sessions(here.cache) == len(keys)
    assert dict(calls) == {"BatchGetItem": math.ceil(items / 100)}, calls
    here.advance(WITH_FEED / 6 + 1)  # past the bound of the first reads
    here.upkeep()
    for key in keys:
        data, calls = here.load(key)
        assert data and calls == {}, calls


def test_a_forget_during_revalidation_is_not_undone(here, monkeypatch):
    store = _signed_in("alice")
    key = StoredKey.of(store.session_key)
    here.advance(WITH_FEED * 5 / 6)
    batch_get = SessionRecord.batch_get

    def forgotten_meanwhile(*args, **kwargs):
        found = list(batch_get(*args, **kwargs))  # the item read while the session still lived
        here.cache.forget_partition(found[0].PK)  # then this process ended it (its write, then forget)
        return found

    monkeypatch.setattr(SessionRecord, "batch_get", forgotten_meanwhile)
    assert session_patterns.revalidate_cached_sessions(here.cache) == 1
    assert here.cache.get(key) is None and len(here.cache) == 0


def test_a_write_during_revalidation_is_kept_over_what_revalidation_read(here, monkeypatch):
    store = _signed_in("alice")
    here.advance(WITH_FEED * 5 / 6)
    batch_get = SessionRecord.batch_get

    def written_meanwhile(*args, **kwargs):
        found = list(batch_get(*args, **kwargs))
        mine = SessionStore(store.session_key)
        mine["note"] = "written after the read"
        mine.save()  # this process's write replaces the entry
        return found

    monkeypatch.setattr(SessionRecord, "batch_get", written_meanwhile)
    session_patterns.revalidate_cached_sessions(here.cache)
    assert here.cache.get(StoredKey.of(store.session_key)).data["note"] == "written after the read"


def test_revalidation_is_no_use_for_the_lru_order(here, monkeypatch):
    monkeypatch.setattr(SessionCache, "MAX_ENTRIES", 2)
    first = _signed_in("first")
    here.advance(15)
    second = _signed_in("second")
    here.advance(WITH_FEED * 5 / 6 - 15)  # the first is due, the second not yet
    assert session_patterns.revalidate_cached_sessions(here.cache) == 1
    _signed_in("newcomer")  # a third entry: the least recently used goes, whatever was revalidated
    assert here.cache.get(StoredKey.of(first.session_key)) is None
    assert here.cache.get(StoredKey.of(second.session_key)) is not None


def test_a_failing_batchgetitem_leaves_entries_to_expire_at_the_bound(here, monkeypatch):
    store = _signed_in("alice")
    written_at = here.wall.now

    def unreachable(*args, **kwargs):
        raise ConnectionError("DynamoDB is unreachable")

    monkeypatch.setattr(SessionRecord, "batch_get", unreachable)
    here.run(WITH_FEED - 1, pages=lambda elapsed: elapsed % 10 == 0 and here.load(store.session_key))
    assert here.load(store.session_key)[1] == {}  # still within the bound of the write
    here.advance(written_at + WITH_FEED - here.wall.now)  # the bound: never served past it
    here.upkeep()
    data, calls = here.load(store.session_key)
    assert data[SESSION_KEY] == "alice" and calls == {"Query": 1}, calls


def test_a_failing_batchgetitem_is_retried_a_few_seconds_later_not_every_wake(here, monkeypatch):
    store = _signed_in("alice")
    tries = []

    def unreachable(*args, **kwargs):
        tries.append(here.mono.now)
        raise ConnectionError("DynamoDB is unreachable")

    monkeypatch.setattr(SessionRecord, "batch_get", unreachable)
    here.run(WITH_FEED - 1, every=0.25, pages=lambda elapsed: here.load(store.session_key))
    assert 1 < len(tries) <= 3 and all(b - a >= SessionCache.REVALIDATE_RETRY_SECONDS
                                       for a, b in zip(tries, tries[1:])), tries


def test_the_upkeep_asks_to_run_again_before_the_feed_is_due(here):
    here.upkeep()
    with on_process(here.cache):
        wait = activity.keep_session_feed_current()
    assert 0 < wait <= FEED / 2


def test_nothing_to_keep_while_the_feed_is_off(here, settings):
    settings.ACCOUNTS_SESSION_FEED_SECONDS = 0
    _signed_in("alice")
    here.advance(WITH_FEED * 5 / 6)
    with on_process(here.cache), count_calls() as calls:
        assert activity.keep_session_feed_current() is None
    assert dict(calls) == {}
