"""Big fixtures in a few BatchWriteItems: rooms as ``services.room_create`` makes them and messages
as ``services.message_post`` stores them, without a conditional write (or two UpdateItems) each.

Under moto a room_create is four conditional PutItems (~15 ms of CPU) and a post two UpdateItems
with big expressions plus a batch (~30 ms): a test that needs 200 rooms or 120 messages spent
seconds building them. These helpers write the same items (checked item by item against the
services in tests/test_bulk_seeding_writes_what_the_services_write.py) 25 to a call. Use them to
build a test's scene, never for what the test is about: the services' own conditions, retries and
call counts are tested elsewhere.

What differs, on purpose:
- no post guard item (`Counter:post:<uid>`): seeded messages were never "posted", like imported
  ones, so they count against no rate limit and claim no idempotency key;
- each message gets its own millisecond, in Seq order, starting now; the helper waits (at most a
  millisecond a message) until the last one is in the past, so a later post sorts after them.
"""

from __future__ import annotations

import time

from chatsite import dynamodb, keys
from chatsite.batch import batch_put_items
from rooms import activity, live, selectors, services, streams, validators
from rooms.models import (DIRECT, OWNER, PUBLIC, ChatMessage, MemberRecord, MessageRecord, Room,
                          RoomDirectoryEntry, RoomRecord, UserRoomRecord)
from rooms.timestamps import iso_from_ms, now_ms


def rooms_created(names, *, created_by: str, kinds=None, description: str = "",
                  created_by_name: str | None = None) -> list[Room]:
    """New rooms (none of them may exist yet), as room_create(name=, created_by=, kind=) makes
    each: its record, its directory entry if public, the creator's membership on both sides
    (owner, read cursor at 0). ``kinds``: one per name (default: all public)."""
    names = list(names)
    kinds = list(kinds) if kinds is not None else [PUBLIC] * len(names)
    items, rooms = [], []
    for name, kind in zip(names, kinds, strict=True):
        name, room_id = validators.clean_room_name(name)
        created_at = iso_from_ms(now_ms())
        record = RoomRecord(keys.room_pk(room_id), keys.META, name=name,
                            description=validators.clean_room_description(description),
                            created_by=created_by, created_at=created_at, kind=kind)
        room = Room.from_record(record)
        items.append(record.serialize())
        if room.is_public:
            items.append(RoomDirectoryEntry(keys.ROOM_DIRECTORY_PK, keys.room_directory_sk(room_id), name=room.name,
                                            description=room.description, created_by=room.created_by,
                                            created_at=room.created_at).serialize())
        if kind != DIRECT:
            items.extend(_membership_items(room, created_by, created_by_name or created_by, OWNER, read_seq=0))
        rooms.append(room)
    if len({room.room_id for room in rooms}) != len(rooms):
        raise ValueError("two names make the same room id")
    batch_put_items(items)
    return rooms


def _membership_items(room: Room, user_id: str, display_name: str, role: str, *, read_seq: int) -> list[dict]:
    """services.membership_add's two items."""
    now = iso_from_ms(now_ms())
    return [
        MemberRecord(keys.room_pk(room.room_id), keys.member_sk(user_id), display_name=display_name, role=role,
                     joined_at=now).serialize(),
        UserRoomRecord(keys.user_pk(user_id), keys.user_room_sk(room.room_id), room_name=room.name, kind=room.kind,
                       role=role, joined_at=now, room_description=room.description,
                       room_created_by=room.created_by, room_created_at=room.created_at, read_seq=read_seq,
                       read_pos=keys.read_pos_through(now)).serialize(),
    ]


def messages_posted(room: Room, comments, *, author) -> list[ChatMessage]:
    """``comments`` in ``room`` by ``author`` (a user, as for message_post), oldest first: one
    UpdateItem taking their Seqs (as take_room_seq does, all at once), then the messages and their
    live events, 25 items a BatchWriteItem. This process's Seq cache notes the room's new Seq, as
    after a post. Returns the messages as message_post would have."""
    comments = [validators.clean_comment(comment) for comment in comments]
    if not comments:
        return []
    last_seq = _take_room_seqs(room.room_id, len(comments))
    first_seq = last_seq - len(comments) + 1
    start = now_ms()
    author_name = author.display_name or author.username
    messages, items = [], []
    for n, comment in enumerate(comments):
        at = start + n
        created_at = iso_from_ms(at)
        record = MessageRecord(keys.user_pk(author.id), keys.message_sk(created_at, validators.new_token()),
                               room_id=room.room_id, created_at=created_at, comment=comment,
                               author_name=author_name, seq=first_seq + n)
        message = ChatMessage.from_record(record)
        items += [record.serialize(), services._message_event(message, at),
                  activity.message_item(message, room, at_ms=at)]
        messages.append(message)
    batch_put_items(items)
    selectors.note_room_seq(room.room_id, last_seq)  # as a post does; after the writes, so it is as fresh as can be
    for message in messages:
        streams.publish(room.room_id, live.Event(at_ms=message.created_ms, message_id=message.message_id,
                                                 message=message))
    while now_ms() <= start + len(comments) - 1:  # the last one in the past: later posts sort after it
        time.sleep(0.001)
    return messages


def _take_room_seqs(room_id: str, count: int) -> int:
    """take_room_seq for ``count`` messages: the room's new Seq (ADD Seq count, the room must exist)."""
    answer = dynamodb.client().update_item(
        TableName=dynamodb.table_name(dynamodb.CHAT),
        Key={"PK": {"S": keys.room_pk(room_id)}, "SK": {"S": keys.META}},
        UpdateExpression="ADD #seq :n", ConditionExpression="attribute_exists(PK)",
        ExpressionAttributeNames={"#seq": "Seq"}, ExpressionAttributeValues={":n": {"N": str(count)}},
        ReturnValues="UPDATED_NEW")
    return int(answer["Attributes"]["Seq"]["N"])
