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
- Revalidation: an entry used in the last ACCOUNTS_SESSION_CACHE_WITH_FEED_SECONDS is read again
  in bulk off the page path (accounts.session_patterns.revalidate_cached_sessions, run by the
  activity hub's thread) before it reaches that bound, and replaced by what the read found (its
  read began then) or dropped. No entry serves past its read's start plus the bound, so a session
  whose announcement was lost still stops working here within it.
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
    parent: object | None = None  # a linked device: its parent's SessionRecord as read (revalidated too)


@dataclass(frozen=True)
class Revalidated:
    """What revalidation read for an entry still live with the same data: its replacement's record
    (a newer expiry, last_seen), bounds and parent."""
    record: object
    live_until: float
    parent: object | None = None


class SessionCache:
    MAX_ENTRIES = 2048  # a few KB each; far more than the sessions one process serves in a few seconds
    FEED_WAIT_FRACTION = 0.5  # of ACCOUNTS_SESSION_FEED_SECONDS: a page's longest wait for a refresh under way
    # Revalidation, as fractions of the longer bound (60 s: 40 s and 50 s). An entry used within the
    # bound is read again once older than REVALIDATE_FROM of it; a batch goes once one entry is
    # older than REVALIDATE_BY (or a BatchGetItem's 100 are ready): entries revalidated together
    # stay together, and a late round still has 10 s before any entry stops serving.
    REVALIDATE_FROM, REVALIDATE_BY = 2 / 3, 5 / 6
    REVALIDATE_BATCH = 100
    REVALIDATE_RETRY_SECONDS = 5.0  # after a failed revalidation (DynamoDB in trouble): entries may expire

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 feed: SessionFeed | None = None):
        self._clock = clock
        self._wall = wall
        self.feed = feed if feed is not None else SessionFeed.from_table(clock_ms=lambda: int(wall() * 1000),
                                                                          monotonic=clock)
        self._lock = threading.Lock()
        self._entries: OrderedDict[StoredKey, CachedSession] = OrderedDict()
        self._by_partition: dict[str, set[StoredKey]] = {}
        self._used: dict[StoredKey, float] = {}  # monotonic: the last read, write or hit of each entry
        self._generation = 0
        self._revalidate_after = float("-inf")  # monotonic

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
        # Only a page with an entry to serve waits (up to half an interval) for a refresh another
        # thread has under way (the hub's, late under CPU load) rather than read its session again,
        # and, while the hub keeps the feed (kept_ahead), for the hub's refresh to come rather than
        # make the feed's Query itself. A page with no entry leaves the feed to the hub then.
        with self._lock:
            held = self._entries.get(key)
            waits = held is not None and held.fresh_until <= self._clock()  # it needs the feed to serve
        if held is None and self.feed.enabled() and self.feed.kept_ahead():
            return None
        wait = float(settings.ACCOUNTS_SESSION_FEED_SECONDS) * self.FEED_WAIT_FRACTION
        fresh_feed = self.feed.enabled() and self.feed.refresh_if_due(
            self.forget_partitions, wait=wait if waits else 0.0, wait_for_upkeep=wait if held is not None else 0.0)
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
            self._used[key] = self._clock()
            return entry

    def begin(self) -> int:
        """Call before reading or writing a session; pass the answer to put()."""
        with self._lock:
            return self._generation

    def put(self, key: StoredKey, record, data: dict, *, live_until: float, started: float, generation: int,
            written: bool = False, parent=None) -> None:
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
                                               live_until=live_until, read_began_ms=read_began_ms, parent=parent)
            self._by_partition.setdefault(record.PK, set()).add(key)
            self._used[key] = self._clock()
            while len(self._entries) > self.MAX_ENTRIES:
                self._drop(next(iter(self._entries)))

    def now(self) -> float:
        return self._clock()

    def wall(self) -> float:
        return self._wall()

    # --- revalidation (accounts.session_patterns.revalidate_cached_sessions reads; this decides) ---

    def _revalidating(self) -> bool:
        return self.seconds() > 0 and self.seconds_with_feed() > 0 and self.feed.enabled()

    def due_for_revalidation(self) -> list[tuple[StoredKey, CachedSession]]:
        """The entries to read again now: used within the longer bound, older than REVALIDATE_FROM
        of it and still serving, once one of them is older than REVALIDATE_BY of it (or a batch is
        full); otherwise none. Entries not used within the bound are left to expire."""
        if not self._revalidating():
            return []
        cap = self.seconds_with_feed()
        with self._lock:
            mono, wall = self._clock(), self._wall()
            if mono < self._revalidate_after:
                return []
            due, urgent = [], False
            for key, entry in self._entries.items():
                age = wall - entry.read_began_ms / 1000
                if (age < cap * self.REVALIDATE_FROM or age >= cap or entry.live_until <= wall
                        or mono - self._used.get(key, float("-inf")) >= cap):
                    continue
                due.append((key, entry))
                urgent = urgent or age >= cap * self.REVALIDATE_BY
            return due if urgent or len(due) >= self.REVALIDATE_BATCH else []

    def revalidation_due_in(self) -> float | None:
        """Seconds until due_for_revalidation() will have a batch, unless entries are used
        meanwhile (None: no entry would be revalidated)."""
        if not self._revalidating():
            return None
        cap = self.seconds_with_feed()
        with self._lock:
            mono, wall = self._clock(), self._wall()
            soonest = None
            for key, entry in self._entries.items():
                age = wall - entry.read_began_ms / 1000
                if age >= cap or entry.live_until <= wall or mono - self._used.get(key, float("-inf")) >= cap:
                    continue
                wait = cap * self.REVALIDATE_BY - age
                soonest = wait if soonest is None else min(soonest, wait)
            if soonest is None:
                return None
            return max(soonest, self._revalidate_after - mono, 0.0)

    def revalidated(self, outcomes: list[tuple[StoredKey, CachedSession, Revalidated | None]], *,
                    started: float) -> None:
        """Apply a revalidation begun at ``started`` (self.now()): each entry read is replaced by
        what was read (None: dropped), unless it changed meanwhile. An entry dropped (a forget, the
        LRU bound) stays dropped, and one replaced by a newer read or write stays so: only the
        very entry the revalidation read for is touched. A replacement keeps its place in the LRU
        order and its last use (revalidation is no use)."""
        with self._lock:
            read_began_ms = self._wall_ms() - int((self._clock() - started) * 1000)
            for key, entry, found in outcomes:
                if self._entries.get(key) is not entry:
                    continue
                if found is None:
                    self._drop(key)
                    continue
                self._entries[key] = CachedSession(record=found.record, data=entry.data,
                                                   fresh_until=started + self.seconds(),
                                                   live_until=found.live_until, read_began_ms=read_began_ms,
                                                   parent=found.parent)
            self._revalidate_after = float("-inf")

    def revalidation_failed(self) -> None:
        """The entries stay as they were (they expire at their bound); try again a little later."""
        with self._lock:
            self._revalidate_after = self._clock() + self.REVALIDATE_RETRY_SECONDS

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
            self._used.clear()
            self._revalidate_after = float("-inf")
        self.feed.reset()

    def __len__(self) -> int:
        return len(self._entries)

    def _drop(self, key: StoredKey) -> None:
        entry = self._entries.pop(key, None)
        self._used.pop(key, None)
        if entry is None:
            return
        keys_in_partition = self._by_partition.get(entry.record.PK)
        if keys_in_partition is not None:
            keys_in_partition.discard(key)
            if not keys_in_partition:
                del self._by_partition[entry.record.PK]


session_cache = SessionCache()
caches.register(session_cache.clear)
