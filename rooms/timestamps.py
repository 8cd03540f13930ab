"""Message times: ISO 8601 UTC with milliseconds ("2023-04-01T14:00:00.001Z"), and epoch ms.

The ISO form is what DynamoDB stores (it sorts as text); epoch milliseconds are what live-update
cursors compare. ``now_ms`` is the one clock rooms code reads, so tests can move it.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _test_skew_ms() -> int:
    """Tests only: CHAT_TEST_CLOCK_SKEW_MS moves this process's clock by that many ms, so two local
    servers disagree the way real hosts' clocks can (tests/integration/test_stream_faults.py).
    Ignored unless DJANGO_SECURE=0 (plain http on loopback), which no deployment behind TLS sets."""
    if os.environ.get("DJANGO_SECURE") != "0":
        return 0
    return int(os.environ.get("CHAT_TEST_CLOCK_SKEW_MS", "0") or 0)


_SKEW_MS = _test_skew_ms()


def now_ms() -> int:
    return time.time_ns() // 1_000_000 + _SKEW_MS


def iso_from_ms(epoch_ms: int) -> str:
    moment = _EPOCH + timedelta(milliseconds=epoch_ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def ms_from_iso(value: str) -> int:
    """Inverse of iso_from_ms. Raises ValueError for anything else."""
    if len(value) != 24 or not value.endswith("Z") or value[10] != "T" or value[19] != ".":
        raise ValueError(f"not a UTC timestamp like 2023-04-01T14:00:00.001Z: {value!r}")
    moment = datetime.fromisoformat(value)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def datetime_from_iso(value: str) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms_from_iso(value))
