"""User items by id, per process: what request.user is built from (accounts.middleware.get_user).

Every service that changes a user calls user_cache.forget(), so the process making a change never
serves the old item again, and every other process within ACCOUNTS_USER_RECHECK_SECONDS.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

from django.conf import settings
from django.utils.crypto import constant_time_compare

from accounts import selectors
from accounts.auth import session_auth_hash
from accounts.models import UserRecord
from chatsite import caches

T = TypeVar("T")


@dataclass(frozen=True)
class UserSnapshot:
    """What request.user needs from the user item (the password only as its session_auth_hash)."""

    user_id: str
    username: str
    display_name: str
    is_active: bool
    is_staff: bool
    auth_hash: str

    @classmethod
    def of(cls, record: UserRecord) -> UserSnapshot:
        return cls(user_id=record.user_id, username=record.username, display_name=record.display_name,
                   is_active=bool(record.is_active), is_staff=bool(record.is_staff),
                   auth_hash=session_auth_hash(record))

    def admits(self, session_hash) -> bool:
        return self.is_active and isinstance(session_hash, str) and constant_time_compare(session_hash, self.auth_hash)


class UserCache:
    """User items by id, per process, each for ACCOUNTS_USER_RECHECK_SECONDS from when its read began.

    forget() (called by every service that changes a user) bumps a generation: a read that was
    under way meanwhile is not cached, since it may predate the change. So on the process that
    made a change, no request sees the old item once the change returns; elsewhere, for at most
    the recheck interval.
    """

    MAX_ENTRIES = 10_000  # a bound on memory; past it, expired entries go, then everything

    def __init__(self):
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, UserSnapshot | None]] = {}
        self._generation = 0

    def get(self, user_id: str, *, fresh: bool = False) -> tuple[UserSnapshot | None, bool]:
        """The user (None if there is no such item) and whether it was read just now."""
        now = time.monotonic()
        with self._lock:
            entry = None if fresh else self._entries.get(user_id)
            generation = self._generation
        if entry is not None and entry[0] > now:
            return entry[1], False
        record = selectors.user_get(user_id=user_id)
        return self._store(user_id, record, now, generation), True

    def read_through(self, user_id: str, read: Callable[[], tuple[UserRecord | None, T]]) -> T:
        """Run ``read`` (a consistent read of the user item with something else from the same
        partition, e.g. the sidebar's Query), cache the item it returns as get() would have, and
        return the rest. So request.user, evaluated afterwards, costs no read of its own and is
        checked (password hash, is_active, is_staff) against an item read within this request."""
        now = time.monotonic()
        with self._lock:
            generation = self._generation
        record, rest = read()
        self._store(user_id, record, now, generation)
        return rest

    def _store(self, user_id: str, record: UserRecord | None, now: float, generation: int) -> UserSnapshot | None:
        """Cache what a read begun at ``now`` found, unless a forget() happened since it began."""
        snapshot = UserSnapshot.of(record) if record is not None else None
        with self._lock:
            if generation == self._generation:
                if len(self._entries) >= self.MAX_ENTRIES:
                    self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                    if len(self._entries) >= self.MAX_ENTRIES:
                        self._entries.clear()
                self._entries[user_id] = (now + settings.ACCOUNTS_USER_RECHECK_SECONDS, snapshot)
        return snapshot

    def forget(self, user_id: str) -> None:
        with self._lock:
            self._generation += 1
            self._entries.pop(user_id, None)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()


user_cache = UserCache()
caches.register(user_cache.clear)
