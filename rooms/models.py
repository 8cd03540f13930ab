"""Rooms and messages in the chat table (the single-table design of the seed, docs/data-model.md).

Stored attribute names follow the seed (RoomID, CreatedAt, Comment, AuthorName, CreatedBy); the
Python names are snake_case, mapped with attr_name.

- Room:        `Room:<room id>` / `meta`        name, description, CreatedBy, created time, Seq (messages posted)
- Directory:   `Rooms` / `Room:<room id>`       one entry per room, so listing rooms is a Query
- Message:     `User:<author id>` / `<CreatedAt>#<message id>`  RoomID, Comment, CreatedAt, AuthorName
- Edit:        `User:<author id>` / `edit#<message SK>#<NNNN>`  an earlier version of a message (no RoomID)
- Tombstone:   `Room:<room id>` / `deleted#<DeletedAt>#<message id>`  a deletion (before live events; expiring)
- Live event:  `Room:<room id>` / `ev#<at>#<ref>`  a message, deletion, presence beat or typing signal
- Member:      `Room:<room id>` / `member#<user id>`  display name, role, joined time (the member list)
- User's room: `User:<user id>` / `room#<room id>`  room name, kind, role, joined time (the sidebar),
                                                  the read cursor ReadSeq / ReadPos

Only Message carries RoomID + CreatedAt, so only messages enter the `room_messages` index.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import cached_property
from urllib.parse import urlencode

from pynamodb.attributes import ListAttribute, NumberAttribute, NumberSetAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chatsite import keys
from chatsite.dynamodb import CHAT, CHAT_TTL_ATTRIBUTE, ROOM_INDEX, THREAD_INDEX, bind_to
from chatsite.urls_fast import fast_reverse
from rooms import mentions
from rooms.timestamps import ms_from_iso

# Room kinds. A direct conversation is private in every sense; its membership never changes.
PUBLIC, PRIVATE, DIRECT = "public", "private", "direct"
ROOM_KINDS = (PUBLIC, PRIVATE, DIRECT)
# Membership roles: the owner (the creator) manages the room.
OWNER, MEMBER = "owner", "member"
# A member's notification setting for a room (UserRoomRecord.notify).
NOTIFY_ALL, NOTIFY_MENTIONS, NOTIFY_NONE = "all", "mentions", "none"
NOTIFY_LEVELS = (NOTIFY_ALL, NOTIFY_MENTIONS, NOTIFY_NONE)


@bind_to(CHAT)
class RoomRecord(Model):
    class Meta:
        table_name = "chat"

    PK = UnicodeAttribute(hash_key=True)
    SK = UnicodeAttribute(range_key=True, default=keys.META)
    name = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    created_by = UnicodeAttribute(attr_name="CreatedBy")
    created_at = UnicodeAttribute()
    # Set when delete_room starts: from then on the room is gone for every new read (room_get).
    closing_since = UnicodeAttribute(null=True)
    kind = UnicodeAttribute(null=True)  # "public" (also when absent: rooms made before kinds), "private", "direct"
    # How many messages were ever posted here (message_post's ADD): a member's unread count is this
    # minus their ReadSeq, with no write to any member when someone posts. Absent: none yet.
    seq = NumberAttribute(null=True, attr_name="Seq")


@bind_to(CHAT)
class RoomDirectoryEntry(Model):
    class Meta:
        table_name = "chat"

    PK = UnicodeAttribute(hash_key=True, default=keys.ROOM_DIRECTORY_PK)
    SK = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    created_by = UnicodeAttribute(attr_name="CreatedBy")
    created_at = UnicodeAttribute()

    @property
    def room_id(self) -> str:
        return keys.room_id_from_directory_sk(self.SK)


@bind_to(CHAT)
class MemberRecord(Model):
    """The room's side of a membership: its member list is one Query on `Room:<id>`."""

    class Meta:
        table_name = "chat"

    PK = UnicodeAttribute(hash_key=True)
    SK = UnicodeAttribute(range_key=True)
    display_name = UnicodeAttribute()
    role = UnicodeAttribute()
    joined_at = UnicodeAttribute()


@bind_to(CHAT)
class UserRoomRecord(Model):
    """The user's side of a membership, carrying what the sidebar shows: "my rooms" is one Query
    on `User:<id>`, and it is what decides whether the user may read a private room."""

    class Meta:
        table_name = "chat"

    PK = UnicodeAttribute(hash_key=True)
    SK = UnicodeAttribute(range_key=True)
    room_name = UnicodeAttribute()
    kind = UnicodeAttribute()
    role = UnicodeAttribute()
    joined_at = UnicodeAttribute()
    # What a member's room page needs of the room, so it reads no room record (absent on items
    # written before these were: the page then reads the room).
    room_description = UnicodeAttribute(null=True)
    room_created_by = UnicodeAttribute(null=True)
    room_created_at = UnicodeAttribute(null=True)
    # The read cursor: the room's Seq up to which the user has read, and the position
    # ("<CreatedAt>#<message id>", a message SK) of the last message read. Absent on memberships
    # from before read cursors: no unread count is shown until the first read moves it.
    read_seq = NumberAttribute(null=True, attr_name="ReadSeq")
    read_pos = UnicodeAttribute(null=True, attr_name="ReadPos")
    # The Seqs of messages mentioning this member (services.message_post ADDs them); those at or
    # below ReadSeq are read and pruned by read_cursor_advance. Absent: no unread mention.
    mention_seqs = NumberSetAttribute(null=True, attr_name="MentionSeqs")
    # ADD 1 on every move of the read cursor (rooms.services): the activity feed's `r-` events carry
    # it, so tabs apply cursor moves by version, never by arrival. Absent: 0 (never moved).
    read_version = NumberAttribute(null=True, attr_name="ReadVersion")
    # The user's notification setting for this room: "all" | "mentions" | "none"; absent: the
    # default (direct conversations: all; other rooms: mentions). See UserRoom.notify_level.
    notify = UnicodeAttribute(null=True, attr_name="Notify")


class RoomMessagesIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = ROOM_INDEX
        projection = AllProjection()

    room_id = UnicodeAttribute(hash_key=True, attr_name="RoomID")
    created_at = UnicodeAttribute(range_key=True, attr_name="CreatedAt")


class ThreadMessagesIndex(GlobalSecondaryIndex):
    """Sparse: only a thread's root (once replied to) and its replies carry ThreadID."""
    class Meta:
        index_name = THREAD_INDEX
        projection = AllProjection()

    thread_id = UnicodeAttribute(hash_key=True, attr_name="ThreadID")
    created_at = UnicodeAttribute(range_key=True, attr_name="CreatedAt")


@bind_to(CHAT)
class MessageRecord(Model):
    class Meta:
        table_name = "chat"

    PK = UnicodeAttribute(hash_key=True)
    SK = UnicodeAttribute(range_key=True)
    room_id = UnicodeAttribute(attr_name="RoomID")
    created_at = UnicodeAttribute(attr_name="CreatedAt")  # ISO 8601 UTC, milliseconds: 2023-04-01T14:00:00.001Z
    comment = UnicodeAttribute(attr_name="Comment")
    author_name = UnicodeAttribute(attr_name="AuthorName")  # the display name, copied: pages read no user
    seq = NumberAttribute(null=True, attr_name="Seq")  # the room's Seq this post took; absent before read cursors
    mentions = ListAttribute(of=UnicodeAttribute, null=True, attr_name="Mentions")  # user ids notified
    # What can change after posting (docs/data-model.md, "Working with messages"). Absent: never changed.
    version = NumberAttribute(null=True, attr_name="Version")  # ADD 1 on every change: live tabs apply by it
    edit_version = NumberAttribute(null=True, attr_name="EditVersion")  # edits so far: an edit's condition
    edited_at = UnicodeAttribute(null=True, attr_name="EditedAt")  # the last edit's time: "(edited)"
    reactions = UnicodeAttribute(null=True, attr_name="Reactions")  # JSON: reactions_to_json
    reply_count = NumberAttribute(null=True, attr_name="ReplyCount")  # a thread root: its replies
    thread_id = UnicodeAttribute(null=True, attr_name="ThreadID")  # the root's message id (root and replies)
    reply_to = UnicodeAttribute(null=True, attr_name="ReplyTo")  # a reply: the replied-to message's SK
    reply_to_author = UnicodeAttribute(null=True, attr_name="ReplyToAuthor")  # ... its author id
    reply_name = UnicodeAttribute(null=True, attr_name="ReplyName")  # ... its author's display name
    reply_excerpt = UnicodeAttribute(null=True, attr_name="ReplyExcerpt")  # ... its first line

    room_index = RoomMessagesIndex()
    thread_index = ThreadMessagesIndex()

    @property
    def author_id(self) -> str:
        return keys.user_id_from_pk(self.PK)

    @property
    def message_id(self) -> str:
        return keys.message_sk_parts(self.SK)[1]


@bind_to(CHAT)
class MessageEditRecord(Model):
    """An earlier version of a message (its edit history), in its author's partition:
    `User:<author>` / `edit#<message SK>#<NNNN>` holds the text the message had at EditVersion NNNN
    (0: as posted). Written by message_edit before the message changes, so no version is lost.
    No RoomID/CreatedAt: never in the room index."""

    class Meta:
        table_name = "chat"

    PK = UnicodeAttribute(hash_key=True)
    SK = UnicodeAttribute(range_key=True)
    comment = UnicodeAttribute(attr_name="Comment")
    version_at = UnicodeAttribute(attr_name="VersionAt")  # when this text became current (posted or edited)


@bind_to(CHAT)
class TombstoneRecord(Model):
    class Meta:
        table_name = "chat"

    PK = UnicodeAttribute(hash_key=True)
    SK = UnicodeAttribute(range_key=True)
    message_id = UnicodeAttribute()
    expires_at = NumberAttribute(attr_name=CHAT_TTL_ATTRIBUTE)


@bind_to(CHAT)
class LiveEventRecord(Model):
    """One thing that happened in a room, for live delivery: written next to the message (or the
    deletion, presence beat, typing signal) in the room's own partition, so live feeds read it with
    a consistent Query and never wait for the index. Expires by TTL; reads filter by time too
    (dynalite never deletes). Carries no RoomID/CreatedAt, so it stays out of the index."""

    class Meta:
        table_name = "chat"

    PK = UnicodeAttribute(hash_key=True)
    SK = UnicodeAttribute(range_key=True)
    expires_at = NumberAttribute(attr_name=CHAT_TTL_ATTRIBUTE)
    # A message event: enough to render the message without reading it.
    author = UnicodeAttribute(null=True)  # user id (messages, presence, typing)
    message_sk = UnicodeAttribute(null=True)
    posted_at = UnicodeAttribute(null=True)  # the message's CreatedAt
    comment = UnicodeAttribute(null=True)
    author_name = UnicodeAttribute(null=True)
    seq = NumberAttribute(null=True, attr_name="Seq")  # a message event: the message's Seq
    mentions = ListAttribute(of=UnicodeAttribute, null=True, attr_name="Mentions")  # a message event's
    state = UnicodeAttribute(null=True)  # presence: "here" or "away"
    # A message (m-) or update (u-) event: the message's changeable state (message_state_json), when
    # it has any: its version, edit, reactions, replies and quote.
    message_state = UnicodeAttribute(null=True, attr_name="Msg")


@bind_to(CHAT)
class MentionRecord(Model):
    """A mention of a user, in their own partition (`User:<uid>` / `mention#<CreatedAt>#<message id>`,
    sorting before `meta`): the Mentions page is one Query, newest first. Written in the post's
    BatchWriteItem; expires after CHAT_MENTION_TTL_SECONDS (90 days)."""

    class Meta:
        table_name = "chat"

    PK = UnicodeAttribute(hash_key=True)
    SK = UnicodeAttribute(range_key=True)
    room_id = UnicodeAttribute(attr_name="MentionRoomID")  # not RoomID: mentions stay out of the index
    room_name = UnicodeAttribute()
    room_kind = UnicodeAttribute()
    author = UnicodeAttribute()
    author_name = UnicodeAttribute()
    excerpt = UnicodeAttribute()
    message_sk = UnicodeAttribute()
    expires_at = NumberAttribute(attr_name=CHAT_TTL_ATTRIBUTE)
    seq = NumberAttribute(null=True, attr_name="Seq")  # the message's: Mark as unread restores MentionSeqs from it


@bind_to(CHAT)
class ActivityRecord(Model):
    """One change to users' unread state, in the process-wide activity feed (`Activity:<shard>` /
    `ev#<at>#<ref>`, rooms.activity): a post (`s-`), a read cursor move (`r-`), a mention (`n-`), a
    notification setting (`c-`). Read by each process with one consistent Query per shard; expires
    like the room live events. No RoomID/CreatedAt: it stays out of the index."""

    class Meta:
        table_name = "chat"

    PK = UnicodeAttribute(hash_key=True)
    SK = UnicodeAttribute(range_key=True)
    expires_at = NumberAttribute(attr_name=CHAT_TTL_ATTRIBUTE)
    room = UnicodeAttribute(attr_name="ActRoom")  # the room id (every kind)
    user = UnicodeAttribute(attr_name="ActUser")  # s-: the author; r-, n-, c-: the user concerned
    seq = NumberAttribute(null=True, attr_name="Seq")  # s-, n-: the message's Seq
    message_id = UnicodeAttribute(null=True)  # s-, n-
    message_sk = UnicodeAttribute(null=True)  # s-, n-: to link to it (?at=)
    author_name = UnicodeAttribute(null=True)  # s-, n-
    room_name = UnicodeAttribute(null=True)  # s-, n-: as the room calls itself (direct: all its people)
    room_kind = UnicodeAttribute(null=True)  # s-
    excerpt = UnicodeAttribute(null=True)  # s-, n-: the text's first 140 characters
    room_mention = NumberAttribute(null=True)  # s-: 1 when the text has @room
    read_seq = NumberAttribute(null=True, attr_name="ReadSeq")  # r-
    read_pos = UnicodeAttribute(null=True, attr_name="ReadPos")  # r-
    read_version = NumberAttribute(null=True, attr_name="ReadVersion")  # r-
    mention_seqs = NumberSetAttribute(null=True, attr_name="MentionSeqs")  # r-: the membership's after the move
    notify = UnicodeAttribute(null=True, attr_name="Notify")  # c-


# --- what pages, feeds and commands see (plain values, no DynamoDB attached) -------------------


@dataclass(frozen=True)
class Room:
    room_id: str
    name: str
    description: str
    created_by: str
    created_at: str
    closing_since: str | None = None  # delete_room has started (only rooms.selectors.room_get_any shows these)
    kind: str = PUBLIC

    @property
    def is_public(self) -> bool:
        return self.kind == PUBLIC

    @classmethod
    def from_record(cls, record: RoomRecord | RoomDirectoryEntry) -> Room:
        room_id = record.room_id if isinstance(record, RoomDirectoryEntry) else keys.room_id_from_pk(record.PK)
        return cls(room_id=room_id, name=record.name, description=record.description,
                   created_by=record.created_by, created_at=record.created_at,
                   closing_since=getattr(record, "closing_since", None),
                   kind=getattr(record, "kind", None) or PUBLIC)


@dataclass(frozen=True)
class Member:
    """One entry of a room's member list."""
    room_id: str
    user_id: str
    display_name: str
    role: str  # OWNER or MEMBER
    joined_at: str

    @classmethod
    def from_record(cls, record: MemberRecord) -> Member:
        return cls(room_id=keys.room_id_from_pk(record.PK), user_id=keys.user_id_from_member_sk(record.SK),
                   display_name=record.display_name, role=record.role, joined_at=record.joined_at)


@dataclass(frozen=True)
class UserRoom:
    """One entry of a user's list of rooms (the sidebar)."""
    room_id: str
    name: str
    kind: str
    role: str
    joined_at: str
    description: str | None = None
    created_by: str | None = None
    created_at: str | None = None
    read_seq: int | None = None  # the read cursor (None: a membership from before read cursors)
    read_pos: str | None = None
    unread: int = 0  # filled in by rooms.selectors.with_unread from the room's Seq
    mention_seqs: frozenset[int] = frozenset()  # Seqs of messages mentioning the user (MentionSeqs)
    read_version: int = 0  # ReadVersion: how many times the read cursor moved
    notify: str | None = None  # Notify as stored ("all", "mentions", "none"; None: the default)

    @property
    def notify_level(self) -> str:
        """The notification setting in force: the stored one, else all for a direct conversation
        and mentions for any other room."""
        if self.notify in NOTIFY_LEVELS:
            return self.notify
        return NOTIFY_ALL if self.kind == DIRECT else NOTIFY_MENTIONS

    @property
    def mentions(self) -> int:
        """Unread mentions: those past the read cursor."""
        return sum(1 for seq in self.mention_seqs if seq > (self.read_seq or 0))

    @property
    def mentions_label(self) -> str:
        """"1 mention", "N mentions" (shown next to "N unread")."""
        count = self.mentions
        return f"{count} mention" if count == 1 else f"{count} mentions"

    @property
    def url(self) -> str:
        return fast_reverse("rooms:room", self.room_id)

    @property
    def unread_label(self) -> str:
        """The count as shown: "99+" beyond 99."""
        return unread_label(self.unread)

    def as_room(self) -> Room | None:
        """The room as its member's page shows it, from this entry alone (a direct conversation
        under the other people's names); None for an entry written without the room's details."""
        if self.description is None or self.created_by is None or self.created_at is None:
            return None
        return Room(room_id=self.room_id, name=self.name, description=self.description, created_by=self.created_by,
                    created_at=self.created_at, kind=self.kind)

    @classmethod
    def from_record(cls, record: UserRoomRecord) -> UserRoom:
        return cls(room_id=keys.room_id_from_user_room_sk(record.SK), name=record.room_name, kind=record.kind,
                   role=record.role, joined_at=record.joined_at, description=record.room_description,
                   created_by=record.room_created_by, created_at=record.room_created_at,
                   read_seq=None if record.read_seq is None else int(record.read_seq), read_pos=record.read_pos,
                   mention_seqs=frozenset(int(s) for s in record.mention_seqs or ()),
                   read_version=int(record.read_version or 0), notify=record.notify)

    @classmethod
    def from_item(cls, item: dict) -> UserRoom:
        """As from_record(UserRoomRecord.from_raw_data(item)), straight from the item's DynamoDB
        JSON: the sidebar's Query brings up to hundreds of these to every signed-in page, and
        PynamoDB's generic decoding costs ~50 µs an item. UserRoomRecord's attribute names."""
        def text(name: str) -> str | None:
            value = item.get(name)
            return None if value is None else value.get("S")

        def number(name: str) -> int | None:
            value = item.get(name)
            return None if value is None or "N" not in value else int(value["N"])

        return cls(room_id=keys.room_id_from_user_room_sk(item["SK"]["S"]), name=item["room_name"]["S"],
                   kind=item["kind"]["S"], role=item["role"]["S"], joined_at=item["joined_at"]["S"],
                   description=text("room_description"), created_by=text("room_created_by"),
                   created_at=text("room_created_at"), read_seq=number("ReadSeq"), read_pos=text("ReadPos"),
                   mention_seqs=frozenset(int(s) for s in item.get("MentionSeqs", {}).get("NS", ())),
                   read_version=number("ReadVersion") or 0, notify=text("Notify"))


UNREAD_CAP = 99


def unread_label(count: int) -> str:
    return f"{UNREAD_CAP}+" if count > UNREAD_CAP else str(count)


@dataclass(frozen=True)
class Reaction:
    """One emoji under a message and who reacted with it, in reaction order."""
    emoji: str
    users: tuple[tuple[str, str], ...]  # (user id, display name)

    @property
    def count(self) -> int:
        return len(self.users)

    def has(self, user_id: str) -> bool:
        return any(uid == user_id for uid, _ in self.users)

    @property
    def user_ids(self) -> tuple[str, ...]:
        return tuple(uid for uid, _ in self.users)

    NAMES_SHOWN = 3  # beyond these, "and N others"

    @property
    def names(self) -> str:
        """"Alice", "Alice and Bob", "Alice, Bob and Chen", "Alice, Bob, Chen and 9 others"."""
        names = [name for _, name in self.users]
        if len(names) > self.NAMES_SHOWN + 1:
            rest = len(names) - self.NAMES_SHOWN
            return f"{', '.join(names[:self.NAMES_SHOWN])} and {rest} others"
        if len(names) <= 1:
            return "".join(names)
        return f"{', '.join(names[:-1])} and {names[-1]}"

    @property
    def label(self) -> str:
        """The button's accessible name: "👍 3: Alice, Bob and Chen"."""
        return f"{self.emoji} {self.count}: {self.names}"


def reactions_from_json(text: str | None) -> tuple[Reaction, ...]:
    """The stored `Reactions` JSON: ``[[emoji, [[user id, name], ...]], ...]``. Unreadable or absent: none."""
    if not text:
        return ()
    try:
        rows = json.loads(text)
        return tuple(Reaction(str(emoji), tuple((str(uid), str(name)) for uid, name in users))
                     for emoji, users in rows if users)
    except (ValueError, TypeError):
        return ()


def reactions_to_json(reactions) -> str | None:
    """Compact JSON for the `Reactions` attribute (None: no reaction left, remove the attribute)."""
    rows = [[r.emoji, [list(u) for u in r.users]] for r in reactions if r.users]
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":")) if rows else None


@dataclass(frozen=True)
class MessageEdit:
    """One earlier version of a message: its text from ``at`` until the next edit."""
    edit_version: int
    comment: str
    at: str

    @classmethod
    def from_record(cls, record: MessageEditRecord) -> MessageEdit:
        return cls(edit_version=keys.edit_version_from_sk(record.SK), comment=record.comment, at=record.version_at)


@dataclass(frozen=True)
class ReplyQuote:
    """What a reply shows of the message it answers: its author and first line, and a link to it."""
    sk: str
    author_id: str
    author_name: str
    excerpt: str

    @property
    def message_id(self) -> str:
        return keys.message_sk_parts(self.sk)[1]

    def url(self, room_id: str) -> str:
        return message_url(room_id, self.sk)


def message_url(room_id: str, sk: str) -> str:
    """A message's permanent link: the room page around it, scrolled to it (room_detail's ``at``)."""
    message_id = keys.message_sk_parts(sk)[1]
    return f"{fast_reverse('rooms:room', room_id)}?{urlencode({'at': sk})}#m-{message_id}"


@dataclass(frozen=True)
class ChatMessage:
    room_id: str
    author_id: str
    sk: str  # with author_id, the item's key: how deletion addresses it
    message_id: str
    created_at: str
    author_name: str
    comment: str
    seq: int | None = None  # the room's Seq this post took (None: posted before read cursors)
    mentions: tuple[str, ...] = ()  # user ids of the members it mentioned (notified)
    # What changes after posting (rooms.services): live tabs replace a message by ``version``.
    version: int = 0
    edit_version: int = 0
    edited_at: str | None = None
    reactions: tuple[Reaction, ...] = ()
    reply_count: int = 0
    thread_id: str | None = None  # a thread's root id: on the root once it has replies, and on replies
    reply_to: ReplyQuote | None = None

    @property
    def state_json(self) -> str | None:
        """The changeable state (for live events' `Msg`), None when the message has none."""
        state = {}
        if self.version:
            state["v"] = self.version
        if self.edit_version:
            state["ev"] = self.edit_version
        if self.edited_at:
            state["e"] = self.edited_at
        if self.reactions:
            state["r"] = reactions_to_json(self.reactions)
        if self.reply_count:
            state["n"] = self.reply_count
        if self.thread_id:
            state["t"] = self.thread_id
        if self.reply_to:
            q = self.reply_to
            state["q"] = [q.sk, q.author_id, q.author_name, q.excerpt]
        return json.dumps(state, ensure_ascii=False, separators=(",", ":")) if state else None

    def with_state_json(self, text: str | None) -> ChatMessage:
        """This message with the state a live event's `Msg` carries (``state_json``'s output)."""
        if not text:
            return self
        try:
            state = json.loads(text)
            quote = state.get("q")
            return replace(self, version=int(state.get("v", 0)), edit_version=int(state.get("ev", 0)),
                           edited_at=state.get("e"), reactions=reactions_from_json(state.get("r")),
                           reply_count=int(state.get("n", 0)), thread_id=state.get("t"),
                           reply_to=ReplyQuote(*map(str, quote)) if quote and len(quote) == 4 else None)
        except (ValueError, TypeError, AttributeError):
            return self

    @property
    def permalink(self) -> str:
        return message_url(self.room_id, self.sk)

    @cached_property
    def created_ms(self) -> int:
        return ms_from_iso(self.created_at)

    @property
    def dom_id(self) -> str:
        return f"m-{self.message_id}"

    @property
    def order(self) -> tuple[str, str]:
        """Display order: time, then id, so two messages in one millisecond sort the same everywhere."""
        return self.created_at, self.message_id

    @classmethod
    def from_record(cls, record: MessageRecord) -> ChatMessage:
        return cls(room_id=record.room_id, author_id=record.author_id, sk=record.SK,
                   message_id=record.message_id, created_at=record.created_at,
                   author_name=record.author_name, comment=record.comment,
                   seq=None if record.seq is None else int(record.seq), mentions=tuple(record.mentions or ()),
                   version=int(record.version or 0), edit_version=int(record.edit_version or 0),
                   edited_at=record.edited_at, reactions=reactions_from_json(record.reactions),
                   reply_count=int(record.reply_count or 0), thread_id=record.thread_id,
                   reply_to=ReplyQuote(record.reply_to, record.reply_to_author or "", record.reply_name or "",
                                       record.reply_excerpt or "") if record.reply_to else None)

    @cached_property
    def mentions_room(self) -> bool:
        """Whether the text has @room (refused at post time where the sender may not use it)."""
        return "@" in self.comment and mentions.parse(self.comment).room


@dataclass(frozen=True)
class Mention:
    """One entry of the user's Mentions page."""
    room_id: str
    room_name: str
    room_kind: str
    author_id: str
    author_name: str
    excerpt: str
    message_sk: str
    created_at: str
    message_id: str

    @property
    def url(self) -> str:
        """The room page around the message, scrolled to it (room_detail's ``at``)."""
        return message_url(self.room_id, self.message_sk)

    @classmethod
    def from_record(cls, record: MentionRecord) -> Mention:
        created_at, message_id = keys.message_sk_parts(record.SK.removeprefix(keys.MENTION_PREFIX))
        return cls(room_id=record.room_id, room_name=record.room_name, room_kind=record.room_kind,
                   author_id=record.author, author_name=record.author_name, excerpt=record.excerpt,
                   message_sk=record.message_sk, created_at=created_at, message_id=message_id)


@dataclass(frozen=True)
class Deletion:
    room_id: str
    message_id: str
    deleted_at: str

    @cached_property
    def deleted_ms(self) -> int:
        return ms_from_iso(self.deleted_at)

    @classmethod
    def from_record(cls, record: TombstoneRecord) -> Deletion:
        deleted_at, message_id = keys.tombstone_sk_parts(record.SK)
        return cls(room_id=keys.room_id_from_pk(record.PK), message_id=message_id, deleted_at=deleted_at)
