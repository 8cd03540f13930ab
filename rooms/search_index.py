"""The search index: its items, the indexer that writes them, and reindex (docs/data-model.md, "Search").

One item per term a message is indexed under (rooms.search_terms.index_terms):
`Search:<scope>#<term>` / `<CreatedAt>#<message id>` (the message's own SK), with `SRoom` (room id)
and `SAuthor` (author id), so a hit names the message's key, `User:<SAuthor>` / SK. The scope is
`pub` for every public room, `r:<room id>` for a private room or direct conversation
(keys.search_scope). No RoomID/CreatedAt: an index item never enters room_messages or thread_messages.

Who writes them, by CHAT_SEARCH_INDEXER:
- "thread" (production): message_post, message_edit and message_delete hand a Change to this
  process's indexer, a daemon thread (a greenlet under gevent) draining a bounded queue, so a post's
  response never waits for its index writes. A full queue drops the change (counted, logged); a
  crash loses what is queued; a failed write is logged and dropped. `manage.py reindex` repairs all
  three.
- "inline": written at once by the caller (tests of search).
- "off": nothing is written (the unit tests' default, so every call budget stays as it was).
Bulk commands (import_room, purge_messages, delete_room, reindex) write the index themselves, in
the command, whenever the mode is not "off".
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from django.conf import settings

from chatsite import dynamodb, keys
from chatsite.batch import Progress, batch_delete_keys, batch_put_items
from rooms import search_terms, selectors
from rooms.models import ChatMessage, Room
from rooms.timestamps import iso_from_ms, now_ms

log = logging.getLogger(__name__)

THREAD, INLINE, OFF = "thread", "inline", "off"
MODES = (THREAD, INLINE, OFF)
REPORT_EVERY_SECONDS = 60.0  # after the first, failures and drops are logged as a count this often


# --- items ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """A message as the index sees it: its key, its room and its text."""
    room_id: str
    author_id: str
    sk: str
    text: str

    @classmethod
    def of(cls, message: ChatMessage) -> Entry:
        return cls(room_id=message.room_id, author_id=message.author_id, sk=message.sk, text=message.comment)


def scope_of(room: Room) -> str:
    return keys.search_scope(room.room_id, public=room.is_public)


def index_item(*, scope: str, term: str, entry: Entry) -> dict:
    """One index item, raw (DynamoDB JSON) for BatchWriteItem."""
    return {"PK": {"S": keys.search_pk(scope, term)}, "SK": {"S": entry.sk},
            "SRoom": {"S": entry.room_id}, "SAuthor": {"S": entry.author_id}}


def message_index_items(entry: Entry, *, scope: str) -> list[dict]:
    return [index_item(scope=scope, term=term, entry=entry) for term in sorted(search_terms.index_terms(entry.text))]


def message_index_keys(entry: Entry, *, scope: str) -> list[tuple[str, str]]:
    return [(keys.search_pk(scope, term), entry.sk) for term in sorted(search_terms.index_terms(entry.text))]


# --- changes: what the indexer applies ----------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One message's index change: the items of ``old_text`` not in ``new_text`` go, those of
    ``new_text`` not in ``old_text`` come (a post: no old text; a deletion: no new text)."""
    room_id: str
    author_id: str
    sk: str
    old_text: str | None
    new_text: str | None
    public: bool | None  # None: read when applied (message_delete knows only the room id)


def message_index_apply(change: Change) -> int:
    """Write one Change: BatchWriteItem of its puts (1 write unit each, 25 a call), then of its
    deletes; the room's kind, when the Change does not carry it, from selectors.room_get (this
    process's cache, else 1 GetItem). A room gone meanwhile: nothing (delete_room removes its
    items). Returns the items written or deleted."""
    public = change.public
    if public is None:
        public = _room_is_public(change.room_id)
        if public is None:
            return 0
    scope = keys.search_scope(change.room_id, public=public)
    old = search_terms.index_terms(change.old_text) if change.old_text else set()
    new = search_terms.index_terms(change.new_text) if change.new_text else set()
    entry = Entry(room_id=change.room_id, author_id=change.author_id, sk=change.sk, text="")
    written = 0
    if new - old:
        written += batch_put_items([index_item(scope=scope, term=term, entry=entry) for term in sorted(new - old)],
                                   max_attempts=4)
    if old - new:
        written += batch_delete_keys([(keys.search_pk(scope, term), change.sk) for term in sorted(old - new)],
                                     max_attempts=4)
    return written


def _room_is_public(room_id: str) -> bool | None:
    try:
        return selectors.room_get(room_id=room_id).is_public
    except selectors.RoomNotFound:
        pass
    try:  # closing: its messages are still deleted one by one meanwhile
        return selectors.room_get_any(room_id=room_id).is_public
    except selectors.RoomNotFound:
        return None


# --- the indexer --------------------------------------------------------------------------------


class _Reporter:
    """Logs the first of a kind of trouble in full, then a count at most every REPORT_EVERY_SECONDS:
    a DynamoDB outage must not write a traceback per post."""

    def __init__(self, what: str):
        self.what = what
        self.total = 0
        self._unreported = 0
        self._last = 0.0
        self._lock = threading.Lock()

    def __call__(self, detail: str, *, exc_info: bool = False) -> None:
        with self._lock:
            self.total += 1
            self._unreported += 1
            now = time.monotonic()
            if self.total > 1 and now - self._last < REPORT_EVERY_SECONDS:
                return
            count, self._unreported, self._last = self._unreported, 0, now
        if count == 1 and self.total == 1:
            log.error("search index: %s (%s); manage.py reindex repairs the index", self.what, detail,
                      exc_info=exc_info)
        else:
            log.error("search index: %s %d times in the last %.0f s (%s, the latest); manage.py reindex repairs "
                      "the index", self.what, count, REPORT_EVERY_SECONDS, detail)


class Indexer:
    """One daemon thread per process applying Changes from a bounded queue, started on first use
    (so after gunicorn forks its workers, in each worker) and again if it ever died."""

    def __init__(self, *, apply: Callable[[Change], object] = message_index_apply, maxsize: int | None = None):
        self._apply = apply
        self._maxsize = maxsize
        self._lock = threading.Lock()
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self.dropped = _Reporter("the indexer's queue was full: a change was dropped")
        self.failed = _Reporter("a change could not be written and was dropped")
        self.applied = 0

    def submit(self, change: Change) -> bool:
        """Queue a change without waiting; False (and counted) when the queue is full."""
        try:
            self._running().put_nowait(change)
        except queue.Full:
            self.dropped(f"{self._queue.maxsize} changes waiting")
            return False
        return True

    def _running(self) -> queue.Queue:
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the parent's thread did not come along
                self._queue = queue.Queue(self._maxsize or settings.CHAT_SEARCH_QUEUE_SIZE)
                self._thread = None
                self._pid = os.getpid()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, args=(self._queue,), name="search-indexer",
                                                daemon=True)
                self._thread.start()
            return self._queue

    def _run(self, changes: queue.Queue) -> None:
        while True:
            change = changes.get()
            try:
                self._apply(change)
                self.applied += 1
            except Exception as exc:  # never let one change end the thread
                self.failed(f"{type(exc).__name__}: {exc}", exc_info=True)
            finally:
                changes.task_done()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued change is applied (or failed); False if ``timeout`` passed first."""
        changes = self._queue
        if changes is None:
            return True
        # Polled: under gevent workers the queue is gevent's, which has the count but not the
        # stdlib's all_tasks_done condition (time.sleep yields to the indexer's greenlet there).
        deadline = time.monotonic() + timeout
        while changes.unfinished_tasks:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    @property
    def waiting(self) -> int:
        return self._queue.qsize() if self._queue is not None else 0


INDEXER = Indexer()


def finish(timeout: float = 5.0) -> bool:
    """At a process's graceful exit (gunicorn's worker_exit): wait, bounded, for the queued changes,
    so a deploy loses none; what is still queued after ``timeout`` is logged as lost."""
    if INDEXER.flush(timeout):
        return True
    log.error("search index: %d changes still queued at exit were lost; manage.py reindex repairs the index",
              INDEXER.waiting)
    return False


def mode() -> str:
    return settings.CHAT_SEARCH_INDEXER


def submit(change: Change) -> None:
    """Hand a change to the indexer the mode names."""
    current = mode()
    if current == THREAD:
        try:  # the caller's own writes are done: nothing here may turn them into an error page
            INDEXER.submit(change)
        except Exception as exc:  # e.g. no thread can be started
            INDEXER.failed(f"{type(exc).__name__}: {exc}", exc_info=True)
    elif current == INLINE:
        message_index_apply(change)


def enqueue(message: ChatMessage, *, room: Room) -> None:
    """Index a message just stored (message_post)."""
    submit(Change(room_id=message.room_id, author_id=message.author_id, sk=message.sk, old_text=None,
                  new_text=message.comment, public=room.is_public))


def enqueue_edit(before: ChatMessage, after: ChatMessage, *, room: Room) -> None:
    """Move an edited message's index items from its old text's terms to its new text's (message_edit)."""
    submit(Change(room_id=after.room_id, author_id=after.author_id, sk=after.sk, old_text=before.comment,
                  new_text=after.comment, public=room.is_public))


def enqueue_removal(message: ChatMessage, *, room: Room | None = None) -> None:
    """Remove a deleted message's index items (message_delete: the room's kind is read later)."""
    submit(Change(room_id=message.room_id, author_id=message.author_id, sk=message.sk, old_text=message.comment,
                  new_text=None, public=room.is_public if room is not None else None))


def bulk_enabled() -> bool:
    """Whether bulk commands write the index (every mode but "off")."""
    return mode() != OFF


# --- bulk: commands ------------------------------------------------------------------------------


def _entry_from_raw(item: dict) -> Entry:
    return Entry(room_id=item["RoomID"]["S"], author_id=keys.user_id_from_pk(item["PK"]["S"]), sk=item["SK"]["S"],
                 text=item.get("Comment", {}).get("S", ""))


def message_entry_from_raw(item: dict) -> Entry | None:
    """A raw chat-table item as an Entry if it is a message (import_room's items), else None."""
    if "RoomID" not in item or "CreatedAt" not in item or "Comment" not in item:
        return None
    return _entry_from_raw(item)


_ENTRY_PROJECTION = {"ProjectionExpression": "PK, SK, RoomID, #text", "ExpressionAttributeNames": {"#text": "Comment"}}


def message_entry_pages(*, room_id: str | None, start: dict | None = None, page_size: int = 100,
                        before: str | None = None) -> Iterator[tuple[list[Entry], dict | None]]:
    """Messages a page at a time, with each page's LastEvaluatedKey (None after the last), from the
    `room_messages` index: one room's, oldest first (Query RoomID = id, optionally CreatedAt <
    ``before``), or with ``room_id`` None every message of every room (a paged Scan of that index:
    it holds only messages, so an operator's reindex reads each message once and nothing else).
    Projected to the key, the room and the text."""
    request = {"TableName": dynamodb.table_name(dynamodb.CHAT), "IndexName": dynamodb.ROOM_INDEX,
               "Limit": page_size, **_ENTRY_PROJECTION}
    if room_id is not None:
        request["KeyConditionExpression"] = "RoomID = :room" + (" AND CreatedAt < :before" if before else "")
        request["ExpressionAttributeValues"] = {":room": {"S": room_id}, **({":before": {"S": before}} if before else {})}
    client = dynamodb.client()
    while True:
        page = dict(request, **({"ExclusiveStartKey": start} if start else {}))
        answer = client.query(**page) if room_id is not None else client.scan(**page)
        start = answer.get("LastEvaluatedKey")
        yield [_entry_from_raw(item) for item in answer.get("Items", [])], start
        if not start:
            return


def room_index_remove(*, room: Room, before: str | None = None, progress: Progress = lambda n: None) -> int:
    """Delete the index items of a room's messages (all, or those created before ``before``), for
    delete_room and purge_messages, before the messages themselves go (so an interrupted run finds
    the texts again): Query the room's messages (their texts, 100 a page), BatchWriteItem of the
    deletes, 25 a call. ``progress`` counts messages. Returns the items deleted."""
    scope = scope_of(room)
    deleted = 0
    for entries, _ in message_entry_pages(room_id=room.room_id, before=before):
        deleted += batch_delete_keys([key for entry in entries for key in message_index_keys(entry, scope=scope)])
        progress(len(entries))
    return deleted


# --- reindex ----------------------------------------------------------------------------------------

CHECKPOINT_TTL_SECONDS = 7 * 24 * 3600  # an abandoned reindex's checkpoint goes by itself


@dataclass
class ReindexResult:
    messages: int = 0  # messages indexed by this run
    items: int = 0  # index items put by this run
    skipped: int = 0  # messages of rooms gone or being deleted
    resumed_after: int = 0  # messages a previous, interrupted run had done (0: started from the beginning)


def reindex_target(room_id: str | None) -> str:
    return "all" if room_id is None else f"r:{room_id}"


def reindex_checkpoint_get(target: str) -> tuple[dict, int] | None:
    """Where an interrupted reindex of ``target`` stopped: GetItem `Reindex:<target>` / `meta`
    (consistent): the last finished page's LastEvaluatedKey and the messages done so far."""
    answer = dynamodb.client().get_item(TableName=dynamodb.table_name(dynamodb.CHAT), ConsistentRead=True,
                                        Key={"PK": {"S": keys.reindex_pk(target)}, "SK": {"S": keys.META}})
    item = answer.get("Item")
    if not item:
        return None
    return json.loads(item["After"]["S"]), int(item["Done"]["N"])


def reindex_checkpoint_put(target: str, after: dict, done: int) -> None:
    """PutItem `Reindex:<target>` / `meta` after each page (1 write unit), with a TTL."""
    now = now_ms()
    dynamodb.client().put_item(TableName=dynamodb.table_name(dynamodb.CHAT), Item={
        "PK": {"S": keys.reindex_pk(target)}, "SK": {"S": keys.META}, "After": {"S": json.dumps(after)},
        "Done": {"N": str(done)}, "UpdatedAt": {"S": iso_from_ms(now)},
        dynamodb.CHAT_TTL_ATTRIBUTE: {"N": str(now // 1000 + CHECKPOINT_TTL_SECONDS)}})


def reindex_checkpoint_delete(target: str) -> None:
    dynamodb.client().delete_item(TableName=dynamodb.table_name(dynamodb.CHAT),
                                  Key={"PK": {"S": keys.reindex_pk(target)}, "SK": {"S": keys.META}})


def reindex(*, room_id: str | None, page_size: int = 100, restart: bool = False,
            progress: Progress = lambda n: None) -> ReindexResult:
    """Put every index item of one room's messages (``room_id``) or of every message (None).

    PutItems are idempotent, so a second run writes the same items again and changes nothing.
    Resumable: after each page (``page_size`` messages, one Query or Scan page) the position is
    saved in a checkpoint item, and the next run of the same target starts after it unless
    ``restart``; a run that finishes deletes it. Entries a dead edit left for words the message no
    longer has are not removed (harmless: a search checks every hit against the message's text).
    Messages of a room that is gone or being deleted are skipped (delete_room removes theirs).
    ``progress`` counts messages, those done before a resume first."""
    target = reindex_target(room_id)
    result = ReindexResult()
    start = None
    checkpoint = None if restart else reindex_checkpoint_get(target)
    if checkpoint is not None:
        start, result.resumed_after = checkpoint
        progress(result.resumed_after)
    scopes: dict[str, str | None] = {}
    saved = checkpoint is not None
    for entries, last_key in message_entry_pages(room_id=room_id, start=start, page_size=page_size):
        items = []
        for entry in entries:
            if entry.room_id not in scopes:
                scopes[entry.room_id] = _reindex_scope(entry.room_id)
            scope = scopes[entry.room_id]
            if scope is None:
                result.skipped += 1
                continue
            items.extend(message_index_items(entry, scope=scope))
            result.messages += 1
        result.items += batch_put_items(items)
        progress(len(entries))
        if last_key:
            reindex_checkpoint_put(target, last_key, result.resumed_after + result.messages + result.skipped)
            saved = True
    if saved:
        reindex_checkpoint_delete(target)
    return result


def _reindex_scope(room_id: str) -> str | None:
    try:
        room = selectors.room_get_any(room_id=room_id)
    except selectors.RoomNotFound:
        return None
    return None if room.closing_since else scope_of(room)


def reindex_entries(entries: Iterable[Entry], *, scope: str, progress: Progress = lambda n: None) -> int:
    """Put the index items of these messages (import_room): BatchWriteItem, 25 items a call.
    ``progress`` counts messages. Returns the items put."""
    def items():
        for entry in entries:
            yield from message_index_items(entry, scope=scope)
            progress(1)
    return batch_put_items(items())
