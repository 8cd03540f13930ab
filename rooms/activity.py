"""The activity feed: how a change to a user's unread state reaches their open tabs.

Users outnumber rooms, so there are no per-user channels: every change goes into ONE process-wide
feed, a few partitions `Activity:<shard>` / `ev#<at>#<ref>` in the chat table (chatsite.keys),
and each process reads every shard once per CHAT_ACTIVITY_REFRESH_SECONDS while any signed-in
stream is open in it (ActivityHub). Refs (shard = a stable hash of the room id for `s-`, of the
user id for the others, mod CHAT_ACTIVITY_SHARDS):

- `s-<rid>#<msgid>`  a message was posted (message_item: in the post's own BatchWriteItem);
- `r-<uid>#<rid>#<version>`  a read cursor moved (read_item: the membership's ReadVersion, which
  every move ADDs 1 to, so moves apply by version, never by arrival);
- `n-<uid>#<msgid>`  a member was mentioned (mention_item: in the post's BatchWriteItem);
- `c-<uid>#<rid>`  a notification setting changed (setting_item, written with put_events);
- `x-<uid>#<rid>`  a user left the room or was removed (left_item: membership_remove writes it,
  so their open tabs drop the room and hear nothing more of it at once, not at a reconnect).

Builders return raw items (DynamoDB JSON) for a BatchWriteItem; put_events writes any number of
them, 25 a call. The reducer (UnreadState) is pure: apply() is idempotent and order-independent,
so duplicated, late or reordered events leave every tab with the same counts. Times are epoch
milliseconds; clocks are injected.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import zlib
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

from accounts import session_feed, session_patterns
from accounts.session_cache import session_cache
from chatsite import caches, keys, metrics
from chatsite.batch import batch_put_items
from rooms import formatting, selectors
from rooms.models import ActivityRecord, ChatMessage, Room, UserRoom
from rooms.templatetags.chat_unread import badges_html
from rooms.timestamps import iso_from_ms, ms_from_iso, now_ms

logger = logging.getLogger(__name__)

EXCERPT_LENGTH = 140
MESSAGE, READ, MENTION, SETTING = keys.ACTIVITY_MESSAGE, keys.ACTIVITY_READ, keys.ACTIVITY_MENTION, keys.ACTIVITY_SETTING
LEFT = keys.ACTIVITY_LEFT


def shard_of(entity_id: str, shards: int | None = None) -> int:
    """A stable shard for a room or user id (crc32: the same in every process and release)."""
    return zlib.crc32(entity_id.encode()) % (shards or settings.CHAT_ACTIVITY_SHARDS)


def _excerpt(message: ChatMessage) -> str:
    """A notification's text: the message's first EXCERPT_LENGTH characters as plain text."""
    return formatting.to_text(message.comment)[:EXCERPT_LENGTH]


def _expires(at_ms: int) -> int:
    return at_ms // 1000 + settings.CHAT_LIVE_EVENT_TTL_SECONDS


# --- the items ----------------------------------------------------------------------------------


def message_item(message: ChatMessage, room: Room, *, room_mention: bool = False, at_ms: int | None = None) -> dict:
    """The `s-` event of a post, for message_post's BatchWriteItem (+1 write unit, no extra call):
    the message's Seq, author, room name and kind, id, SK, and an excerpt; ``room_mention``: the
    text has @room (every member is mentioned)."""
    at = message.created_at
    return ActivityRecord(keys.activity_pk(shard_of(message.room_id)),
                          keys.activity_sk(at, keys.activity_message_ref(message.room_id, message.message_id)),
                          expires_at=_expires(at_ms or ms_from_iso(at)), room=message.room_id, user=message.author_id,
                          seq=message.seq, message_id=message.message_id, message_sk=message.sk,
                          author_name=message.author_name, room_name=room.name, room_kind=room.kind,
                          excerpt=_excerpt(message), room_mention=1 if room_mention else None).serialize()


def read_item(*, user_id: str, room_id: str, read_seq: int, read_pos: str | None, read_version: int,
              mention_seqs: Iterable[int] = (), at_ms: int | None = None) -> dict:
    """The `r-` event of a read cursor move: the membership's ReadSeq, ReadPos, ReadVersion and
    MentionSeqs as the move's UpdateItem returned them (Mark as unread brings pruned mentions back:
    tabs learn them here)."""
    at_ms = at_ms if at_ms is not None else now_ms()
    return ActivityRecord(keys.activity_pk(shard_of(user_id)),
                          keys.activity_sk(iso_from_ms(at_ms), keys.activity_read_ref(user_id, room_id, read_version)),
                          expires_at=_expires(at_ms), room=room_id, user=user_id, read_seq=read_seq, read_pos=read_pos,
                          read_version=read_version, mention_seqs=set(mention_seqs) or None).serialize()


def mention_item(*, user_id: str, message: ChatMessage, room: Room, at_ms: int | None = None) -> dict:
    """The `n-` event telling ``user_id`` (a member, notified: MentionSeqs has the Seq) that
    ``message`` mentions them, for the post's BatchWriteItem."""
    at = message.created_at
    return ActivityRecord(keys.activity_pk(shard_of(user_id)),
                          keys.activity_sk(at, keys.activity_mention_ref(user_id, message.message_id)),
                          expires_at=_expires(at_ms or ms_from_iso(at)), room=message.room_id, user=user_id,
                          seq=message.seq, message_id=message.message_id, message_sk=message.sk,
                          author_name=message.author_name, room_name=room.name,
                          excerpt=_excerpt(message)).serialize()


def setting_item(*, user_id: str, room_id: str, notify: str | None, at_ms: int | None = None) -> dict:
    """The `c-` event of a notification setting change (``notify``: "all", "mentions", "none", or
    None for the default). Tabs keep the latest by time (clock skew between servers can reorder two
    changes made within it: the page read after a reconnect is right again)."""
    at_ms = at_ms if at_ms is not None else now_ms()
    return ActivityRecord(keys.activity_pk(shard_of(user_id)),
                          keys.activity_sk(iso_from_ms(at_ms), keys.activity_setting_ref(user_id, room_id)),
                          expires_at=_expires(at_ms), room=room_id, user=user_id, notify=notify).serialize()


def left_item(*, user_id: str, room_id: str, at_ms: int | None = None) -> dict:
    """The `x-` event of a user leaving a room or being removed from it."""
    at_ms = at_ms if at_ms is not None else now_ms()
    return ActivityRecord(keys.activity_pk(shard_of(user_id)),
                          keys.activity_sk(iso_from_ms(at_ms), keys.activity_left_ref(user_id, room_id)),
                          expires_at=_expires(at_ms), room=room_id, user=user_id).serialize()


def put_events(items: Iterable[dict]) -> int:
    """Write activity items: BatchWriteItem, 25 a call, unprocessed ones retried. Returns how many."""
    items = list(items)
    if not items:
        return 0
    return batch_put_items(items, max_attempts=4)


# --- events as the reducer sees them -------------------------------------------------------------


@dataclass(frozen=True)
class Activity:
    """One activity event. ``kind`` is its ref's prefix (MESSAGE, READ, MENTION, SETTING)."""
    kind: str
    at_ms: int
    ref: str
    room_id: str
    user_id: str  # MESSAGE: the author; else the user concerned
    seq: int | None = None
    message_id: str | None = None
    message_sk: str | None = None
    author_name: str = ""
    room_name: str = ""
    room_kind: str | None = None
    excerpt: str = ""
    room_mention: bool = False
    read_seq: int | None = None
    read_pos: str | None = None
    read_version: int = 0
    mention_seqs: frozenset[int] = frozenset()  # READ: the membership's MentionSeqs after the move
    notify: str | None = None

    @property
    def sk(self) -> str:
        return keys.activity_sk(iso_from_ms(self.at_ms), self.ref)

    @classmethod
    def from_record(cls, record: ActivityRecord) -> Activity:
        at, ref = keys.activity_sk_parts(record.SK)
        return cls(kind=ref[:2], at_ms=ms_from_iso(at), ref=ref, room_id=record.room, user_id=record.user,
                   seq=None if record.seq is None else int(record.seq), message_id=record.message_id,
                   message_sk=record.message_sk, author_name=record.author_name or "",
                   room_name=record.room_name or "", room_kind=record.room_kind, excerpt=record.excerpt or "",
                   room_mention=bool(record.room_mention),
                   read_seq=None if record.read_seq is None else int(record.read_seq), read_pos=record.read_pos,
                   read_version=int(record.read_version or 0),
                   mention_seqs=frozenset(int(m) for m in record.mention_seqs or ()), notify=record.notify)

    @classmethod
    def from_item(cls, item: dict) -> Activity:
        return cls.from_record(ActivityRecord.from_raw_data(item))


# --- the reducer ----------------------------------------------------------------------------------


@dataclass
class UnreadState:
    """One user's unread state across their rooms, as their tabs show it: per room the room's Seq,
    the read cursor (ReadSeq at its highest ReadVersion), the Seqs of messages mentioning them, the
    notification setting. Starts from the user's memberships and the rooms' Seqs (what the sidebar
    page reads) and applies activity events: a room's Seq is the highest seen, a read cursor the
    one of the highest version, mentions a union, a setting the latest by time. So apply() is
    idempotent and order-independent: any delivery of the same events ends in the same state.

    Events for rooms the user is not in (as of the start) are ignored: joining shows on the next
    page (or reconnect). Leaving (an `x-` event) drops the room at once, unless the membership
    was made after the event (joined again: a late or replayed event removes nothing)."""

    user_id: str
    rooms: dict[str, UserRoom]  # room id -> membership (read_seq, read_version, mention_seqs, notify)
    seqs: dict[str, int] = field(default_factory=dict)  # room id -> the room's Seq
    setting_at: dict[str, tuple[int, str]] = field(default_factory=dict)  # room id -> (ms, value) applied

    @classmethod
    def start(cls, user_id: str, rooms: Iterable[UserRoom], seqs: dict[str, int]) -> UnreadState:
        rooms = {r.room_id: r for r in rooms}
        return cls(user_id=user_id, rooms=rooms, seqs={rid: int(seqs.get(rid, 0)) for rid in rooms})

    def apply(self, event: Activity) -> bool:
        """Apply one event; True if the state changed."""
        entry = self.rooms.get(event.room_id)
        if entry is None:
            return False
        if event.kind == MESSAGE:
            if event.seq is None or event.seq <= self.seqs.get(event.room_id, 0):
                return False
            self.seqs[event.room_id] = event.seq
            return True
        if event.user_id != self.user_id:
            return False
        if event.kind == READ:
            # Mentions are a union whatever the version (those read are not counted anyway).
            mentions = entry.mention_seqs | event.mention_seqs
            if event.read_version <= entry.read_version:
                if mentions == entry.mention_seqs:
                    return False
                self.rooms[event.room_id] = replace(entry, mention_seqs=mentions)
                return True
            self.rooms[event.room_id] = replace(entry, read_seq=event.read_seq, read_pos=event.read_pos,
                                                read_version=event.read_version, mention_seqs=mentions)
            return True
        if event.kind == MENTION:
            if event.seq is None or event.seq in entry.mention_seqs:
                return False
            self.rooms[event.room_id] = replace(entry, mention_seqs=entry.mention_seqs | {event.seq})
            # A mention's Seq is the room's too (its s- event may be on another shard, read later).
            self.seqs[event.room_id] = max(self.seqs.get(event.room_id, 0), event.seq)
            return True
        if event.kind == LEFT:
            if ms_from_iso(entry.joined_at) > event.at_ms:
                return False
            del self.rooms[event.room_id]
            self.seqs.pop(event.room_id, None)
            return True
        if event.kind == SETTING:
            stamp = (event.at_ms, event.notify or "")
            if stamp <= self.setting_at.get(event.room_id, (-1, "")):
                return False
            self.setting_at[event.room_id] = stamp
            if event.notify == entry.notify:
                return False
            self.rooms[event.room_id] = replace(entry, notify=event.notify)
            return True
        return False

    def apply_all(self, events: Iterable[Activity]) -> bool:
        changed = False
        for event in events:
            changed = self.apply(event) or changed
        return changed

    def unread(self, room_id: str) -> int:
        entry = self.rooms[room_id]
        if entry.read_seq is None:  # a membership from before read cursors: no count (as the page)
            return 0
        return max(0, self.seqs.get(room_id, 0) - entry.read_seq)

    def mentions(self, room_id: str) -> int:
        entry = self.rooms[room_id]
        return sum(1 for s in entry.mention_seqs if s > (entry.read_seq or 0))

    def total(self) -> int:
        return sum(self.unread(rid) for rid in self.rooms)

    def counts(self) -> dict[str, tuple[int, int]]:
        """room id -> (unread, unread mentions): what the sidebar shows."""
        return {rid: (self.unread(rid), self.mentions(rid)) for rid in self.rooms}

    def entries(self) -> list[UserRoom]:
        """The sidebar's entries with their counts, sorted as selectors.user_rooms sorts them."""
        rooms = [replace(r, unread=self.unread(r.room_id)) for r in self.rooms.values()]
        return sorted(rooms, key=lambda r: (r.name.casefold(), r.room_id))

    def wants_notification(self, event: Activity, *, mentioned: bool) -> bool:
        """Should a post (an `s-` event) notify this user? Not their own message, not one they have
        already read; then by their setting for the room: all, mentions (``mentioned``: an `n-`
        event for them, or @room), or none."""
        entry = self.rooms.get(event.room_id)
        if entry is None or event.kind != MESSAGE or event.user_id == self.user_id:
            return False
        if event.seq is not None and entry.read_seq is not None and event.seq <= entry.read_seq:
            return False
        level = entry.notify_level
        return level == "all" or (level == "mentions" and mentioned)


# --- the per-process hub ----------------------------------------------------------------------------

RECENT_KEPT = 5000  # dispatched events kept to replay to a subscription made just after them
HUB_LINGER_SECONDS = 10  # the refresher outlives its last subscription this long (reloads)
NOTIFIED_KEPT = 500  # message ids a stream remembers having notified


class Subscription:
    """One signed-in stream's interest: its user's events (r-, n-, c-) and posts (s-) in its rooms
    (any room until ``rooms`` is set). The hub appends what concerns it, then calls ``wake``."""

    def __init__(self, user_id: str, wake: Callable[[], None], rooms: Iterable[str] | None = None):
        self.user_id = user_id
        self.wake = wake
        self.rooms: frozenset[str] | None = None if rooms is None else frozenset(rooms)
        self._pending: list[tuple[Activity, bool]] = []
        self._lock = threading.Lock()

    def wants(self, event: Activity) -> bool:
        if event.kind == MESSAGE:
            return self.rooms is None or event.room_id in self.rooms
        return event.user_id == self.user_id

    def deliver(self, event: Activity, fresh: bool) -> None:
        with self._lock:
            self._pending.append((event, fresh))

    def has_pending(self) -> bool:
        with self._lock:
            return bool(self._pending)

    def take(self) -> list[tuple[Activity, bool]]:
        """What arrived since the last take: (event, fresh), fresh False for events the hub found
        when it started (up to an overlap old: fine for counts, too old to notify about)."""
        with self._lock:
            pending, self._pending = self._pending, []
        return pending


class ActivityHub:
    """This process's reader of the activity feed. While any subscription (a signed-in stream) is
    open, one refresher reads every shard once per ``interval``: one consistent Query each, from
    the shard's watermark minus ``overlap_ms`` (the bound on clock skew and put latency, as for
    room feeds), dropping events already seen by SK. New events go to the subscriptions they
    concern (by user id; posts by room), a post's Seq to the room Seq cache (``note_seq``), and
    the woken streams read their user's state from memory: 0 reads per tab. Signed-in pages keep
    it running too (``keep_for_pages``): each refresh done tells ``seq_feed`` (selectors.SeqFeed),
    so the sidebar's unread counts come from the cache it keeps, not a read of the rooms' Seqs, and
    after each round done it reads again the entries pages will soon find expired (renew_seqs).
    Clock, query and sleep are injected; ``autostart=False`` leaves refreshing to the caller (tests)."""

    def __init__(self, *, query: Callable[..., list] | None = None, clock: Callable[[], int] = now_ms,
                 shards: int | None = None, overlap_ms: int | None = None, interval: float | None = None,
                 note_seq: Callable[[str, int], None] | None = None, autostart: bool = True,
                 sleep: Callable[[float], None] = time.sleep, monotonic: Callable[[], float] = time.monotonic,
                 seq_feed: selectors.SeqFeed | None = None,
                 keep_session_feed: Callable[[], float | None] | None = None,
                 renew_seqs: Callable[[], object] | None = None):
        self.query = query or selectors.activity_since
        self.note_seq = note_seq or selectors.note_room_seq
        self.seq_feed = seq_feed or selectors.seq_feed
        self.keep_session_feed = keep_session_feed or keep_session_feed_current
        self.renew_seqs = renew_seqs or selectors.renew_seqs
        self.clock = clock
        self.shards = shards or settings.CHAT_ACTIVITY_SHARDS
        self.overlap_ms = int(settings.CHAT_LIVE_OVERLAP_SECONDS * 1000) if overlap_ms is None else overlap_ms
        self.interval = settings.CHAT_ACTIVITY_REFRESH_SECONDS if interval is None else interval
        self.autostart = autostart
        self.sleep = sleep
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._by_user: dict[str, set[Subscription]] = {}
        self._by_room: dict[str, set[Subscription]] = {}
        self._any_room: set[Subscription] = set()
        self._count = 0  # subscriptions
        self._last_left = monotonic()
        self._last_page = float("-inf")  # the last signed-in page that wanted the feed kept
        self._refresher: threading.Thread | None = None
        self.closed = False
        self.failures = 0
        self.queries = 0  # Queries made, for tests and measurements
        self._dispatched = 0  # events dispatched, ever: marks stay comparable across restarts
        self._session_due: float | None = None  # monotonic: when keep_session_feed asked to run again
        self._reset()

    def _reset(self) -> None:
        # What was read before is no longer followed: no entry is kept by it (a new run; a hub
        # replaced meanwhile has its own, left alone).
        self._seq_run = self.seq_feed.restart(getattr(self, "_seq_run", None))
        self._watermarks: dict[int, int] = {}
        self._seen: dict[int, dict[str, int]] = {}
        self._primed = False  # the first refresh after a (re)start only learns what is there
        self._recent: list[tuple[int, Activity, bool]] = []

    # --- subscriptions ------------------------------------------------------------------------------

    def mark(self) -> int:
        """A point in the dispatch order: subscribe(after=mark) replays what came after it, so a
        stream that reads its state and then subscribes misses nothing dispatched in between."""
        with self._lock:
            return self._dispatched

    def subscribe(self, user_id: str, wake: Callable[[], None], *, rooms: Iterable[str] | None = None,
                  after: int | None = None) -> Subscription:
        subscription = Subscription(user_id, wake, rooms)
        with self._lock:
            self._count += 1
            self._by_user.setdefault(user_id, set()).add(subscription)
            self._index_rooms(subscription)
            if after is not None:
                for number, event, fresh in self._recent:
                    if number > after and subscription.wants(event):
                        subscription.deliver(event, fresh)
            self._start_refresher()
        return subscription

    def keep_for_pages(self) -> None:
        """A signed-in page is served: keep refreshing (start if stopped) for HUB_LINGER_SECONDS
        more, so the Seqs of the sidebar's rooms stay current in the cache (selectors.SeqFeed)
        instead of being read again every CHAT_ROOM_SEQ_CACHE_SECONDS. No call of the page's own."""
        with self._lock:
            self._last_page = self.monotonic()
            self._start_refresher()

    def _start_refresher(self) -> None:  # under self._lock
        if self.autostart and not self.closed and (self._refresher is None or not self._refresher.is_alive()):
            self._refresher = threading.Thread(target=self._refresh_loop, name="activity", daemon=True)
            self._refresher.start()

    def _index_rooms(self, subscription: Subscription) -> None:
        if subscription.rooms is None:
            self._any_room.add(subscription)
        else:
            for room_id in subscription.rooms:
                self._by_room.setdefault(room_id, set()).add(subscription)

    def _unindex_rooms(self, subscription: Subscription) -> None:
        self._any_room.discard(subscription)
        for room_id in subscription.rooms or ():
            subs = self._by_room.get(room_id)
            if subs is not None:
                subs.discard(subscription)
                if not subs:
                    del self._by_room[room_id]

    def set_rooms(self, subscription: Subscription, rooms: Iterable[str]) -> None:
        with self._lock:
            self._unindex_rooms(subscription)
            subscription.rooms = frozenset(rooms)
            self._index_rooms(subscription)

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            subs = self._by_user.get(subscription.user_id)
            if subs is None or subscription not in subs:
                return
            subs.discard(subscription)
            if not subs:
                del self._by_user[subscription.user_id]
            self._unindex_rooms(subscription)
            self._count -= 1
            self._last_left = self.monotonic()

    @property
    def subscriptions(self) -> int:
        return self._count

    # --- refreshing -----------------------------------------------------------------------------------

    @metrics.timed_refresh("activity")
    def refresh_now(self, *, between: Callable[[], object] | None = None) -> list[Activity]:
        """One round: a Query per shard; the events not seen before are dispatched and returned.
        All or nothing: a shard's Query failing leaves every watermark and seen set as it was (the
        next round reads the same events again), so no event is marked seen without being
        dispatched, and the Seq cache's coverage (seq_feed) has no hole. ``between``: called
        between two shards' Queries (the session feed's upkeep: it must not wait a whole round)."""
        token = self.seq_feed.begin(self._seq_run)
        try:
            return self._round(token, between)
        finally:
            self.seq_feed.failed(token)  # no-op once done; else pages stop waiting for it

    def _round(self, token: tuple[int, float], between: Callable[[], object] | None) -> list[Activity]:
        fresh = self._primed
        new: list[Activity] = []
        watermarks: dict[int, int] = {}
        seen_sets: dict[int, dict[str, int]] = {}
        for shard in range(self.shards):
            if self.closed:  # replaced or shut: no more reads (its tables may be gone: tests, shutdown)
                return []
            if shard and between is not None:
                between()
            started = self.clock()
            since = self._watermarks.get(shard, started) - self.overlap_ms
            records = self.query(shard=shard, since=iso_from_ms(since))
            self.queries += 1
            seen = dict(self._seen.get(shard, {}))
            for record in records:
                event = record if isinstance(record, Activity) else Activity.from_record(record)
                if event.sk in seen:
                    continue
                seen[event.sk] = event.at_ms
                new.append(event)
            # The next Query starts at this one's start minus the overlap: what it will see again.
            watermarks[shard] = max(self._watermarks.get(shard, started), started)
            floor = watermarks[shard] - self.overlap_ms
            seen_sets[shard] = {sk: at for sk, at in seen.items() if at >= floor}
        self._watermarks.update(watermarks)
        self._seen.update(seen_sets)
        self._primed = True
        if self._dispatch(new, fresh):
            self.seq_feed.done(token)  # after the Seqs are noted: the cache now holds them
        return new

    def _dispatch(self, events: list[Activity], fresh: bool) -> bool:
        if self.closed:  # replaced (caches cleared): its news must not reach the new hub's caches
            return False
        # The Seqs first: a stream that takes its mark after these events are numbered reads its
        # rooms' Seqs from the cache, which must already hold them (it is not replayed them).
        for event in events:
            if event.kind in (MESSAGE, MENTION) and event.seq is not None:
                self.note_seq(event.room_id, event.seq)  # a room page's count reads no Seq meanwhile
        woken: dict[int, Subscription] = {}
        with self._lock:
            for event in events:
                self._dispatched += 1
                self._recent.append((self._dispatched, event, fresh))
                if event.kind == MESSAGE:
                    targets = self._by_room.get(event.room_id, set()) | self._any_room
                else:
                    targets = self._by_user.get(event.user_id, set())
                for subscription in targets:
                    if subscription.wants(event):
                        subscription.deliver(event, fresh)
                        woken[id(subscription)] = subscription
            if len(self._recent) > RECENT_KEPT:
                del self._recent[:len(self._recent) - RECENT_KEPT]
        for subscription in woken.values():
            subscription.wake()
        return True

    def _refresh_loop(self) -> None:
        while True:
            with self._lock:
                idle_since = max(self._last_left, self._last_page)
                if self.closed or (self._count <= 0 and self.monotonic() - idle_since > HUB_LINGER_SECONDS):
                    self._refresher = None
                    self._reset()  # a later start learns the feed afresh (its backlog notifies nobody)
                    return
            started = self.monotonic()
            # First, at the top of each round, and again whenever it asks (between the round's
            # calls, during the pause): the session feed is refreshed before a page's session
            # cache hit would have to.
            self._keep_session_feed()
            try:
                self.refresh_now(between=self._keep_session_feed_between)
                self.failures = 0
            except Exception:  # noqa: BLE001 - DynamoDB down or slow: counts wait, nothing is lost
                self.failures += 1
                if self.failures in (1, 10) or self.failures % 100 == 0:
                    logger.warning("activity feed refresh failed (%d in a row)", self.failures, exc_info=True)
            if not self.failures:
                self._keep_session_feed_between()
                self._renew_seqs()
            pause = self.interval * min(2 ** self.failures, 20) if self.failures else self.interval
            self._pause_until(started + pause)

    def _keep_session_feed(self) -> None:
        wake_in = self.keep_session_feed()
        self._session_due = None if wake_in is None else self.monotonic() + wake_in

    def _keep_session_feed_between(self) -> None:
        """Between a round's calls: the session feed's upkeep once it asked to run, so a slow round
        (CPU load, a slow DynamoDB) delays it by one call at most, not the rest of the round."""
        if self._session_due is not None and self.monotonic() >= self._session_due:
            self._keep_session_feed()

    def _pause_until(self, until: float) -> None:
        """Sleep until ``until`` (monotonic), waking for keep_session_feed when its last answer
        asked to (seconds until it wants to run again; None: not before the next round)."""
        while True:
            now = self.monotonic()
            if self._session_due is None or self._session_due >= until or self.closed:
                self.sleep(max(0.0, until - now))
                return
            self.sleep(max(0.0, self._session_due - now))
            self._keep_session_feed()

    def _renew_seqs(self) -> None:
        """After a round done: the Seqs pages will want soon, read here rather than by a page
        (selectors.renew_seqs). A failure costs nothing but that: pages read them as before."""
        try:
            self.renew_seqs()
        except Exception:  # noqa: BLE001 - DynamoDB throttling or down: the pages' own read remains
            logger.warning("activity feed: renewing the rooms' Seqs failed", exc_info=True)

    def close(self) -> None:
        with self._lock:
            self.closed = True
        self.seq_feed.restart(self._seq_run)


_hub: ActivityHub | None = None
_hub_lock = threading.Lock()


def hub() -> ActivityHub:
    """This process's hub (made on first use)."""
    global _hub
    with _hub_lock:
        if _hub is None or _hub.closed:
            _hub = ActivityHub()
        return _hub


SESSION_UPKEEP_MIN_WAIT = 0.05  # seconds: never busier than this (a page's feed Query under way)


def keep_session_feed_current() -> float | None:
    """The session cache's upkeep, by the hub's thread while the hub runs, so the signed-in pages it
    runs for make no session call of their own in the steady state:
    - the session feed's refresh (accounts.session_feed) once it is half an interval old, not the
      whole one, so a late wake-up still comes before a page would find it due (a page finding it
      older than ACCOUNTS_SESSION_FEED_SECONDS makes the Query itself: the feed's rules are unchanged);
    - revalidateCachedSessions (accounts.session_patterns): cached sessions used in the last
      ACCOUNTS_SESSION_CACHE_WITH_FEED_SECONDS read again in bulk before they reach it.
    Returns the seconds until it wants to run again (the hub wakes for it during its pause), or None
    while the session cache or its feed is off. Never raises (failures are logged)."""
    if not (session_cache.seconds() > 0 and session_cache.seconds_with_feed() > 0 and session_cache.feed.enabled()):
        return None
    ahead = session_feed.refresh_seconds() / 2
    try:
        session_cache.feed.refresh_if_due(session_cache.forget_partitions, ahead=ahead)
    except Exception:  # noqa: BLE001 - the pages' own refresh remains
        logger.warning("session feed: the activity hub's refresh failed", exc_info=True)
    try:
        session_patterns.revalidate_cached_sessions(session_cache)
    except Exception:  # noqa: BLE001 - entries expire at their bound; pages read them again
        logger.warning("session cache: revalidating cached sessions failed", exc_info=True)
    waits = [session_cache.feed.due_in(ahead=ahead), session_cache.revalidation_due_in()]
    return max(SESSION_UPKEEP_MIN_WAIT, min(wait for wait in waits if wait is not None))


def keep_seqs_for_pages() -> None:
    """A signed-in page shows the sidebar's unread counts: keep this process's feed running so the
    rooms' Seqs come from the cache it keeps (ActivityHub.keep_for_pages), unless that is off
    (CHAT_ROOM_SEQ_FEED_SECONDS or CHAT_ROOM_SEQ_CACHE_SECONDS 0)."""
    if settings.CHAT_ROOM_SEQ_FEED_SECONDS > 0 and settings.CHAT_ROOM_SEQ_CACHE_SECONDS > 0:
        hub().keep_for_pages()


@caches.register
def clear_hub() -> None:
    global _hub
    with _hub_lock:
        if _hub is not None:
            _hub.close()
        _hub = None


# --- the user's side of a signed-in stream --------------------------------------------------------------


def notify_url(event: Activity) -> str:
    """The room page around the message, scrolled to it (room_detail's ``at``)."""
    query = f"?{urlencode({'at': event.message_sk})}" if event.message_sk else ""
    return f"{reverse('rooms:room', args=[event.room_id])}{query}#m-{event.message_id}"


class UserSide:
    """What one signed-in stream sends about its user, beyond the room it shows: `sidebar` (the
    sidebar's HTML and counts, whenever they change, and first of all the current state, so a
    reconnect mends whatever was missed) and `notify` (a message the user's setting for its room
    asks to be told about: all, mentions, none; never their own, never one already read; only
    events seen after the stream opened). ``render`` draws the sidebar from the state."""

    def __init__(self, *, state: UnreadState, subscription: Subscription, hub: ActivityHub,
                 render: Callable[[UnreadState], str]):
        self.state = state
        self.subscription = subscription
        self.hub = hub
        self.render = render
        self._sent: dict[str, tuple[int, int]] | None = None  # room id -> (unread, mentions) last sent
        self._member_of = frozenset(state.rooms)  # as the stream opened
        self._notified: dict[str, None] = {}
        self._mentioned: dict[str, None] = {}

    def has_pending(self) -> bool:
        return self.subscription.has_pending()

    def left(self, room_id: str) -> bool:
        """The user was in ``room_id`` when the stream opened and has left it or been removed."""
        return room_id in self._member_of and room_id not in self.state.rooms

    def events(self) -> list[tuple[str, str]]:
        """The SSE events (name, data) owed now."""
        pending = self.subscription.take()
        if not pending and self._sent is not None:
            return []  # woken by its room, or a heartbeat: nothing of the user's changed
        rooms_before = len(self.state.rooms)
        self.state.apply_all(event for event, _ in pending)
        if len(self.state.rooms) != rooms_before:  # left a room: its posts stop reaching this stream
            self.hub.set_rooms(self.subscription, self.state.rooms)
        out: list[tuple[str, str]] = []
        counts = self.state.counts()
        if counts != self._sent:
            sidebar = {"total": self.state.total(), "rooms": {rid: unread for rid, (unread, _) in sorted(counts.items())}}
            if self._sent is None or counts.keys() != self._sent.keys():
                sidebar["html"] = self.render(self.state)  # the whole list: on (re)connect, or a room left
            else:  # the changed rooms' badges only: a post costs each stream string operations, not a render
                sidebar["badges"] = {rid: str(badges_html(*now)) for rid, now in counts.items()
                                     if self._sent.get(rid) != now}
            self._sent = counts
            out.append(("sidebar", json.dumps(sidebar, separators=(",", ":"))))
        # Mentions first: a post and its mention come in one batch but may be read in two shards.
        for event, fresh in sorted(pending, key=lambda item: item[0].kind != MENTION):
            note = self._notification(event) if fresh else None
            if note is not None:
                out.append(("notify", json.dumps(note, separators=(",", ":"))))
        return out

    def _notification(self, event: Activity) -> dict | None:
        if event.kind == MENTION and event.user_id == self.state.user_id and event.message_id:
            _remember(self._mentioned, event.message_id)
        elif event.kind != MESSAGE:
            return None
        if not event.message_id or event.message_id in self._notified:
            return None
        entry = self.state.rooms.get(event.room_id)
        if entry is None:
            return None
        mentioned = event.kind == MENTION or event.room_mention or event.message_id in self._mentioned
        if event.kind == MESSAGE:
            wanted = self.state.wants_notification(event, mentioned=mentioned)
        else:  # a mention: the author is never the one mentioned
            read = entry.read_seq is not None and event.seq is not None and event.seq <= entry.read_seq
            wanted = not read and entry.notify_level in ("all", "mentions")
        if not wanted:
            return None
        _remember(self._notified, event.message_id)
        name = entry.name
        if mentioned:
            title = f"{event.author_name} mentioned you in {name}"
        elif entry.kind == "direct":
            title = event.author_name
        else:
            title = f"{event.author_name} in {name}"
        return {"id": event.message_id, "room": event.room_id, "title": title, "body": event.excerpt,
                "url": notify_url(event), "mention": bool(mentioned)}

    def close(self) -> None:
        self.hub.unsubscribe(self.subscription)


def _remember(kept: dict[str, None], key: str) -> None:
    kept[key] = None
    while len(kept) > NOTIFIED_KEPT:
        del kept[next(iter(kept))]
