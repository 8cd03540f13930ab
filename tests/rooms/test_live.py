"""Live-update correctness: every message and deletion reaches every client exactly once.

A fake index stands in for DynamoDB: each message or tombstone becomes visible to queries at a
chosen time (index lag), and each web server has its own clock (skew). Clients follow the browser's
protocol: send (watermark, refs held newer than watermark − overlap), apply what comes back.
"""

from __future__ import annotations

import bisect
import random
import threading
import time
from dataclasses import dataclass, field

import pytest

from rooms import live
from rooms.models import ChatMessage, Deletion
from rooms.timestamps import iso_from_ms
from tests.support.examples import examples

T0 = 1_700_000_000_000
OVERLAP = 10_000


@pytest.fixture(autouse=True)
def live_settings(settings):
    settings.CHAT_LIVE_OVERLAP_SECONDS = OVERLAP / 1000
    settings.CHAT_LIVE_REFRESH_SECONDS = 0  # every poll refreshes: the simulations control time
    settings.CHAT_LIVE_RESUME_MAX_SECONDS = 600


class World:
    """Real time, plus a room index where things appear late."""

    def __init__(self):
        self.now = T0
        self.messages: list[tuple[int, ChatMessage]] = []  # (visible from, message)
        self.deletions: list[tuple[int, Deletion]] = []
        self.removed_from_index: dict[str, int] = {}  # message id -> invisible from
        self.queries = 0

    def post(self, message_id: str, *, writer_skew: int = 0, lag: int = 0, created_ms: int | None = None) -> ChatMessage:
        created = self.now + writer_skew if created_ms is None else created_ms
        message = ChatMessage(room_id="r", author_id="a", sk=f"{iso_from_ms(created)}#{message_id}",
                              message_id=message_id, created_at=iso_from_ms(created), author_name="A", comment=message_id)
        self.messages.append((self.now + lag, message))
        return message

    def delete(self, message_id: str, *, writer_skew: int = 0, index_lag: int = 0) -> None:
        self.deletions.append((self.now, Deletion(room_id="r", message_id=message_id,
                                                  deleted_at=iso_from_ms(self.now + writer_skew))))
        self.removed_from_index[message_id] = self.now + index_lag

    def source(self, room_id: str, since_ms: int, limit: int | None = None):
        self.queries += 1
        messages = [m for visible, m in self.messages
                    if visible <= self.now and m.created_ms > since_ms
                    and self.removed_from_index.get(m.message_id, float("inf")) > self.now]
        deletions = [d for visible, d in self.deletions if visible <= self.now and d.deleted_ms >= since_ms]
        return sorted(messages, key=lambda m: m.order), deletions

    def server(self, skew: int = 0) -> live.RoomFeed:
        return live.RoomFeed("r", source=self.source, clock=lambda: self.now + skew)


class Held(dict):
    """ref -> event time, also kept in time order, so the refs newer than a time are found without
    walking every ref held: the simulations' tabs hold hundreds and ask on every poll (walking them
    was most of the room-tail simulation's time). An entry a later write or a pop left stale is
    skipped (the dict's own value is the truth)."""

    def __init__(self, *args, **kwargs):
        super().__init__()
        self._times: list[int] = []  # sorted; one per write, _refs[i] written at _times[i]
        self._refs: list[str] = []
        self.update(*args, **kwargs)

    def __setitem__(self, ref: str, at: int) -> None:
        super().__setitem__(ref, at)
        i = bisect.bisect_right(self._times, at)
        self._times.insert(i, at)
        self._refs.insert(i, ref)

    def update(self, *args, **kwargs) -> None:
        for ref, at in dict(*args, **kwargs).items():
            self[ref] = at

    def setdefault(self, ref: str, at: int):
        if ref not in self:
            self[ref] = at
        return self[ref]

    def newer_than(self, floor: int) -> frozenset[str]:
        i = bisect.bisect_right(self._times, floor)
        return frozenset(ref for ref, at in zip(self._refs[i:], self._times[i:]) if self.get(ref, at - 1) == at)


@dataclass
class Tab:
    """What the browser (static/js/chat) does with the responses: hold messages by id, drop deleted ones."""

    watermark: int
    held: dict[str, int] = field(default_factory=Held)  # ref -> event time
    received: list[str] = field(default_factory=list)  # every ref ever delivered, in order
    reloads: int = 0

    def seen(self) -> frozenset[str]:
        if type(self.held) is Held:
            return self.held.newer_than(self.watermark - OVERLAP)
        return frozenset(ref for ref, at in self.held.items() if at > self.watermark - OVERLAP)

    def poll(self, world: World, feed: live.RoomFeed) -> None:
        answer = feed.updates(watermark_ms=self.watermark, seen=self.seen())
        if answer is None:
            answer = live.direct_updates(room_id="r", watermark_ms=self.watermark, seen=self.seen(),
                                         source=world.source, clock=feed.clock)
        if answer.reload:
            self.reloads += 1
            return
        for event in answer.events:
            self.take(event)
        self.watermark = answer.watermark_ms

    def take(self, event: live.Event) -> None:
        self.received.append(event.ref)
        self.held[event.ref] = event.at_ms
        if event.is_deletion:
            self.held.pop(f"m-{event.message_id}", None)

    @property
    def messages(self) -> set[str]:
        return {ref[2:] for ref in self.held if ref.startswith("m-")}

    def assert_exactly_once(self):
        assert len(self.received) == len(set(self.received)), f"duplicates: {self.received}"


def run(world: World, tabs_and_feeds, seconds: int, step: int = 1000):
    for _ in range(seconds * 1000 // step):
        world.now += step
        for tab, feed in tabs_and_feeds:
            tab.poll(world, feed)


def test_two_messages_sharing_a_timestamp_both_arrive_once():
    world, server = World(), None
    server = world.server()
    tab = Tab(watermark=world.now)
    same = world.now + 500
    world.now += 500
    world.post("aaaaaaaaaaaaaaaaaaa1", created_ms=same)
    run(world, [(tab, server)], 1)
    world.post("aaaaaaaaaaaaaaaaaaa2", created_ms=same, lag=2000)  # same ms, visible later
    run(world, [(tab, server)], 5)
    assert tab.messages == {"aaaaaaaaaaaaaaaaaaa1", "aaaaaaaaaaaaaaaaaaa2"}
    tab.assert_exactly_once()


def test_a_lagging_index_delays_but_never_loses_a_message():
    world = World()
    server = world.server()
    tab = Tab(watermark=world.now)
    world.post("lagginglagginglaggi1", lag=4000)  # the index hides it for 4 s
    run(world, [(tab, server)], 3)
    assert tab.messages == set()
    run(world, [(tab, server)], 3)
    assert tab.messages == {"lagginglagginglaggi1"}
    tab.assert_exactly_once()


def test_clocks_two_seconds_apart_lose_and_duplicate_nothing():
    """Server B's clock is 2 s behind A's. A's feed has already seen messages newer than the one
    B writes; tabs alternate between the servers."""
    world = World()
    server_a, server_b = world.server(skew=0), world.server(skew=-2000)
    tab = Tab(watermark=world.now)
    world.post("fromAfromAfromAfromA1")
    run(world, [(tab, server_a)], 2)
    world.post("fromBfromBfromBfromB1", writer_skew=-2000)  # CreatedAt older than what A has seen
    run(world, [(tab, server_a)], 1)
    run(world, [(tab, server_b)], 1)
    run(world, [(tab, server_a)], 1)
    assert tab.messages == {"fromAfromAfromAfromA1", "fromBfromBfromBfromB1"}
    tab.assert_exactly_once()


def test_connection_drop_resumes_with_the_old_cursor_exactly_once():
    world = World()
    server = world.server()
    tab = Tab(watermark=world.now)
    world.post("beforedropbeforedrop")
    run(world, [(tab, server)], 2)
    cursor = tab.watermark
    for n in range(5):  # 60 s offline: longer than the feed remembers
        world.now += 12_000
        world.post(f"whileoffline{n:08d}")
    world.delete("beforedropbeforedrop")
    queries = world.queries
    tab.poll(world, server)  # resumes with its old cursor
    assert tab.watermark > cursor
    assert tab.messages == {f"whileoffline{n:08d}" for n in range(5)}
    assert world.queries - queries >= 1
    run(world, [(tab, server)], 3)
    tab.assert_exactly_once()


def test_a_client_gone_too_long_is_told_to_reload():
    world = World()
    server = world.server()
    tab = Tab(watermark=world.now)
    world.now += 601_000
    tab.poll(world, server)
    assert tab.reloads == 1


def test_deletions_reach_every_tab_and_the_message_does_not_come_back():
    world = World()
    server = world.server()
    early, late = Tab(watermark=world.now), Tab(watermark=world.now)
    world.post("doomeddoomeddoomed01")
    run(world, [(early, server)], 1)
    assert early.messages == {"doomeddoomeddoomed01"}
    world.delete("doomeddoomeddoomed01", index_lag=3000)  # the index still shows it for 3 s
    run(world, [(early, server), (late, server)], 5)
    assert early.messages == set() and late.messages == set()
    assert "m-doomeddoomeddoomed01" not in late.received
    early.assert_exactly_once()
    late.assert_exactly_once()


def test_a_fresh_page_is_served_from_memory():
    world = World()
    server = world.server()
    run(world, [(Tab(watermark=world.now), server)], 1)
    queries = world.queries
    page_rendered_at = world.now - 5000  # the page was rendered a few seconds ago
    answer = server.updates(watermark_ms=page_rendered_at, seen=frozenset())
    assert answer is not None and world.queries - queries <= 1


@pytest.mark.parametrize("seed", range(examples(12)))  # make test-fast: 5
def test_randomised_schedules_deliver_everything_exactly_once(seed):
    """Two servers 2 s apart, index lag up to 3 s, same-millisecond posts, deletions, tabs that
    drop off and come back and switch servers: every tab ends with exactly the live messages."""
    rng = random.Random(seed)
    world = World()
    servers = [world.server(skew=0), world.server(skew=-2000), world.server(skew=1500)]
    tabs = [Tab(watermark=world.now) for _ in range(4)]
    offline_until = [0] * len(tabs)
    alive: set[str] = set()
    for step in range(400):
        world.now += rng.choice([50, 200, 400, 1000])
        for _ in range(rng.choice([0, 0, 1, 2])):
            message_id = f"s{seed:02d}m{step:04d}{rng.randrange(10**6):06d}x"[:20].ljust(20, "x")
            if message_id in alive:
                continue
            world.post(message_id, writer_skew=rng.choice([0, -2000, 1500]), lag=rng.randrange(3000),
                       created_ms=world.now if rng.random() < 0.2 else None)
            alive.add(message_id)
        if alive and rng.random() < 0.05:
            victim = rng.choice(sorted(alive))
            world.delete(victim, writer_skew=rng.choice([0, -2000]), index_lag=rng.randrange(3000))
            alive.discard(victim)
        for n, tab in enumerate(tabs):
            if world.now < offline_until[n]:
                continue
            if rng.random() < 0.01:
                offline_until[n] = world.now + rng.choice([5_000, 45_000])
                continue
            tab.poll(world, rng.choice(servers))
    world.now += 10_000  # let every lag expire, then everyone polls once more
    for tab in tabs:
        tab.poll(world, rng.choice(servers))
        tab.poll(world, rng.choice(servers))
        assert tab.messages == alive
        assert tab.reloads == 0
        messages_received = [ref for ref in tab.received if ref.startswith("m-")]
        assert len(messages_received) == len(set(messages_received)), "a message was delivered twice"


def test_feed_refreshes_once_per_interval_however_many_tabs_poll(settings):
    """20 tabs polling concurrently: one DynamoDB refresh (two Queries' worth) per interval."""
    settings.CHAT_LIVE_REFRESH_SECONDS = 0.5
    calls = []
    gate = threading.Lock()

    def slow_source(room_id, since_ms, limit=None):
        with gate:
            calls.append(since_ms)
        time.sleep(0.05)
        return [], []

    feed = live.RoomFeed("r", source=slow_source)
    barrier = threading.Barrier(20)
    unanswered = []

    def tab():
        barrier.wait()
        for _ in range(3):
            if feed.updates(watermark_ms=live.now_ms(), seen=frozenset()) is None:
                unanswered.append(1)
            time.sleep(0.02)

    threads = [threading.Thread(target=tab) for _ in range(20)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    assert unanswered == []  # every poll got an answer from memory, none fell through to DynamoDB
    assert len(calls) <= 1 + int(elapsed / 0.5), (len(calls), elapsed)
    assert len(calls) < 20


def test_a_failed_refresh_is_not_retried_by_every_poller(settings):
    settings.CHAT_LIVE_REFRESH_SECONDS = 60
    world = World()
    feed = world.server()
    assert feed.updates(watermark_ms=world.now, seen=frozenset()) is not None

    def down(*args, **kwargs):
        raise ConnectionError("DynamoDB down")

    feed.source = down
    feed.refreshed_at = float("-inf")
    with pytest.raises(ConnectionError):
        feed.updates(watermark_ms=world.now, seen=frozenset())
    for _ in range(5):  # within the interval: answered from what the feed knew
        assert feed.updates(watermark_ms=world.now, seen=frozenset()) is not None
