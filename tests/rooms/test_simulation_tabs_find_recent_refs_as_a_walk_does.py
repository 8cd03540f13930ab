"""The live simulations' tabs find the refs they hold newer than the overlap through a time-ordered
index (tests/rooms/test_live.py, Held): the same set a walk over every ref gives, after writes,
rewrites to an earlier or later time, pops and deletes, for floors below, between and above."""

from __future__ import annotations

import random

import pytest

from tests.rooms.test_live import Held, Tab


def _walk(held: dict, floor: int) -> frozenset:
    return frozenset(ref for ref, at in held.items() if at > floor)


@pytest.mark.parametrize("seed", range(5))
def test_newer_than_is_what_a_walk_over_every_ref_finds(seed):
    rng = random.Random(seed)
    held, plain = Held(), {}
    for _ in range(600):
        ref = f"m-{rng.randrange(60)}"
        action = rng.random()
        if action < 0.6:
            at = rng.randrange(1000)
            held[ref] = plain[ref] = at
        elif action < 0.8:
            assert held.pop(ref, None) == plain.pop(ref, None)
        elif action < 0.85 and ref in plain:
            del held[ref], plain[ref]
        else:
            assert held.setdefault(ref, 5) == plain.setdefault(ref, 5)
        assert dict(held) == plain
        for floor in (-1, rng.randrange(1000), 999):
            assert held.newer_than(floor) == _walk(plain, floor)


def test_a_tab_sends_the_same_seen_refs_either_way():
    tab = Tab(watermark=50_000, held=Held({"m-a": 30_000, "m-b": 41_000, "d-c": 49_000}))
    tab.held["m-a"] = 45_000  # written again, later: now within the overlap
    tab.held.pop("m-b")
    assert tab.seen() == Tab(watermark=50_000, held=dict(tab.held)).seen() == frozenset({"m-a", "d-c"})
