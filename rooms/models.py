"""Rooms and messages in the chat table (the seed's single-table design).

- Room:        `Room:<room id>` / `meta`        name, description, CreatedBy, created time
- Directory:   `Rooms` / `Room:<room id>`       one entry per room, so listing rooms is a Query
- Message:     `User:<author id>` / `<CreatedAt>#<message id>`  RoomID, Comment, CreatedAt, AuthorName
- Tombstone:   `Room:<room id>` / `deleted#<DeletedAt>#<message id>`  a deletion, for live updates

Only Message carries RoomID + CreatedAt, so only messages enter the `room_messages` index.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chatsite import keys
from chatsite.dynamodb import CHAT, CHAT_TTL_ATTRIBUTE, ROOM_INDEX, bind_to


@bind_to(CHAT)
class RoomRecord(Model):
    class Meta:
        table_name = "chat"

    PK = UnicodeAttribute(hash_key=True)
    SK = UnicodeAttribute(range_key=True, default=keys.META)
    name = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    CreatedBy = UnicodeAttribute()
    created_at = UnicodeAttribute()


@bind_to(CHAT)
class RoomDirectoryEntry(Model):
    class Meta:
        table_name = "chat"

    PK = UnicodeAttribute(hash_key=True, default=keys.ROOM_DIRECTORY_PK)
    SK = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    CreatedBy = UnicodeAttribute()
    created_at = UnicodeAttribute()

    @property
    def room_id(self) -> str:
        return keys.room_id_from_directory_sk(self.SK)


class RoomMessagesIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = ROOM_INDEX
        projection = AllProjection()

    RoomID = UnicodeAttribute(hash_key=True)
    CreatedAt = UnicodeAttribute(range_key=True)


@bind_to(CHAT)
class MessageRecord(Model):
    class Meta:
        table_name = "chat"

    PK = UnicodeAttribute(hash_key=True)
    SK = UnicodeAttribute(range_key=True)
    RoomID = UnicodeAttribute()
    CreatedAt = UnicodeAttribute()  # ISO 8601 UTC with milliseconds: 2023-04-01T14:00:00.001Z
    Comment = UnicodeAttribute()
    AuthorName = UnicodeAttribute()  # display name copied in, so pages need no user read

    room_index = RoomMessagesIndex()

    @property
    def author_id(self) -> str:
        return keys.user_id_from_pk(self.PK)

    @property
    def message_id(self) -> str:
        return keys.message_sk_parts(self.SK)[1]


@bind_to(CHAT)
class TombstoneRecord(Model):
    class Meta:
        table_name = "chat"

    PK = UnicodeAttribute(hash_key=True)
    SK = UnicodeAttribute(range_key=True)
    message_id = UnicodeAttribute()
    expires_at = NumberAttribute(attr_name=CHAT_TTL_ATTRIBUTE)
