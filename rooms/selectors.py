"""Reads for rooms and messages. Each function is one access pattern in docs/data-model.md."""

from __future__ import annotations

import threading
import time
from typing import Iterator

from django.conf import settings
from pynamodb.exceptions import DoesNotExist

from chatsite import caches, keys, pagination
from chatsite.pagination import Page
from rooms.models import (ChatMessage, Deletion, MessageRecord, Room, RoomDirectoryEntry, RoomRecord,
                          TombstoneRecord)


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


def message_get(*, author_id: str, sk: str) -> ChatMessage | None:
    """One message by its key (GetItem, consistent): used when a retried post finds its message."""
    try:
        return ChatMessage.from_record(MessageRecord.get(keys.user_pk(author_id), sk, consistent_read=True))
    except DoesNotExist:
        return None
