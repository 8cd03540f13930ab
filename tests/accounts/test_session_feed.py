"""The session feed as pure logic (accounts.session_feed.SessionFeed): an injected clock and an
in-memory table of events, written with the writers' own (skewed) clocks and made visible only
when their write finishes, as on DynamoDB with a consistent Query."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

import pytest

from accounts.session_feed import MAX_GAP_MS, OVERLAP_MS, FeedEvent, SessionFeed
from chatsite import keys
from tests.support.examples import examples

REFRESH_S = 1.0


@dataclass
class Clock:
    """Wall-clock ms (``now``); ``mono`` is the monotonic clock in seconds, moved with it unless a
    test steps the wall clock alone."""

    now: int = 1_800_000_000_000
    stepped_ms: int = 0

    def __call__(self) -> int:
        return self.now

    def mono(self) -> float:
        return (self.now - self.stepped_ms) / 1000


@dataclass
class Table:
    """Events visible from their `visible_at` (real time) on, stamped with the writer's clock."""

    clock: Clock
    events: list[tuple[int, FeedEvent]] = field(default_factory=list)
    reads: int = 0
    down: bool = False

    def write(self, partition: str, *, stamp_ms: int, visible_at: int, token: str) -> FeedEvent:
        event = FeedEvent(sk=keys.session_feed_sk(stamp_ms, token), partition=partition)
        self.events.append((visible_at, event))
        return event

    def read(self, since_ms: int, until_ms: int):
        self.reads += 1
        if self.down:
            raise ConnectionError("DynamoDB is unreachable")
        return [e for visible_at, e in self.events if visible_at <= self.clock.now and e.at_ms >= since_ms]


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def table(clock):
    return Table(clock)


def new_feed(clock, table) -> SessionFeed:
    return SessionFeed(read=table.read, clock_ms=clock, monotonic=clock.mono, refresh_seconds=lambda: REFRESH_S)


@pytest.fixture
def feed(clock, table):
    return new_feed(clock, table)


def refresh(feed: SessionFeed) -> list[str] | None:
    """The partitions a refresh asks to forget ([] if none), or None if the feed is not fresh."""
    changed: list[str] = []
    return changed if feed.refresh_if_due(changed.extend) else None


def test_a_change_written_after_a_read_is_seen_by_the_next_refresh(feed, table, clock):
    assert refresh(feed) == []
    read_began = clock.now + 10
    clock.now += 500
    table.write("suuid#a", stamp_ms=clock.now, visible_at=clock.now + 20, token="t1")
    clock.now += 100
    assert feed.covers(read_began)  # the last refresh is 0.6 s old: the entry may serve
    clock.now += 400
    assert not feed.covers(read_began)  # a second old: it must refresh first
    assert refresh(feed) == ["suuid#a"]
    assert feed.covers(read_began)


def test_at_most_one_read_per_interval(feed, table, clock):
    for _ in range(50):
        refresh(feed)
        clock.now += 30
    assert table.reads == 2  # 1.5 s of calls: the first, and one a second later


def test_a_writer_whose_clock_lags_by_less_than_the_overlap_is_still_seen(feed, table, clock):
    refresh(feed)
    clock.now += 1000
    table.write("suuid#late", stamp_ms=clock.now - OVERLAP_MS + 1500, visible_at=clock.now, token="t1")
    assert refresh(feed) == ["suuid#late"]


def test_an_event_is_applied_once_though_overlapping_reads_see_it_again(feed, table, clock):
    refresh(feed)
    table.write("suuid#a", stamp_ms=clock.now, visible_at=clock.now, token="t1")
    clock.now += 1000
    assert refresh(feed) == ["suuid#a"]
    clock.now += 1000
    assert refresh(feed) == []


def test_this_processs_own_announcements_are_not_applied_again(feed, table, clock):
    refresh(feed)
    feed.wrote("mine", clock.now)
    table.write("suuid#a", stamp_ms=clock.now, visible_at=clock.now, token="mine")
    table.write("suuid#b", stamp_ms=clock.now, visible_at=clock.now, token="theirs")
    clock.now += 1000
    assert refresh(feed) == ["suuid#b"]


def test_entries_read_before_coverage_began_never_use_it(feed, clock):
    read_began = clock.now - 1
    assert refresh(feed) == []
    assert not feed.covers(read_began)
    assert feed.covers(clock.now)


def test_a_gap_longer_than_the_limit_starts_coverage_again(feed, clock):
    refresh(feed)
    read_began = clock.now + 5
    clock.now += MAX_GAP_MS + 1
    assert refresh(feed) == []
    assert not feed.covers(read_began)  # changes in the gap may be beyond the query's reach


def test_a_failed_read_extends_nothing(feed, table, clock):
    refresh(feed)
    read_began = clock.now
    table.down = True
    clock.now += 1000
    assert refresh(feed) is None
    assert not feed.covers(read_began)
    table.down = False
    table.write("suuid#a", stamp_ms=clock.now, visible_at=clock.now, token="t1")
    clock.now += 1000  # after the failure's back-off
    assert refresh(feed) == ["suuid#a"]  # resumed from the last good refresh: nothing skipped
    assert feed.covers(read_began)


def test_off_when_the_interval_is_zero(clock, table):
    assert not SessionFeed(read=table.read, clock_ms=clock, refresh_seconds=lambda: 0).enabled()


def test_after_a_failed_read_it_waits_an_interval_before_asking_again(feed, table, clock):
    refresh(feed)
    table.down = True
    clock.now += 1000
    assert refresh(feed) is None and table.reads == 2
    for _ in range(9):
        clock.now += 100
        assert refresh(feed) is None
    assert table.reads == 2  # DynamoDB in trouble is not asked by every request in turn
    clock.now += 110
    assert refresh(feed) is None and table.reads == 3


def test_a_refresh_under_way_makes_others_fall_back_at_once(feed, table, clock):
    refresh(feed)
    clock.now += 1000
    started, release = threading.Event(), threading.Event()
    real_read = table.read

    def slow_read(since_ms, until_ms):
        started.set()
        release.wait(5)
        return real_read(since_ms, until_ms)

    table_read = feed._read  # noqa: SLF001
    feed._read = slow_read  # noqa: SLF001 - a Query that takes a while
    answers = []
    worker = threading.Thread(target=lambda: answers.append(refresh(feed)))
    worker.start()
    assert started.wait(5)
    assert refresh(feed) is None  # not waiting for the other request's Query
    release.set()
    worker.join(5)
    feed._read = table_read  # noqa: SLF001
    assert answers == [[]] and refresh(feed) == []


def test_forgetting_happens_before_anyone_is_told_the_feed_is_fresh(feed, table, clock):
    refresh(feed)
    read_began = clock.now
    table.write("suuid#a", stamp_ms=clock.now, visible_at=clock.now, token="t1")
    clock.now += 1000
    seen_fresh_during_apply = []
    feed.refresh_if_due(lambda changed: seen_fresh_during_apply.append(feed.covers(read_began)))
    assert seen_fresh_during_apply == [False]
    assert feed.covers(read_began)


def test_a_wall_clock_stepped_back_does_not_stretch_coverage(feed, table, clock):
    refresh(feed)
    read_began = clock.now
    clock.now += 500
    clock.now -= 30_000  # NTP steps the wall clock back 30 s
    clock.stepped_ms -= 30_000
    clock.now += 600
    assert not feed.covers(read_began)  # 1.1 s have passed, whatever the wall clock says


@pytest.mark.parametrize("seed", range(examples(40)))  # make test-fast: 8
def test_simulation_no_cached_entry_outlives_a_change_by_more_than_the_interval(seed):
    """Random reads, writes with skewed clocks and slow puts, and refreshes. Whenever the feed says
    an entry may serve, every change to its partition finished before the last refresh began and
    after the entry's read began has been reported: so a session ended elsewhere serves at most
    REFRESH_S after its announcement finished."""
    rng = random.Random(seed)
    clock = Clock()
    table = Table(clock)
    feed = new_feed(clock, table)
    partitions = [f"suuid#{n}" for n in range(4)]
    entries: dict[str, int] = {}  # partition -> when its read began (a cached entry)
    for step in range(400):
        clock.now += rng.choice([1, 10, 50, 200, 700, 1500, 3000 if step % 97 == 0 else 5])
        action = rng.random()
        if action < 0.25:
            partition = rng.choice(partitions)
            entries[partition] = clock.now  # read from the table: the newest state
        elif action < 0.45:
            partition = rng.choice(partitions)
            skew = rng.randint(-(OVERLAP_MS // 2), OVERLAP_MS // 2)
            latency = rng.randint(0, 2000)
            table.write(partition, stamp_ms=clock.now + skew, visible_at=clock.now + latency,
                        token=f"w{step}")
        else:
            began = clock.now
            changed = refresh(feed)
            for partition in changed or ():
                entries.pop(partition, None)
            for partition, read_began in list(entries.items()):
                if not feed.covers(read_began):
                    continue
                stale = [visible_at for visible_at, event in table.events
                         if event.partition == partition and read_began < visible_at <= feed_last(feed)
                         and visible_at <= began]
                assert not stale, (seed, step, partition)


def feed_last(feed: SessionFeed) -> int:
    return feed._last_since_base_ms  # noqa: SLF001 - the invariant is about the last refresh
