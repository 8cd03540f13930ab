"""Pages served from a room's tail lose and double nothing: the live-update simulation of
tests/rooms/test_live.py (index lag, skewed server clocks, deletions, same-millisecond posts, feeds
that go idle and start over) with tabs that open pages from memory on random servers and then
follow the live cursor from the page's watermark."""

from __future__ import annotations

import random
import types

import pytest

from rooms import live, room_tail
from tests.rooms.test_live import OVERLAP, T0, Tab, World
from tests.support.examples import examples

PAGE = 5  # a small page, so the tails fill, trim and give up often


@pytest.fixture(autouse=True)
def simulation_settings(settings, monkeypatch):
    settings.CHAT_LIVE_OVERLAP_SECONDS = OVERLAP / 1000
    settings.CHAT_LIVE_REFRESH_SECONDS = 1.0
    settings.CHAT_LIVE_RESUME_MAX_SECONDS = 600
    settings.CHAT_HISTORY_PAGE_SIZE = PAGE
    settings.CHAT_ROOM_TAIL_MAX_AGE_SECONDS = 300


class BrowserTab(Tab):
    """As static/js/chat/merge.js: a message whose deletion the tab holds is never added again (a
    server whose feed has not refreshed since the deletion may still send it)."""

    def take(self, event: live.Event) -> None:
        if event.is_deletion or f"d-{event.message_id}" not in self.held:
            super().take(event)


class TailWorld(World):
    def index(self, *, room_id: str, limit: int):
        """room history's Query: the newest ``limit`` messages the (lagging) index shows now."""
        self.queries += 1
        shown = [m for visible, m in self.messages
                 if visible <= self.now and self.removed_from_index.get(m.message_id, float("inf")) > self.now]
        return sorted(shown, key=lambda m: m.order, reverse=True)[:limit]

    def process(self, skew: int = 0) -> tuple[live.RoomFeed, room_tail.RoomTail]:
        clock = lambda: self.now + skew  # noqa: E731
        feed = live.RoomFeed("r", source=self.source, clock=clock)
        tail = room_tail.RoomTail("r", "created", loader=self.index, clock=clock)
        feed.follower = tail
        return feed, tail


def open_page(world: TailWorld, feed: live.RoomFeed, tail: room_tail.RoomTail) -> tuple[BrowserTab, tuple | None]:
    """A tab opening the room page on this process: the page's messages, then the live cursor."""
    view = tail.fresh_view(feed)
    if view is None:  # the tail gave up while loading: the page reads the index, as room_newest_page does
        watermark = feed.clock()
        newest = world.index(room_id="r", limit=PAGE + 1)
        view = room_tail.TailView(items=sorted(newest, key=lambda m: m.order), whole=len(newest) <= PAGE,
                                  watermark_ms=watermark)
    page = room_tail.newest_page(view, "r")
    tab = BrowserTab(watermark=view.watermark_ms)
    for message in page.items:
        tab.held[f"m-{message.message_id}"] = message.created_ms
        tab.received.append(f"m-{message.message_id}")
    oldest = page.items[0].order if page.next_cursor and page.items else None
    return tab, oldest


@pytest.mark.parametrize("seed", range(examples(12)))  # make test-fast: 5
def test_pages_from_memory_then_live_updates_hold_every_message_once(seed, monkeypatch):
    rng = random.Random(seed)
    world = TailWorld()
    monkeypatch.setattr(live, "time", types.SimpleNamespace(monotonic=lambda: world.now / 1000))
    processes = [world.process(skew) for skew in (0, -2000, 1500)]
    alive: set[str] = set()
    order: dict[str, tuple] = {}
    tabs: list[tuple[BrowserTab, tuple | None]] = []
    from_memory = loads = 0
    for step in range(500):
        world.now += rng.choice([50, 200, 400, 1000, 3000])
        if rng.random() < 0.02:
            world.now += rng.choice([20_000, 40_000])  # nobody looks for a while: feeds start over
        for _ in range(rng.choice([0, 0, 1, 2])):
            message_id = f"s{seed:02d}m{step:04d}{rng.randrange(10**6):06d}x"[:20].ljust(20, "x")
            if message_id in alive:
                continue
            # Up to 9.9 s late for a server 1.5 s fast (a writer's clock 2 s slow, 6.4 s of lag):
            # within the overlap, as the protocol assumes, and close to it, where a wrong watermark
            # loses messages.
            lag = rng.randrange(6400) if rng.random() < 0.3 else rng.randrange(3000)
            message = world.post(message_id, writer_skew=rng.choice([0, -2000, 1500]), lag=lag,
                                 created_ms=world.now if rng.random() < 0.2 else None)
            alive.add(message_id)
            order[message_id] = message.order
            if rng.random() < 0.3:  # written by one of the processes: its feed and tail are told at once
                feed, _tail = rng.choice(processes)
                feed.add_local(live.Event(at_ms=message.created_ms, message_id=message_id, message=message))
        if alive and rng.random() < 0.06:
            victim = rng.choice(sorted(alive))
            world.delete(victim, writer_skew=rng.choice([0, -2000]), index_lag=rng.randrange(3000))
            alive.discard(victim)
            if rng.random() < 0.3:  # as the process that wrote the deletion does: the same DeletedAt
                feed, _tail = rng.choice(processes)
                feed.add_local(live.Event(at_ms=world.deletions[-1][1].deleted_ms, message_id=victim))
        for feed, _tail in processes:  # stream refreshers, on some processes at some times
            if rng.random() < 0.3:
                feed.refresh_now()
        if rng.random() < 0.25:
            feed, tail = rng.choice(processes)
            before = world.queries
            tabs.append(open_page(world, feed, tail))
            from_memory += world.queries == before
            loads += world.queries > before
        for tab, _oldest in tabs:
            if rng.random() < 0.7:
                tab.poll(world, rng.choice(processes)[0])
    world.now += 2 * OVERLAP  # every lag over: each tab polls twice more
    for tab, oldest in tabs:
        for _ in range(2):
            tab.poll(world, rng.choice(processes)[0])
        assert tab.reloads == 0
        assert tab.messages <= alive, "a deleted message is still shown"
        owed = {m for m in alive if oldest is None or order[m] >= oldest}
        assert owed <= tab.messages, f"lost: {sorted(owed - tab.messages)}"
        tab.assert_exactly_once()
    assert from_memory > 10 and loads > 3  # both paths ran


def test_the_simulation_catches_a_tail_that_skips_a_refresh(monkeypatch):
    """The continuity check matters: a tail that took a refresh reaching back less far than its
    own window would miss a message, and a tab opening it would never get it."""
    world = TailWorld()
    monkeypatch.setattr(live, "time", types.SimpleNamespace(monotonic=lambda: world.now / 1000))
    feed, tail = world.process()
    world.post("earlyearlyearlyearl1", lag=0)
    world.now += 1000
    tail.fresh_view(feed)  # loaded at T0 + 1 s
    world.post("hiddenhiddenhiddenh1", lag=2000, created_ms=world.now)  # visible 2 s late
    world.now += 25_000
    feed.refresh_now()  # the feed's first refresh reads back 45 s: the tail follows it
    assert "hiddenhiddenhiddenh1" in {m.message_id for m in tail.view().items}
    world.post("latelatelatelatelat1", lag=0)
    world.now += 60_000  # the feed starts over past the tail's window
    feed.refresh_now()
    assert tail.view() is None  # given up, not served with a hole
    tab, _ = open_page(world, feed, tail)  # loaded again
    assert {"earlyearlyearlyearl1", "hiddenhiddenhiddenh1", "latelatelatelatelat1"} <= tab.messages
    assert T0 < tab.watermark


def test_a_page_from_memory_carries_the_tails_watermark_so_a_late_message_still_arrives(monkeypatch):
    """A message 9.5 s late (within the overlap) becomes visible just after the tail's last
    refresh; the page, served 0.9 s later from memory, must not claim to hold it: its watermark is
    the refresh's, and the tab's first poll brings the message."""
    world = TailWorld()
    monkeypatch.setattr(live, "time", types.SimpleNamespace(monotonic=lambda: world.now / 1000))
    feed, tail = world.process()
    world.post("firstfirstfirstfirst", lag=0)
    world.now += 1000
    tail.fresh_view(feed)
    world.now += 20_000
    late = world.now - OVERLAP + 500
    world.post("latelatelatelatelat2", created_ms=late, lag=100)  # visible 9.6 s after its time
    feed.refresh_now()  # the tail is synced a moment before it shows
    world.now += 900
    tab, _ = open_page(world, feed, tail)  # fresh: from memory, without the late message
    assert "latelatelatelatelat2" not in tab.messages
    world.now += 1000
    tab.poll(world, feed)
    assert "latelatelatelatelat2" in tab.messages
    tab.assert_exactly_once()
