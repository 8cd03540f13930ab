"""Registry of per-process caches, so tests and tools can clear them all at once.

Nothing here is state another host needs: every cache is a copy of DynamoDB data with a short
lifetime (see docs/live-updates.md).
"""

from __future__ import annotations

from typing import Callable

_clearers: list[Callable[[], None]] = []


def register(clear: Callable[[], None]) -> Callable[[], None]:
    _clearers.append(clear)
    return clear


def clear_all() -> None:
    for clear in _clearers:
        clear()
