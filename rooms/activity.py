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
- `c-<uid>#<rid>`  a notification setting changed (setting_item, written with put_events).

Builders return raw items (DynamoDB JSON) for a BatchWriteItem; put_events writes any number of
them, 25 a call. The reducer (UnreadState) is pure: apply() is idempotent and order-independent,
so duplicated, late or reordered events leave every tab with the same counts. Times are epoch
milliseconds; clocks are injected.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable

from django.conf import settings

from chatsite import caches, keys
from chatsite.batch import batch_put_items
from rooms.models import ActivityRecord, ChatMessage, Room, UserRoom
from rooms.timestamps import iso_from_ms, ms_from_iso, now_ms

logger = logging.getLogger(__name__)

EXCERPT_LENGTH = 140
MESSAGE, READ, MENTION, SETTING = keys.ACTIVITY_MESSAGE, keys.ACTIVITY_READ, keys.ACTIVITY_MENTION, keys.ACTIVITY_SETTING


def shard_of(entity_id: str, shards: int | None = None) -> int:
    """A stable shard for a room or user id (crc32: the same in every process and release)."""
    return zlib.crc32(entity_id.encode()) % (shards or settings.CHAT_ACTIVITY_SHARDS)


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
                          excerpt=message.comment[:EXCERPT_LENGTH], room_mention=1 if room_mention else None).serialize()


def read_item(*, user_id: str, room_id: str, read_seq: int, read_pos: str | None, read_version: int,
              at_ms: int | None = None) -> dict:
    """The `r-` event of a read cursor move: the membership's ReadSeq, ReadPos and ReadVersion as
    the move's UpdateItem returned them."""
    at_ms = at_ms if at_ms is not None else now_ms()
    return ActivityRecord(keys.activity_pk(shard_of(user_id)),
                          keys.activity_sk(iso_from_ms(at_ms), keys.activity_read_ref(user_id, room_id, read_version)),
                          expires_at=_expires(at_ms), room=room_id, user=user_id, read_seq=read_seq, read_pos=read_pos,
                          read_version=read_version).serialize()


def mention_item(*, user_id: str, message: ChatMessage, room: Room, at_ms: int | None = None) -> dict:
    """The `n-` event telling ``user_id`` (a member, notified: MentionSeqs has the Seq) that
    ``message`` mentions them, for the post's BatchWriteItem."""
    at = message.created_at
    return ActivityRecord(keys.activity_pk(shard_of(user_id)),
                          keys.activity_sk(at, keys.activity_mention_ref(user_id, message.message_id)),
                          expires_at=_expires(at_ms or ms_from_iso(at)), room=message.room_id, user=user_id,
                          seq=message.seq, message_id=message.message_id, message_sk=message.sk,
                          author_name=message.author_name, room_name=room.name,
                          excerpt=message.comment[:EXCERPT_LENGTH]).serialize()


def setting_item(*, user_id: str, room_id: str, notify: str | None, at_ms: int | None = None) -> dict:
    """The `c-` event of a notification setting change (``notify``: "all", "mentions", "none", or
    None for the default). Tabs keep the latest by time (clock skew between servers can reorder two
    changes made within it: the page read after a reconnect is right again)."""
    at_ms = at_ms if at_ms is not None else now_ms()
    return ActivityRecord(keys.activity_pk(shard_of(user_id)),
                          keys.activity_sk(iso_from_ms(at_ms), keys.activity_setting_ref(user_id, room_id)),
                          expires_at=_expires(at_ms), room=room_id, user=user_id, notify=notify).serialize()


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
                   read_version=int(record.read_version or 0), notify=record.notify)

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

    Events for rooms the user is not in (as of the start) are ignored: joining and leaving show on
    the next page (or reconnect)."""

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
            if event.read_version <= entry.read_version:
                return False
            self.rooms[event.room_id] = replace(entry, read_seq=event.read_seq, read_pos=event.read_pos,
                                                read_version=event.read_version)
            return True
        if event.kind == MENTION:
            if event.seq is None or event.seq in entry.mention_seqs:
                return False
            self.rooms[event.room_id] = replace(entry, mention_seqs=entry.mention_seqs | {event.seq})
            # A mention's Seq is the room's too (its s- event may be on another shard, read later).
            self.seqs[event.room_id] = max(self.seqs.get(event.room_id, 0), event.seq)
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
