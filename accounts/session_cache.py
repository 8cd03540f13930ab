"""Sessions as this process last read or wrote them, so a page whose session was loaded here
recently costs no session Query (accounts.session_engine.load).

The bound on revocation (docs/data-model.md, "Sessions: consistency and cost"):

- On this process, at once: everything that ends a session goes through accounts.session_patterns,
  which forgets the session's whole partition (the session and its linked devices) after its
  write, and a read under way meanwhile is not cached (the generation below), since it may predate
  the write. The engine's own writes replace the entry with what they wrote (read-your-writes).
- On another process: an entry serves for ACCOUNTS_SESSION_CACHE_SECONDS after its read began.
  After that, only while this process reads the session feed (accounts.session_feed), which
  every ending and rewriting of a session is announced to: then for up to
  ACCOUNTS_SESSION_CACHE_WITH_FEED_SECONDS, and a session ended elsewhere stops working here within
  ACCOUNTS_SESSION_FEED_SECONDS of its announcement. If the feed can't be read, the short bound holds.
- Expiry is honoured exactly: an entry serves only while the stored expiry (for a linked device,
  its own and its parent's) is in the future.

Entries are keyed by StoredKey: the HMAC digest of the whole cookie, as the table is, so one cookie
can only find the entry its own read made. At most MAX_ENTRIES, least recently used go first.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

from django.conf import settings

from accounts.session_feed import SessionFeed
from accounts.session_keys import StoredKey
from chatsite import caches


@dataclass(frozen=True)
class CachedSession:
    record: object  # accounts.models.SessionRecord: never mutated once cached
    data: dict  # the decoded session data: never mutated once cached (the engine copies it)
    fresh_until: float  # monotonic: without the feed, read again from DynamoDB after this
    live_until: float  # epoch seconds: the stored expiry (a device: its own and its parent's)
    read_began_ms: int  # epoch ms: when the read (or write) it holds began, for the feed's coverage


class SessionCache:
    MAX_ENTRIES = 2048  # a few KB each; far more than the sessions one process serves in a few seconds

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 feed: SessionFeed | None = None):
        self._clock = clock
        self._wall = wall
        self.feed = feed if feed is not None else SessionFeed.from_table(clock_ms=lambda: int(wall() * 1000),
                                                                          monotonic=clock)
        self._lock = threading.Lock()
        self._entries: OrderedDict[StoredKey, CachedSession] = OrderedDict()
        self._by_partition: dict[str, set[StoredKey]] = {}
        self._generation = 0

    @staticmethod
    def seconds() -> float:
        return float(settings.ACCOUNTS_SESSION_CACHE_SECONDS)

    @staticmethod
    def seconds_with_feed() -> float:
        return float(settings.ACCOUNTS_SESSION_CACHE_WITH_FEED_SECONDS)

    def get(self, key: StoredKey) -> CachedSession | None:
        if self.seconds() <= 0:
            return None
        # While the feed is on, every hit first has the feed less than an interval old, so a
        # session ended elsewhere is dropped within ACCOUNTS_SESSION_FEED_SECONDS whatever its age.
        fresh_feed = self.feed.enabled() and self.feed.refresh_if_due(self.forget_partitions)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.live_until <= self._wall():
                self._drop(key)
                return None
            covered = (fresh_feed and self.feed.covers(entry.read_began_ms)
                       and self._wall_ms() < entry.read_began_ms + self.seconds_with_feed() * 1000)
            if not covered and entry.fresh_until <= self._clock():
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return entry

    def begin(self) -> int:
        """Call before reading or writing a session; pass the answer to put()."""
        with self._lock:
            return self._generation

    def put(self, key: StoredKey, record, data: dict, *, live_until: float, started: float, generation: int,
            written: bool = False) -> None:
        """Cache what a read or write (``written``) begun at ``started`` (self.now()) found or wrote,
        unless a session was forgotten since ``generation`` (it may be this one, ended meanwhile).
        A write also voids the reads under way (they may hold what it replaced): this process
        skips its own announcements, so nothing else would correct them."""
        seconds = self.seconds()
        if seconds <= 0:
            return
        with self._lock:
            if generation != self._generation:
                return  # what a forget dropped stays dropped; an entry put since is newer than this
            read_began_ms = self._wall_ms() - int((self._clock() - started) * 1000)
            if written:
                self._generation += 1
            else:
                current = self._entries.get(key)
                if current is not None and current.read_began_ms > read_began_ms:
                    return  # a later read already put what it found: keep the newer
            self._drop(key)
            self._entries[key] = CachedSession(record=record, data=data, fresh_until=started + seconds,
                                               live_until=live_until, read_began_ms=read_began_ms)
            self._by_partition.setdefault(record.PK, set()).add(key)
            while len(self._entries) > self.MAX_ENTRIES:
                self._drop(next(iter(self._entries)))

    def now(self) -> float:
        return self._clock()

    def _wall_ms(self) -> int:
        return int(self._wall() * 1000)

    def forget(self, key: StoredKey) -> None:
        with self._lock:
            self._generation += 1
            self._drop(key)

    def forget_partition(self, pk: str) -> None:
        """A session's partition was written: forget the session and every device linked to it."""
        with self._lock:
            self._generation += 1
            for key in list(self._by_partition.get(pk, ())):
                self._drop(key)

    def forget_partitions(self, pks) -> None:
        """Sessions changed on another process (the feed): forget each partition."""
        with self._lock:
            self._generation += 1
            for pk in pks:
                for key in list(self._by_partition.get(pk, ())):
                    self._drop(key)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()
            self._by_partition.clear()
        self.feed.reset()

    def __len__(self) -> int:
        return len(self._entries)

    def _drop(self, key: StoredKey) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        keys_in_partition = self._by_partition.get(entry.record.PK)
        if keys_in_partition is not None:
            keys_in_partition.discard(key)
            if not keys_in_partition:
                del self._by_partition[entry.record.PK]


session_cache = SessionCache()
caches.register(session_cache.clear)
