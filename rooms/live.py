"""Live updates: one in-memory feed per room per process, refreshed at most once per
CHAT_LIVE_REFRESH_SECONDS however many tabs poll it. See docs/live-updates.md.

Times are epoch milliseconds. An *event* is a message (ref `m-<id>`) or a deletion (ref
`d-<id>`), at the message's CreatedAt or the tombstone's DeletedAt. A client's cursor is a
watermark W, the server time of the refresh that last answered it, plus the refs of the events it
holds at times > W − overlap. It is owed every event at a time > W − overlap that it does not
hold. This is correct as long as an event becomes visible to our queries less than
CHAT_LIVE_OVERLAP_SECONDS after its own timestamp (put latency + index lag + clock skew between
web servers).
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

from chatsite import caches, counters, keys, metrics
from chatsite.dynamodb import STALL_PATIENCE_SECONDS, Stalled  # noqa: F401 - streams use both
from rooms import selectors, validators
from rooms.models import ChatMessage, Deletion
from rooms.timestamps import iso_from_ms, ms_from_iso, now_ms

logger = logging.getLogger(__name__)

MESSAGE_REF_PREFIX = "m-"
DELETION_REF_PREFIX = "d-"
UPDATE_REF_PREFIX = "u-"  # `u-<message id>.<Version>`: a message's state after an edit, a reaction, a reply
PRESENCE_REF_PREFIX = "p-"
TYPING_REF_PREFIX = "t-"
# `h-<token>`: a room's history changed behind the live path (a bulk writer: purge_messages,
# import_room, delete_room, seed_demo). No tab is sent it; a room tail that may have been loaded
# without the change loads again (rooms.room_tail, docs/live-updates.md "Bulk writers").
HISTORY_REF_PREFIX = "h-"
SIGNAL_PREFIXES = (PRESENCE_REF_PREFIX, TYPING_REF_PREFIX)
DIRECT_QUERY_LIMIT = 500  # a resuming client owed more than this reloads the page instead


@dataclass(frozen=True)
class Event:
    at_ms: int
    message_id: str
    message: ChatMessage | None = None  # None: a deletion
    # A change to a message already posted (at the change's time, carrying its whole new state):
    # each version is its own event, and a tab applies it only over an older version.
    update: bool = False

    @property
    def ref(self) -> str:
        if self.message is None:
            return DELETION_REF_PREFIX + self.message_id
        if self.update:
            return update_ref(self.message_id, self.message.version)
        return MESSAGE_REF_PREFIX + self.message_id

    @property
    def is_deletion(self) -> bool:
        return self.message is None

    @property
    def order(self) -> tuple[int, int, str]:
        return self.at_ms, 2 if self.is_deletion else int(self.update), self.message_id


def update_ref(message_id: str, version: int) -> str:
    return f"{UPDATE_REF_PREFIX}{message_id}.{version}"


_VERSION_RE = re.compile(r"^[1-9][0-9]{0,8}$")


def is_ref(ref: str) -> bool:
    """A ref a tab may send back in its cursor: `m-<id>`, `d-<id>` or `u-<id>.<version>`."""
    kind, subject = ref[:2], ref[2:]
    if kind in (MESSAGE_REF_PREFIX, DELETION_REF_PREFIX):
        return validators.is_token(subject)
    if kind == UPDATE_REF_PREFIX:
        message_id, _, version = subject.rpartition(".")
        return validators.is_token(message_id) and bool(_VERSION_RE.match(version))
    return False


def _drop_message(events: dict[str, Event], message_id: str) -> None:
    """A deletion wins over the message and every update of it."""
    events.pop(MESSAGE_REF_PREFIX + message_id, None)
    for ref in [r for r in events if r.startswith(UPDATE_REF_PREFIX) and events[r].message_id == message_id]:
        del events[ref]


@dataclass(frozen=True)
class Signal:
    """Presence (`p-`) or typing (`t-`) of one user in a room, at ``at_ms``: the feed keeps the
    latest of each per user; they are not part of the exactly-once message stream."""
    at_ms: int
    kind: str
    user_id: str
    name: str = ""
    state: str = ""
    tab: str = ""  # presence is per tab: one tab's "away" never hides the same person's other tabs

    @property
    def key(self) -> tuple[str, str, str]:
        return self.kind, self.user_id, self.tab

    def expired(self, now_ms: int) -> bool:
        return now_ms - self.at_ms >= signal_window_ms(self.kind)


def signal_window_ms(kind: str) -> int:
    """How long a presence beat or a typing signal counts after its time (server clock)."""
    seconds = settings.CHAT_TYPING_WINDOW_SECONDS if kind == TYPING_REF_PREFIX else settings.CHAT_PRESENCE_WINDOW_SECONDS
    return int(seconds * 1000)


@dataclass(frozen=True)
class Updates:
    events: list[Event]
    watermark_ms: int
    reload: bool = False  # the client is too far behind: reload the page


Source = Callable[..., tuple[list[ChatMessage], list[Deletion]]]


# --- the watermark a client carries: signed by the server, bound to the room ----------------------

class InvalidWatermark(ValueError):
    """Not a watermark this site issued for this room (forged, altered, or from another room)."""


class CatchUpLimited(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


_WATERMARK_SALT = "rooms.live.watermark"
_WATERMARK_RE = re.compile(r"^(\d{1,15})\.([A-Za-z0-9_-]{16})$")


def _watermark_signature(room_id: str, ms: int, secret) -> str:
    digest = salted_hmac(_WATERMARK_SALT, f"{room_id}.{ms}", secret=secret, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest[:12]).decode()  # 96 bits: 16 url-safe characters


def watermark_token(room_id: str, ms: int) -> str:
    """What the server hands out (page attribute, Chat-Watermark header): `<ms>.<signature>`."""
    return f"{ms}.{_watermark_signature(room_id, ms, settings.SECRET_KEY)}"


def watermark_from_token(room_id: str, token: str) -> int:
    """The time in a token this site issued for this room; InvalidWatermark otherwise. Accepts
    SECRET_KEY_FALLBACKS, so rotating the key doesn't stop open tabs."""
    match = _WATERMARK_RE.match(token)
    if match:
        ms = int(match.group(1))
        for secret in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS):
            if constant_time_compare(match.group(2), _watermark_signature(room_id, ms, secret)):
                return ms
    raise InvalidWatermark(token[:40])


# --- a non-public room's watermark is also a grant ----------------------------------------------------
#
# The poll never reads the session, so it can't ask whether the tab's user is still a member. A
# private room's page therefore hands its tab a watermark that also carries an expiry:
# `<ms>.<expires (epoch s)>.<signature>`, signed over the room's id and creation time (a room
# re-created with the same id honours none of the old room's grants). Each poll's answer carries the
# same expiry forward; once it has passed the poll answers 403 and the tab renews it (a request that
# checks the session and the membership). A removed member's tab so stops receiving within
# CHAT_LIVE_GRANT_SECONDS. A token that is no grant for this room is the 404 of a missing room.

class GrantExpired(Exception):
    """A grant this site issued for this room, past its expiry: renew it."""


_GRANT_SALT = "rooms.live.grant"
_GRANT_RE = re.compile(r"^(\d{1,15})\.(\d{1,12})\.([A-Za-z0-9_-]{16})$")


def _grant_signature(room, ms: int, expires: int, secret) -> str:
    digest = salted_hmac(_GRANT_SALT, f"{room.room_id}.{room.created_at}.{ms}.{expires}", secret=secret,
                         algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest[:12]).decode()


def watermark_for(room, ms: int, *, grant_expires: int | None = None) -> str:
    """The watermark for a tab of ``room``: a plain one for a public room; for any other, a grant
    expiring at ``grant_expires`` (epoch seconds), by default CHAT_LIVE_GRANT_SECONDS from now."""
    if room.is_public:
        return watermark_token(room.room_id, ms)
    if grant_expires is None:
        grant_expires = int(time.time() + settings.CHAT_LIVE_GRANT_SECONDS)
    return f"{ms}.{grant_expires}.{_grant_signature(room, ms, grant_expires, settings.SECRET_KEY)}"


def read_watermark(room, token: str, *, allow_expired: bool = False) -> tuple[int, int | None]:
    """(watermark ms, grant expiry or None) from a token this site issued for ``room``.
    InvalidWatermark if it did not; GrantExpired for a non-public room's grant past its expiry
    (unless ``allow_expired``: renewing)."""
    if room.is_public:
        return watermark_from_token(room.room_id, token), None
    match = _GRANT_RE.match(token)
    if match:
        ms, expires = int(match.group(1)), int(match.group(2))
        for secret in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS):
            if constant_time_compare(match.group(3), _grant_signature(room, ms, expires, secret)):
                if not allow_expired and time.time() >= expires:
                    raise GrantExpired(room.room_id)
                return ms, expires
    raise InvalidWatermark(token[:40])


# --- the catch-up allowance per client --------------------------------------------------------------

# Clients this process has seen refused, until their window ends: repeated refusals cost nothing.
_refused_until: dict[str, float] = {}
_refused_lock = threading.Lock()
_REFUSED_MAX = 10_000


@caches.register
def clear_catch_up_refusals() -> None:
    with _refused_lock:
        _refused_until.clear()


def admit_catch_up(client: str) -> None:
    """Count one catch-up (the two direct Queries) for ``client`` (an IP, or an IPv6 /64): one
    conditional UpdateItem on `Counter:live-catchup:<client>`, shared by every host.
    CatchUpLimited over CHAT_LIVE_CATCHUP_LIMIT per CHAT_LIVE_CATCHUP_WINDOW_SECONDS."""
    now = time.monotonic()
    with _refused_lock:
        until = _refused_until.get(client)
    if until is not None and now < until:
        raise CatchUpLimited(max(1, int(until - now + 0.999)))
    try:
        counters.reserve(scope="live-catchup", subject=client, limit=settings.CHAT_LIVE_CATCHUP_LIMIT,
                         window_seconds=settings.CHAT_LIVE_CATCHUP_WINDOW_SECONDS)
    except counters.LimitReached as full:
        retry_after = max(1, full.retry_after)
        with _refused_lock:
            if len(_refused_until) >= _REFUSED_MAX:
                _refused_until.clear()  # bounded memory; the DynamoDB counter still holds the limit
            _refused_until[client] = now + retry_after
        raise CatchUpLimited(retry_after)


def query_events(room_id: str, since_ms: int, limit: int | None = None) -> tuple[list[ChatMessage], list[Deletion]]:
    """The one Query behind a refresh: the room's live events since ``since_ms``, read
    consistently from the room's partition (selectors.live_events_since), as messages and deletions.
    Presence and typing events are read by the same Query and kept by the feed as signals."""
    messages, deletions, *_ = query_room_events(room_id, since_ms, limit)
    return messages, deletions


class RoomEvents(tuple):
    """(messages, deletions, signals, updates), as callers unpack it, plus ``history_marks``: the
    times of the `h-` events read (the room's history changed behind the live path)."""

    history_marks: list[int]

    def __new__(cls, parts, history_marks=()):
        events = super().__new__(cls, parts)
        events.history_marks = list(history_marks)
        return events


def query_room_events(room_id: str, since_ms: int, limit: int | None = None) -> RoomEvents:
    """What the Query finds: messages, deletions, presence/typing signals, and updates (the
    change's time, the message's state after it); and the history marks (``history_marks``)."""
    messages: list[ChatMessage] = []
    deletions: list[Deletion] = []
    signals: list[Signal] = []
    updates: list[tuple[int, ChatMessage]] = []  # (the change's time, the message after it)
    marks: list[int] = []
    for record in selectors.live_events_since(room_id=room_id, since=iso_from_ms(since_ms), limit=limit):
        at, ref = keys.live_event_sk_parts(record.SK)
        kind, subject = ref[:2], ref[2:]
        if kind in (MESSAGE_REF_PREFIX, UPDATE_REF_PREFIX) and record.author and record.message_sk:
            message = ChatMessage(room_id=room_id, author_id=record.author, sk=record.message_sk,
                                  message_id=keys.message_sk_parts(record.message_sk)[1],
                                  created_at=record.posted_at or at,
                                  author_name=record.author_name or "", comment=record.comment or "",
                                  seq=None if record.seq is None else int(record.seq),
                                  mentions=tuple(record.mentions or ())).with_state_json(record.message_state)
            if kind == UPDATE_REF_PREFIX:
                updates.append((ms_from_iso(at), message))
            else:
                messages.append(message)
        elif kind == DELETION_REF_PREFIX:
            deletions.append(Deletion(room_id=room_id, message_id=subject, deleted_at=at))
        elif kind in SIGNAL_PREFIXES:
            user_id, _, tab = subject.partition("#")
            signals.append(Signal(at_ms=ms_from_iso(at), kind=kind, user_id=user_id, tab=tab,
                                  name=record.author_name or "", state=record.state or ""))
        elif kind == HISTORY_REF_PREFIX:
            marks.append(ms_from_iso(at))
    return RoomEvents((messages, deletions, signals, updates), marks)


def _events(messages: list[ChatMessage], deletions: list[Deletion],
            updates: list[tuple[int, ChatMessage]] = ()) -> dict[str, Event]:
    deleted = {d.message_id for d in deletions}
    events = {f"{DELETION_REF_PREFIX}{d.message_id}": Event(at_ms=d.deleted_ms, message_id=d.message_id)
              for d in deletions}
    for m in messages:
        if m.message_id not in deleted:
            events[f"{MESSAGE_REF_PREFIX}{m.message_id}"] = Event(at_ms=m.created_ms, message_id=m.message_id,
                                                                   message=m)
    for at_ms, m in updates:
        if m.message_id not in deleted:
            event = Event(at_ms=at_ms, message_id=m.message_id, message=m, update=True)
            events[event.ref] = event
    return events


def _owed(events: dict[str, Event], *, after_ms: int, seen: frozenset[str]) -> list[Event]:
    return sorted((e for ref, e in events.items() if e.at_ms > after_ms and ref not in seen),
                  key=lambda e: e.order)


@dataclass
class RoomFeed:
    """What one process knows about one room's recent events.

    ``covered_from_ms``: the feed holds every event at a time > this that was visible at its last
    refresh. ``watermark_ms``: when (server clock) that refresh started.
    """

    room_id: str
    source: Source = field(default=None)  # type: ignore[assignment]
    clock: Callable[[], int] = field(default=None)  # type: ignore[assignment]
    events: dict[str, Event] = field(default_factory=dict)
    covered_from_ms: int | None = None
    watermark_ms: int | None = None
    refreshed_at: float = float("-inf")  # time.monotonic() of the last refresh attempt
    last_used: float = field(default_factory=time.monotonic)

    def __post_init__(self):
        self.source = self.source or query_room_events
        self.clock = self.clock or now_ms
        self._refresh_lock = threading.Lock()  # single flight: one refresh at a time
        self._state_lock = threading.Lock()
        self.signals: dict[tuple[str, str, str], Signal] = {}  # (kind, user id, tab) -> the latest
        self.revision = 0  # grows whenever the events or signals change: streams wake on it
        # The room's tail (rooms.room_tail.RoomTail), told of every successful refresh and local
        # event, so the room page's newest messages come from memory.
        self.follower = None
        # `h-` events read, ref -> time, kept as long as events: a tail loading beside the feed
        # learns of a bulk write its load may have missed (RoomTail._absorb).
        self.history_marks: dict[str, int] = {}

    def touch(self) -> None:
        """Someone uses the feed (a room page too): not dropped as idle."""
        self.last_used = time.monotonic()

    def memory(self) -> tuple[int | None, int | None, list[Event]]:
        """(watermark, coverage, events) as of the last refresh, for a tail loading beside it."""
        with self._state_lock:
            return self.watermark_ms, self.covered_from_ms, list(self.events.values())

    def marks(self) -> list[int]:
        """The times of the history marks (`h-` events) in memory."""
        with self._state_lock:
            return list(self.history_marks.values())

    def _tell_follower(self, method: str, **kwargs) -> None:
        follower = self.follower
        if follower is None:
            return
        try:  # the tail must never break live delivery
            getattr(follower, method)(**kwargs)
        except Exception:
            logger.exception("room %s: its tail failed to follow the feed", self.room_id)

    def add_local(self, event: Event) -> None:
        """An event this process has just written (a post, a deletion): its streams get it now,
        before any refresh. The next refresh reads it again; merging by ref keeps it once."""
        with self._state_lock:
            added = self.watermark_ms is not None  # else nothing to add to yet: the first refresh reads it
            if added:
                if event.is_deletion:
                    _drop_message(self.events, event.message_id)
                elif DELETION_REF_PREFIX + event.message_id in self.events:
                    return
                self.events[event.ref] = event
                self.revision += 1
        self._tell_follower("local", event=event)

    def add_signal(self, signal: Signal) -> None:
        with self._state_lock:
            self._merge_signals([signal])

    def live_signals(self) -> list[Signal]:
        """The signals still within their window (server clock), whatever the last expiry pass."""
        now = self.clock()
        with self._state_lock:
            return [s for s in self.signals.values() if not s.expired(now)]

    def last_posts(self) -> dict[str, int]:
        """Each author's latest message time in memory: a typist whose message arrived is done."""
        latest: dict[str, int] = {}
        with self._state_lock:
            for event in self.events.values():
                if (event.message is not None and not event.update
                        and event.at_ms > latest.get(event.message.author_id, -1)):
                    latest[event.message.author_id] = event.at_ms
        return latest

    def expire_signals(self) -> bool:
        """Drop signals past their window; the revision grows if any went, so streams re-render
        (a member whose beats stopped leaves Here now). A channel's refresher calls this."""
        now = self.clock()
        with self._state_lock:
            return self._drop_expired(now)

    def _drop_expired(self, now: int) -> bool:
        gone = [k for k, s in self.signals.items() if s.expired(now)]
        for k in gone:
            del self.signals[k]
        if gone:
            self.revision += 1
        return bool(gone)

    def _merge_signals(self, signals) -> bool:
        changed = False
        now = self.clock()
        for signal in signals:
            if signal.expired(now):
                continue  # read again by an overlapping Query, or never deleted (dynalite): ignore
            current = self.signals.get(signal.key)
            if current is None or signal.at_ms > current.at_ms:
                self.signals[signal.key] = signal
                changed = True
        if changed:
            self.revision += 1
        return changed

    @property
    def overlap_ms(self) -> int:
        return int(settings.CHAT_LIVE_OVERLAP_SECONDS * 1000)

    @property
    def span_ms(self) -> int:
        """How far back the feed keeps events: a fresh page's first poll is always served from memory."""
        return 3 * self.overlap_ms

    def refresh_if_stale(self) -> None:
        if time.monotonic() - self.refreshed_at < settings.CHAT_LIVE_REFRESH_SECONDS:
            return
        # Wait for another thread's refresh only as long as a healthy one takes: when DynamoDB
        # stalls, polls must not queue behind it, each holding a worker thread (/healthz waits too).
        # Memory is a correct answer with its own watermark (as between refreshes), so a poll that
        # waited that long answers from it while the last good refresh is recent, and is refused
        # only when the feed has gone stale.
        if not self._refresh_lock.acquire(timeout=STALL_PATIENCE_SECONDS):
            if self._memory_is_recent():
                return
            raise Stalled(f"room {self.room_id}: its feed refresh is stuck")
        try:
            if time.monotonic() - self.refreshed_at < settings.CHAT_LIVE_REFRESH_SECONDS:
                return  # another thread refreshed while we waited: use its result
            started = time.monotonic()
            try:
                self._refresh()
            finally:  # a failed refresh too: it is not retried by every waiting poller
                self.refreshed_at = started
        finally:
            self._refresh_lock.release()

    def _memory_is_recent(self) -> bool:
        """The last successful refresh started less than half the overlap ago (server clock)."""
        with self._state_lock:
            watermark = self.watermark_ms
        return watermark is not None and self.clock() - watermark <= self.overlap_ms // 2

    def _next_read(self, started: int, watermark: int | None, covered_from: int | None) -> tuple[bool, int]:
        """(restart, since) of a refresh starting at ``started``."""
        # First refresh, or nobody polled for a while: start over rather than replay the gap.
        restart = watermark is None or covered_from is None or started - watermark > self.span_ms - self.overlap_ms
        # A restart reads back far enough for the presence window too: who is here shows at once.
        since = (started - max(self.span_ms, signal_window_ms(PRESENCE_REF_PREFIX)) if restart
                 else watermark - self.overlap_ms)
        return restart, since

    def refresh_reads_from(self) -> int:
        """How far back a refresh starting now would read (server clock): a room tail older than
        that plus the overlap can't be brought up to date by it (RoomTail.refreshed gives up)."""
        with self._state_lock:
            watermark, covered_from = self.watermark_ms, self.covered_from_ms
        return self._next_read(self.clock(), watermark, covered_from)[1]

    @metrics.timed_refresh("room")
    def _refresh(self) -> None:
        started = self.clock()
        with self._state_lock:
            watermark, covered_from, current = self.watermark_ms, self.covered_from_ms, self.events
        restart, since = self._next_read(started, watermark, covered_from)
        found = self.source(self.room_id, since)
        messages, deletions, *more = found
        signals = more[0] if more else []
        changes = more[1] if len(more) > 1 else []
        marks = list(getattr(found, "history_marks", ()))
        events = {} if restart else dict(current)
        for ref, event in _events(messages, deletions, changes).items():
            if event.is_deletion:
                _drop_message(events, event.message_id)
            elif event.update and DELETION_REF_PREFIX + event.message_id in events:
                continue
            events[ref] = event
        horizon = started - self.span_ms
        with self._state_lock:
            kept = {ref: e for ref, e in events.items() if e.at_ms > horizon}
            # Events added locally meanwhile (add_local) stay until a refresh reads them.
            for ref, event in self.events.items():
                if ref not in kept and event.at_ms > horizon and not (
                        event.message is not None and DELETION_REF_PREFIX + event.message_id in kept):
                    kept[ref] = event
            if kept.keys() != self.events.keys():
                self.revision += 1
            self.events = kept
            self.history_marks = {ref: at for ref, at in self.history_marks.items() if at > horizon}
            self.history_marks.update((f"{HISTORY_REF_PREFIX}{at}", at) for at in marks if at > horizon)
            self._merge_signals(signals)
            self._drop_expired(self.clock())  # polled feeds too: memory stays bounded
            self.covered_from_ms = horizon if restart else max(covered_from, horizon)
            self.watermark_ms = started
        self._tell_follower("refreshed", since_ms=since, watermark_ms=started, messages=messages,
                            deletions=deletions, changes=changes, history_marks=marks)

    def refresh_started_after(self, ms: int) -> None:
        """Unless a successful refresh started at or after ``ms`` (server clock), one now: a page
        after its reader's own write reads what was acknowledged before the request."""
        if not self._refresh_lock.acquire(timeout=STALL_PATIENCE_SECONDS):
            raise Stalled(f"room {self.room_id}: its feed refresh is stuck")
        try:
            with self._state_lock:
                watermark = self.watermark_ms
            if watermark is not None and watermark >= ms:
                return
            started = time.monotonic()
            try:
                self._refresh()
            finally:
                self.refreshed_at = started
        finally:
            self._refresh_lock.release()

    def refresh_ahead(self) -> bool:
        """One refresh off the page path (rooms.room_tail.TailUpkeep), unless one is under way:
        then False, and its result will do. A failure leaves ``refreshed_at`` as it was, so the
        next page or poll makes its own refresh, as if this one had not been tried."""
        if not self._refresh_lock.acquire(blocking=False):
            return False
        try:
            started = time.monotonic()
            self._refresh()
            self.refreshed_at = started
            return True
        finally:
            self._refresh_lock.release()

    def refresh_now(self) -> None:
        """One refresh, whatever the age of the last (a stream channel's refresher calls this)."""
        with self._refresh_lock:
            started = time.monotonic()
            try:
                self._refresh()
            finally:
                self.refreshed_at = started

    def updates(self, *, watermark_ms: int, seen: frozenset[str] | set[str], refresh: bool = True) -> Updates | None:
        """What a client with this cursor is owed, from memory; None if the feed can't tell
        (its memory doesn't reach back to the client's window). ``refresh=False``: a stream,
        whose channel's refresher keeps the feed fresh."""
        self.last_used = time.monotonic()
        if refresh:
            self.refresh_if_stale()
        with self._state_lock:
            after = watermark_ms - self.overlap_ms
            if self.watermark_ms is None or self.covered_from_ms is None or after < self.covered_from_ms:
                return None
            return Updates(events=_owed(self.events, after_ms=after, seen=seen), watermark_ms=self.watermark_ms)


def direct_updates(*, room_id: str, watermark_ms: int, seen: frozenset[str], source: Source | None = None,
                   clock: Callable[[], int] | None = None, admit: Callable[[], None] | None = None) -> Updates:
    """For a client behind the feed's memory (a long disconnect): its own two Queries, once
    ``admit`` (the per-client allowance) lets it through."""
    clock = clock or now_ms
    source = source or query_room_events
    started = clock()
    if started - watermark_ms > settings.CHAT_LIVE_RESUME_MAX_SECONDS * 1000:
        return Updates(events=[], watermark_ms=started, reload=True)
    if admit is not None:
        admit()
    after = watermark_ms - int(settings.CHAT_LIVE_OVERLAP_SECONDS * 1000)
    messages, deletions, *more = source(room_id, after, limit=DIRECT_QUERY_LIMIT + 1)
    changes = more[1] if len(more) > 1 else []
    if len(messages) > DIRECT_QUERY_LIMIT or len(deletions) > DIRECT_QUERY_LIMIT:
        return Updates(events=[], watermark_ms=started, reload=True)
    return Updates(events=_owed(_events(messages, deletions, changes), after_ms=after, seen=seen),
                   watermark_ms=started)


# --- the per-process registry ------------------------------------------------------------------

_feeds: dict[str, RoomFeed] = {}
_feeds_lock = threading.Lock()
FEED_IDLE_SECONDS = 300  # a feed nobody polled for this long is dropped (memory), rebuilt on demand


@caches.register
def clear_feeds() -> None:
    with _feeds_lock:
        _feeds.clear()


def feed_for(room_id: str) -> RoomFeed:
    now = time.monotonic()
    with _feeds_lock:
        feed = _feeds.get(room_id)
        if feed is None:
            for stale in [r for r, f in _feeds.items() if now - f.last_used > FEED_IDLE_SECONDS]:
                del _feeds[stale]
            feed = _feeds[room_id] = RoomFeed(room_id)
        return feed


def existing_feed(room_id: str) -> RoomFeed | None:
    with _feeds_lock:
        return _feeds.get(room_id)


def updates(*, room_id: str, watermark_ms: int, seen: frozenset[str], client: str | None = None) -> Updates:
    """Answer one poll: from this process's feed for the room, else with a direct query, counted
    against ``client``'s catch-up allowance (CatchUpLimited)."""
    answer = feed_for(room_id).updates(watermark_ms=watermark_ms, seen=seen)
    if answer is None:
        admit = (lambda: admit_catch_up(client)) if client is not None else None
        answer = direct_updates(room_id=room_id, watermark_ms=watermark_ms, seen=seen, admit=admit)
    return answer
