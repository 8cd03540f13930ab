"""Writes for rooms and messages. Each function is one access pattern in docs/data-model.md;
views, management commands and tests all come through here."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Callable, Iterable

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from pynamodb.exceptions import DeleteError, PutError, UpdateError

from chatsite import counters, dynamodb, keys
from chatsite.batch import Progress, UnprocessedItemsRemain, batch_delete_keys, batch_put_items, batch_write
from rooms import activity, live, mentions, permissions, post_guard, selectors, streams, validators
from rooms import formatting
from rooms import search, search_index  # search.backend: the one interface a search engine replaces
from accounts import selectors as user_selectors
from accounts.validators import canonical_username, validate_username
from rooms.models import (DIRECT, MEMBER, OWNER, PRIVATE, PUBLIC, ChatMessage, LiveEventRecord, Member, MemberRecord,
                          MentionRecord, MessageEditRecord, MessageRecord, NOTIFY_LEVELS,
                          Room, RoomDirectoryEntry, RoomRecord, TombstoneRecord, UserRoomRecord,
                          Reaction, reactions_to_json)
from rooms.timestamps import iso_from_ms, ms_from_iso, now_ms

logger = logging.getLogger(__name__)


class RoomExists(Exception):
    def __init__(self, room: Room):
        super().__init__(room.room_id)
        self.room = room


class RoomBeingDeleted(Exception):
    """delete_room has closed this room and not finished yet: its id can't be taken until then."""

    def __init__(self, room_id: str):
        super().__init__(room_id)
        self.room_id = room_id


class RateLimited(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


class MessageNotFound(LookupError):
    pass


class IdempotencyKeyUsedElsewhere(ValidationError):
    """The key already sent a message to another room (a composer's form reused elsewhere): the
    new text must not be taken for a retry of that message. Ask for a fresh key."""

    def __init__(self):
        super().__init__("This form was already used to send a message in another room. Your text is kept: "
                         "send it again to post it here.", code="key_used_elsewhere")


# --- rooms ----------------------------------------------------------------------------------


def room_create(*, name: str, description: str = "", created_by: str, kind: str = PUBLIC,
                created_by_name: str | None = None) -> Room:
    """Create a room: conditional PutItem `Room:<id>` / `meta` (the id is unique), then (public
    rooms only) its directory entry `Rooms` / `Room:<id>`, then the creator's membership as owner
    (membership_add: two conditional PutItems). Private and direct rooms have no directory entry:
    they are listed nowhere. Raises ValidationError, RoomExists, or RoomBeingDeleted while
    delete_room is still sweeping an old room with this id (its record holds the id until every
    message is gone, so a new room never shows the old one's messages).

    A creation that died between its writes is repaired by the next attempt with the same name:
    the directory entry is put again, and the creator's membership if the room is theirs."""
    if kind not in (PUBLIC, PRIVATE):  # direct conversations are made by their own service
        raise ValueError(f"room kind {kind!r}")
    name, room_id = validators.clean_room_name(name)
    description = validators.clean_room_description(description)
    record = RoomRecord(keys.room_pk(room_id), keys.META, name=name, description=description,
                        created_by=created_by, created_at=iso_from_ms(now_ms()), kind=kind)
    try:
        record.save(condition=RoomRecord.PK.does_not_exist())
    except PutError as exc:
        if not dynamodb.is_conditional_check_failed(exc):
            raise
        try:
            existing = selectors.room_get_any(room_id=room_id)
        except selectors.RoomNotFound:  # deleted between the put and this read
            raise RoomBeingDeleted(room_id) from None
        if existing.closing_since:
            raise RoomBeingDeleted(room_id) from None
        _finish_creation(existing, created_by_name)  # repairs a creation that died between its writes
        raise RoomExists(existing) from None
    room = Room.from_record(record)
    _finish_creation(room, created_by_name, read_seq=0)  # nothing posted yet: no Seq to read
    return room


def _finish_creation(room: Room, created_by_name: str | None, read_seq: int | None = None) -> None:
    if room.is_public:
        _put_directory_entry(room)
    if room.kind != DIRECT:
        membership_add(room=room, user_id=room.created_by, display_name=created_by_name or room.created_by,
                       role=OWNER, read_seq=read_seq)


def _put_directory_entry(room: Room) -> None:
    RoomDirectoryEntry(keys.ROOM_DIRECTORY_PK, keys.room_directory_sk(room.room_id), name=room.name,
                       description=room.description, created_by=room.created_by,
                       created_at=room.created_at).save()


def room_create_reserve(*, user_id: str) -> None:
    """Count one room creation by ``user_id`` before it is tried: one conditional UpdateItem on
    `Counter:room-create:<user id>` (chatsite.counters.reserve), so parallel requests on any host
    get at most CHAT_ROOM_CREATE_LIMIT per CHAT_ROOM_CREATE_WINDOW_SECONDS through. Attempts
    count, including names already taken. Raises RateLimited. The site's form calls this; admin
    commands create rooms without it."""
    try:
        counters.reserve(scope="room-create", subject=user_id, limit=settings.CHAT_ROOM_CREATE_LIMIT,
                         window_seconds=settings.CHAT_ROOM_CREATE_WINDOW_SECONDS)
    except counters.LimitReached as full:
        raise RateLimited(full.retry_after) from None


# --- membership ---------------------------------------------------------------------------------
#
# Two items per membership: the room's side `Room:<rid>` / `member#<uid>` (the member list) and the
# user's side `User:<uid>` / `room#<rid>` (their rooms; the room page reads this list, and it is what
# lets a user read a private room). No transactions, so the order does the work:
# - adding writes the room's side first and the user's side last: access starts only once both
#   exist, and a crash in between leaves a member-list entry without access, which the next
#   add (join, invite, add_member, re-creating the room) completes: both puts are conditional on
#   the item not existing, and the second is made whether or not the first found one;
# - removing deletes the user's side first (access ends at once), then the room's side: a crash
#   in between leaves a member-list entry without access, which the next leave or remove deletes
#   (both deletes are made whatever the first one found).
# So a half-written membership never grants access, and the next attempt repairs it.


class NoSuchUser(LookupError):
    pass


class AlreadyMember(Exception):
    pass


class MembershipFixed(Exception):
    """A direct conversation's people are fixed: nobody joins, is invited or is removed."""


def membership_add(*, room: Room, user_id: str, display_name: str, role: str = MEMBER,
                   read_seq: int | None = None) -> bool:
    """Add ``user_id`` to ``room``: conditional PutItem `Room:<rid>` / `member#<uid>`, then
    conditional PutItem `User:<uid>` / `room#<rid>` (2 writes, whatever the first finds). Returns
    True if the member-list entry is new, False if it was there (a join twice, an invite twice:
    the user's side is still completed, repairing an add that died between its writes).

    The new member has read everything before they came (joining a room with history shows 0
    unread): their read cursor starts at ``read_seq``, or else at the room's Seq read fresh
    (selectors.room_seq, + 1 GetItem), and at the current time for its position."""
    now = iso_from_ms(now_ms())
    added = _put_if_absent(MemberRecord(keys.room_pk(room.room_id), keys.member_sk(user_id),
                                        display_name=display_name, role=role, joined_at=now))
    if read_seq is None:
        read_seq = selectors.room_seq(room_id=room.room_id)
    _put_if_absent(UserRoomRecord(keys.user_pk(user_id), keys.user_room_sk(room.room_id), room_name=room.name,
                                  kind=room.kind, role=role, joined_at=now, room_description=room.description,
                                  room_created_by=room.created_by, room_created_at=room.created_at,
                                  read_seq=read_seq, read_pos=keys.read_pos_through(now)))
    return added


def _put_if_absent(record) -> bool:
    try:
        record.save(condition=type(record).PK.does_not_exist())
    except PutError as exc:
        if not dynamodb.is_conditional_check_failed(exc):
            raise
        return False
    return True


def membership_remove(*, room_id: str, user_id: str) -> bool:
    """Remove ``user_id`` from a room: DeleteItem `User:<uid>` / `room#<rid>` (conditional on it
    existing, to tell), then DeleteItem `Room:<rid>` / `member#<uid>` whatever the first found
    (repairs a remove that died between the two), then the `x-` activity event. 3 writes. Returns
    False if the user had no access (not a member: a quiet no-op, no event)."""
    try:
        UserRoomRecord(keys.user_pk(user_id), keys.user_room_sk(room_id)).delete(condition=UserRoomRecord.PK.exists())
        was_member = True
    except DeleteError as exc:
        if not dynamodb.is_conditional_check_failed(exc):
            raise
        was_member = False
    MemberRecord(keys.room_pk(room_id), keys.member_sk(user_id)).delete()
    if was_member:  # their open tabs drop the room now, not at their next reconnect
        activity.put_events([activity.left_item(user_id=user_id, room_id=room_id)])
    return was_member


def room_join(*, room: Room, user, read_seq: int | None = None) -> bool:
    """A signed-in user joins a public room (2 conditional PutItems, + 1 GetItem of the room's Seq
    unless ``read_seq`` says where their read cursor starts). False: already a member."""
    if not room.is_public:
        raise MembershipFixed(room.room_id) if room.kind == DIRECT else PermissionDenied("Invite only.")
    return membership_add(room=room, user_id=user.id, display_name=user.display_name or user.username,
                          read_seq=read_seq)


def room_leave(*, room: Room, user) -> bool:
    """Leave a room (2 DeleteItems). False: the user was not in it (a quiet no-op)."""
    return membership_remove(room_id=room.room_id, user_id=user.id)


def room_invite(*, room: Room, username: str) -> Member:
    """Add the user named ``username`` to ``room`` (the caller has checked the inviter is a member):
    GetItem of the user (consistent), then membership_add: 1 read + 2 writes. Raises NoSuchUser,
    AlreadyMember (their membership is completed all the same), MembershipFixed (direct rooms)."""
    if room.kind == DIRECT:
        raise MembershipFixed(room.room_id)
    try:
        user_id = validate_username(username.strip())
    except ValidationError:
        raise NoSuchUser(username) from None
    record = user_selectors.user_get(user_id=user_id)
    if record is None or not record.is_active:
        raise NoSuchUser(username)
    display_name = record.display_name or record.username
    if not membership_add(room=room, user_id=user_id, display_name=display_name):
        raise AlreadyMember(display_name)
    return Member(room_id=room.room_id, user_id=user_id, display_name=display_name, role=MEMBER,
                  joined_at=iso_from_ms(now_ms()))


def member_remove(*, room: Room, actor, user_id: str) -> bool:
    """The owner (or staff) removes a member: membership_remove (2 DeleteItems). Their open tabs
    stop receiving within CHAT_LIVE_GRANT_SECONDS (docs/live-updates.md, "Private rooms")."""
    if room.kind == DIRECT:
        raise MembershipFixed(room.room_id)
    if not permissions.may_manage_room(actor, room):
        raise PermissionDenied("Only the room's owner can remove members.")
    return membership_remove(room_id=room.room_id, user_id=user_id)


def room_update(*, room: Room, actor, name: str, description: str) -> Room:
    """The owner (or staff) renames the room or edits its description. The id (its address) stays.
    UpdateItem `Room:<id>` / `meta` (conditional: open), the directory entry again (public rooms),
    then each member's sidebar copy of the name and description (a Query of the member list, one
    UpdateItem per member: renaming costs O(members), which keeps every page's sidebar at one Query
    and a member's room page free of a room read)."""
    if room.kind == DIRECT:
        raise MembershipFixed(room.room_id)
    if not permissions.may_manage_room(actor, room):
        raise PermissionDenied("Only the room's owner can change its name or description.")
    name, _ = validators.clean_room_name(name)
    description = validators.clean_room_description(description)
    record = RoomRecord(keys.room_pk(room.room_id), keys.META)
    try:
        record.update(actions=[RoomRecord.name.set(name), RoomRecord.description.set(description)],
                      condition=RoomRecord.PK.exists() & RoomRecord.closing_since.does_not_exist())
    except UpdateError as exc:
        if not dynamodb.is_conditional_check_failed(exc):
            raise
        raise selectors.RoomNotFound(room.room_id) from None
    selectors.forget_room(room.room_id)
    updated = Room.from_record(record)
    if updated.is_public:
        _put_directory_entry(updated)
    if name != room.name or description != room.description:
        for member in selectors.all_room_members(room_id=room.room_id):
            try:
                UserRoomRecord(keys.user_pk(member.user_id), keys.user_room_sk(room.room_id)).update(
                    actions=[UserRoomRecord.room_name.set(name), UserRoomRecord.room_description.set(description),
                             UserRoomRecord.room_created_by.set(updated.created_by),
                             UserRoomRecord.room_created_at.set(updated.created_at)],
                    condition=UserRoomRecord.PK.exists())
            except UpdateError as exc:  # left meanwhile: nothing to rename
                if not dynamodb.is_conditional_check_failed(exc):
                    raise
    return updated


# --- direct conversations -------------------------------------------------------------------------
#
# A direct conversation is a room of kind "direct" whose id comes from its people
# (validators.direct_room_id), so the same people always reach the same room. It is created by the
# room record's conditional PutItem alone: two people starting it at once both compute the id, one
# put wins, and both go on to write the memberships, which are conditional puts made whatever they
# find. Memberships are written in user-id order, every participant's two items in turn, so the
# last participant's `room#` item exists only once every membership was written: that one GetItem
# tells a finished conversation (open it) from a new or half-written one (write, or repair, it all).


def direct_people(*, starter, usernames: Iterable[str]) -> tuple[list[str], dict[str, str]]:
    """Check the people of a conversation ``starter`` wants to start, without any read. Returns
    (sorted user ids, the starter included; each id's name as typed). Duplicates count once; the
    starter may be listed or not. Raises ValidationError: nobody else, more than
    DIRECT_MAX_PEOPLE, or names that can't be usernames (named in the message)."""
    typed: dict[str, str] = {}
    for name in usernames:
        typed.setdefault(canonical_username(name), name)
    typed.pop(starter.id, None)
    if not typed:
        raise ValidationError("Add at least one other person: direct messages are between you and others "
                              "(you are always in the conversation).", code="self")
    limit = validators.DIRECT_MAX_PEOPLE
    if len(typed) + 1 > limit:
        raise ValidationError(f"A conversation can have at most {limit} people: you and {limit - 1} others. "
                              f"You listed {len(typed)} others.", code="too_many")
    invalid = []
    for name in typed.values():
        try:
            validate_username(name)
        except ValidationError:
            invalid.append(name)
    if invalid:
        raise _unknown_people(invalid)
    return sorted([starter.id, *typed]), typed


def _unknown_people(names: list[str]) -> ValidationError:
    listed = ", ".join(f"“{n}”" for n in names)
    return ValidationError(f"There is no user named {listed}. Check the spelling: it is the name they sign in with.",
                           code="unknown")


class DirectUnavailable(Exception):
    """The conversation's id is held by a room being deleted (or by something that is not a direct
    conversation): it can't be opened now."""


def direct_start(*, starter, usernames: Iterable[str]) -> str:
    """Open the direct conversation of ``starter`` and the people named ``usernames``, creating it
    on first use. Returns its room id.

    A conversation that exists: 1 GetItem (consistent) of the last participant's `room#` item.
    A new one (or one a crash left half-written): that GetItem, BatchGetItem of the other people
    (unknown or deactivated ones are refused, by name), conditional PutItem of the room record,
    then membership_add for each participant in user-id order (2 conditional PutItems each): 1 +
    2 per participant writes. Each participant's `room#` item carries the other people's display
    names, which the sidebar shows. Raises ValidationError (see direct_people, and unknown people)
    or DirectUnavailable."""
    people, typed = direct_people(starter=starter, usernames=usernames)
    room_id = validators.direct_room_id(people)
    finished = selectors.user_room_get(user_id=people[-1], room_id=room_id)
    if finished is not None and finished.kind == DIRECT:
        return room_id
    records = user_selectors.user_get_many(user_ids=list(typed))
    unknown = [typed[uid] for uid in typed if uid not in records or not records[uid].is_active]
    if unknown:
        raise _unknown_people(unknown)
    names = {uid: record.display_name or record.username for uid, record in records.items()}
    names[starter.id] = starter.display_name or starter.username
    record = RoomRecord(keys.room_pk(room_id), keys.META, name=_names_of(names, people), description="",
                        created_by=starter.id, created_at=iso_from_ms(now_ms()), kind=DIRECT)
    read_seq: int | None = None  # a conversation found half-written: each membership reads its Seq
    try:
        record.save(condition=RoomRecord.PK.does_not_exist())
        room = Room.from_record(record)
        read_seq = 0  # a new conversation: nothing posted yet
    except PutError as exc:
        if not dynamodb.is_conditional_check_failed(exc):
            raise
        try:  # started at the same moment elsewhere, or a start that died before its memberships
            room = selectors.room_get_any(room_id=room_id)
        except selectors.RoomNotFound:  # deleted between the put and this read
            raise DirectUnavailable(room_id) from None
        if room.closing_since or room.kind != DIRECT:
            raise DirectUnavailable(room_id) from None
    for uid in people:
        others = [p for p in people if p != uid]
        membership_add(room=replace(room, name=_names_of(names, others)), user_id=uid, display_name=names[uid],
                       read_seq=read_seq)
    return room_id


def _names_of(names: dict[str, str], user_ids: list[str]) -> str:
    return ", ".join(sorted((names[uid] for uid in user_ids), key=str.casefold))


# --- messages -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostResult:
    message: ChatMessage
    duplicate: bool  # True: this key was posted before; ``message`` is the one already stored
    # What the sender is told: names they mentioned who were not notified, and why (the same words
    # for an unknown name and a non-member, so nobody learns who has an account).
    not_notified: tuple[str, ...] = ()  # not a member of this room (or no such user)
    too_many: tuple[str, ...] = ()  # past the first mentions.MAX_MENTIONS people
    thread_root: ChatMessage | None = None  # a reply: its thread's root as the reply's count left it


def message_post(*, room: Room, author, comment: str, idempotency_key: str,
                 reply_to: tuple[str, str] | None = None) -> PostResult:
    """Post a message: one UpdateItem on the author's post guard (rate limit + idempotency), one
    UpdateItem on the room's record taking the message's Seq (take_room_seq: unread counts without
    a write per member), then one BatchWriteItem of the message `User:<author>` /
    `<CreatedAt>#<message id>` and its live event. 3 calls (4 with the view's session read).
    Mentions (rooms/mentions.py): + 1 conditional UpdateItem per person mentioned (mention_members:
    only members are notified) and their mention items in the same batch; @room by anyone but the
    owner: + 1 counting Query (room_mention_check, which refuses it over 20 members).
    A reply (``reply_to`` = the replied-to message's author id and SK): + 1 conditional UpdateItem
    counting it on its thread's root, whose `u-` event goes into the post's batch (_reply_thread:
    a reply to a reply costs 2 or 3 calls more); refused, ReplyTargetNotFound, and nothing is posted.

    Raises ValidationError (bad text or key), RateLimited, or RoomNotFound (the room's record is
    gone: deleted while this process still had it cached). A repeated ``idempotency_key`` never
    makes a second message nor takes a second Seq: it returns the stored one (GetItem), or
    finishes the first attempt's put under the same key if that attempt died before putting (with
    a new Seq: the first one's, if it took one, stays a gap). A key whose stored message is in
    another room raises IdempotencyKeyUsedElsewhere (a ValidationError).
    """
    comment = validators.clean_comment(comment)
    if not validators.is_token(idempotency_key):
        raise ValidationError("This form is out of date. Your text is kept: send it again.", code="key")
    mentioned = mentions.parse(comment, author_id=author.id)
    if reply_to is not None:
        _check_reply_to(*reply_to)
    if mentioned.room:
        room_mention_check(room=room, author=author)
    now = now_ms()
    created_at = iso_from_ms(now)
    claim = post_guard.claim(user_id=author.id, idempotency_key=idempotency_key,
                             planned_sk=keys.message_sk(created_at, validators.new_token()), now_ms=now)
    if claim.limited:
        raise RateLimited(claim.retry_after)
    # For a duplicate the SK is the first attempt's (the identity that makes this exactly-once),
    # while CreatedAt is now: if that attempt never stored its message, live feeds must still see
    # this one as new.
    def message_record(seq: int, thread: ReplyThread | None) -> MessageRecord:
        # The mentioned members first (one conditional UpdateItem each): the message stores only
        # those, so it links and highlights exactly the people who were notified.
        notified = mention_members(room_id=room.room_id, seq=seq, user_ids=mentioned.user_ids)
        return MessageRecord(keys.user_pk(author.id), claim.planned_sk, room_id=room.room_id, created_at=created_at,
                             comment=comment, author_name=author.display_name or author.username, seq=seq,
                             mentions=list(notified) or None, **(thread.record_fields() if thread else {}))

    def not_notified(message: ChatMessage) -> tuple[str, ...]:
        return tuple(mentioned.names[uid] for uid in mentioned.user_ids if uid not in message.mentions)

    if not claim.duplicate:
        # A fresh random SK: nothing can be there, so the message, its live event and the mentioned
        # members' mention items go in one BatchWriteItem (dynalite has no transactions; a batch is
        # one call, a write unit per item).
        # A reply is counted on its thread's root before the Seq: a refused one takes no Seq.
        thread = _reply_thread(room_id=room.room_id, reply_to=reply_to, count=True) if reply_to else None
        record = message_record(take_room_seq(room_id=room.room_id), thread)
        message = ChatMessage.from_record(record)
        root = thread.root if thread else None
        batch_put_items([record.serialize(), _message_event(message, now),
                         activity.message_item(message, room, room_mention=mentioned.room, at_ms=now),
                         *_mention_items(message, room, now),
                         *([message_update_item(root, now)] if root else [])],
                        max_attempts=4)
        streams.publish(room.room_id, live.Event(at_ms=message.created_ms, message_id=message.message_id,
                                                 message=message))
        if root:
            announce_message_update(root, now)
        search.backend.index_message(message, room=room)  # stored: now its index items, off the request path
        return PostResult(message=message, duplicate=False, not_notified=not_notified(message),
                          too_many=mentioned.over_cap, thread_root=root)
    # A retry (rare): the stored message first, so a retry takes no second Seq.
    existing = _retried_message(author_id=author.id, sk=claim.planned_sk, room_id=room.room_id)
    if existing is not None:
        return PostResult(message=existing, duplicate=True)
    # Not counted again: the first attempt may have counted it (a retry never counts twice; one
    # that died before counting leaves its root one short).
    thread = _reply_thread(room_id=room.room_id, reply_to=reply_to, count=False) if reply_to else None
    record = message_record(take_room_seq(room_id=room.room_id), thread)
    try:
        record.save(condition=MessageRecord.PK.does_not_exist())
    except PutError as exc:
        if not dynamodb.is_conditional_check_failed(exc):
            raise
        # Another retry of the same key put it meanwhile (this Seq stays a gap).
        existing = _retried_message(author_id=author.id, sk=claim.planned_sk, room_id=room.room_id)
        if existing is None:  # deleted meanwhile: nothing to show, nothing to redo
            raise MessageNotFound(claim.planned_sk) from None
        return PostResult(message=existing, duplicate=True)
    # The first attempt died before putting: this is its message, new to every live feed.
    message = ChatMessage.from_record(record)
    batch_put_items([_message_event(message, now),
                     activity.message_item(message, room, room_mention=mentioned.room, at_ms=now),
                     *_mention_items(message, room, now)], max_attempts=4)
    search.backend.index_message(message, room=room)
    return PostResult(message=message, duplicate=True, not_notified=not_notified(message),
                      too_many=mentioned.over_cap)


def _retried_message(*, author_id: str, sk: str, room_id: str) -> ChatMessage | None:
    existing = selectors.message_get(author_id=author_id, sk=sk)
    if existing is not None and existing.room_id != room_id:  # not a retry of that message: keep this text
        raise IdempotencyKeyUsedElsewhere()
    return existing


def take_room_seq(*, room_id: str) -> int:
    """The next message's Seq: UpdateItem `Room:<id>` / `meta` ADD Seq 1, condition
    attribute_exists(PK), ReturnValues UPDATED_NEW (1 write unit). Raises RoomNotFound when the
    room's record is gone. A room's Seq counts the messages ever posted in it, so each member's
    unread count is the room's Seq minus their ReadSeq, with no write to any member."""
    try:
        answer = dynamodb.client().update_item(
            TableName=dynamodb.table_name(dynamodb.CHAT),
            Key={"PK": {"S": keys.room_pk(room_id)}, "SK": {"S": keys.META}},
            UpdateExpression="ADD #seq :one", ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeNames={"#seq": "Seq"}, ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW")
    except Exception as exc:
        if not dynamodb.is_conditional_check_failed(exc):
            raise
        selectors.forget_room(room_id)
        raise selectors.RoomNotFound(room_id) from None
    seq = int(answer["Attributes"]["Seq"]["N"])
    selectors.note_room_seq(room_id, seq)
    return seq


def _message_event(message: ChatMessage, now: int) -> dict:
    return _live_message_item(message, message.created_at, f"{live.MESSAGE_REF_PREFIX}{message.message_id}", now)


def _live_message_item(message: ChatMessage, at: str, ref: str, now: int) -> dict:
    """A live event carrying a whole message (a post's `m-`, a change's `u-`), so feeds render it
    without reading it."""
    return LiveEventRecord(keys.room_pk(message.room_id), keys.live_event_sk(at, ref),
                           expires_at=now // 1000 + settings.CHAT_LIVE_EVENT_TTL_SECONDS, author=message.author_id,
                           message_sk=message.sk, posted_at=message.created_at, comment=message.comment,
                           author_name=message.author_name, seq=message.seq,
                           mentions=list(message.mentions) or None, message_state=message.state_json).serialize()


# --- changes to a posted message (edits, reactions, reply counts) -----------------------------------
#
# Every change is one UpdateItem on the message that ADDs 1 to its Version and answers with the
# whole item (ALL_NEW); the answer becomes a `u-<message id>.<Version>` live event carrying the
# message's new state, so every open tab gets the change through the same path as posts and
# deletions, and applies it only over an older version (docs/live-updates.md, "Changes to a message").


def message_update_item(message: ChatMessage, now: int) -> dict:
    """The `u-` live event of ``message`` as a change left it (its Version already counted), for a
    batch: `Room:<rid>` / `ev#<now>#u-<message id>.<Version>` (1 write unit)."""
    return _live_message_item(message, iso_from_ms(now), live.update_ref(message.message_id, message.version), now)


def publish_message_update(record: MessageRecord, now: int | None = None) -> ChatMessage:
    """After a change's UpdateItem (ALL_NEW): its `u-` live event (1 PutItem), then this process's
    streams hear it at once. Returns the message as it is now."""
    now = now_ms() if now is None else now
    message = ChatMessage.from_record(record)
    dynamodb.client().put_item(TableName=dynamodb.table_name(dynamodb.CHAT), Item=message_update_item(message, now))
    announce_message_update(message, now)
    return message


def announce_message_update(message: ChatMessage, now: int) -> None:
    """Tell this process's streams of a change whose `u-` event is written (by a batch)."""
    streams.publish(message.room_id, live.Event(at_ms=now, message_id=message.message_id, message=message,
                                                update=True))


# --- replies ---------------------------------------------------------------------------------------
#
# A reply is a message like any other (the room's timeline shows it) that also carries ThreadID
# (its thread's root message id) and the quote of the message it answers (ReplyTo, ReplyToAuthor,
# ReplyName, ReplyExcerpt). The root gets ThreadID with its first reply, and ReplyCount: so the
# sparse `thread_messages` index (ThreadID / CreatedAt) holds each thread, root first, and a thread is
# one Query; the room page reads counts and quotes from the message items it reads anyway. A reply
# to a reply joins the root's thread (threads are one level deep) and quotes the message it answers.

REPLY_EXCERPT_LENGTH = 120


class ReplyTargetNotFound(LookupError):
    """The message replied to is not a message of this room: deleted, never posted, or elsewhere."""


def reply_excerpt(comment: str) -> str:
    """A quote's text: the first line of ``comment`` as plain text (formatting.to_text: no marks),
    at most REPLY_EXCERPT_LENGTH characters. The Reply link's data-excerpt (the composer's banner)
    is made here too, so the banner says what the quote will."""
    line = formatting.to_text(comment).strip().split("\n", 1)[0].strip()
    return line if len(line) <= REPLY_EXCERPT_LENGTH else line[:REPLY_EXCERPT_LENGTH - 1] + "…"


def parse_reply_to(value: str) -> tuple[str, str]:
    """The composer's ``reply_to``, "<author id>/<message SK>", checked for form only (no read).
    Raises ReplyTargetNotFound."""
    author_id, _, sk = str(value).partition("/")
    _check_reply_to(author_id, sk)
    return author_id, sk


def _check_reply_to(author_id: str, sk: str) -> None:
    created_at, message_id = keys.message_sk_parts(sk)
    try:
        ms_from_iso(created_at)
        well_formed = validate_username(author_id) == author_id and validators.is_token(message_id) and len(sk) <= 100
    except (ValueError, ValidationError):
        well_formed = False
    if not well_formed:
        raise ReplyTargetNotFound(sk)


@dataclass(frozen=True)
class ReplyThread:
    """Where a reply goes: its thread, the message it quotes, and the root as counting it left it
    (None when it was not counted: a retried post)."""
    thread_id: str
    quoted: ChatMessage
    root: ChatMessage | None

    def record_fields(self) -> dict:
        return {"thread_id": self.thread_id, "reply_to": self.quoted.sk, "reply_to_author": self.quoted.author_id,
                "reply_name": self.quoted.author_name, "reply_excerpt": reply_excerpt(self.quoted.comment)}


def _reply_thread(*, room_id: str, reply_to: tuple[str, str], count: bool) -> ReplyThread:
    """The thread a reply to ``reply_to`` (author id, SK) joins, counting the reply on its root when
    ``count``. A reply to a root: 1 conditional UpdateItem (_count_reply; its ALL_NEW answer is the
    quote too). A reply to a reply: that UpdateItem is refused (the target is a reply), then GetItem
    of the target (consistent: its quote, its ThreadID and the message it answers) and the root's
    UpdateItem: 3 calls; + 1 Query (selectors.thread_root) when the target answers another reply,
    so the root's key is not on it: 4. Not counting (a retry): 1 GetItem. Raises ReplyTargetNotFound
    when the target (or its thread's root) is not a message of this room."""
    author_id, sk = reply_to
    if count:
        root = _count_reply(room_id=room_id, author_id=author_id, sk=sk, delta=1)
        if root is not None:
            message = ChatMessage.from_record(root)
            return ReplyThread(thread_id=message.message_id, quoted=message, root=message)
    target = selectors.message_get(author_id=author_id, sk=sk)
    if target is None or target.room_id != room_id:
        raise ReplyTargetNotFound(sk)
    if target.reply_to is None:
        if count:  # refused though a root of this room: changed meanwhile (deleted and put back?)
            raise ReplyTargetNotFound(sk)
        return ReplyThread(thread_id=target.message_id, quoted=target, root=None)
    if not target.thread_id:
        raise ReplyTargetNotFound(sk)
    if not count:
        return ReplyThread(thread_id=target.thread_id, quoted=target, root=None)
    root_key = _root_key(target)
    root = _count_reply(room_id=room_id, author_id=root_key[0], sk=root_key[1], delta=1) if root_key else None
    if root is None:  # the thread's root was deleted
        raise ReplyTargetNotFound(sk)
    return ReplyThread(thread_id=target.thread_id, quoted=target, root=ChatMessage.from_record(root))


def _root_key(reply: ChatMessage) -> tuple[str, str] | None:
    """The (author id, SK) of a reply's thread root: on the reply itself when it answers the root,
    else found by selectors.thread_root (1 Query)."""
    if reply.reply_to and reply.reply_to.message_id == reply.thread_id:
        return reply.reply_to.author_id, reply.reply_to.sk
    root = selectors.thread_root(thread_id=reply.thread_id) if reply.thread_id else None
    return (root.author_id, root.sk) if root else None


def _count_reply(*, room_id: str, author_id: str, sk: str, delta: int) -> MessageRecord | None:
    """One reply more (``delta`` 1) or fewer (-1) on a thread's root: UpdateItem ADD ReplyCount,
    Version 1 (+ SET ThreadID = its own id when counting up: it enters the thread index), condition
    attribute_exists(PK) AND RoomID = room AND attribute_not_exists(ReplyTo) (a root is never a
    reply) (AND ReplyCount > 0 counting down), ReturnValues ALL_NEW. None when refused."""
    _, message_id = keys.message_sk_parts(sk)
    record = MessageRecord(keys.user_pk(author_id), sk)
    actions = [MessageRecord.reply_count.add(delta), MessageRecord.version.add(1)]
    condition = (MessageRecord.PK.exists() & (MessageRecord.room_id == room_id)
                 & MessageRecord.reply_to.does_not_exist())
    if delta > 0:
        actions.append(MessageRecord.thread_id.set(message_id))
    else:
        condition &= MessageRecord.reply_count > 0
    try:
        record.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if not dynamodb.is_conditional_check_failed(exc):
            raise
        return None
    return record


def _uncount_reply(message: ChatMessage) -> None:
    """After a reply is deleted: one fewer on its root (_count_reply, -1) and the root's `u-` event
    (publish_message_update, 1 PutItem); + 1 Query when the root's key is not on the reply. Nothing
    for a message that is not a reply, or whose root is gone."""
    if message.reply_to is None or not message.thread_id:
        return
    root_key = _root_key(message)
    root = _count_reply(room_id=message.room_id, author_id=root_key[0], sk=root_key[1], delta=-1) if root_key else None
    if root is not None:
        publish_message_update(root)


# --- changing messages: the limit ----------------------------------------------------------------


class ChangingTooFast(RateLimited):
    """Over CHAT_MESSAGE_CHANGE_LIMIT changes (edits, reaction changes) in the window: nothing was
    written. ``current`` is the message as read."""

    def __init__(self, retry_after: int, current: ChatMessage):
        super().__init__(retry_after)
        self.current = current


def message_change_reserve(*, user_id: str, current: ChatMessage) -> None:
    """Count one change to a message by ``user_id`` before it is written: one conditional
    UpdateItem on `Counter:message-change:<user id>` (chatsite.counters.reserve), shared by every
    host, so at most CHAT_MESSAGE_CHANGE_LIMIT per CHAT_MESSAGE_CHANGE_WINDOW_SECONDS get through:
    each change is written twice and sent live to every open tab of the room. Only changes that
    write count (asking for what is already so does not). Raises ChangingTooFast."""
    try:
        counters.reserve(scope="message-change", subject=user_id, limit=settings.CHAT_MESSAGE_CHANGE_LIMIT,
                         window_seconds=settings.CHAT_MESSAGE_CHANGE_WINDOW_SECONDS)
    except counters.LimitReached as full:
        raise ChangingTooFast(max(1, full.retry_after), current) from None


# --- edits ---------------------------------------------------------------------------------------

MAX_EDITS = 100  # edits per message: bounds its history (keys.EDIT_VERSION_DIGITS allows 9,999)


class EditConflict(Exception):
    """The message was edited since the editor saw it: nothing was written. ``current`` is the
    message as it is now (its text, and the EditVersion to edit against next)."""

    def __init__(self, current: ChatMessage):
        super().__init__(current.sk)
        self.current = current


class EditWindowClosed(PermissionDenied):
    """The author's time to edit (CHAT_MESSAGE_EDIT_SECONDS after posting) is over."""


class TooManyEdits(ValidationError):
    def __init__(self):
        super().__init__(f"This message has been edited {MAX_EDITS} times, the most it can be. "
                         f"Post a new message instead.", code="too_many_edits")


def message_edit(*, room: Room, actor, author_id: str, sk: str, comment: str, seen_version: int) -> ChatMessage:
    """Edit a message (its author within CHAT_MESSAGE_EDIT_SECONDS of posting; staff at any time),
    conditionally on the EditVersion the editor saw (``seen_version``), so two edits racing end with
    one winner and one EditConflict, never a silent overwrite. 5 calls:
    - GetItem, consistent (selectors.message_get): in this room, not deleted, its age, EditVersion;
    - the editor's change limit (message_change_reserve: 1 conditional UpdateItem);
    - PutItem of the text it replaces, `User:<author>` / `edit#<message SK>#<EditVersion>` (the text
      as of that version: a retry or a racing editor writes the same item, so no version is lost,
      and it is written before the message changes);
    - UpdateItem SET Comment, EditedAt, ADD EditVersion 1, Version 1, condition RoomID = room and
      EditVersion = seen (absent when 0), ALL_NEW;
    - the `u-` live event (publish_message_update: 1 PutItem), so every open tab shows it.
    A message that mentions people: the UpdateItem also SETs Mentions to those the new text still
    mentions (an edit notifies nobody new), and the `u-` event goes into one BatchWriteItem with
    their mention items' new excerpt and the deletion of the mention items of those it no longer
    mentions: still 5 calls. Adding @room (not the owner's message): + 1 Query before any write
    (room_mention_check: over 20 members, a ValidationError).
    Refusals write nothing: PermissionDenied (someone else's message: 0 calls), ValidationError
    (empty, too long, bad characters: 0 calls; TooManyEdits; @room: 2 calls), MessageNotFound
    (deleted, or not in this room), EditWindowClosed, EditConflict (the version moved: 1 call; lost
    at the UpdateItem: + a GetItem for the current text), ChangingTooFast (2 calls). The same text
    again changes nothing (1 call)."""
    if not permissions.may_delete_message(actor, author_id=author_id):
        raise PermissionDenied("Only the author or staff can edit a message.")
    _, message_id = keys.message_sk_parts(sk)
    if not validators.is_token(message_id):
        raise MessageNotFound(sk)
    comment = validators.clean_comment(comment)
    current = selectors.message_get(author_id=author_id, sk=sk)
    if current is None or current.room_id != room.room_id:
        raise MessageNotFound(sk)
    now = now_ms()
    if not permissions.may_edit_message(actor, author_id=author_id, created_ms=current.created_ms, now_ms=now):
        raise EditWindowClosed("You can edit a message only in the first "
                               f"{edit_window_words()} after posting it.")
    if current.edit_version != seen_version:
        raise EditConflict(current)
    if comment == current.comment:
        return current
    if current.edit_version >= MAX_EDITS:
        raise TooManyEdits()
    # @room's rule holds for edits too: the message is its author's, so it is the author who must
    # be allowed (staff editing a member's message can't add it either).
    if not current.mentions_room and mentions.parse(comment).room:
        room_mention_check(room=room, author_id=author_id)
    message_change_reserve(user_id=actor.id, current=current)
    history_key = keys.edit_sk(sk, current.edit_version)
    MessageEditRecord(keys.user_pk(author_id), history_key, comment=current.comment,
                      version_at=current.edited_at or current.created_at).save()
    unchanged = (MessageRecord.edit_version == seen_version) if seen_version else \
        MessageRecord.edit_version.does_not_exist()
    actions = [MessageRecord.comment.set(comment), MessageRecord.edited_at.set(iso_from_ms(now)),
               MessageRecord.edit_version.add(1), MessageRecord.version.add(1)]
    # Mentions: only those notified at posting that the new text still names (an edit notifies
    # nobody new). Mentions changes only here, under the same EditVersion condition.
    kept = _still_mentioned(current.mentions, comment)
    if kept != current.mentions:
        actions.append(MessageRecord.mentions.set(list(kept)) if kept else MessageRecord.mentions.remove())
    record = MessageRecord(keys.user_pk(author_id), sk)
    try:
        record.update(actions=actions, condition=(MessageRecord.room_id == room.room_id) & unchanged)
    except UpdateError as exc:
        if not dynamodb.is_conditional_check_failed(exc):
            raise
        now_current = selectors.message_get(author_id=author_id, sk=sk)
        if now_current is None or now_current.room_id != room.room_id:
            # Deleted meanwhile (its deletion may have swept the history already): no orphan left.
            MessageEditRecord(keys.user_pk(author_id), history_key).delete()
            raise MessageNotFound(sk) from None
        raise EditConflict(now_current) from None
    edited = ChatMessage.from_record(record)
    search.backend.index_message(edited, room=room, previous=current)  # old terms out, new in
    puts, deletes = _edited_mention_items(current, edited, room)
    if not (puts or deletes):
        return publish_message_update(record, now)
    # The copies of the text in the mentioned members' partitions, and the u- event, in one call.
    try:
        batch_write(puts=[message_update_item(edited, now), *puts], deletes=deletes, max_attempts=4)
    except UnprocessedItemsRemain:
        # The edit is saved: it still answers and still reaches open tabs (its u- event alone, 1
        # PutItem); the mention items keep their old excerpt until the next edit.
        logger.warning("edit of %s saved; its mention items were left unprocessed", sk)
        return publish_message_update(record, now)
    announce_message_update(edited, now)
    return edited


def _still_mentioned(notified: tuple[str, ...], comment: str) -> tuple[str, ...]:
    """Of the user ids a message notified, those ``comment`` still mentions (all its @names, not
    just the first mentions.MAX_MENTIONS), in their order."""
    if not notified:
        return ()
    named = {token.user_id for token in mentions.tokens(comment)}
    return tuple(user_id for user_id in notified if user_id in named)


def _edited_mention_items(before: ChatMessage, after: ChatMessage, room: Room
                          ) -> tuple[list[dict], list[tuple[str, str]]]:
    """What an edit changes of the mention items (the Mentions page): those of members still
    mentioned get the new excerpt (when it differs), those of members mentioned no more are
    deleted. At most mentions.MAX_MENTIONS items: one BatchWriteItem with the u- event."""
    changed = mention_excerpt(after.comment) != mention_excerpt(before.comment)
    expires_at = before.created_ms // 1000 + settings.CHAT_MENTION_TTL_SECONDS  # as posted
    puts = [_mention_record(after, room, user_id, expires_at).serialize() for user_id in after.mentions] \
        if changed else []
    deletes = [(keys.user_pk(user_id), keys.mention_sk(before.created_at, before.message_id))
               for user_id in before.mentions if user_id not in after.mentions]
    return puts, deletes


def edit_window_words() -> str:
    """CHAT_MESSAGE_EDIT_SECONDS for people: "24 hours", "15 minutes"."""
    seconds = settings.CHAT_MESSAGE_EDIT_SECONDS
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0 and not (unit == "day" and seconds // size == 1):
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def edit_history_keys(*, author_id: str, sk: str, edit_version: int) -> list[tuple[str, str]]:
    """The keys a message's history can occupy: one per version it had before its last edit, and
    the one an edit under way may have put for its current version."""
    return [(keys.user_pk(author_id), keys.edit_sk(sk, n)) for n in range(edit_version + 1)]


# --- reactions -----------------------------------------------------------------------------------

MAX_REACTIONS = 20  # distinct emoji under one message
REACTION_ATTEMPTS = 3  # read-modify-write rounds before a lost race becomes "try again"


class ReactionsFull(ValidationError):
    """Adding this reaction would pass a bound (MAX_REACTIONS distinct emoji, or
    CHAT_REACTIONS_MAX_BYTES of JSON): nothing was written. Removing is never refused."""


class ReactionConflict(Exception):
    """The message kept changing under REACTION_ATTEMPTS tries: nothing was written."""


def _with_reaction(reactions: tuple[Reaction, ...], emoji: str, user_id: str, name: str,
                   on: bool) -> tuple[Reaction, ...] | None:
    """``reactions`` with ``user_id``'s ``emoji`` on or off (a new emoji goes last, a new reactor
    last under it, an emoji nobody has any more goes away); None when it is that way already."""
    current = next((r for r in reactions if r.emoji == emoji), None)
    if on == bool(current and current.has(user_id)):
        return None
    if on and current is None:
        return (*reactions, Reaction(emoji, ((user_id, name),)))
    changed = []
    for reaction in reactions:
        if reaction.emoji == emoji:
            users = (*reaction.users, (user_id, name)) if on else \
                tuple(u for u in reaction.users if u[0] != user_id)
            reaction = Reaction(emoji, users)
        if reaction.users:
            changed.append(reaction)
    return tuple(changed)


def reaction_set(*, room: Room, user, author_id: str, sk: str, emoji: str, on: bool) -> ChatMessage:
    """``user``'s reaction ``emoji`` on a message, on or off: the desired state, not a toggle, so a
    double click or a retried request never counts twice. The caller has checked that ``user`` may
    post in ``room``. 4 calls:
    - GetItem, consistent (selectors.message_get): in this room, its Reactions and Version;
    - the user's change limit (message_change_reserve: 1 conditional UpdateItem), once per call;
    - UpdateItem SET Reactions (REMOVE when none is left), ADD Version 1, condition RoomID = room
      and Version = the one read (absent when 0), ALL_NEW;
    - the `u-` live event (publish_message_update: 1 PutItem), so every open tab shows it.
    Already so: 1 call, nothing written. A lost race (another change in between) reads again, up
    to REACTION_ATTEMPTS rounds, then ReactionConflict. Raises ValidationError (not one emoji: 0
    calls), MessageNotFound (deleted, or not in this room), ReactionsFull (1 call), ChangingTooFast
    (2 calls)."""
    emoji = validators.clean_reaction(emoji)
    _, message_id = keys.message_sk_parts(sk)
    if not validators.is_token(message_id):
        raise MessageNotFound(sk)
    name = user.display_name or user.username
    reserved = False
    for _ in range(REACTION_ATTEMPTS):
        current = selectors.message_get(author_id=author_id, sk=sk)
        if current is None or current.room_id != room.room_id:
            raise MessageNotFound(sk)
        reactions = _with_reaction(current.reactions, emoji, user.id, name, on)
        if reactions is None:
            return current
        stored = reactions_to_json(reactions)
        if on and len(reactions) > MAX_REACTIONS:
            raise ReactionsFull(f"This message has {MAX_REACTIONS} different reactions already, the most it can "
                                f"have: add yours to one of them.", code="too_many_kinds")
        if on and stored and len(stored.encode()) > settings.CHAT_REACTIONS_MAX_BYTES:
            raise ReactionsFull("This message has as many reactions as it can hold.", code="too_big")
        if not reserved:  # one change, however many rounds its race takes
            message_change_reserve(user_id=user.id, current=current)
            reserved = True
        unchanged = (MessageRecord.version == current.version) if current.version else \
            MessageRecord.version.does_not_exist()
        record = MessageRecord(keys.user_pk(author_id), sk)
        try:
            record.update(actions=[MessageRecord.reactions.set(stored) if stored else MessageRecord.reactions.remove(),
                                   MessageRecord.version.add(1)],
                          condition=(MessageRecord.room_id == room.room_id) & unchanged)
        except UpdateError as exc:
            if not dynamodb.is_conditional_check_failed(exc):
                raise
            continue  # changed (or deleted) since the read: read it again
        return publish_message_update(record)
    raise ReactionConflict(sk)


# --- mentions -------------------------------------------------------------------------------------
#
# Only members are notified: a mention ADDs the message's Seq to the mentioned member's `room#`
# item, conditional on it existing, so a refusal means "not a member" (or no such user: the sender
# hears the same words for both). The mention item in the user's partition (the Mentions page)
# goes into the post's BatchWriteItem.

MENTION_EXCERPT_LENGTH = 140


def mention_members(*, room_id: str, seq: int, user_ids) -> tuple[str, ...]:
    """Notify the mentioned members: for each user id (at most mentions.MAX_MENTIONS), UpdateItem
    `User:<uid>` / `room#<rid>` ADD MentionSeqs {seq}, condition attribute_exists(PK), ReturnValues
    NONE (1 write unit each). Returns the user ids that are members (the others were refused)."""
    notified = []
    table = dynamodb.table_name(dynamodb.CHAT)
    for user_id in list(user_ids)[:mentions.MAX_MENTIONS]:
        try:
            dynamodb.client().update_item(
                TableName=table, Key={"PK": {"S": keys.user_pk(user_id)}, "SK": {"S": keys.user_room_sk(room_id)}},
                UpdateExpression="ADD #m :seq", ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeNames={"#m": "MentionSeqs"}, ExpressionAttributeValues={":seq": {"NS": [str(seq)]}})
        except Exception as exc:
            if not dynamodb.is_conditional_check_failed(exc):
                raise
            continue
        notified.append(user_id)
    return tuple(notified)


def _mention_items(message: ChatMessage, room: Room, now: int) -> list[dict]:
    """For each member ``message`` notified, for the post's BatchWriteItem: their mention item
    (`User:<uid>` / `mention#<CreatedAt>#<message id>`, TTL 90 days: the Mentions page) and the
    activity feed's `n-<uid>#<message id>` event (their open tabs count it and may notify at once).
    2 write units per member."""
    items = []
    for user_id in message.mentions:
        items.append(_mention_record(message, room, user_id,
                                     expires_at=now // 1000 + settings.CHAT_MENTION_TTL_SECONDS).serialize())
        items.append(activity.mention_item(user_id=user_id, message=message, room=room, at_ms=now))
    return items


def mention_excerpt(comment: str) -> str:
    """A mention item's excerpt: the text's first MENTION_EXCERPT_LENGTH characters, as plain text."""
    return formatting.to_text(comment)[:MENTION_EXCERPT_LENGTH]


def _mention_record(message: ChatMessage, room: Room, user_id: str, expires_at: int) -> MentionRecord:
    return MentionRecord(keys.user_pk(user_id), keys.mention_sk(message.created_at, message.message_id),
                         room_id=room.room_id, room_name=room.name, room_kind=room.kind,
                         author=message.author_id, author_name=message.author_name,
                         excerpt=mention_excerpt(message.comment), message_sk=message.sk, seq=message.seq,
                         expires_at=expires_at)


def room_mention_check(*, room: Room, author=None, author_id: str | None = None) -> None:
    """@room: in a room of more than mentions.ROOM_MENTION_MAX_MEMBERS members only its owner may
    use it (in a post, or edited into a message: ``author_id``, the message's author). No read for
    the owner or a direct conversation (at most 8 people); anyone else: one Query counting at most
    21 members (selectors.room_member_count_exceeds). Raises ValidationError."""
    if room.kind == DIRECT or room.created_by == (author.id if author is not None else author_id):
        return
    limit = mentions.ROOM_MENTION_MAX_MEMBERS
    if selectors.room_member_count_exceeds(room_id=room.room_id, count=limit):
        raise ValidationError(f"Only the room's owner can use @room in a room of more than {limit} members. "
                              f"Your text is kept: mention people by their @username instead.", code="room_mention")


# --- notification settings ------------------------------------------------------------------------


class NotAMember(LookupError):
    """The user has no membership item for the room."""


def notify_set(*, user_id: str, room_id: str, level: str) -> bool:
    """A member's notification setting for a room (NOTIFY_LEVELS): UpdateItem `User:<uid>` /
    `room#<rid>` SET Notify, condition attribute_exists(PK) (refused: NotAMember, nothing written),
    ReturnValues ALL_OLD (the old value even when unchanged: moto's UPDATED_OLD leaves out an
    attribute set to its own value); when the stored value changed, the `c-` activity event (1
    BatchWriteItem) tells the user's open tabs, whose streams decide what to notify. 2 calls; the
    same value again: 1. Returns whether it changed."""
    if level not in NOTIFY_LEVELS:
        raise ValueError(level)
    try:
        answer = dynamodb.client().update_item(
            TableName=dynamodb.table_name(dynamodb.CHAT),
            Key={"PK": {"S": keys.user_pk(user_id)}, "SK": {"S": keys.user_room_sk(room_id)}},
            UpdateExpression="SET #n = :v", ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeNames={"#n": "Notify"}, ExpressionAttributeValues={":v": {"S": level}},
            ReturnValues="ALL_OLD")
    except Exception as exc:
        if not dynamodb.is_conditional_check_failed(exc):
            raise
        raise NotAMember(room_id) from None
    if answer.get("Attributes", {}).get("Notify", {}).get("S") == level:
        return False
    activity.put_events([activity.setting_item(user_id=user_id, room_id=room_id, notify=level)])
    return True


# --- read cursors ---------------------------------------------------------------------------------
#
# A member's read cursor is on their `User:<uid>` / `room#<rid>` item: ReadSeq (the room's Seq up to
# which they have read) and ReadPos (the last read message's SK). Every move goes through
# read_cursor_advance (forward only) or read_cursor_set_before (Mark as unread): the one place to
# tell other tabs and devices: every move ADDs 1 to the membership's ReadVersion and, once it
# succeeded, writes an `r-` event with the new cursor and version to the activity feed
# (rooms/activity.py), so every open tab of the user applies it, in version order.


def read_cursor_advance(*, user_id: str, room_id: str, seq: int, pos: str) -> bool:
    """Move the read cursor forward to ``seq`` / ``pos``: UpdateItem `User:<uid>` / `room#<rid>`
    SET ReadSeq, ReadPos ADD ReadVersion 1, condition attribute_exists(PK) AND
    (attribute_not_exists(ReadSeq) OR ReadSeq < :seq). So it only ever moves forward: a stale tab
    or a slow device reporting an older message changes nothing (1 call). False: nothing to do
    (already there or past it, or not a member). A move then puts its `r-` activity event (1
    PutItem): 2 calls.

    The update answers with the whole item (ReturnValues ALL_NEW, PynamoDB's default): when its
    MentionSeqs holds mentions now read (<= ``seq``), one more UpdateItem DELETEs them, so the set
    stays as small as the unread mentions (no extra call when there is nothing to prune)."""
    record = _advance(user_id=user_id, room_id=room_id, seq=seq, pos=pos)
    if record is None:
        return False
    _put_read_events([record])
    return True


def _advance(*, user_id: str, room_id: str, seq: int, pos: str) -> UserRoomRecord | None:
    record = UserRoomRecord(keys.user_pk(user_id), keys.user_room_sk(room_id))
    try:
        record.update(
            actions=[UserRoomRecord.read_seq.set(seq), UserRoomRecord.read_pos.set(pos),
                     UserRoomRecord.read_version.add(1)],
            condition=UserRoomRecord.PK.exists() & (UserRoomRecord.read_seq.does_not_exist()
                                                    | (UserRoomRecord.read_seq < seq)))
    except UpdateError as exc:
        if not dynamodb.is_conditional_check_failed(exc):
            raise
        return None
    _prune_read_mentions(record, seq)
    return record


def _put_read_events(records: list[UserRoomRecord]) -> None:
    """The `r-` activity events of cursor moves, from the moves' answers (ALL_NEW): 1 PutItem for
    one, else BatchWriteItem, 25 a call."""
    items = [activity.read_item(user_id=keys.user_id_from_pk(r.PK), room_id=keys.room_id_from_user_room_sk(r.SK),
                                read_seq=int(r.read_seq or 0), read_pos=r.read_pos,
                                read_version=int(r.read_version or 0),
                                mention_seqs={int(m) for m in r.mention_seqs or ()}) for r in records]
    if len(items) == 1:
        dynamodb.client().put_item(TableName=dynamodb.table_name(dynamodb.CHAT), Item=items[0])
    else:
        activity.put_events(items)


def _prune_read_mentions(record: UserRoomRecord, read_seq: int) -> None:
    """UpdateItem DELETE MentionSeqs {the Seqs <= read_seq}, condition attribute_exists(PK), only
    if there are any. A DELETE of values already gone is harmless, so racing tabs need no condition
    on the set; a mention added meanwhile (a higher Seq) is untouched."""
    read = {int(s) for s in record.mention_seqs or () if int(s) <= read_seq}
    if not read:
        return
    try:
        record.update(actions=[UserRoomRecord.mention_seqs.delete(read)], condition=UserRoomRecord.PK.exists())
    except UpdateError as exc:
        if not dynamodb.is_conditional_check_failed(exc):  # left the room meanwhile: nothing to prune
            raise


def read_cursor_set_before(*, user_id: str, message: ChatMessage) -> bool:
    """Mark as unread: move the read cursor back to just before ``message``, on purpose: UpdateItem
    SET ReadSeq = its Seq - 1, ReadPos = "<its CreatedAt>#" (sorts before it and after every
    earlier message), condition attribute_exists(PK) only. A message from before read cursors (no
    Seq) sets ReadSeq 0: every numbered message is newer than it. ADD ReadVersion 1, then the
    move's `r-` activity event (1 PutItem): 2 calls. False: not a member (1 call)."""
    record = UserRoomRecord(keys.user_pk(user_id), keys.user_room_sk(message.room_id))
    try:
        record.update(
            actions=[UserRoomRecord.read_seq.set(max(0, (message.seq or 1) - 1)),
                     UserRoomRecord.read_pos.set(keys.read_pos_before(message.created_at)),
                     UserRoomRecord.read_version.add(1)],
            condition=UserRoomRecord.PK.exists())
    except UpdateError as exc:
        if not dynamodb.is_conditional_check_failed(exc):
            raise
        return False
    _put_read_events([record])
    return True


def message_mark_unread(*, user_id: str, room_id: str, author_id: str, sk: str) -> bool:
    """**Mark as unread** on a message: GetItem of the message (consistent: its Seq, and that it
    is in this room), the mentions of the user from that message on come back (_restore_mentions: 1
    Query, + 1 UpdateItem when there are any), then read_cursor_set_before (its UpdateItem and the
    `r-` event, which carries MentionSeqs). 4 calls. Raises MessageNotFound."""
    _, message_id = keys.message_sk_parts(sk)
    if not validators.is_token(message_id):
        raise MessageNotFound(sk)
    message = selectors.message_get(author_id=author_id, sk=sk)
    if message is None or message.room_id != room_id:
        raise MessageNotFound(sk)
    # The mentions first: the cursor's move then answers with them, and its activity event carries
    # them to the user's open tabs (a tab opened after they were pruned would not count them).
    _restore_mentions(user_id=user_id, message=message)
    return read_cursor_set_before(user_id=user_id, message=message)


def _restore_mentions(*, user_id: str, message: ChatMessage) -> None:
    """Reading past a mention pruned it from MentionSeqs (read_cursor_advance); marking an earlier
    message unread makes it unread again, so its Seq goes back: the user's mention items in this
    room from ``message`` on (selectors.user_mention_seqs_since, 1 Query), then UpdateItem ADD
    MentionSeqs {those}, condition attribute_exists(PK), only if there are any."""
    read_seq = max(0, (message.seq or 1) - 1)
    seqs = {s for s in selectors.user_mention_seqs_since(user_id=user_id, room_id=message.room_id,
                                                          since=message.created_at) if s > read_seq}
    if not seqs:
        return
    try:
        UserRoomRecord(keys.user_pk(user_id), keys.user_room_sk(message.room_id)).update(
            actions=[UserRoomRecord.mention_seqs.add(seqs)], condition=UserRoomRecord.PK.exists())
    except UpdateError as exc:
        if not dynamodb.is_conditional_check_failed(exc):  # left the room meanwhile
            raise


def mark_all_read(*, user_id: str, rooms: list) -> int:
    """**Mark all as read**: the rooms' Seq read fresh (selectors.room_sequences, not cached: 1
    BatchGetItem per 100 rooms), then read_cursor_advance to it for each room with unread messages
    (1 UpdateItem each; the position: now, after every message so far), then the moves' `r-`
    activity events together (BatchWriteItem, 25 a call; 1 PutItem for a single move). ``rooms``:
    the user's rooms (the sidebar). Returns how many cursors moved."""
    through = keys.read_pos_through(iso_from_ms(now_ms()))  # taken before the Seq read
    seqs = selectors.room_sequences(room_ids=[r.room_id for r in rooms], cached=False)
    moved = []
    for entry in rooms:
        seq = seqs.get(entry.room_id, 0)
        if seq > (entry.read_seq or 0) or (entry.read_seq is None and seq):
            record = _advance(user_id=user_id, room_id=entry.room_id, seq=seq, pos=through)
            if record is not None:
                moved.append(record)
    if moved:
        _put_read_events(moved)
    return len(moved)


def message_delete(*, room_id: str, actor, author_id: str, sk: str) -> None:
    """Delete a message (its author or staff): conditional DeleteItem (it exists and is in this
    room; ReturnValues ALL_OLD), then its live event `Room:<id>` / `ev#<DeletedAt>#d-<message id>`.
    A reply is then taken off its root's count (_uncount_reply: + 1 UpdateItem and the root's `u-`
    PutItem; a reply to a reply + 1 Query when its root's key is not on it): 4 calls. An edited
    message's earlier versions go with it: + 1 BatchWriteItem (per 25 versions)."""
    if not permissions.may_delete_message(actor, author_id=author_id):
        raise PermissionDenied("Only the author or staff can delete a message.")
    created_at, message_id = keys.message_sk_parts(sk)
    if not validators.is_token(message_id):
        raise MessageNotFound(sk)
    try:  # ALL_OLD: a reply says which thread's count to take it from
        answer = dynamodb.client().delete_item(
            TableName=dynamodb.table_name(dynamodb.CHAT),
            Key={"PK": {"S": keys.user_pk(author_id)}, "SK": {"S": sk}},
            ConditionExpression="attribute_exists(PK) AND RoomID = :room",
            ExpressionAttributeValues={":room": {"S": room_id}}, ReturnValues="ALL_OLD")
    except Exception as exc:
        if not dynamodb.is_conditional_check_failed(exc):
            raise
        raise MessageNotFound(sk) from None
    deleted_ms = write_tombstone(room_id=room_id, message_id=message_id)
    streams.publish(room_id, live.Event(at_ms=deleted_ms, message_id=message_id))
    deleted = ChatMessage.from_record(MessageRecord.from_raw_data(answer["Attributes"]))
    _uncount_reply(deleted)
    search.backend.remove_message(deleted)
    # An edited message's earlier versions go with it (1 BatchWriteItem per 25 versions).
    edit_version = int(answer["Attributes"].get("EditVersion", {}).get("N", "0"))
    if edit_version:
        batch_delete_keys(edit_history_keys(author_id=author_id, sk=sk, edit_version=edit_version))


def write_tombstone(*, room_id: str, message_id: str) -> int:
    """The deletion's live event `Room:<id>` / `ev#<DeletedAt>#d-<message id>` (one PutItem): every
    feed drops the message, and a catch-up never shows it again while the event lives."""
    now = now_ms()
    LiveEventRecord(keys.room_pk(room_id), keys.live_event_sk(iso_from_ms(now), f"d-{message_id}"),
                    expires_at=now // 1000 + settings.CHAT_TOMBSTONE_TTL_SECONDS).save()
    return now


# --- bulk writers tell every host's room tail --------------------------------------------------
#
# A bulk writer (purge_messages, import_room, delete_room, seed_demo) writes messages without their
# live events, so no feed would see the change and a warm room tail (rooms.room_tail) would keep
# showing the room as it was until its reload. So it writes a history mark, an `h-` live event:
# every host's feed reads it with its next refresh (at most CHAT_LIVE_REFRESH_SECONDS before any
# page its tail serves), and a tail loaded before mark + overlap is not served again (a load may
# miss writes the index doesn't show yet). docs/live-updates.md, "Bulk writers".


def room_history_changed(*, room_id: str, deleted_message_ids: Iterable[str] = ()) -> int:
    """The history mark `Room:<id>` / `ev#<now>#h-<token>` (TTL CHAT_LIVE_EVENT_TTL_SECONDS), and
    the `d-` deletion event of each of ``deleted_message_ids`` (TTL CHAT_TOMBSTONE_TTL_SECONDS, as
    message_delete's), so open tabs drop them too: BatchWriteItem puts, 25 a call, the mark last.
    Returns the mark's time (ms)."""
    now = now_ms()
    at = iso_from_ms(now)
    tombstones = [LiveEventRecord(keys.room_pk(room_id), keys.live_event_sk(at, f"{live.DELETION_REF_PREFIX}{m}"),
                                  expires_at=now // 1000 + settings.CHAT_TOMBSTONE_TTL_SECONDS).serialize()
                  for m in dict.fromkeys(deleted_message_ids)]
    mark = LiveEventRecord(keys.room_pk(room_id),
                           keys.live_event_sk(at, f"{live.HISTORY_REF_PREFIX}{validators.new_token()}"),
                           expires_at=now // 1000 + settings.CHAT_LIVE_EVENT_TTL_SECONDS).serialize()
    batch_put_items([*tombstones, mark])
    return now


def deletions_to_announce(message_keys: list[tuple[str, str]]) -> list[str]:
    """Of the messages deleted in bulk (``message_keys`` oldest first, as room_message_keys yields
    them), the ids whose deletion events must be written: the newest CHAT_HISTORY_PAGE_SIZE + 1
    (what a room tail or a tab's newest page can hold), and every one posted within
    CHAT_LIVE_RESUME_MAX_SECONDS + overlap (its post event can still be read by a feed or a resuming
    tab, and only a deletion event outranks it)."""
    found = [keys.message_sk_parts(sk) for pk, sk in message_keys if is_message_key((pk, sk))]
    recent = iso_from_ms(now_ms() - int((settings.CHAT_LIVE_RESUME_MAX_SECONDS
                                         + settings.CHAT_LIVE_OVERLAP_SECONDS) * 1000))
    newest = found[-(settings.CHAT_HISTORY_PAGE_SIZE + 1):]
    return list(dict.fromkeys([*(m for at, m in found if at >= recent), *(m for _, m in newest)]))


class HistoryMarks:
    """A bulk write's marks: one now (pages stop coming from tails loaded before the write), one at
    most every CHAT_LIVE_OVERLAP_SECONDS / 2 while it runs (called as its progress: so no tail is
    served mid-write), and ``done`` after it (the final state; ``deleted_message_ids`` as for
    room_history_changed). Each is room_history_changed's BatchWriteItem."""

    def __init__(self, room_id: str, progress: Progress = lambda n: None,
                 clock: Callable[[], float] = time.monotonic):
        self.room_id, self.progress, self.clock = room_id, progress, clock
        room_history_changed(room_id=room_id)
        self.last = clock()

    def __call__(self, n: int) -> None:
        self.progress(n)
        if self.clock() - self.last >= settings.CHAT_LIVE_OVERLAP_SECONDS / 2:
            room_history_changed(room_id=self.room_id)
            self.last = self.clock()

    def done(self, *, deleted_message_ids: Iterable[str] = ()) -> int:
        return room_history_changed(room_id=self.room_id, deleted_message_ids=deleted_message_ids)


# --- bulk operations (management commands) ----------------------------------------------------


def message_item(*, room_id: str, author_id: str, author_name: str, created_at: str, message_id: str,
                 comment: str, mentions: Iterable[str] = (), edited_at: str | None = None,
                 edit_version: int = 0, thread_id: str | None = None, reply_count: int = 0,
                 reply_to: tuple[str, str, str, str] | None = None, reactions: tuple[Reaction, ...] = ()) -> dict:
    """A message as message_post stores it, as a raw item (DynamoDB JSON) for
    chatsite.batch.batch_put_items (import_room, seed_demo). The caller has checked every value.
    ``mentions``: the user ids it links (an import notifies nobody: no MentionSeqs, no mention items).
    An edited message: ``edited_at`` and its ``edit_version`` (its earlier versions: message_edit_item).
    In a thread: ``thread_id`` (its root's id), a root's ``reply_count``, a reply's quote ``reply_to``
    (the answered message's SK, author id, author name and excerpt). Its ``reactions`` (each reactor
    counts as one change in its Version, as reaction_set would have made it)."""
    quote = dict(zip(("reply_to", "reply_to_author", "reply_name", "reply_excerpt"), reply_to or ()))
    version = edit_version + reply_count + sum(r.count for r in reactions)
    return MessageRecord(keys.user_pk(author_id), keys.message_sk(created_at, message_id), room_id=room_id,
                         created_at=created_at, comment=comment, author_name=author_name,
                         mentions=list(mentions) or None, edited_at=edited_at if edit_version else None,
                         edit_version=edit_version or None, version=version or None,
                         reactions=reactions_to_json(reactions), thread_id=thread_id,
                         reply_count=reply_count or None, **quote).serialize()


def message_edit_item(*, author_id: str, sk: str, edit_version: int, comment: str, at: str) -> dict:
    """An earlier version of a message as message_edit stores it (raw, for import_room)."""
    return MessageEditRecord(keys.user_pk(author_id), keys.edit_sk(sk, edit_version), comment=comment,
                             version_at=at).serialize()


def room_message_keys(*, room_id: str, before: str | None = None, edits: bool = False
                      ) -> Iterable[tuple[str, str]]:
    """Keys of a room's messages from the `room_messages` index (optionally CreatedAt < before).
    ``edits``: an edited message's earlier versions too, just before it (found only through it, so
    an interrupted delete finds them again)."""
    condition = MessageRecord.created_at < before if before else None
    for record in MessageRecord.room_index.query(room_id, condition, attributes_to_get=["PK", "SK", "EditVersion"]):
        if edits and record.edit_version:
            yield from edit_history_keys(author_id=record.author_id, sk=record.SK,
                                         edit_version=int(record.edit_version))
        yield record.PK, record.SK


def is_message_key(key: tuple[str, str]) -> bool:
    """A message's key among room_message_keys(edits=True) (not an earlier version's)."""
    return not key[1].startswith(keys.EDIT_PREFIX)


def room_partition_keys(*, room_id: str) -> Iterable[tuple[str, str]]:
    """Every item in `Room:<id>`: its meta record and its deletion tombstones."""
    for record in TombstoneRecord.query(keys.room_pk(room_id), attributes_to_get=["PK", "SK"]):
        yield record.PK, record.SK


def room_close(*, room_id: str) -> Room:
    """The first step of deleting a room: UpdateItem `Room:<id>` / `meta` SET closing_since (kept
    if already set), conditional on the room existing; then DeleteItem of its directory entry.
    From here room_get finds no room, on every host whose cache entry has expired. Raises
    RoomNotFound."""
    record = RoomRecord(keys.room_pk(room_id), keys.META)
    try:
        record.update(actions=[RoomRecord.closing_since.set(RoomRecord.closing_since | iso_from_ms(now_ms()))],
                      condition=RoomRecord.PK.exists())
    except UpdateError as exc:
        if not dynamodb.is_conditional_check_failed(exc):
            raise
        raise selectors.RoomNotFound(room_id) from None
    RoomDirectoryEntry(keys.ROOM_DIRECTORY_PK, keys.room_directory_sk(room_id)).delete()
    selectors.forget_room(room_id)
    return Room.from_record(record)


def room_delete(*, room_id: str, progress: Progress = lambda n: None,
                notify: Callable[[float], None] = lambda seconds: None,
                sleep: Callable[[float], None] = time.sleep) -> int:
    """Delete a room and all its messages, so that no host accepts a post to it afterwards and a
    room created again with its id starts empty, while posting keeps its cost (no room read per
    post):

    1. room_close: every host that reads the room afresh now finds none.
    2. Wait until CHAT_ROOM_CACHE_SECONDS (plus CHAT_ROOM_DELETE_GRACE_SECONDS for posts in
       flight and index lag) have passed since the close: then no host still holds an "open"
       cache entry. ``notify`` is told how long first. Counted from the stored close time, so
       re-running an interrupted delete does not wait again.
    3. Delete the messages (found through the index, including any a stale host accepted in the
       wait), the members' sidebar entries (`User:<uid>` / `room#<rid>`), the room's partition
       (tombstones, member list), and the room record last: until then its id can't be re-created.

    Raises RoomNotFound. Returns the number of messages deleted.
    """
    room = room_close(room_id=room_id)
    wait_seconds = settings.CHAT_ROOM_CACHE_SECONDS + settings.CHAT_ROOM_DELETE_GRACE_SECONDS
    remaining = (ms_from_iso(room.closing_since) - now_ms()) / 1000 + wait_seconds
    if remaining > 0:
        notify(remaining)
        sleep(remaining)
    deleted = 0

    def message_keys():
        nonlocal deleted
        for key in room_message_keys(room_id=room_id, edits=True):
            deleted += is_message_key(key)
            yield key

    if search_index.bulk_enabled():  # before the messages: an interrupted delete still finds their texts
        search_index.room_index_remove(room=room)
    # Marked for the room tails: a member's page still opens the room until their sidebar entry
    # goes (below); meanwhile it reads the index, as the sweep goes, not a tail of the room as it was.
    marks = HistoryMarks(room_id, progress)
    batch_delete_keys(message_keys(), progress=marks)
    marks.done()
    # The members' sidebar entries, found through the member list, which goes with the partition
    # below: an interrupted delete finds them again on its next run.
    batch_delete_keys((keys.user_pk(m.user_id), keys.user_room_sk(room_id))
                      for m in selectors.all_room_members(room_id=room_id))
    room_meta = (keys.room_pk(room_id), keys.META)
    batch_delete_keys(k for k in room_partition_keys(room_id=room_id) if k != room_meta)
    RoomRecord(*room_meta).delete()
    selectors.forget_room(room_id)
    return deleted
