"""Fixed-window counters in DynamoDB: the limits on sign-in, sign-up, device-link codes, room
creation and live-update catch-ups (posting has its own guard, rooms/post_guard.py).

One item per (scope, subject, window). An attempt is *reserved* before any work is done, with one
conditional UpdateItem (`ADD count 1` only if `count < limit`), so parallel attempts on any
number of workers and hosts can never get more than ``limit`` through: DynamoDB applies
conditional updates to one item one at a time. Reading the count first and adding after the work
(check-then-act) let 16 parallel guesses through a limit of 5.

Items carry a TTL so they clean themselves up on AWS; on dynalite (no TTL) they are tiny and keyed
by window, so stale ones are never read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.models import Model

from chatsite import keys
from chatsite.dynamodb import CHAT, CHAT_TTL_ATTRIBUTE, bind_to, is_conditional_check_failed


@bind_to(CHAT)
class CounterRecord(Model):
    """`Counter:<scope>:<subject>` / `window#<start>`: one window's count, bumped with UpdateItem ADD."""

    class Meta:
        table_name = "chat"

    PK = UnicodeAttribute(hash_key=True)
    SK = UnicodeAttribute(range_key=True)
    count = NumberAttribute(default=0)
    expires_at = NumberAttribute(attr_name=CHAT_TTL_ATTRIBUTE)


class LimitReached(Exception):
    """The window is full: nothing was counted and no work should be done."""

    def __init__(self, retry_after: int):
        super().__init__(f"limit reached; retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Reservation:
    """One counted attempt. ``count`` includes it (and any attempts still in flight)."""

    scope: str
    subject: str
    window_start: int
    window_seconds: int
    count: int
    limit: int
    retry_after: int  # seconds until this window ends

    @property
    def at_limit(self) -> bool:
        return self.count >= self.limit


def _window_start(window_seconds: int, now: float) -> int:
    return int(now) - int(now) % window_seconds


def _record(scope: str, subject: str, start: int) -> CounterRecord:
    return CounterRecord(keys.counter_pk(scope, subject), keys.counter_sk(start))


def reserve(*, scope: str, subject: str, window_seconds: int, limit: int, now: float | None = None) -> Reservation:
    """Count one attempt if the window has room: one UpdateItem, `ADD count :1` with the condition
    `attribute_not_exists(count) OR count < :limit`. Raises LimitReached (nothing written) if not."""
    now = time.time() if now is None else now
    start = _window_start(window_seconds, now)
    retry_after = start + window_seconds - int(now)
    record = _record(scope, subject, start)
    try:
        record.update(actions=[CounterRecord.count.add(1), CounterRecord.expires_at.set(start + window_seconds * 2)],
                      condition=CounterRecord.count.does_not_exist() | (CounterRecord.count < limit))
    except UpdateError as exc:
        if is_conditional_check_failed(exc):
            raise LimitReached(retry_after) from None
        raise
    return Reservation(scope=scope, subject=subject, window_start=start, window_seconds=window_seconds,
                       count=int(record.count), limit=limit, retry_after=retry_after)


def give_back(reservation: Reservation) -> None:
    """Un-count a reserved attempt that should not count (a success): one UpdateItem `ADD count :-1`
    on the window it was counted in, even if a new window has started since."""
    start = reservation.window_start
    _record(reservation.scope, reservation.subject, start).update(actions=[
        CounterRecord.count.add(-1),
        CounterRecord.expires_at.set(start + reservation.window_seconds * 2),
    ])
