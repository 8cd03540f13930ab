"""Reads for rooms and messages. Each function is one access pattern in docs/data-model.md."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Iterator

from django.conf import settings
from pynamodb.exceptions import DoesNotExist

from accounts.models import UserRecord
from chatsite import caches, dynamodb, keys, pagination
from chatsite.pagination import Page
from rooms.models import MessageEdit, MessageEditRecord
from rooms.models import (ActivityRecord, ChatMessage, Deletion, LiveEventRecord, Member, MemberRecord, Mention, MentionRecord,
                          MessageRecord, Room, RoomDirectoryEntry, RoomRecord, TombstoneRecord, UserRoom, UserRoomRecord)
from rooms.timestamps import iso_from_ms, now_ms


class RoomNotFound(LookupError):
    pass


# --- rooms ----------------------------------------------------------------------------------

_room_cache: dict[str, tuple[float, Room]] = {}
_room_cache_lock = threading.Lock()


@caches.register
def clear_room_cache() -> None:
    with _room_cache_lock:
        _room_cache.clear()


def forget_room(room_id: str) -> None:
    with _room_cache_lock:
        _room_cache.pop(room_id, None)


def room_get(*, room_id: str) -> Room:
    """Get an open room: GetItem `Room:<id>` / `meta` (consistent). Cached per process for
    CHAT_ROOM_CACHE_SECONDS (rooms change only when created or deleted), so most requests read no
    room at all. A room that delete_room has closed is not found.

    The expiry is counted from before the read, and the read is consistent, so no entry that says
    "open" outlives the close by more than CHAT_ROOM_CACHE_SECONDS: what delete_room waits out.
    """
    now = time.monotonic()
    with _room_cache_lock:
        cached = _room_cache.get(room_id)
    if cached and cached[0] > now:
        return cached[1]
    room = room_get_any(room_id=room_id)
    if room.closing_since:
        raise RoomNotFound(room_id)
    with _room_cache_lock:
        _room_cache[room_id] = (now + settings.CHAT_ROOM_CACHE_SECONDS, room)
    return room


def room_get_any(*, room_id: str) -> Room:
    """A room, closing or not: GetItem `Room:<id>` / `meta` (consistent), never cached. For
    delete_room (to finish an interrupted delete) and room_create (to tell "exists" from "being
    deleted")."""
    try:
        return Room.from_record(RoomRecord.get(keys.room_pk(room_id), keys.META, consistent_read=True))
    except DoesNotExist:
        raise RoomNotFound(room_id) from None


def room_list(*, cursor: str | None = None, limit: int | None = None) -> Page:
    """List rooms: Query `PK = Rooms` on the base table, in room-id order. Never a Scan."""
    return pagination.query_page(lambda **page: RoomDirectoryEntry.query(keys.ROOM_DIRECTORY_PK, **page),
                                 purpose="rooms", cursor=cursor, limit=limit or settings.CHAT_ROOM_LIST_PAGE_SIZE,
                                 convert=Room.from_record)


# --- membership -----------------------------------------------------------------------------


def user_rooms(*, user_id: str) -> list[UserRoom]:
    """The user's rooms (the sidebar), sorted by name: ONE Query `PK = User:<id> AND SK
    begins_with room#`, consistent, so a join or leave shows on the very next page. This list is
    also what decides whether the user may read a private room: the room page reads it for every
    room kind, so a private room costs nothing extra. (A page of up to 1 MB: thousands of rooms.)"""
    records = UserRoomRecord.query(keys.user_pk(user_id), UserRoomRecord.SK.startswith(keys.USER_ROOM_PREFIX),
                                   consistent_read=True)
    return sorted((UserRoom.from_record(r) for r in records), key=lambda r: (r.name.casefold(), r.room_id))


def user_with_rooms(*, user_id: str) -> tuple[UserRecord | None, list[UserRoom]]:
    """The user's own item and their rooms (the sidebar) together, for pages that show the sidebar
    to a signed-in user: ONE Query `PK = User:<id> AND SK BETWEEN meta AND room#~`, consistent.
    Both live in the user's partition and sort next to each other (messages sort before "meta"),
    so request.user can be built from this item (accounts.user_cache.read_through) at no extra read.
    Rooms as user_rooms (sorted by name); None for a user with no item. The answer is read off the
    wire and the rooms decoded by UserRoom.from_item: on every signed-in page, for up to hundreds
    of rooms, botocore's and PynamoDB's generic decoding were most of the page's own CPU."""
    user, rooms = None, []
    request = {"TableName": dynamodb.table_name(dynamodb.CHAT), "ConsistentRead": True,
               "KeyConditionExpression": "PK = :pk AND SK BETWEEN :lo AND :hi",
               "ExpressionAttributeValues": {":pk": {"S": keys.user_pk(user_id)},
                                             ":lo": {"S": keys.USER_AND_ROOMS_SK_MIN},
                                             ":hi": {"S": keys.USER_AND_ROOMS_SK_MAX}}}
    with dynamodb.answers_off_the_wire() as client:
        while True:  # a page is up to 1 MB: thousands of rooms
            answer = client.query(**request)
            for raw in answer.get("Items", []):
                sk = raw["SK"]["S"]
                if sk == keys.META:
                    user = UserRecord.from_raw_data(raw)
                elif sk.startswith(keys.USER_ROOM_PREFIX):
                    rooms.append(UserRoom.from_item(raw))
            if not answer.get("LastEvaluatedKey"):
                break
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    return user, sorted(rooms, key=lambda r: (r.name.casefold(), r.room_id))


def user_room_get(*, user_id: str, room_id: str) -> UserRoom | None:
    """One entry of the user's rooms: GetItem `User:<id>` / `room#<room id>` (consistent). Where a
    request has no sidebar to look in (posting, deleting, renewing a live grant to a private room)."""
    try:
        return UserRoom.from_record(UserRoomRecord.get(keys.user_pk(user_id), keys.user_room_sk(room_id),
                                                       consistent_read=True))
    except DoesNotExist:
        return None


# --- read cursors and unread counts ---------------------------------------------------------------
#
# A room's Seq counts the messages ever posted in it; a member's ReadSeq is the Seq they have read
# up to. Unread = max(0, Seq - ReadSeq): no write to any member when someone posts, and the sidebar
# reads one small item per room (room_sequences), 100 to a call.

_seq_cache: dict[str, tuple[float, int]] = {}  # room id -> (read at, Seq); monotonic time
_seq_asked: dict[str, float] = {}  # room id -> when a page last asked for its Seq (renew_seqs' list)
_seq_cache_lock = threading.Lock()
_SEQ_CACHE_MAX = 20_000  # rooms; past it, entries no longer fresh go, then everything
_BATCH_GET_MAX = 100  # BatchGetItem's most keys a call
SEQ_FEED_WAIT_FRACTION = 0.5  # of CHAT_ACTIVITY_REFRESH_SECONDS: a page's longest wait for the hub's round


class UnprocessedKeysRemain(Exception):
    pass


class SeqFeed:
    """Whether this process's activity feed (rooms.activity.ActivityHub) keeps the Seq cache
    current: every post's `s-` event carries its Seq, and the hub notes it (note_room_seq), so an
    entry read after the feed's coverage began misses no post the feed has read. Pure logic, clock
    injected (monotonic seconds, the Seq cache's clock).

    The hub calls ``restart`` when it starts afresh (its watermarks gone: what came before is not
    covered) and keeps the run it returns; ``begin(run)`` before a refresh's Queries and
    ``done(token)`` after it has noted their Seqs. A refresh or restart of a run that is no longer
    current (a hub replaced meanwhile) changes nothing.
    Coverage begins at the start of the first refresh done in a run: that refresh reads back an
    overlap before its start and every later one from the previous start minus the overlap, so
    every event written after it is read, given writers' clocks lag by less than the overlap less
    the write's latency. An entry is kept (``keeps``) while: it was read (or noted) at or after
    coverage began, a refresh done in this run began at most ``fresh_seconds`` ago (so a post is
    counted at most that long after its event was written), and it is at most ``max_age`` old (a
    post whose event write failed after taking its Seq is counted at the room's next post, or by
    then).

    A round under way (begun, not yet done or ``failed``) can make the feed fresh again when it is
    done: ``await_round`` lets a page that finds the feed no longer fresh wait a little for it
    (under CPU load a round can outlast its interval) rather than read every Seq itself; what it
    then serves is judged by the same rule, from the round's start."""

    def __init__(self, *, clock=None):
        self._clock = clock or (lambda: time.monotonic())  # late-bound: tests move the module's clock
        self._lock = threading.Lock()
        self._run = 0
        self._covered_from: float | None = None
        self._last_done: float | None = None
        self._under_way: float | None = None  # the start of this run's round begun and not yet ended
        self._round_ended = threading.Condition(self._lock)

    def begin(self, run: int | None = None) -> tuple[int, float]:
        with self._lock:
            token = (self._run if run is None else run), self._clock()
            if token[0] == self._run:
                self._under_way = token[1]
            return token

    def done(self, token: tuple[int, float]) -> None:
        run, started = token
        with self._lock:
            if run != self._run:  # begun before a restart: says nothing of this run
                return
            if self._covered_from is None:
                self._covered_from = started
            self._last_done = started if self._last_done is None else max(self._last_done, started)
            self._ended(started)

    def failed(self, token: tuple[int, float]) -> None:
        """The round begun with ``token`` ended without being done: nobody waits for it any more."""
        run, started = token
        with self._lock:
            if run == self._run:
                self._ended(started)

    def _ended(self, started: float) -> None:  # under self._lock
        if self._under_way == started:
            self._under_way = None
            self._round_ended.notify_all()

    def restart(self, run: int | None = None) -> int:
        """A new run (nothing covered yet), unless ``run`` is given and is no longer current."""
        with self._lock:
            if run is None or run == self._run:
                self._run += 1
                self._covered_from = self._last_done = self._under_way = None
                self._round_ended.notify_all()
            return self._run

    def await_round(self, *, fresh_seconds: float, wait: float) -> bool:
        """Is the feed fresh? When it is not, and the round under way would make it so once done
        (it began at most ``fresh_seconds`` ago), wait up to ``wait`` seconds for that round. No
        wait when no round is under way or it is too old to help (a stalled hub): the caller then
        reads the Seqs itself, as it would have."""
        with self._lock:
            now = self._clock()
            if self._last_done is not None and now - self._last_done <= fresh_seconds:
                return True
            began = self._under_way
            if began is None or now - began > fresh_seconds or wait <= 0:
                return False
            self._round_ended.wait_for(lambda: self._under_way != began, timeout=wait)
            return self._last_done is not None and self._clock() - self._last_done <= fresh_seconds

    def keeps(self, read_at: float, now: float, *, fresh_seconds: float, max_age: float) -> bool:
        with self._lock:
            return (self._covered_from is not None and self._covered_from <= read_at
                    and now - self._last_done <= fresh_seconds and now - read_at <= max_age)

    def fresh(self, now: float, *, fresh_seconds: float) -> bool:
        with self._lock:
            return self._last_done is not None and now - self._last_done <= fresh_seconds


seq_feed = SeqFeed()


def _seq_feed_bounds() -> dict:
    return {"fresh_seconds": 2 * settings.CHAT_ACTIVITY_REFRESH_SECONDS, "max_age": settings.CHAT_ROOM_SEQ_FEED_SECONDS}


@caches.register
def clear_seq_cache() -> None:
    with _seq_cache_lock:
        _seq_cache.clear()
        _seq_asked.clear()
    seq_feed.restart()


def _seq_fresh(read_at: float, now: float, bounds: dict) -> bool:
    """An entry serves within CHAT_ROOM_SEQ_CACHE_SECONDS of its read, or while the activity feed
    keeps it (SeqFeed.keeps: up to CHAT_ROOM_SEQ_FEED_SECONDS)."""
    return now - read_at < settings.CHAT_ROOM_SEQ_CACHE_SECONDS or seq_feed.keeps(read_at, now, **bounds)


def note_room_seq(room_id: str, seq: int) -> None:
    """Remember a Seq this process has just read or written (a post's UpdateItem answer, an
    activity event the hub read): the room's Seq when it was taken, as fresh as a read, so it
    starts a full cache lifetime; a lower value never replaces a higher."""
    if settings.CHAT_ROOM_SEQ_CACHE_SECONDS <= 0:
        return
    with _seq_cache_lock:
        _store_seq(room_id, seq, time.monotonic())


def _store_seq(room_id: str, seq: int, read_at: float) -> None:
    cached = _seq_cache.get(room_id)
    if cached:  # Seqs only grow: the higher value, and the later read (the feed covers what follows)
        seq, read_at = max(seq, cached[1]), max(read_at, cached[0])
    if room_id not in _seq_cache and len(_seq_cache) >= _SEQ_CACHE_MAX:
        now, bounds = time.monotonic(), _seq_feed_bounds()
        for key in [k for k, (at, _) in _seq_cache.items() if not _seq_fresh(at, now, bounds)]:
            del _seq_cache[key]
        if len(_seq_cache) >= _SEQ_CACHE_MAX:
            _seq_cache.clear()
    _seq_cache[room_id] = (read_at, seq)


def _needs_the_feed(room_ids: list[str], now: float) -> bool:
    """Has one of these rooms an entry past the short bound, which only the feed can keep?"""
    with _seq_cache_lock:
        for room_id in room_ids:
            entry = _seq_cache.get(room_id)
            if entry and now - entry[0] >= settings.CHAT_ROOM_SEQ_CACHE_SECONDS:
                return True
    return False


def room_sequences(*, room_ids: list[str], cached: bool = True, sleep=time.sleep,
                   max_attempts: int = 6) -> dict[str, int]:
    """Each room's Seq (0 for a room with no post since read cursors, or no record): BatchGetItem of
    `Room:<id>` / `meta`, ProjectionExpression Seq, eventually consistent, 100 keys a call (200
    rooms: 2 calls), UnprocessedKeys retried with backoff. With ``cached``, values this process read
    less than CHAT_ROOM_SEQ_CACHE_SECONDS ago are used without a call (so a count can miss the
    posts of that last moment on other processes; the age is counted from before the read), and
    so are those the activity feed keeps current (SeqFeed: up to CHAT_ROOM_SEQ_FEED_SECONDS, a post
    counted within 2 x CHAT_ACTIVITY_REFRESH_SECONDS of its event; when the feed is no longer fresh
    only for want of the hub's round under way, the call first waits for that round, up to
    SEQ_FEED_WAIT_FRACTION of an interval, and the same rule judges). A call made anyway also reads
    again the entries past half their life, as far as its last 100 keys have room: a sidebar's
    entries then age together instead of one by one, each page finding another to read."""
    wanted = list(dict.fromkeys(room_ids))
    found: dict[str, int] = {}
    now = time.monotonic()
    due: list[str] = []
    if cached and settings.CHAT_ROOM_SEQ_CACHE_SECONDS > 0:
        bounds = _seq_feed_bounds()
        fresh = seq_feed.fresh(now, fresh_seconds=bounds["fresh_seconds"])
        if not fresh and bounds["max_age"] > 0 and _needs_the_feed(wanted, now):
            # The hub's round under way, late under CPU load, would keep them: wait a little for it.
            fresh = seq_feed.await_round(fresh_seconds=bounds["fresh_seconds"],
                                         wait=SEQ_FEED_WAIT_FRACTION * settings.CHAT_ACTIVITY_REFRESH_SECONDS)
            now = time.monotonic()  # still before any read of this call's: the ages count from it
        half = (max(settings.CHAT_ROOM_SEQ_CACHE_SECONDS, bounds["max_age"]) if fresh
                else settings.CHAT_ROOM_SEQ_CACHE_SECONDS) / 2
        with _seq_cache_lock:
            if len(_seq_asked) + len(wanted) > _SEQ_CACHE_MAX:
                _seq_asked.clear()  # renewals stop until pages ask again: a bound on memory, never on counts
            for room_id in wanted:
                _seq_asked[room_id] = now
                entry = _seq_cache.get(room_id)
                if entry and _seq_fresh(entry[0], now, bounds):
                    found[room_id] = entry[1]
                    if now - entry[0] > half:
                        due.append(room_id)
    missing = [room_id for room_id in wanted if room_id not in found]
    if missing:
        spare = -len(missing) % _BATCH_GET_MAX  # the last call's unused keys: no extra call
        missing += due[:spare]
    table = dynamodb.table_name(dynamodb.CHAT)
    for start in range(0, len(missing), _BATCH_GET_MAX):
        chunk = missing[start:start + _BATCH_GET_MAX]
        request = {table: {"Keys": [{"PK": {"S": keys.room_pk(r)}, "SK": {"S": keys.META}} for r in chunk],
                           "ProjectionExpression": "PK, #seq", "ExpressionAttributeNames": {"#seq": "Seq"}}}
        read: dict[str, int] = {}
        for attempt in range(max_attempts):
            with dynamodb.answers_off_the_wire() as client:  # no binary attributes in the chat table
                answer = client.batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(table, []):
                read[keys.room_id_from_pk(item["PK"]["S"])] = int(item["Seq"]["N"]) if "Seq" in item else 0
            request = answer.get("UnprocessedKeys") or {}
            if not request.get(table, {}).get("Keys"):
                break
            sleep(min(1.0, 0.05 * 2 ** attempt))
        else:
            raise UnprocessedKeysRemain(f"{len(request[table]['Keys'])} rooms' Seq still unread after "
                                        f"{max_attempts} attempts (DynamoDB is throttling)")
        with _seq_cache_lock:
            for room_id in chunk:
                found[room_id] = max(read.get(room_id, 0), found.get(room_id, 0))
                if settings.CHAT_ROOM_SEQ_CACHE_SECONDS > 0:
                    _store_seq(room_id, found[room_id], now)
                    found[room_id] = _seq_cache[room_id][1]
    return found


def renew_seqs(*, limit: int = _BATCH_GET_MAX) -> int:
    """The activity hub's part in keeping pages off the rooms' Seqs: while its feed is fresh, read
    again (room_sequences' BatchGetItem, one call for up to ``limit`` rooms) the entries that pages
    asked for within CHAT_ROOM_SEQ_FEED_SECONDS and that are missing, not kept by the feed (read
    before its coverage began: the hub restarted) or past 3/4 of their life, most needed first. So
    a sidebar's entries are read again on the hub's thread before they expire, together, instead
    of by the page that finds them expired (2 calls for 200 rooms); the bounds are unchanged, as a
    renewal is a read like a page's. Returns the rooms read."""
    if settings.CHAT_ROOM_SEQ_CACHE_SECONDS <= 0 or settings.CHAT_ROOM_SEQ_FEED_SECONDS <= 0:
        return 0
    now = time.monotonic()
    bounds = _seq_feed_bounds()
    if not seq_feed.fresh(now, fresh_seconds=bounds["fresh_seconds"]):
        return 0  # entries serve only the short bound: a renewal now would not be kept
    # Three quarters of a lifetime: about as many reads as pages made at expiry, with rounds to spare.
    late = 0.75 * max(settings.CHAT_ROOM_SEQ_CACHE_SECONDS, bounds["max_age"])
    due: list[tuple[float, str]] = []
    with _seq_cache_lock:
        for room_id in [r for r, at in _seq_asked.items() if now - at > bounds["max_age"]]:
            del _seq_asked[room_id]  # no page wants it lately: let it expire
        for room_id in _seq_asked:
            entry = _seq_cache.get(room_id)
            if entry is None or not seq_feed.keeps(entry[0], now, **bounds):
                due.append((float("-inf"), room_id))  # a page would read it now
            elif now - entry[0] > late:
                due.append((entry[0], room_id))
    if not due:
        return 0
    chosen = [room_id for _, room_id in sorted(due)[:limit]]
    room_sequences(room_ids=chosen, cached=False)
    return len(chosen)


def room_seq(*, room_id: str) -> int:
    """One room's Seq, fresh: GetItem `Room:<id>` / `meta` (consistent), ProjectionExpression Seq.
    Where a stale value would be wrong: a new membership's starting cursor, checking a read
    report against the room. 0 for no posts yet (or no room)."""
    try:
        record = RoomRecord.get(keys.room_pk(room_id), keys.META, consistent_read=True, attributes_to_get=["Seq"])
    except DoesNotExist:
        return 0
    seq = int(record.seq or 0)
    note_room_seq(room_id, seq)
    return seq


def room_seq_reached(*, room_id: str, seq: int) -> bool:
    """Has the room's Seq reached ``seq``? This process's cached copy if it says so (no call), else
    room_seq (1 GetItem, consistent): a read report for a message just posted elsewhere is past
    the copy, and is checked against the room itself."""
    with _seq_cache_lock:
        entry = _seq_cache.get(room_id)
    if entry and entry[1] >= seq and _seq_fresh(entry[0], time.monotonic(), _seq_feed_bounds()):
        return True
    return room_seq(room_id=room_id) >= seq


def with_unread(rooms: list[UserRoom], *, cached: bool = True) -> list[UserRoom]:
    """The sidebar's entries with their unread counts: room_sequences of them all (0 calls for a
    user in no room, else 1 call per 100 rooms not cached). An entry without a read cursor (a
    membership from before read cursors) shows none."""
    if not rooms:
        return rooms
    seqs = room_sequences(room_ids=[r.room_id for r in rooms], cached=cached)
    return [replace(r, unread=max(0, seqs.get(r.room_id, 0) - r.read_seq)) if r.read_seq is not None else r
            for r in rooms]


def unread_total(rooms: list[UserRoom] | None) -> int:
    return sum(r.unread for r in rooms or ())


def room_members(*, room_id: str, cursor: str | None = None, limit: int | None = None) -> Page:
    """A room's members, in user-id order: one Query `PK = Room:<id> AND SK begins_with member#`,
    one page, signed cursor."""
    return pagination.query_page(
        lambda **page: MemberRecord.query(keys.room_pk(room_id), MemberRecord.SK.startswith(keys.MEMBER_PREFIX),
                                          **page),
        purpose="members", scope=room_id, cursor=cursor, limit=limit or settings.CHAT_MEMBER_PAGE_SIZE,
        convert=Member.from_record)


def room_member_count_exceeds(*, room_id: str, count: int) -> bool:
    """Has the room more than ``count`` members? One Query `PK = Room:<id> AND SK begins_with
    member#`, Select COUNT, Limit ``count`` + 1: it reads at most that many small items (@room's
    rule, only for a sender who is not the owner)."""
    answer = dynamodb.client().query(
        TableName=dynamodb.table_name(dynamodb.CHAT), Select="COUNT", Limit=count + 1,
        KeyConditionExpression="PK = :pk AND begins_with(SK, :member)",
        ExpressionAttributeValues={":pk": {"S": keys.room_pk(room_id)}, ":member": {"S": keys.MEMBER_PREFIX}})
    return answer["Count"] > count


# The composer's @ suggestions: the first members of a room's member Query, per process for a few
# seconds (each keystroke asks), so typing costs at most one Query per room per few seconds.
SUGGEST_MEMBERS_READ = 500  # members read per room: the suggestions come from these
SUGGEST_CACHE_SECONDS = 5.0
_suggest_cache: dict[str, tuple[float, list[Member]]] = {}
_suggest_cache_lock = threading.Lock()


@caches.register
def clear_suggest_cache() -> None:
    with _suggest_cache_lock:
        _suggest_cache.clear()


def member_suggestions(*, room_id: str, query: str, limit: int = 8) -> list[Member]:
    """Members whose username or a word of whose display name starts with ``query`` (case-
    insensitive), the first ``limit`` in user-id order: one Query `PK = Room:<id> AND SK
    begins_with member#`, Limit SUGGEST_MEMBERS_READ, cached per process SUGGEST_CACHE_SECONDS (so a
    room of more members suggests from its first 500)."""
    now = time.monotonic()
    with _suggest_cache_lock:
        cached = _suggest_cache.get(room_id)
    if cached and cached[0] > now:
        members = cached[1]
    else:
        members = [Member.from_record(r) for r in MemberRecord.query(
            keys.room_pk(room_id), MemberRecord.SK.startswith(keys.MEMBER_PREFIX), limit=SUGGEST_MEMBERS_READ)]
        with _suggest_cache_lock:
            if len(_suggest_cache) >= 1000:  # rooms; bounded memory
                _suggest_cache.clear()
            _suggest_cache[room_id] = (now + SUGGEST_CACHE_SECONDS, members)
    wanted = query.casefold()
    found = []
    for member in members:
        if (member.user_id.startswith(wanted)
                or any(word.startswith(wanted) for word in member.display_name.casefold().split())):
            found.append(member)
            if len(found) == limit:
                break
    return found


def all_room_members(*, room_id: str) -> Iterator[Member]:
    """Every member of a room, all pages (renaming a room, deleting it)."""
    for record in MemberRecord.query(keys.room_pk(room_id), MemberRecord.SK.startswith(keys.MEMBER_PREFIX)):
        yield Member.from_record(record)


# --- messages -------------------------------------------------------------------------------

# The index's LastEvaluatedKey: the table's key and the index's, by stored attribute name.
_INDEX_KEY_NAMES = ("PK", "SK", "RoomID", "CreatedAt")


def room_history(*, room_id: str, cursor: str | None = None, limit: int | None = None) -> Page:
    """A room's history, newest first: Query the `room_messages` index (RoomID = id), descending,
    one page. ``items`` come back in display order (oldest first, newest at the bottom)."""
    limit = limit or settings.CHAT_HISTORY_PAGE_SIZE
    start = pagination.decode(cursor, purpose="history", scope=room_id, key_names=_INDEX_KEY_NAMES) if cursor else None
    # One item more than a page: if it exists there are older messages, and the cursor is built
    # from the page's last item. (DynamoDB hands back a LastEvaluatedKey whenever a page is full,
    # which would offer "load older" on the first page of a room with exactly 50 messages.)
    records = list(MessageRecord.room_index.query(room_id, scan_index_forward=False, limit=limit + 1,
                                                  last_evaluated_key=start))
    has_older = len(records) > limit
    records = records[:limit]
    messages = sorted((ChatMessage.from_record(r) for r in records), key=lambda m: m.order)
    next_cursor = None
    if has_older:
        oldest = records[-1]
        last = {"PK": {"S": oldest.PK}, "SK": {"S": oldest.SK}, "RoomID": {"S": oldest.room_id},
                "CreatedAt": {"S": oldest.created_at}}
        next_cursor = pagination.encode(last, purpose="history", scope=room_id)
    return Page(items=messages, next_cursor=next_cursor)


def room_tail_messages(*, room_id: str, limit: int) -> list[ChatMessage]:
    """The room's newest ``limit`` messages, newest first: room_history's Query (the
    `room_messages` index, descending, Limit ``limit``), for the room's tail (rooms/room_tail.py)."""
    return [ChatMessage.from_record(r)
            for r in MessageRecord.room_index.query(room_id, scan_index_forward=False, limit=limit)]


def room_history_before(*, room_id: str, oldest: ChatMessage, limit: int) -> list[ChatMessage]:
    """The room's ``limit`` messages older than ``oldest``, newest first: room history's Query (the
    `room_messages` index, descending, Limit ``limit``) started after ``oldest``'s index key, as its
    "load older" cursor would start it. Deepens a hot room's tail (rooms/room_tail.py)."""
    start = {"PK": {"S": keys.user_pk(oldest.author_id)}, "SK": {"S": oldest.sk}, "RoomID": {"S": room_id},
             "CreatedAt": {"S": oldest.created_at}}
    return [ChatMessage.from_record(r)
            for r in MessageRecord.room_index.query(room_id, scan_index_forward=False, limit=limit,
                                                    last_evaluated_key=start)]


# How many read messages the page around the read cursor shows above the first unread one.
HISTORY_CONTEXT = 5


@dataclass(frozen=True)
class HistoryPage:
    """A page of history that may not end at the newest message: ``next_cursor`` loads older
    messages (as Page's), ``newer_cursor`` newer ones; ``first_unread`` is the id of the first
    message after the read cursor, if the page holds it."""
    items: list[ChatMessage]
    next_cursor: str | None
    newer_cursor: str | None = None
    first_unread: str | None = None


def _index_key(record: MessageRecord) -> dict:
    return {"PK": {"S": record.PK}, "SK": {"S": record.SK}, "RoomID": {"S": record.room_id},
            "CreatedAt": {"S": record.created_at}}


def _newer_page(records: list[MessageRecord], room_id: str, limit: int) -> tuple[list[MessageRecord], str | None]:
    """An ascending page fetched with one item more than ``limit``: the page, and the signed "load
    newer" cursor after its last item if that extra item exists."""
    if len(records) <= limit:
        return records, None
    records = records[:limit]
    return records, pagination.encode(_index_key(records[-1]), purpose="history-newer", scope=room_id)


def room_history_around(*, room_id: str, read_pos: str, limit: int | None = None,
                        context: int = HISTORY_CONTEXT) -> HistoryPage:
    """The page a reader with unread messages opens: from the read cursor on, oldest first. Two
    Queries of the `room_messages` index: ascending from the cursor's CreatedAt (``limit`` + 1
    items: the last read message, the unread ones after it, and whether there are newer), and
    descending before it (``context`` + 1: a few read messages above, and whether there are older).
    ``read_pos`` is a membership's ReadPos, "<CreatedAt>#<message id>" (the id empty after Mark
    as unread: the position just before that message)."""
    limit = limit or settings.CHAT_HISTORY_PAGE_SIZE
    read_at, read_id = keys.message_sk_parts(read_pos)  # ReadPos is a message SK (chatsite.keys)
    after = list(MessageRecord.room_index.query(room_id, MessageRecord.created_at >= read_at, limit=limit + 1))
    after, newer_cursor = _newer_page(after, room_id, limit)
    before = list(MessageRecord.room_index.query(room_id, MessageRecord.created_at < read_at,
                                                 scan_index_forward=False, limit=context + 1))
    next_cursor = None
    if len(before) > context:
        before = before[:context]
        next_cursor = pagination.encode(_index_key(before[-1]), purpose="history", scope=room_id)
    messages = sorted((ChatMessage.from_record(r) for r in before + after), key=lambda m: m.order)
    first_unread = next((m.message_id for m in messages if m.order > (read_at, read_id)), None)
    return HistoryPage(items=messages, next_cursor=next_cursor, newer_cursor=newer_cursor, first_unread=first_unread)


def room_history_newer(*, room_id: str, cursor: str, limit: int | None = None) -> HistoryPage:
    """The messages after a "load newer" cursor, oldest first: one Query of the `room_messages`
    index, ascending from the cursor (``limit`` + 1 items: whether there are newer still).
    ``next_cursor`` loads what is older than this page's first message."""
    limit = limit or settings.CHAT_HISTORY_PAGE_SIZE
    start = pagination.decode(cursor, purpose="history-newer", scope=room_id, key_names=_INDEX_KEY_NAMES)
    records, newer_cursor = _newer_page(list(MessageRecord.room_index.query(room_id, limit=limit + 1,
                                                                            last_evaluated_key=start)),
                                        room_id, limit)
    # Something precedes the cursor's message (it is in the page this cursor came from): offer it.
    next_cursor = pagination.encode(_index_key(records[0]), purpose="history", scope=room_id) if records else None
    messages = sorted((ChatMessage.from_record(r) for r in records), key=lambda m: m.order)
    return HistoryPage(items=messages, next_cursor=next_cursor, newer_cursor=newer_cursor)


def messages_since(*, room_id: str, since: str, limit: int | None = None) -> list[ChatMessage]:
    """A room's messages with CreatedAt > ``since``, oldest first: Query the `room_messages` index
    (RoomID = id AND CreatedAt > since). For live updates; all pages, up to ``limit`` items."""
    result = MessageRecord.room_index.query(room_id, MessageRecord.created_at > since, limit=limit)
    return sorted((ChatMessage.from_record(r) for r in result), key=lambda m: m.order)


def deletions_since(*, room_id: str, since: str, limit: int | None = None) -> list[Deletion]:
    """A room's deletion tombstones with DeletedAt >= ``since``: Query `PK = Room:<id>`,
    SK between `deleted#<since>` and `deleted#~` (base table, so no index lag)."""
    result = TombstoneRecord.query(
        keys.room_pk(room_id),
        TombstoneRecord.SK.between(keys.tombstone_sk_from(since), keys.TOMBSTONE_SK_MAX),
        limit=limit,
    )
    return [Deletion.from_record(r) for r in result]


def live_events_since(*, room_id: str, since: str, limit: int | None = None) -> list[LiveEventRecord]:
    """A room's live events at or after ``since``, oldest first: one consistent Query `PK = Room:<id>`,
    SK between `ev#<since>` and `ev#~` (base table: what was written before the Query started is in
    it, no index lag). All pages, up to ``limit`` items."""
    return list(LiveEventRecord.query(
        keys.room_pk(room_id),
        LiveEventRecord.SK.between(keys.live_event_sk_from(since), keys.LIVE_EVENT_SK_MAX),
        consistent_read=True, limit=limit,
    ))


def activity_since(*, shard: int, since: str, limit: int | None = None) -> list[ActivityRecord]:
    """The activity feed's events in one shard at or after ``since``, oldest first: one consistent
    Query `PK = Activity:<shard>`, SK between `ev#<since>` and `ev#~` (base table: no index lag),
    all pages, up to ``limit`` items. rooms.activity.ActivityHub makes it once per shard per
    CHAT_ACTIVITY_REFRESH_SECONDS per process while a signed-in stream is open there."""
    return list(ActivityRecord.query(
        keys.activity_pk(shard), ActivityRecord.SK.between(keys.activity_sk_from(since), keys.ACTIVITY_SK_MAX),
        consistent_read=True, limit=limit,
    ))


def room_messages(*, room_id: str) -> Iterator[ChatMessage]:
    """Every message of a room, oldest first: Query the `room_messages` index (RoomID = id),
    ascending, all pages, read as they are needed (export_room)."""
    for record in MessageRecord.room_index.query(room_id):
        yield ChatMessage.from_record(record)


def user_messages(*, user_id: str, limit: int = 20) -> list[ChatMessage]:
    """A user's messages, newest first: Query `PK = User:<id>`, SK in the message range."""
    return [ChatMessage.from_record(record) for record in MessageRecord.query(
        keys.user_pk(user_id),
        MessageRecord.SK.between(keys.MESSAGE_SK_MIN, keys.MESSAGE_SK_MAX),
        scan_index_forward=False,
        limit=limit,
    )]


def user_mentions(*, user_id: str, cursor: str | None = None, limit: int | None = None) -> Page:
    """The user's mentions, newest first (the Mentions page): one Query `PK = User:<id> AND SK
    BETWEEN mention#<now - CHAT_MENTION_TTL_SECONDS> AND mention#~`, descending, one page, signed
    cursor bound to the user. The range leaves out items past their TTL that have not been deleted
    yet (TTL lags; dynalite never deletes)."""
    oldest = iso_from_ms(now_ms() - settings.CHAT_MENTION_TTL_SECONDS * 1000)
    return pagination.query_page(
        lambda **page: MentionRecord.query(
            keys.user_pk(user_id), MentionRecord.SK.between(keys.mention_sk_from(oldest), keys.MENTION_SK_MAX),
            scan_index_forward=False, **page),
        purpose="mentions", scope=user_id, cursor=cursor, limit=limit or settings.CHAT_MENTION_PAGE_SIZE,
        convert=Mention.from_record)


def user_mention_seqs_since(*, user_id: str, room_id: str, since: str) -> set[int]:
    """The Seqs of the user's mentions in one room at or after ``since`` (Mark as unread restores
    them): one Query `PK = User:<id> AND SK BETWEEN mention#<since> AND mention#~`, FilterExpression
    MentionRoomID = room, projecting Seq. Reads every mention of the user since then, in any room
    (at most 90 days of them)."""
    records = MentionRecord.query(
        keys.user_pk(user_id), MentionRecord.SK.between(keys.mention_sk_from(since), keys.MENTION_SK_MAX),
        filter_condition=MentionRecord.room_id == room_id, attributes_to_get=["Seq"])
    return {int(r.seq) for r in records if r.seq is not None}


# --- threads (replies) ------------------------------------------------------------------------------

# The thread index's LastEvaluatedKey: the table's key and the index's.
_THREAD_KEY_NAMES = ("PK", "SK", "ThreadID", "CreatedAt")


def thread_messages(*, thread_id: str, cursor: str | None = None, limit: int | None = None) -> Page:
    """A thread, oldest first: the root (the oldest: it was posted before any reply), then its
    replies. ONE Query of the sparse `thread_messages` index (ThreadID = the root's message id),
    ascending, ``limit`` + 1 items (the extra one says whether there is a next page, whose signed
    cursor, bound to the thread, starts after this page's last item)."""
    limit = limit or settings.CHAT_THREAD_PAGE_SIZE
    start = (pagination.decode(cursor, purpose="thread", scope=thread_id, key_names=_THREAD_KEY_NAMES)
             if cursor else None)
    records = list(MessageRecord.thread_index.query(thread_id, limit=limit + 1, last_evaluated_key=start))
    next_cursor = None
    if len(records) > limit:
        records = records[:limit]
        last = records[-1]
        next_cursor = pagination.encode({"PK": {"S": last.PK}, "SK": {"S": last.SK}, "ThreadID": {"S": thread_id},
                                         "CreatedAt": {"S": last.created_at}}, purpose="thread", scope=thread_id)
    return Page(items=[ChatMessage.from_record(r) for r in records], next_cursor=next_cursor)


def thread_root(*, thread_id: str) -> ChatMessage | None:
    """A thread's root, where its key is not at hand (replying to, or deleting, a reply to a reply):
    ONE Query of `thread_messages` (ThreadID = id), ascending, Limit 1: the oldest item. None when
    that is not the root (deleted, or not in the index yet: the index is eventually consistent)."""
    for record in MessageRecord.thread_index.query(thread_id, limit=1):
        message = ChatMessage.from_record(record)
        return message if message.message_id == thread_id and message.reply_to is None else None
    return None


def message_get(*, author_id: str, sk: str) -> ChatMessage | None:
    """One message by its key (GetItem, consistent): used when a retried post finds its message."""
    try:
        return ChatMessage.from_record(MessageRecord.get(keys.user_pk(author_id), sk, consistent_read=True))
    except DoesNotExist:
        return None


def message_edits(*, author_id: str, sk: str) -> list[MessageEdit]:
    """A message's earlier versions, oldest first (staff's History page): one consistent Query of
    `User:<author>`, SK begins_with `edit#<message SK>#` (a page per MB: at most MAX_EDITS items)."""
    return [MessageEdit.from_record(record) for record in MessageEditRecord.query(
        keys.user_pk(author_id), MessageEditRecord.SK.startswith(keys.edit_sk_prefix(sk)), consistent_read=True)]


# --- search (rooms.search) ----------------------------------------------------------------------


@dataclass(frozen=True)
class SearchHit:
    """One index entry of a search term: a message's key and room (the message itself is read after)."""
    sk: str  # the message's SK, `<CreatedAt>#<message id>`: entries sort by time
    room_id: str
    author_id: str


@dataclass(frozen=True)
class SearchHitsPage:
    hits: list[SearchHit]  # newest first
    resume_below: str | None  # more entries may sort below this SK (LastEvaluatedKey); None: none left


def search_hits(*, scope: str, term: str, lowest: str, below: str, limit: int, room_id: str | None = None,
                author_id: str | None = None) -> SearchHitsPage:
    """One page of a term's index entries in one scope, newest first: ONE Query `PK =
    Search:<scope>#<term> AND SK BETWEEN <lowest> AND <below>`, descending, ``Limit``, the entry equal
    to ``below`` dropped (the bound is exclusive: the previous page ended there), FilterExpression
    `SRoom = <room>` (in: a public room) and `SAuthor = <user>` (from:) when given: they shrink the
    answer, not what is read. Never a Scan. Its items are read off the wire (JSON as sent), not
    through botocore's per-item walk of the answer's shape: the bulk of a search's own CPU."""
    if lowest > below:
        return SearchHitsPage([], None)
    values = {":pk": {"S": keys.search_pk(scope, term)}, ":lo": {"S": lowest}, ":hi": {"S": below}}
    filters = []
    if room_id is not None:
        filters.append("SRoom = :room")
        values[":room"] = {"S": room_id}
    if author_id is not None:
        filters.append("SAuthor = :author")
        values[":author"] = {"S": author_id}
    request = {"TableName": dynamodb.table_name(dynamodb.CHAT), "Limit": limit, "ScanIndexForward": False,
               "KeyConditionExpression": "PK = :pk AND SK BETWEEN :lo AND :hi",
               "ProjectionExpression": "SK, SRoom, SAuthor", "ExpressionAttributeValues": values}
    if filters:
        request["FilterExpression"] = " AND ".join(filters)
    with dynamodb.answers_off_the_wire() as client:  # its entries' attributes are all strings
        answer = client.query(**request)
    hits = [SearchHit(sk=item["SK"]["S"], room_id=item["SRoom"]["S"], author_id=item["SAuthor"]["S"])
            for item in answer.get("Items", []) if item["SK"]["S"] != below]
    last = answer.get("LastEvaluatedKey")
    return SearchHitsPage(hits, last["SK"]["S"] if last else None)


def _batch_get(item_keys: list[tuple[str, str]], *, consistent: bool = False, sleep=time.sleep,
               max_attempts: int = 6) -> list[dict]:
    """Raw chat-table items by (PK, SK): BatchGetItem, 100 keys a call, UnprocessedKeys retried
    with backoff. Missing items are simply absent."""
    table = dynamodb.table_name(dynamodb.CHAT)
    found: list[dict] = []
    wanted = list(dict.fromkeys(item_keys))
    for start in range(0, len(wanted), _BATCH_GET_MAX):
        request = {table: {"Keys": [{"PK": {"S": pk}, "SK": {"S": sk}} for pk, sk in wanted[start:start + _BATCH_GET_MAX]],
                           "ConsistentRead": consistent}}
        for attempt in range(max_attempts):
            with dynamodb.answers_off_the_wire() as client:  # no binary attributes in the chat table
                answer = client.batch_get_item(RequestItems=request)
            found.extend(answer.get("Responses", {}).get(table, []))
            request = answer.get("UnprocessedKeys") or {}
            if not request.get(table, {}).get("Keys"):
                break
            sleep(min(1.0, 0.05 * 2 ** attempt))
        else:
            raise UnprocessedKeysRemain(f"{len(request[table]['Keys'])} items still unread after {max_attempts} "
                                        f"attempts (DynamoDB is throttling)")
    return found


def messages_get_many(*, message_keys: list[tuple[str, str]]) -> dict[tuple[str, str], ChatMessage]:
    """Messages by (author id, SK), a search's candidates: BatchGetItem of `User:<author>` / `<SK>`,
    100 keys a call (eventually consistent: a message just posted may be missing for a moment, a
    deleted one is simply absent)."""
    items = _batch_get([(keys.user_pk(author), sk) for author, sk in message_keys])
    messages = (ChatMessage.from_record(MessageRecord.from_raw_data(item)) for item in items)
    return {(m.author_id, m.sk): m for m in messages}


def rooms_get_many(*, room_ids: list[str]) -> dict[str, Room]:
    """Open rooms by id (the names of a search's public rooms): those in this process's room cache
    at no call, the rest in one BatchGetItem of `Room:<id>` / `meta` per 100, consistent (so the
    cache never outlives a close by more than room_get's does), cached as room_get caches. Missing
    and closing rooms are left out."""
    now = time.monotonic()
    found: dict[str, Room] = {}
    with _room_cache_lock:
        for room_id in room_ids:
            cached = _room_cache.get(room_id)
            if cached and cached[0] > now:
                found[room_id] = cached[1]
    missing = [room_id for room_id in dict.fromkeys(room_ids) if room_id not in found]
    if missing:
        for item in _batch_get([(keys.room_pk(room_id), keys.META) for room_id in missing], consistent=True):
            room = Room.from_record(RoomRecord.from_raw_data(item))
            if room.closing_since:
                continue
            found[room.room_id] = room
            with _room_cache_lock:
                _room_cache[room.room_id] = (now + settings.CHAT_ROOM_CACHE_SECONDS, room)
    return found
