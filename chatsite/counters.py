"""Fixed-window counters in DynamoDB (sign-in throttling, posting rate limits).

One item per (scope, subject, window), bumped with an atomic UpdateItem ADD, so a limit holds
across gunicorn workers and hosts. Items carry a TTL so they clean themselves up on AWS; on
dynalite (no TTL) they are tiny and keyed by window, so stale ones are never read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist

from accounts.models import CounterRecord
from chatsite import keys


@dataclass(frozen=True)
class Window:
    count: int
    limit: int
    retry_after: int  # seconds until this window ends

    @property
    def exceeded(self) -> bool:
        return self.count > self.limit

    @property
    def at_limit(self) -> bool:
        return self.count >= self.limit


def _window_start(window_seconds: int, now: float) -> int:
    return int(now) - int(now) % window_seconds


def hit(*, scope: str, subject: str, window_seconds: int, limit: int, now: float | None = None) -> Window:
    """Count one event (one UpdateItem) and return the window's new state."""
    now = time.time() if now is None else now
    start = _window_start(window_seconds, now)
    record = CounterRecord(keys.counter_pk(scope, subject), keys.counter_sk(start))
    record.update(actions=[
        CounterRecord.count.add(1),
        CounterRecord.expires_at.set(start + window_seconds * 2),
    ])
    return Window(count=int(record.count), limit=limit, retry_after=start + window_seconds - int(now))


def peek(*, scope: str, subject: str, window_seconds: int, limit: int, now: float | None = None) -> Window:
    """Read the current window without counting (one GetItem)."""
    now = time.time() if now is None else now
    start = _window_start(window_seconds, now)
    try:
        count = int(CounterRecord.get(keys.counter_pk(scope, subject), keys.counter_sk(start)).count)
    except DoesNotExist:
        count = 0
    return Window(count=count, limit=limit, retry_after=start + window_seconds - int(now))
