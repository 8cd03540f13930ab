"""Deepened tails lose and double nothing: the simulation of tests/rooms/test_room_tail_simulation.py
(index lag, skewed clocks, deletions the index still shows for a while, feeds that start over)
with tails deepened at random by the Query for the messages older than their oldest (as a hot
room's many-unread page does), and brought back to the default at random (the room leaving the
hot set); tabs open the whole deepened tail and follow the live cursor from its watermark."""

from __future__ import annotations

import random
import types

import pytest

from rooms import live, room_tail
from tests.rooms.test_live import OVERLAP
from tests.rooms.test_room_tail_simulation import PAGE, BrowserTab, TailWorld, open_page
from tests.rooms.test_room_tail_simulation import simulation_settings  # noqa: F401 - the autouse fixture
from tests.support.examples import examples


class DeepWorld(TailWorld):
    def older(self, *, room_id: str, oldest, limit: int):
        """selectors.room_history_before on the lagging index: the ``limit`` newest before ``oldest``."""
        self.queries += 1
        shown = [m for visible, m in self.messages
                 if visible <= self.now and self.removed_from_index.get(m.message_id, float("inf")) > self.now
                 and m.order < oldest.order]
        return sorted(shown, key=lambda m: m.order, reverse=True)[:limit]


def open_deep_page(world: DeepWorld, feed, tail, rng) -> tuple[BrowserTab, tuple | None] | None:
    view = tail.fresh_view(feed)
    if view is None or view.whole:
        return None
    if not tail.deepened(len(view.items) + rng.randrange(1, 4 * PAGE), before=world.older):
        return None
    deep = tail.view()
    if deep is None:
        return None
    tab = BrowserTab(watermark=deep.watermark_ms)
    for message in deep.items:
        tab.held[f"m-{message.message_id}"] = message.created_ms
        tab.received.append(f"m-{message.message_id}")
    return tab, (None if deep.whole or not deep.items else deep.items[0].order)


@pytest.mark.parametrize("seed", range(examples(12)))  # make test-fast: 5
def test_deepened_tails_then_live_updates_hold_every_message_once(seed, monkeypatch):
    rng = random.Random(1000 + seed)
    world = DeepWorld()
    monkeypatch.setattr(live, "time", types.SimpleNamespace(monotonic=lambda: world.now / 1000))
    processes = [world.process(skew) for skew in (0, -2000, 1500)]
    alive: set[str] = set()
    order: dict[str, tuple] = {}
    tabs: list[tuple[BrowserTab, tuple | None]] = []
    deep_pages = 0
    for step in range(500):
        world.now += rng.choice([50, 200, 400, 1000, 3000])
        if rng.random() < 0.02:
            world.now += rng.choice([20_000, 40_000])
        for _ in range(rng.choice([0, 0, 1, 2])):
            message_id = f"d{seed:02d}m{step:04d}{rng.randrange(10**6):06d}x"[:20].ljust(20, "x")
            if message_id in alive:
                continue
            lag = rng.randrange(6400) if rng.random() < 0.3 else rng.randrange(3000)
            message = world.post(message_id, writer_skew=rng.choice([0, -2000, 1500]), lag=lag,
                                 created_ms=world.now if rng.random() < 0.2 else None)
            alive.add(message_id)
            order[message_id] = message.order
            if rng.random() < 0.3:
                feed, _tail = rng.choice(processes)
                feed.add_local(live.Event(at_ms=message.created_ms, message_id=message_id, message=message))
        if alive and rng.random() < 0.1:
            victim = rng.choice(sorted(alive))
            world.delete(victim, writer_skew=rng.choice([0, -2000]), index_lag=rng.randrange(3000))
            alive.discard(victim)
            if rng.random() < 0.5:
                feed, _tail = rng.choice(processes)
                feed.add_local(live.Event(at_ms=world.deletions[-1][1].deleted_ms, message_id=victim))
        for feed, _tail in processes:
            if rng.random() < 0.3:
                feed.refresh_now()
        for _feed, tail in processes:
            if rng.random() < 0.03:
                tail.undeepened()  # the room left the hot set
        if rng.random() < 0.3:
            feed, tail = rng.choice(processes)
            opened = open_deep_page(world, feed, tail, rng) if rng.random() < 0.6 else None
            deep_pages += opened is not None
            tabs.append(opened or open_page(world, feed, tail))
        for tab, _oldest in tabs:
            if rng.random() < 0.7:
                tab.poll(world, rng.choice(processes)[0])
    world.now += 2 * OVERLAP
    for tab, oldest in tabs:
        for _ in range(2):
            tab.poll(world, rng.choice(processes)[0])
        assert tab.reloads == 0
        assert tab.messages <= alive, "a deleted message is still shown"
        owed = {m for m in alive if oldest is None or order[m] >= oldest}
        assert owed <= tab.messages, f"lost: {sorted(owed - tab.messages)}"
        tab.assert_exactly_once()
    assert deep_pages > 10
