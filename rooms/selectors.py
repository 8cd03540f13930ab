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
