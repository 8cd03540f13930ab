"""Is a function's work linear in its input? Measured as CPU time at two sizes far apart.

A factor of 8 between the sizes puts linear work at ~8x and quadratic at ~64x, so the bound
(24x by default) stays far from both: a busy shared host moves single timings by tens of
percent, which a factor-of-2 test (linear 2x, quadratic 4x) cannot absorb.
"""

from __future__ import annotations

import time
from typing import Callable

FACTOR = 8
BOUND = 24.0


def growth(work: Callable[[object], object], small: object, large: object, runs: int = 5) -> float:
    """CPU time of ``work(large)`` over ``work(small)``, best of ``runs`` each, interleaved so
    that a slow spell on the host lands on both sizes alike."""
    best_small = best_large = float("inf")
    for _ in range(runs):
        for argument, is_large in ((small, False), (large, True)):
            started = time.process_time()
            work(argument)
            seconds = time.process_time() - started
            if is_large:
                best_large = min(best_large, seconds)
            else:
                best_small = min(best_small, seconds)
    return best_large / max(best_small, 1e-5)


def assert_linear(work: Callable[[object], object], make: Callable[[int], object], size: int,
                  name: str = "", bound: float = BOUND) -> None:
    """Fail when ``work`` on ``make(size * FACTOR)`` costs ``bound`` times ``make(size)`` or more."""
    ratio = growth(work, make(size), make(size * FACTOR))
    assert ratio < bound, f"{name}: {FACTOR}x the input cost {ratio:.1f}x the CPU (linear ~{FACTOR}x)"
