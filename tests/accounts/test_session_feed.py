"""The session feed as pure logic (accounts.session_feed.SessionFeed): an injected clock and an
in-memory table of events, written with the writers' own (skewed) clocks and made visible only
when their write finishes, as on DynamoDB with a consistent Query."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from accounts.session_feed import MAX_GAP_MS, OVERLAP_MS, FeedEvent, SessionFeed
from chatsite import keys

REFRESH_S = 1.0


@dataclass
class Clock:
    now: int = 1_800_000_000_000

    def __call__(self) -> int:
        return self.now


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


@pytest.fixture
def feed(clock, table):
    return SessionFeed(read=table.read, clock_ms=clock, refresh_seconds=lambda: REFRESH_S)


def test_a_change_written_after_a_read_is_seen_by_the_next_refresh(feed, table, clock):
    assert feed.refresh_if_due() == []
    read_began = clock.now + 10
    clock.now += 500
    table.write("suuid#a", stamp_ms=clock.now, visible_at=clock.now + 20, token="t1")
    clock.now += 100
    assert feed.covers(read_began)  # the last refresh is 0.6 s old: the entry may serve
    clock.now += 400
    assert not feed.covers(read_began)  # a second old: it must refresh first
    assert feed.refresh_if_due() == ["suuid#a"]
    assert feed.covers(read_began)


def test_at_most_one_read_per_interval(feed, table, clock):
    for _ in range(50):
        feed.refresh_if_due()
        clock.now += 30
    assert table.reads == 2  # 1.5 s of calls: the first, and one a second later


def test_a_writer_whose_clock_lags_by_less_than_the_overlap_is_still_seen(feed, table, clock):
    feed.refresh_if_due()
    clock.now += 1000
    table.write("suuid#late", stamp_ms=clock.now - OVERLAP_MS + 1500, visible_at=clock.now, token="t1")
    assert feed.refresh_if_due() == ["suuid#late"]


def test_an_event_is_applied_once_though_overlapping_reads_see_it_again(feed, table, clock):
    feed.refresh_if_due()
    table.write("suuid#a", stamp_ms=clock.now, visible_at=clock.now, token="t1")
    clock.now += 1000
    assert feed.refresh_if_due() == ["suuid#a"]
    clock.now += 1000
    assert feed.refresh_if_due() == []


def test_this_processs_own_announcements_are_not_applied_again(feed, table, clock):
    feed.refresh_if_due()
    feed.wrote("mine", clock.now)
    table.write("suuid#a", stamp_ms=clock.now, visible_at=clock.now, token="mine")
    table.write("suuid#b", stamp_ms=clock.now, visible_at=clock.now, token="theirs")
    clock.now += 1000
    assert feed.refresh_if_due() == ["suuid#b"]


def test_entries_read_before_coverage_began_never_use_it(feed, clock):
    read_began = clock.now - 1
    assert feed.refresh_if_due() == []
    assert not feed.covers(read_began)
    assert feed.covers(clock.now)


def test_a_gap_longer_than_the_limit_starts_coverage_again(feed, clock):
    feed.refresh_if_due()
    read_began = clock.now + 5
    clock.now += MAX_GAP_MS + 1
    assert feed.refresh_if_due() == []
    assert not feed.covers(read_began)  # changes in the gap may be beyond the query's reach


def test_a_failed_read_extends_nothing(feed, table, clock):
    feed.refresh_if_due()
    read_began = clock.now
    table.down = True
    clock.now += 1000
    assert feed.refresh_if_due() is None
    assert not feed.covers(read_began)
    table.down = False
    table.write("suuid#a", stamp_ms=clock.now, visible_at=clock.now, token="t1")
    clock.now += 10
    assert feed.refresh_if_due() == ["suuid#a"]  # resumed from the last good refresh: nothing skipped
    assert feed.covers(read_began)


def test_off_when_the_interval_is_zero(clock, table):
    assert not SessionFeed(read=table.read, clock_ms=clock, refresh_seconds=lambda: 0).enabled()


@pytest.mark.parametrize("seed", range(40))
def test_simulation_no_cached_entry_outlives_a_change_by_more_than_the_interval(seed):
    """Random reads, writes with skewed clocks and slow puts, and refreshes. Whenever the feed says
    an entry may serve, every change to its partition finished before the last refresh began and
    after the entry's read began has been reported: so a session ended elsewhere serves at most
    REFRESH_S after its announcement finished."""
    rng = random.Random(seed)
    clock = Clock()
    table = Table(clock)
    feed = SessionFeed(read=table.read, clock_ms=clock, refresh_seconds=lambda: REFRESH_S)
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
            changed = feed.refresh_if_due()
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
    return feed._last_refresh_ms  # noqa: SLF001 - the invariant is about the last refresh
