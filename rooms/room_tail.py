"""The room page's newest messages from memory: one *tail* per room per process, the newest
CHAT_HISTORY_PAGE_SIZE + 1 messages, loaded once by room history's Query and then kept current by
the room's live feed (rooms.live.RoomFeed: every successful refresh and every local event is
folded in). docs/live-updates.md, "The room page from memory", says why this keeps the page's
guarantees.

A tail at watermark W holds what a page read from DynamoDB at W would hold: every message visible
at W, with its state (edits, reactions, replies) as of W. It is served only while W is recent
(CHAT_LIVE_REFRESH_SECONDS), with W itself as the page's watermark, so the page's first live
update is owed exactly what it would be owed after a page read from DynamoDB at W.

Times are epoch milliseconds on this server's clock (the feed's).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

from django.conf import settings

from chatsite import caches, keys, pagination
from chatsite.pagination import Page
from rooms import live, selectors
from rooms.models import ChatMessage, Deletion, Room
from rooms.timestamps import now_ms

logger = logging.getLogger(__name__)

Loader = Callable[..., list[ChatMessage]]


@dataclass(frozen=True)
class TailView:
    items: list[ChatMessage]  # oldest first
    whole: bool  # the room has no messages older than these
    watermark_ms: int


# --- what a tail holds per message: a compact tuple, a ChatMessage again for each page ----------------
#
# A ChatMessage kept for minutes costs ~1.5 KB: its own copies of the room id, author id and name
# read off the wire for every message, the created_at and id that its SK already spells, and, once a
# page has rendered it, an instance dict (``created_ms`` is a cached_property: caching it turns the
# dataclass's compact attribute storage into a full dict, ~800 bytes). A tail of 1,000 rooms holds
# 51,000 of them. So a tail keeps each message as one tuple of the fields that are its own (the SK,
# the comment; the room id and author strings interned, shared by every message of that author in
# every room; created_at only when it is not the SK's) and builds the page's ChatMessages from it
# on each view, equal field for field to the ones it was given (tests/rooms/test_room_tail_memory.py).

_SK, _COMMENT, _ROOM, _AUTHOR_ID, _AUTHOR_NAME, _SEQ, _VERSION, _CREATED_AT, _REST = range(9)


def _packed(message: ChatMessage) -> tuple:
    created_at = None if message.created_at == keys.message_sk_parts(message.sk)[0] else message.created_at
    rest = (message.mentions, message.edit_version, message.edited_at, message.reactions, message.reply_count,
            message.thread_id, message.reply_to)
    if rest == ((), 0, None, (), 0, None, None):
        rest = None  # most messages: never edited, reacted to, replied to, or mentioning anyone
    return (message.sk, message.comment, _shared(message.room_id), _shared(message.author_id),
            _shared(message.author_name), message.seq, message.version, created_at, rest)


def _shared(value):
    """One copy per process of a string many messages hold (sys.intern takes exact strs only)."""
    return sys.intern(value) if type(value) is str else value


def _unpacked(message_id: str, held: tuple) -> ChatMessage:
    sk, comment, room_id, author_id, author_name, seq, version, created_at, rest = held
    mentions, edit_version, edited_at, reactions, reply_count, thread_id, reply_to = rest or (
        (), 0, None, (), 0, None, None)
    return ChatMessage(room_id=room_id, author_id=author_id, sk=sk, message_id=message_id,
                       created_at=keys.message_sk_parts(sk)[0] if created_at is None else created_at,
                       author_name=author_name, comment=comment, seq=seq, mentions=mentions, version=version, edit_version=edit_version,
                       edited_at=edited_at, reactions=reactions, reply_count=reply_count, thread_id=thread_id,
                       reply_to=reply_to)


def _order(message_id: str, held: tuple) -> tuple[str, str]:
    """ChatMessage.order of a held message: (created_at, message id)."""
    created_at = held[_CREATED_AT]
    return keys.message_sk_parts(held[_SK])[0] if created_at is None else created_at, message_id


def history_cursor(room_id: str, oldest: ChatMessage, *, purpose: str = "history") -> str:
    """The "load older" cursor after ``oldest``: the LastEvaluatedKey room history's Query would
    hand back there (the index's key and the table's), signed as room_history signs it (purpose
    "history-newer": the "load newer" cursor after a message, as room_history_around signs it)."""
    key = {"PK": {"S": keys.user_pk(oldest.author_id)}, "SK": {"S": oldest.sk}, "RoomID": {"S": room_id},
           "CreatedAt": {"S": oldest.created_at}}
    return pagination.encode(key, purpose=purpose, scope=room_id)


class RoomTail:
    """The newest ``capacity`` messages of one room, as of ``watermark_ms`` (the start of the
    last load or feed refresh folded in). ``messages`` None: not loaded (or given up: a gap in
    the feed, a deletion that left fewer messages than a page needs)."""

    def __init__(self, room_id: str, created_at: str | None = None, *, loader: Loader | None = None,
                 clock: Callable[[], int] | None = None, capacity: int | None = None):
        self.room_id = room_id
        self.created_at = created_at  # a room re-created under the same id gets a new tail
        self.loader = loader or selectors.room_tail_messages
        self.clock = clock or now_ms
        self.default_capacity = capacity or settings.CHAT_HISTORY_PAGE_SIZE + 1
        self.capacity = self.default_capacity  # more while deepened (a hot room's many-unread readers)
        self.messages: dict[str, tuple] | None = None  # message id -> _packed(message)
        self.whole = False
        self.watermark_ms: int | None = None
        self.loaded_at_ms: int | None = None
        self.deleted: dict[str, int] = {}  # message id -> deletion time: a late post event can't revive it
        # A bulk writer's history mark at T (an `h-` live event, rooms.services.room_history_changed):
        # a load started before T + overlap may not show its writes (index lag), so such a load
        # serves the page that made it and no other (docs/live-updates.md, "Bulk writers").
        self.unsure_until_ms = 0
        self.last_page_ms: int | None = None  # TailUpkeep's: is the room hot
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()  # single flight: a crowd opening a cold room loads it once

    @property
    def overlap_ms(self) -> int:
        return int(settings.CHAT_LIVE_OVERLAP_SECONDS * 1000)

    # --- kept current by the feed (rooms.live.RoomFeed.follower) --------------------------------

    def refreshed(self, *, since_ms: int, watermark_ms: int, messages: list[ChatMessage],
                  deletions: list[Deletion], changes: list[tuple[int, ChatMessage]],
                  history_marks: list[int] = ()) -> None:
        """A feed refresh that started at ``watermark_ms`` read every event later than ``since_ms``."""
        with self._lock:
            self._note_marks(history_marks)
            if self.messages is None or self.watermark_ms is None:
                return
            if watermark_ms < self.watermark_ms:
                return  # older news than the tail's: the next refresh reads from before it anyway
            if since_ms > self.watermark_ms - self.overlap_ms:
                self._give_up()  # the feed started over past the tail's window: events may be missing
                return
            self._apply(messages, deletions, changes, floor_ms=self.watermark_ms - self.overlap_ms)
            if self.messages is not None:
                self.watermark_ms = watermark_ms

    def local(self, event: live.Event) -> None:
        """What this process just wrote (a post, a deletion, a change): shown at once, as to streams."""
        with self._lock:
            if self.messages is None:
                return
            if event.is_deletion:
                self._apply([], [Deletion(room_id=self.room_id, message_id=event.message_id, deleted_at="")], [],
                            floor_ms=0, deleted_ms=event.at_ms)
            elif event.update:
                self._apply([], [], [(event.at_ms, event.message)], floor_ms=0)
            else:
                self._apply([event.message], [], [], floor_ms=0)

    def _apply(self, messages, deletions, changes, *, floor_ms: int, deleted_ms: int | None = None) -> None:
        held = self.messages
        for deletion in deletions:
            self.deleted[deletion.message_id] = deleted_ms if deleted_ms is not None else deletion.deleted_ms
            # Fewer than a page and a "load older" need (a deepened tail may hold fewer than its
            # capacity and still more than that): load again when asked.
            if (held.pop(deletion.message_id, None) is not None and not self.whole
                    and len(held) < self.default_capacity):
                self._give_up()
                return
        for message in messages:
            # Older than the tail's last window and not held: deleted, or older than the newest
            # messages; a message visible late is within the overlap (docs/live-updates.md).
            if message.message_id in self.deleted or (message.created_ms <= floor_ms
                                                      and message.message_id not in held):
                continue
            current = held.get(message.message_id)
            if current is None or message.version > current[_VERSION]:
                held[message.message_id] = _packed(message)
        for _at, message in changes:
            current = held.get(message.message_id)
            if current is not None and message.version > current[_VERSION]:
                held[message.message_id] = _packed(message)
        if len(held) > self.capacity:
            for message_id in sorted(held, key=lambda i: _order(i, held[i]))[:len(held) - self.capacity]:
                del held[message_id]
            self.whole = False
        if self.watermark_ms is not None and len(self.deleted) > 4 * self.capacity:
            horizon = self.watermark_ms - 3 * self.overlap_ms  # as long as a feed keeps a deletion
            self.deleted = {i: at for i, at in self.deleted.items() if at > horizon}

    def _give_up(self) -> None:
        self.messages = None
        self.watermark_ms = None

    def _note_marks(self, marks) -> None:
        for at_ms in marks:
            self.unsure_until_ms = max(self.unsure_until_ms, at_ms + self.overlap_ms)

    # --- loading and serving -------------------------------------------------------------------

    def load(self, feed: live.RoomFeed | None = None) -> None:
        """room history's Query (the newest ``capacity`` messages, from the index), then what the
        feed's memory adds since (posts the index doesn't show yet, deletions, changes)."""
        started = self.clock()  # before the Query, as the page's watermark always was
        self.capacity = self.default_capacity  # a reload is never deep: the next page deepens it again if need be
        newest = self.loader(room_id=self.room_id, limit=self.capacity)
        with self._lock:
            self.capacity = self.default_capacity
            self.messages = {m.message_id: _packed(m) for m in newest}
            self.whole = len(newest) < self.capacity
            self.watermark_ms = self.loaded_at_ms = started
            self.deleted = {}
            if feed is not None:
                self._absorb(feed)

    def _absorb(self, feed: live.RoomFeed) -> None:
        self._note_marks(feed.marks())
        watermark, covered_from, events = feed.memory()
        if watermark is None or covered_from is None or watermark < self.watermark_ms:
            return  # the feed's memory is older than the load: its next refresh brings what is new
        if covered_from > self.watermark_ms - self.overlap_ms:
            return
        messages = [e.message for e in events if e.message is not None and not e.update]
        changes = [(e.at_ms, e.message) for e in events if e.update]
        deletions = [Deletion(room_id=self.room_id, message_id=e.message_id, deleted_at="") for e in events
                     if e.is_deletion]
        for e in events:
            if e.is_deletion:
                self.deleted[e.message_id] = e.at_ms
        self._apply(messages, [], changes, floor_ms=self.watermark_ms - self.overlap_ms)
        for deletion in deletions:  # after the messages: a deletion wins whatever the order read
            if self.messages is None:
                return
            self._apply([], [deletion], [], floor_ms=0, deleted_ms=self.deleted[deletion.message_id])
        if self.messages is not None:
            self.watermark_ms = watermark

    def deepened(self, capacity: int, *, before: Callable[..., list[ChatMessage]] | None = None) -> bool:
        """Hold the newest ``capacity`` messages from now on (a hot room's, bounded by
        CHAT_ROOM_TAIL_DEEP_MAX): one Query for the messages older than the oldest held (room
        history's, descending from its index key). They are merged with their state as read, at or
        after the watermark: the page's first live update re-applies what changed since
        idempotently. False (the caller reads from DynamoDB): not loaded, a gap meanwhile (the
        oldest trimmed, the tail given up or reloaded), or the Query failed."""
        with self._lock:
            held = self.messages
            if held is None or self.watermark_ms is None or self.whole or len(held) >= capacity or not held:
                return False
            oldest_id = min(held, key=lambda i: _order(i, held[i]))
            oldest = _unpacked(oldest_id, held[oldest_id])
            missing = capacity - len(held)
        try:
            older = (before or selectors.room_history_before)(room_id=self.room_id, oldest=oldest, limit=missing)
        except Exception:  # noqa: BLE001 - DynamoDB slow or down: the page reads room history around itself
            logger.warning("room %s: deepening its tail failed", self.room_id, exc_info=True)
            return False
        with self._lock:
            if self.messages is not held or oldest_id not in held or self.whole:
                return False  # reloaded, given up, or the oldest trimmed or deleted meanwhile: a gap
            for message in older:
                # A message the tail knows was deleted stays deleted (the index may still show it).
                if message.message_id not in self.deleted and message.message_id not in held:
                    held[message.message_id] = _packed(message)
            self.capacity = max(self.capacity, capacity)
            if len(older) < missing:
                self.whole = True  # the Query found the room's first message
            return True

    def undeepened(self) -> None:
        """Back to the default capacity (the room left the upkeep's hot set): the oldest beyond it
        are dropped now."""
        with self._lock:
            if self.capacity == self.default_capacity:
                return
            self.capacity = self.default_capacity
            held = self.messages
            if held is not None and len(held) > self.capacity:
                for message_id in sorted(held, key=lambda i: _order(i, held[i]))[:len(held) - self.capacity]:
                    del held[message_id]
                self.whole = False

    def view(self) -> TailView | None:
        with self._lock:
            if self.messages is None or self.watermark_ms is None:
                return None
            held = self.messages
            items = [_unpacked(i, held[i]) for i in sorted(held, key=lambda i: _order(i, held[i]))]
            return TailView(items=items, whole=self.whole, watermark_ms=self.watermark_ms)

    def usable(self, *, now: int, started: int, sent_ms: int | None) -> bool:
        """Recent enough to be the page: refreshed within CHAT_LIVE_REFRESH_SECONDS, loaded less
        than CHAT_ROOM_TAIL_MAX_AGE_SECONDS ago, and after the reader's own write (``sent_ms``,
        their clock): refreshed since this request started, or an overlap after the write."""
        with self._lock:
            watermark, loaded_at, unsure_until = self.watermark_ms, self.loaded_at_ms, self.unsure_until_ms
            if self.messages is None or watermark is None or loaded_at is None:
                return False
        if now - watermark >= settings.CHAT_LIVE_REFRESH_SECONDS * 1000:
            return False
        if now - loaded_at >= settings.CHAT_ROOM_TAIL_MAX_AGE_SECONDS * 1000:
            return False
        if loaded_at < unsure_until:
            return False  # loaded before a bulk write was surely in the index
        return sent_ms is None or watermark >= started or watermark >= sent_ms + self.overlap_ms

    def refreshable_watermark(self, feed: live.RoomFeed, *, now: int) -> int | None:
        """The tail's watermark when a refresh of ``feed`` would bring it up to date; None when the
        next page loads it instead: not loaded (or given up), loaded more than
        CHAT_ROOM_TAIL_MAX_AGE_SECONDS ago or before a bulk write was surely in the index, or older
        than the feed's next refresh reaches back (a room viewed a minute ago, whose feed nobody
        refreshed since: that refresh would make it give up, so it is loaded, one Query, not two)."""
        with self._lock:
            watermark, loaded_at = self.watermark_ms, self.loaded_at_ms
            if (self.messages is None or watermark is None or loaded_at is None
                    or now - loaded_at >= settings.CHAT_ROOM_TAIL_MAX_AGE_SECONDS * 1000
                    or loaded_at < self.unsure_until_ms):
                return None
        if feed.refresh_reads_from() > watermark - self.overlap_ms:
            return None
        return watermark

    def fresh_view(self, feed: live.RoomFeed, *, sent_ms: int | None = None, load: bool = True) -> TailView | None:
        """The tail, brought up to date if it is not: by the feed's refresh (one consistent Query
        of the room's recent events, shared with polls and streams) when the tail is loaded, else
        by loading it (room history's Query). ``load=False``: None rather than load."""
        started = self.clock()
        if self.usable(now=started, started=started, sent_ms=sent_ms):
            return self.view()
        if self.refreshable_watermark(feed, now=started) is not None:
            try:
                if sent_ms is not None:
                    feed.refresh_started_after(started)
                else:
                    feed.refresh_if_stale()
            except Exception:  # DynamoDB slow or down: the page's own Query decides what the reader sees
                logger.warning("room %s: its feed could not refresh for the page", self.room_id, exc_info=True)
            # Fresh as of this request's start: a slow refresh doesn't make its own result stale.
            if self.usable(now=started, started=started, sent_ms=sent_ms):
                return self.view()
        if not load:
            return None
        # Wait for another request's load only as long as a healthy one takes (as feeds do).
        got = self._load_lock.acquire(timeout=live.STALL_PATIENCE_SECONDS)
        try:
            if got and self.usable(now=started, started=started, sent_ms=sent_ms):
                return self.view()  # loaded meanwhile, by the request we waited for
            self.load(feed)
        finally:
            if got:
                self._load_lock.release()
        loaded_view = self.view()
        if sent_ms is not None and loaded_view is not None and loaded_view.watermark_ms < sent_ms + self.overlap_ms:
            # The index may not show the reader's write yet: a consistent read of the recent events
            # started after the load (the feed's memory, if it has one that recent).
            feed.refresh_started_after(loaded_view.watermark_ms)
        return self.view()


# --- the page --------------------------------------------------------------------------------------


def newest_page(view: TailView, room_id: str, *, limit: int | None = None) -> Page:
    """room_history's page (the newest ``limit``, oldest first, "load older" after the oldest)."""
    limit = limit or settings.CHAT_HISTORY_PAGE_SIZE
    items = view.items[-limit:]
    older = len(view.items) > limit or not view.whole
    return Page(items=items, next_cursor=history_cursor(room_id, items[0]) if older and items else None)


def page_around(view: TailView, room_id: str, read_pos: str, *, limit: int | None = None,
                context: int = selectors.HISTORY_CONTEXT) -> selectors.HistoryPage | None:
    """room_history_around's page when the tail holds all of it; None when it doesn't."""
    limit = limit or settings.CHAT_HISTORY_PAGE_SIZE
    read_at, read_id = keys.message_sk_parts(read_pos)
    after = [m for m in view.items if m.created_at >= read_at]
    before = [m for m in view.items if m.created_at < read_at]
    if not view.whole and len(before) <= context:
        return None
    newer_cursor = None
    if len(after) > limit:  # more unread than a page (a deepened tail): "load newer" after the page's last
        after = after[:limit]
        newer_cursor = history_cursor(room_id, after[-1], purpose="history-newer")
    shown = before[-context:] if context else []
    older = len(before) > context or not view.whole
    next_cursor = history_cursor(room_id, shown[0]) if older and shown else None
    if older and not shown:
        return None
    messages = shown + after
    first_unread = next((m.message_id for m in messages if m.order > (read_at, read_id)), None)
    return selectors.HistoryPage(items=messages, next_cursor=next_cursor, newer_cursor=newer_cursor,
                                 first_unread=first_unread)


# --- the per-process registry: the most recently viewed rooms --------------------------------------

_tails: OrderedDict[str, RoomTail] = OrderedDict()
_tails_lock = threading.Lock()


@caches.register
def clear_tails() -> None:
    with _tails_lock:
        evicted = list(_tails.values())
        _tails.clear()
    for tail in evicted:
        _detach(tail)


def _detach(tail: RoomTail) -> None:
    feed = live.existing_feed(tail.room_id)
    if feed is not None and feed.follower is tail:
        feed.follower = None


def tail_for(room: Room) -> tuple[RoomTail, live.RoomFeed]:
    """The room's tail (created empty if needed, the coldest tail evicted past CHAT_ROOM_TAILS_MAX)
    and the room's feed, which keeps it current."""
    evicted = []
    with _tails_lock:
        tail = _tails.get(room.room_id)
        if tail is None or tail.created_at != room.created_at:
            if tail is not None:
                evicted.append(tail)
            tail = _tails[room.room_id] = RoomTail(room.room_id, room.created_at)
        _tails.move_to_end(room.room_id)
        while len(_tails) > settings.CHAT_ROOM_TAILS_MAX:
            evicted.append(_tails.popitem(last=False)[1])
    for old in evicted:
        _detach(old)
    feed = live.feed_for(room.room_id)
    feed.touch()
    if feed.follower is not tail:
        feed.follower = tail
    return tail, feed


def tails_held() -> int:
    with _tails_lock:
        return len(_tails)


# --- hot rooms' tails refreshed ahead, off the page path -------------------------------------------
#
# A tail serves the page only while its feed refreshed less than CHAT_LIVE_REFRESH_SECONDS ago. A
# room with an open stream in the process is refreshed every CHAT_LIVE_PUSH_REFRESH_SECONDS by its
# channel; a room read without streams (pages, polls) used to have one page an interval make the
# feed's Query itself. So a room whose pages come faster than that (*hot* on this process) has its
# feed refreshed by this process's upkeep thread once the tail is AHEAD_FRACTION of the interval old,
# before any page would find it stale: its pages make no feed Query. The same Query, the same
# single-flight refresh (RoomFeed.refresh_ahead); docs/live-updates.md, "The room page from memory".


@dataclass
class _Hot:
    tail: RoomTail
    last_ms: int  # the room's last page
    gap_ms: float  # its pages' recent spacing (each new gap weighs half)
    not_before_ms: int = 0  # no attempt before this: after a refresh, one under way elsewhere, a failure
    failures: int = 0

    def coldness(self, now: int) -> float:
        return max(self.gap_ms, now - self.last_ms)


class TailUpkeep:
    """Which rooms are hot on this process, and their feeds' refreshes ahead.

    - Hot: a page came less than CHAT_LIVE_REFRESH_SECONDS after the room's previous page (here). A
      room viewed once, or less often than that, is never refreshed ahead: its pages cost what
      they did. Quiet (no page for an interval): dropped at the next round.
    - Ahead: the feed is refreshed once the tail's watermark is AHEAD_FRACTION (2/3) of the interval
      old, unless a refresh by anyone (a stream's refresher, a poll, a page) made it younger, or one
      is under way. At most one refresh per room per 2/3 of an interval, so a hot room costs at
      most 1.5 of the feed's Queries per interval, where its pages alone made up to one per
      interval (plus the page's wait for it); a room with an open stream costs nothing more.
    - Bounded: at most CHAT_ROOM_TAILS_AHEAD_MAX rooms per process; when full, a hotter room
      (pages closer together) takes the coldest's place, a colder one is not taken.
    - A failed refresh is logged and the room's next attempt waits 2, 4, ... up to 20 intervals;
      meanwhile its pages refresh the feed themselves, as they did before.

    ``step`` is one round (tests call it with ``autostart=False`` and an injected clock); the
    thread runs it while any room is hot and ends when none is."""

    AHEAD_FRACTION = 2 / 3
    BUSY_FRACTION = 0.1  # of the interval: a refresh was under way elsewhere, or the tail not loaded yet
    RETRY_MAX_INTERVALS = 20

    def __init__(self, *, clock: Callable[[], int] | None = None, autostart: bool = True):
        self.clock = clock or now_ms
        self.autostart = autostart
        self._hot: dict[str, _Hot] = {}
        self._changed = threading.Condition()
        self._woken = False
        self._thread: threading.Thread | None = None
        self.closed = False
        self.refreshes = 0  # refreshes made, for tests and measurements
        self.failures = 0  # failed refreshes, ever

    @staticmethod
    def interval_ms() -> int:
        return int(settings.CHAT_LIVE_REFRESH_SECONDS * 1000)

    def is_hot(self, tail: RoomTail) -> bool:
        with self._changed:
            hot = self._hot.get(tail.room_id)
            return hot is not None and hot.tail is tail

    def hot_rooms(self) -> list[str]:
        with self._changed:
            return list(self._hot)

    def thread(self) -> threading.Thread | None:
        """The upkeep's thread while it runs."""
        with self._changed:
            return self._thread

    # --- the page's side: a few dict operations, no call -----------------------------------------

    def page(self, tail: RoomTail) -> None:
        """A page of ``tail``'s room is served now."""
        limit = settings.CHAT_ROOM_TAILS_AHEAD_MAX
        if limit <= 0:
            return
        now = self.clock()
        with self._changed:
            previous, tail.last_page_ms = tail.last_page_ms, now
            hot = self._hot.get(tail.room_id)
            if hot is not None and hot.tail is tail:
                hot.gap_ms = (hot.gap_ms + now - hot.last_ms) / 2
                hot.last_ms = now
                return
            if hot is not None:
                # A tail replaced (the room re-created, or evicted and loaded again).
                self._hot.pop(tail.room_id).tail.undeepened()
            if previous is None or now - previous >= self.interval_ms():
                return  # viewed once, or not more often than the pages would refresh the feed anyway
            gap = now - previous
            if len(self._hot) >= limit:
                coldest = max(self._hot, key=lambda room_id: self._hot[room_id].coldness(now))
                if self._hot[coldest].coldness(now) <= gap:
                    return
                self._hot.pop(coldest).tail.undeepened()  # only hot rooms' tails stay deep
            self._hot[tail.room_id] = _Hot(tail=tail, last_ms=now, gap_ms=gap)
            self._woken = True
            self._changed.notify_all()
            self._start()

    # --- the upkeep's side ------------------------------------------------------------------------

    def step(self) -> float | None:
        """One round: each hot room's feed refreshed if due; quiet rooms dropped. Seconds until the
        next is due (None: no room is hot)."""
        interval = self.interval_ms()
        ahead, busy = int(interval * self.AHEAD_FRACTION), max(1, int(interval * self.BUSY_FRACTION))
        now = self.clock()
        with self._changed:
            for room_id in [r for r, hot in self._hot.items() if now - hot.last_ms >= interval]:
                self._hot.pop(room_id).tail.undeepened()
            rooms = list(self._hot.items())
        next_ms = None
        for room_id, hot in rooms:
            with _tails_lock:
                current = _tails.get(room_id)
            feed = live.existing_feed(room_id)
            if current is not hot.tail or feed is None or feed.follower is not hot.tail:
                self._drop(room_id, hot)  # evicted or replaced: its next pages decide again
                continue
            now = self.clock()
            watermark = hot.tail.refreshable_watermark(feed, now=now)
            if watermark is None:  # the next page loads it: no refresh would serve it
                hot.not_before_ms = max(hot.not_before_ms, now + busy)
            elif now >= max(hot.not_before_ms, watermark + ahead):
                self._refresh(room_id, hot, feed, now=now, ahead=ahead, busy=busy)
                watermark = hot.tail.watermark_ms
            due = max(hot.not_before_ms, (now if watermark is None else watermark) + ahead)
            next_ms = due if next_ms is None else min(next_ms, due)
        if next_ms is None:
            return None
        return max(0.0, (next_ms - self.clock()) / 1000)

    def _refresh(self, room_id: str, hot: _Hot, feed: live.RoomFeed, *, now: int, ahead: int, busy: int) -> None:
        try:
            made = feed.refresh_ahead()
        except Exception:  # noqa: BLE001 - DynamoDB slow or down: the pages' own refresh remains
            hot.failures += 1
            self.failures += 1
            hot.not_before_ms = now + self.interval_ms() * min(2 ** hot.failures, self.RETRY_MAX_INTERVALS)
            if hot.failures in (1, 10) or hot.failures % 100 == 0:
                logger.warning("room %s: refreshing its feed ahead of its pages failed (%d in a row)", room_id,
                               hot.failures, exc_info=True)
            return
        hot.failures = 0
        if made:
            self.refreshes += 1
        hot.not_before_ms = now + (ahead if made else busy)

    def _drop(self, room_id: str, hot: _Hot) -> None:
        with self._changed:
            if self._hot.get(room_id) is hot:
                del self._hot[room_id]
        hot.tail.undeepened()

    def _start(self) -> None:  # under self._changed
        if self.autostart and not self.closed and (self._thread is None or not self._thread.is_alive()):
            self._thread = threading.Thread(target=self._run, name="room-tails", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                wait = self.step()
            except Exception:  # noqa: BLE001 - never leave hot rooms to a dead thread silently
                logger.exception("room tails: the upkeep round failed")
                wait = settings.CHAT_LIVE_REFRESH_SECONDS
            with self._changed:
                if self.closed or (not self._hot and not self._woken):
                    self._thread = None
                    return
                if not self._woken:
                    self._changed.wait(wait)  # a room turning hot wakes it
                self._woken = False

    def close(self) -> None:
        with self._changed:
            self.closed = True
            for hot in self._hot.values():
                hot.tail.undeepened()
            self._hot.clear()
            self._changed.notify_all()


_upkeep: TailUpkeep | None = None
_upkeep_lock = threading.Lock()


def upkeep() -> TailUpkeep:
    """This process's upkeep (made on first use)."""
    global _upkeep
    with _upkeep_lock:
        if _upkeep is None or _upkeep.closed:
            _upkeep = TailUpkeep()
        return _upkeep


@caches.register
def clear_upkeep() -> None:
    global _upkeep
    with _upkeep_lock:
        if _upkeep is not None:
            _upkeep.close()
        _upkeep = None


def room_newest_page(room: Room, *, sent_ms: int | None = None) -> tuple[Page, int]:
    """The room page's newest messages and the page's watermark, from memory when the tail is
    fresh (0 DynamoDB calls), else after the feed's refresh (1 consistent Query) or a load (room
    history's Query). CHAT_ROOM_TAILS_MAX = 0: no tails, every page reads room history's Query."""
    if settings.CHAT_ROOM_TAILS_MAX <= 0:
        watermark = now_ms()  # before the Query: the page holds everything visible at this time
        return selectors.room_history(room_id=room.room_id), watermark
    tail, feed = tail_for(room)
    upkeep().page(tail)
    view = tail.fresh_view(feed, sent_ms=sent_ms)
    if view is None:  # the tail gave up while loading (a deletion in between): as before, from the index
        watermark = now_ms()
        return selectors.room_history(room_id=room.room_id), watermark
    return newest_page(view, room.room_id), view.watermark_ms


def room_page_around(room: Room, read_pos: str, unread: int, *, sent_ms: int | None = None
                     ) -> tuple[selectors.HistoryPage, int] | None:
    """The page around a read position from the tail when it holds it; None otherwise (the caller
    reads it from DynamoDB). The tail is loaded for it only when the ``unread`` count (never fewer
    than the messages after the position: Seq gaps, deletions) says it will hold it; in a hot room
    a tail that doesn't reach the position is deepened for it (one Query, _deepened_view)."""
    with _tails_lock:
        held = room.room_id in _tails and _tails[room.room_id].created_at == room.created_at
    may_load = unread + selectors.HISTORY_CONTEXT < settings.CHAT_HISTORY_PAGE_SIZE
    if settings.CHAT_ROOM_TAILS_MAX <= 0 or (not held and not may_load):
        return None
    tail, feed = tail_for(room)
    upkeep().page(tail)
    view = tail.fresh_view(feed, sent_ms=sent_ms, load=may_load)
    if view is None:
        return None
    page = page_around(view, room.room_id, read_pos)
    if page is None:
        view = _deepened_view(tail, view, unread)
        page = None if view is None else page_around(view, room.room_id, read_pos)
    return None if page is None else (page, view.watermark_ms)


def _deepened_view(tail: RoomTail, view: TailView, unread: int) -> TailView | None:
    """The tail deepened to hold the page around ``read_pos`` (one Query), when the room is hot
    and the page needs no more than CHAT_ROOM_TAIL_DEEP_MAX messages; None otherwise."""
    bound = settings.CHAT_ROOM_TAIL_DEEP_MAX
    if bound <= 0 or view.whole or not upkeep().is_hot(tail):
        return None
    # The unread messages (the count is never fewer than those after the position), the last read
    # one (at the position: room_history_around's first), HISTORY_CONTEXT read ones above, and one
    # more: are there older. A tail that doesn't reach the position holds only newer ones.
    needed = unread + 1 + selectors.HISTORY_CONTEXT + 1
    if needed > bound or not tail.deepened(needed):
        return None
    # Served at the tail's watermark: the deepening's messages are as of later, which the page's
    # first live update re-applies idempotently (docs/live-updates.md).
    return tail.view()
