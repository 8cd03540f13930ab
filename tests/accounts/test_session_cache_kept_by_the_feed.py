"""The session cache past its short bound, kept honest by the session feed (accounts.session_feed):
while this process reads the feed, a cached session serves for ACCOUNTS_SESSION_CACHE_WITH_FEED_SECONDS
with no session read, and one ended or rewritten on another process stops serving here within
ACCOUNTS_SESSION_FEED_SECONDS. If the feed can't be read, the short bound holds again.

This process's cache runs on clocks the test moves; "another process" is the same code with its own
cache (on_process), writing to the same moto tables.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import pytest
from django.contrib.auth import SESSION_KEY

from accounts import session_feed, session_patterns
from accounts.models import SessionFeedRecord
from accounts.session_cache import SessionCache
from accounts.session_feed import SessionFeed
from accounts.session_keys import StoredKey
from chatsite import keys
from chatsite.dynamodb import count_calls
from accounts import session_engine
from tests.accounts.test_session_cache import Clock, _load
from tests.accounts.test_sessions import _linked_device, _signed_in

SHORT, WITH_FEED, FEED = 3.0, 60.0, 1.0


@contextmanager
def on_process(cache: SessionCache):
    """Run the block as the process owning ``cache`` (nests: restores whichever cache was in use)."""
    previous = session_engine.session_cache, session_patterns.session_cache
    session_engine.session_cache = session_patterns.session_cache = cache
    try:
        yield
    finally:
        session_engine.session_cache, session_patterns.session_cache = previous


class Wall:
    """Epoch seconds near now (stored expiries are real), moved by the test: the middle of a feed
    bucket, so a refresh reads one bucket."""

    def __init__(self):
        bucket = keys.session_feed_bucket(int(time.time() * 1000))
        self.now = (bucket * keys.SESSION_FEED_BUCKET_MS + keys.SESSION_FEED_BUCKET_MS // 2) / 1000

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _feed_on(settings):
    settings.ACCOUNTS_SESSION_CACHE_SECONDS = SHORT
    settings.ACCOUNTS_SESSION_CACHE_WITH_FEED_SECONDS = WITH_FEED
    settings.ACCOUNTS_SESSION_FEED_SECONDS = FEED


class Process:
    """A process's session cache with its own clocks (or another's: two processes on one host);
    `advance` moves both."""

    def __init__(self, clocks: tuple[Clock, Wall] | None = None):
        self.mono, self.wall = clocks or (Clock(), Wall())
        self.cache = SessionCache(clock=self.mono, wall=self.wall)

    def advance(self, seconds: float) -> None:
        self.mono.now += seconds
        self.wall.now += seconds

    def load(self, key: str) -> tuple[dict, dict]:
        with on_process(self.cache):
            return _load(key)


@pytest.fixture
def here(moto_tables):
    process = Process()
    with on_process(process.cache):
        yield process


@pytest.fixture
def elsewhere(here):
    return Process((here.mono, here.wall))


def _warm_and_covered(process: Process, key: str, *, reads: int = 1) -> None:
    """Read, then pass the short bound twice: the feed's first refresh starts coverage (the first
    read predates it, so it is read again), and the second read is covered. ``reads``: Queries a
    session read costs (a linked device: the index, then its parent's partition)."""
    process.advance(0.01)  # the sign-in's write began before the feed's first refresh
    data, calls = process.load(key)
    if reads > 1:  # a linked device's entry is never written by its linking: read now, covered
        assert data[SESSION_KEY] == "alice" and calls == {"Query": 1 + reads}, calls
        process.advance(SHORT + 0.5)
        return
    assert data[SESSION_KEY] == "alice" and calls == {"Query": 1}, calls  # the feed; the entry: the short bound
    process.advance(SHORT + 0.5)
    data, calls = process.load(key)
    assert data[SESSION_KEY] == "alice" and calls == {"Query": 1 + reads}, calls  # the feed, the session
    process.advance(SHORT + 0.5)


def test_past_the_short_bound_a_covered_session_costs_only_the_feeds_query_once_a_second(here):
    store = _signed_in("alice")
    _warm_and_covered(here, store.session_key)
    data, calls = here.load(store.session_key)
    assert data[SESSION_KEY] == "alice" and calls == {"Query": 1}, calls  # the feed's refresh only
    here.advance(0.5)
    assert here.load(store.session_key) == (data, {})  # within a second of the refresh: nothing at all
    here.advance(30)
    assert here.load(store.session_key) == (data, {"Query": 1})  # half a minute on: the feed again


def test_not_past_the_longer_bound(here):
    store = _signed_in("alice")
    _warm_and_covered(here, store.session_key)
    here.advance(WITH_FEED)
    data, calls = here.load(store.session_key)
    assert data[SESSION_KEY] == "alice" and calls == {"Query": 2}, calls  # the feed, and the session read again


def test_a_session_signed_out_on_another_process_stops_here_within_the_feeds_interval(here, elsewhere):
    store = _signed_in("alice")
    _warm_and_covered(here, store.session_key)
    assert here.load(store.session_key)[0][SESSION_KEY] == "alice"  # the refresh: coverage now
    with on_process(elsewhere.cache):
        session_patterns.expire_session(StoredKey.of(store.session_key))
    here.advance(FEED / 2)
    assert here.load(store.session_key)[0][SESSION_KEY] == "alice"  # the stated bound: up to a second
    here.advance(FEED / 2 + 0.01)
    assert here.load(store.session_key)[0] == {}


def test_a_session_read_a_moment_ago_ends_within_the_feeds_interval_too(here, elsewhere):
    """Within the short bound the feed still decides: 1 s, not 3 s."""
    from accounts.session_engine import SessionStore

    store = _signed_in("alice")
    _warm_and_covered(here, store.session_key)
    here.load(store.session_key)
    mine = SessionStore(store.session_key)
    mine["note"] = "written here"
    mine.save()  # the entry is now younger than SHORT
    with on_process(elsewhere.cache):
        session_patterns.expire_session(StoredKey.of(store.session_key))
    here.advance(FEED + 0.01)
    assert FEED + 0.01 < SHORT
    assert here.load(store.session_key)[0] == {}


def test_a_linked_device_removed_on_another_process_stops_here_and_its_parent_reads_again(here, elsewhere):
    parent = _signed_in("alice")
    device = _linked_device(parent)
    _warm_and_covered(here, device.session_key, reads=2)
    here.load(device.session_key)
    with on_process(elsewhere.cache):
        session_patterns.expire_session(StoredKey.of(device.session_key))
    here.advance(FEED + 0.01)
    assert here.load(device.session_key)[0] == {}
    assert here.load(parent.session_key)[0][SESSION_KEY] == "alice"


def test_a_session_signed_in_again_on_another_process_is_read_again_here(here, elsewhere):
    store = _signed_in("alice")
    _warm_and_covered(here, store.session_key)
    here.load(store.session_key)
    with on_process(elsewhere.cache):
        from accounts.session_engine import SessionStore

        other = SessionStore(store.session_key)
        other["note"] = "written elsewhere"
        other.save()
    here.advance(FEED + 0.01)
    data, calls = here.load(store.session_key)
    assert data["note"] == "written elsewhere" and calls == {"Query": 2}, calls


def test_if_the_feed_cant_be_read_the_short_bound_holds(here, elsewhere, monkeypatch):
    store = _signed_in("alice")
    _warm_and_covered(here, store.session_key)
    here.load(store.session_key)

    def unreachable(since_ms, until_ms):
        raise ConnectionError("DynamoDB is unreachable")

    here.cache.feed._read = unreachable  # noqa: SLF001 - the feed's table read fails
    here.advance(FEED + 0.01)
    data, calls = here.load(store.session_key)
    assert data[SESSION_KEY] == "alice" and calls == {"Query": 1}, calls  # the session read again
    here.advance(0.5)
    assert here.load(store.session_key)[1] == {}  # within the short bound of that read
    with on_process(elsewhere.cache):
        session_patterns.expire_session(StoredKey.of(store.session_key))
    here.advance(SHORT)
    assert here.load(store.session_key)[0] == {}


def test_ending_a_session_announces_its_partition_once(here):
    store = _signed_in("alice")
    _linked_device(store)
    before = _events()
    with count_calls() as calls:
        session_patterns.expire_session(StoredKey.of(store.session_key))
    assert calls["PutItem"] == 1, calls
    assert [e.partition for e in _events() if e.SK not in {b.SK for b in before}] == [
        keys.session_pk(StoredKey.of(store.session_key).digest)]


def test_ending_an_unknown_key_announces_nothing(here):
    with count_calls() as calls:
        session_patterns.expire_session(StoredKey.of("x" * 32))
    assert "PutItem" not in calls


def test_this_processs_own_announcement_costs_it_no_read(here):
    """Its own cache was put right by the write; the feed doesn't make it forget that entry."""
    store = _signed_in("alice")
    _warm_and_covered(here, store.session_key)
    here.load(store.session_key)
    from accounts.session_engine import SessionStore

    mine = SessionStore(store.session_key)
    mine["note"] = "written here"
    mine.save()
    here.advance(SHORT + 0.01)  # past the written entry's short bound: the feed decides
    data, calls = here.load(store.session_key)
    assert data["note"] == "written here" and calls == {"Query": 1}, calls  # the feed only


def test_no_announcements_while_the_feed_is_off(here, settings):
    settings.ACCOUNTS_SESSION_FEED_SECONDS = 0
    store = _signed_in("alice")
    with count_calls() as calls:
        session_patterns.expire_session(StoredKey.of(store.session_key))
    assert "PutItem" not in calls
    assert _events() == []


def test_the_tables_reader_reads_across_a_buckets_edge(moto_tables):
    edge = keys.session_feed_bucket(int(time.time() * 1000)) * keys.SESSION_FEED_BUCKET_MS
    session_feed.announce("suuid#before", clock_ms=lambda: edge - 2000)
    session_feed.announce("suuid#after", clock_ms=lambda: edge + 2000)
    session_feed.announce("suuid#long-ago", clock_ms=lambda: edge - 60_000)
    with count_calls() as calls:
        events = session_feed.read_events(edge - 5000, edge + 5000)
    assert sorted(e.partition for e in events) == ["suuid#after", "suuid#before"]
    assert calls == {"Query": 2}, calls
    first: list[str] = []
    assert SessionFeed.from_table(clock_ms=lambda: edge + 5000, refresh_seconds=lambda: 1).refresh_if_due(first.extend)
    assert sorted(first) == ["suuid#after", "suuid#before"]  # a first refresh reads back the overlap too


class _Record:
    def __init__(self, pk: str):
        self.PK = pk


def test_a_read_under_way_when_the_feed_forgets_its_partition_is_not_cached(moto_tables):
    process = Process()
    key = StoredKey.of("a" * 32)
    generation, started = process.cache.begin(), process.cache.now()
    process.cache.forget_partitions(["suuid#x"])  # the feed: changed elsewhere, maybe before the read
    process.cache.put(key, _Record("suuid#x"), {}, live_until=process.wall() + 600, started=started,
                      generation=generation)
    assert process.cache.get(key) is None


def test_a_write_voids_the_reads_under_way_and_an_older_read_never_replaces_a_newer(moto_tables, settings):
    settings.ACCOUNTS_SESSION_FEED_SECONDS = 0  # the short bound alone: this is about put()
    process = Process()
    key, live = StoredKey.of("a" * 32), process.wall() + 600
    read_generation, read_started = process.cache.begin(), process.cache.now()
    process.advance(0.1)
    process.cache.put(key, _Record("suuid#a"), {"v": "written"}, live_until=live, started=process.cache.now(),
                      generation=process.cache.begin(), written=True)
    process.cache.put(key, _Record("suuid#a"), {"v": "read before the write"}, live_until=live,
                      started=read_started, generation=read_generation)
    assert process.cache.get(key).data == {"v": "written"}
    older_generation, older = process.cache.begin(), process.cache.now()
    process.advance(0.1)
    newer_generation, newer = process.cache.begin(), process.cache.now()
    process.cache.put(key, _Record("suuid#a"), {"v": "newer read"}, live_until=live, started=newer,
                      generation=newer_generation)
    process.cache.put(key, _Record("suuid#a"), {"v": "older read"}, live_until=live, started=older,
                      generation=older_generation)
    assert process.cache.get(key).data == {"v": "newer read"}


def _events() -> list[SessionFeedRecord]:
    now = int(time.time() * 1000)
    found = []
    for bucket in range(keys.session_feed_bucket(now - 3_600_000), keys.session_feed_bucket(now + 3_600_000) + 1):
        found += list(SessionFeedRecord.query(keys.session_feed_pk(bucket)))
    return found


def test_sign_in_costs_two_announcements_more_with_the_feed_on(here):
    """The anonymous key's end and the record's move to the user: docs/data-model.md's per-request
    table (the same steps as tests/accounts/test_sessions.py's sign-in cost, with the feed off)."""
    from accounts.session_engine import SessionStore

    anonymous = SessionStore()
    anonymous["visited"] = True
    anonymous.save()
    store = SessionStore(anonymous.session_key)
    store.get("visited")
    with count_calls() as calls:
        store.cycle_key()
        store[SESSION_KEY] = "alice"
        store.mark_login()
        store.save()
    assert calls == {"PutItem": 4, "Query": 1, "DeleteItem": 2}, calls
    assert sorted(e.partition for e in _events()) == sorted(
        [keys.session_pk(StoredKey.of(anonymous.session_key).digest),
         keys.session_pk(StoredKey.of(store.session_key).digest)])
