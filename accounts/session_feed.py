"""The session feed: every session partition ended or rewritten anywhere, so that each process's
session cache (accounts.session_cache) can keep a session for a minute and still drop one ended on
another process within a second.

The writer of a change (sign-out, revocation, a device unlinked, sign-in) announces the session's
partition after its write: one PutItem of `SessionFeed:<bucket>` / `<ms>#<token>` in the chat table
(chatsite.keys). A process that wants to serve a cached session for longer than
ACCOUNTS_SESSION_CACHE_SECONDS first brings its feed up to date: at most one consistent Query per
ACCOUNTS_SESSION_FEED_SECONDS (two near a bucket's edge), from where the last one began minus
OVERLAP_MS, so an event is seen if its write finished before the Query began, whatever the
writer's clock said within OVERLAP_MS.

Coverage: the feed has been read without a gap since `covered_since_ms`. A cache entry whose read
began after that moment has had every later change to its partition seen by the last refresh, so
it may serve while that refresh is less than ACCOUNTS_SESSION_FEED_SECONDS old. A gap longer than
MAX_GAP_MS (an idle process, DynamoDB down) starts coverage again: older entries fall back to the
short bound. The logic here is pure (clock and reader injected); SessionFeed.from_table() reads
the chat table.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable

from django.conf import settings

from accounts.models import SessionFeedRecord
from chatsite import keys

logger = logging.getLogger(__name__)

# Longer than a put's latency plus the clock skew between web servers: an event stamped by a clock
# up to this far behind ours is still read.
OVERLAP_MS = 10_000
# Without a refresh for this long, coverage starts again (the events stay an hour: far longer).
MAX_GAP_MS = 120_000
EVENT_LIFETIME_SECONDS = 3600


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class FeedEvent:
    sk: str
    partition: str

    @property
    def at_ms(self) -> int:
        return keys.session_feed_at_ms(self.sk)


Reader = Callable[[int, int], Iterable[FeedEvent]]  # (since_ms, until_ms) -> events written then


def refresh_seconds() -> float:
    return float(settings.ACCOUNTS_SESSION_FEED_SECONDS)


class SessionFeed:
    def __init__(self, *, read: Reader, clock_ms: Callable[[], int] = now_ms,
                 monotonic: Callable[[], float] = time.monotonic,
                 refresh_seconds: Callable[[], float] = refresh_seconds):
        self._read = read
        self._clock_ms = clock_ms  # wall clock: stamps and the Query's start only
        self._monotonic = monotonic  # every age (a stepped wall clock must not stretch coverage)
        self._refresh_seconds = refresh_seconds
        self._lock = threading.Lock()  # never held during a Query
        self._refresh_ended = threading.Condition(self._lock)  # a refresh under way ended (or failed)
        self._refreshing = False
        self._refreshes_ended = 0  # refreshes ended, done or failed: what a waiting caller watches
        self._upkeep_seen: float | None = None  # monotonic: the last call of a caller refreshing ahead
        self._last_refresh: float | None = None  # monotonic: when the last successful Query began
        self._last_since_base_ms: int | None = None  # wall ms: the same moment, for the next Query
        self._failed_at: float | None = None  # monotonic: the last failed Query (back off one interval)
        self._covered_since_ms: int | None = None  # wall ms
        self._seen: dict[str, int] = {}  # event SK -> its time: not applied twice within the overlap
        self._own: dict[str, int] = {}  # tokens this process wrote: its cache is already right

    @classmethod
    def from_table(cls, **kwargs) -> SessionFeed:
        return cls(read=read_events, **kwargs)

    def now_ms(self) -> int:
        return self._clock_ms()

    def enabled(self) -> bool:
        return self._refresh_seconds() > 0

    def kept_ahead(self) -> bool:
        """Has a caller refreshing ahead (the activity hub's upkeep) come by within two intervals?
        Then it refreshes the feed before anyone else would have to; longer, it is stalled or gone."""
        with self._lock:
            return self._kept_ahead(self._monotonic())

    def _kept_ahead(self, mono: float) -> bool:  # under self._lock
        return self._upkeep_seen is not None and mono - self._upkeep_seen < 2 * self._refresh_seconds()

    def refresh_if_due(self, apply: Callable[[list[str]], None], *, ahead: float = 0.0,
                       wait: float = 0.0, wait_for_upkeep: float = 0.0) -> bool:
        """Bring the feed up to date if its last refresh is older than the refresh interval (less
        ``ahead`` seconds: the activity hub refreshes early, so pages don't), calling
        ``apply`` with the session partitions changed elsewhere (to forget) before anyone is told
        the feed is fresh. Returns whether the feed is fresh now. Without ``wait``, never waits: while
        another request's Query is under way, or for one interval after a failed one (logged), the answer
        is whether the last refresh is still less than an interval old; if not, the caller falls
        back to the short bound. ``wait``: a caller that would have to fall back while another
        Query is under way waits up to this many seconds for it to end (a page: under CPU load the
        hub's refresh can outlast the last one's interval, and its answer costs the page nothing
        where falling back costs it a session read); the bound is unchanged, since freshness is
        still counted from the start of the last refresh done. ``wait_for_upkeep``: a caller that
        would make the Query itself, nothing being under way, waits up to this many seconds for
        the caller refreshing ahead to make it instead, while that one is not stalled (kept_ahead:
        the hub late by a call or two under CPU load); the caller then goes on as before (its
        own Query if the upkeep did not come, the short bound while it is still under way)."""
        interval = self._refresh_seconds()
        with self._lock:
            mono = self._monotonic()
            if ahead > 0:
                self._upkeep_seen = mono
            fresh = self._last_refresh is not None and mono - self._last_refresh < interval
            if fresh and mono - self._last_refresh < interval - ahead:
                return True
            failed_lately = self._failed_at is not None and mono - self._failed_at < interval
            if (not fresh and not self._refreshing and not failed_lately and wait_for_upkeep > 0
                    and self._kept_ahead(mono)):
                ended, waited_from = self._refreshes_ended, mono
                self._refresh_ended.wait_for(lambda: self._refreshes_ended != ended, timeout=wait_for_upkeep)
                mono = self._monotonic()
                fresh = self._last_refresh is not None and mono - self._last_refresh < interval
                if fresh:
                    return True  # the upkeep's refresh, waited for
                wait = max(0.0, wait - (mono - waited_from))  # one wait in all, not one of each
            if self._refreshing and not fresh and wait > 0:
                self._refresh_ended.wait_for(lambda: not self._refreshing, timeout=wait)
                mono = self._monotonic()
                fresh = self._last_refresh is not None and mono - self._last_refresh < interval
                if fresh or self._refreshing:
                    return fresh  # the Query we waited for made it fresh, or it is still under way
            if self._refreshing or (self._failed_at is not None and mono - self._failed_at < interval):
                return fresh  # the last refresh still holds, or the caller falls back to the short bound
            self._refreshing = True
            now = self._clock_ms()
            restart = self._last_refresh is None or (mono - self._last_refresh) * 1000 > MAX_GAP_MS
            since = (now if restart else self._last_since_base_ms) - OVERLAP_MS
        try:
            events = list(self._read(since, now + OVERLAP_MS))
        except Exception:  # noqa: BLE001 - any failure only means "not fresh": the cache reads again
            logger.warning("session feed: not read; cached sessions fall back to the short bound",
                           exc_info=True)
            with self._lock:
                self._refreshing, self._failed_at = False, mono
                self._refreshes_ended += 1
                self._refresh_ended.notify_all()
            return fresh
        with self._lock:
            self._prune(since)
            changed = []
            for event in events:
                if event.sk in self._seen:
                    continue
                self._seen[event.sk] = event.at_ms
                if event.sk.partition("#")[2] not in self._own:
                    changed.append(event.partition)
        applied = False
        try:
            if changed:
                apply(changed)
            applied = True
        finally:
            with self._lock:
                self._refreshing = False
                self._refreshes_ended += 1
                self._refresh_ended.notify_all()
                if applied:
                    if restart:
                        self._covered_since_ms = now
                    self._last_refresh, self._last_since_base_ms, self._failed_at = mono, now, None
        return True

    def due_in(self, *, ahead: float = 0.0) -> float:
        """Seconds until refresh_if_due(ahead=``ahead``) would make a Query (0: now)."""
        interval = self._refresh_seconds()
        with self._lock:
            mono = self._monotonic()
            due = mono if self._last_refresh is None else self._last_refresh + interval - ahead
            if self._failed_at is not None:
                due = max(due, self._failed_at + interval)
        return max(0.0, due - mono)

    def covers(self, read_began_ms: int) -> bool:
        """May an entry whose DynamoDB read began at ``read_began_ms`` (wall ms) serve now? Yes if
        the feed was read without a gap since before that read, and less than an interval ago."""
        last, covered_since = self._last_refresh, self._covered_since_ms  # plain reads: no lock
        return (last is not None and covered_since is not None
                and self._monotonic() - last < self._refresh_seconds() and read_began_ms >= covered_since)

    def wrote(self, token: str, at_ms: int) -> None:
        """This process announced ``token``: its own refresh need not act on it."""
        with self._lock:
            self._own[token] = at_ms

    def reset(self) -> None:
        with self._lock:
            self._last_refresh = self._last_since_base_ms = self._failed_at = self._covered_since_ms = None
            self._upkeep_seen = None
            self._seen.clear()
            self._own.clear()

    def _prune(self, since: int) -> None:
        horizon = since - OVERLAP_MS
        for table in (self._seen, self._own):
            for key in [k for k, at in table.items() if at < horizon]:
                del table[key]


# --- the chat table ------------------------------------------------------------------------------


def read_events(since_ms: int, until_ms: int) -> list[FeedEvent]:
    """readSessionFeed: one consistent Query per bucket from ``since_ms`` (usually one bucket)."""
    events: list[FeedEvent] = []
    for bucket in range(keys.session_feed_bucket(since_ms), keys.session_feed_bucket(until_ms) + 1):
        for record in SessionFeedRecord.query(keys.session_feed_pk(bucket),
                                              SessionFeedRecord.SK >= keys.session_feed_sk_from(since_ms),
                                              consistent_read=True):
            events.append(FeedEvent(sk=record.SK, partition=record.partition))
    return events


def announce(partition: str, *, feed: SessionFeed | None = None, clock_ms: Callable[[], int] | None = None) -> None:
    """announceSessionChange: a session partition was ended or rewritten here (after the write).
    One PutItem, stamped by this process's feed clock; no-op while the feed is off."""
    if refresh_seconds() <= 0:
        return
    clock_ms = clock_ms or (feed.now_ms if feed is not None else now_ms)
    at, token = clock_ms(), secrets.token_hex(6)
    if feed is not None:
        feed.wrote(token, at)
    SessionFeedRecord(keys.session_feed_pk(keys.session_feed_bucket(at)), keys.session_feed_sk(at, token),
                      partition=partition, expires_at=int(at / 1000) + EVENT_LIFETIME_SECONDS).save()
