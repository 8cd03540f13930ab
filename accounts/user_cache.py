"""User items by id, per process: what request.user is built from (accounts.middleware.get_user).

Every service that changes a user calls user_cache.forget(), so the process making a change never
serves the old item again, and every other process within ACCOUNTS_USER_RECHECK_SECONDS.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.utils.crypto import constant_time_compare

from accounts import selectors
from accounts.auth import session_auth_hash
from accounts.models import UserRecord
from chatsite import caches


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
        snapshot = UserSnapshot.of(record) if record is not None else None
        with self._lock:
            if generation == self._generation:
                if len(self._entries) >= self.MAX_ENTRIES:
                    self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                    if len(self._entries) >= self.MAX_ENTRIES:
                        self._entries.clear()
                self._entries[user_id] = (now + settings.ACCOUNTS_USER_RECHECK_SECONDS, snapshot)
        return snapshot, True

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
