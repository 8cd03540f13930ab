"""Reads for rooms and messages. Each function is one access pattern in docs/data-model.md."""

from __future__ import annotations

from dataclasses import dataclass

from chatsite import keys
from rooms.models import RoomDirectoryEntry


@dataclass(frozen=True)
class RoomSummary:
    room_id: str
    name: str
    description: str
    created_by: str


def room_list(*, limit: int = 100) -> list[RoomSummary]:
    """List rooms: Query `PK = Rooms` on the base table, in room-id order. Never a Scan."""
    entries = RoomDirectoryEntry.query(keys.ROOM_DIRECTORY_PK, limit=limit)
    return [
        RoomSummary(room_id=e.room_id, name=e.name, description=e.description, created_by=e.CreatedBy)
        for e in entries
    ]


def user_messages(*, user_id: str, limit: int = 20) -> list:
    """A user's messages, newest first: Query `PK = User:<id>`, SK in the message range.

    (First version for the profile page; the rooms work owns and extends it.)
    """
    from rooms.models import MessageRecord

    return list(MessageRecord.query(
        keys.user_pk(user_id),
        MessageRecord.SK.between(keys.MESSAGE_SK_MIN, keys.MESSAGE_SK_MAX),
        scan_index_forward=False,
        limit=limit,
    ))
