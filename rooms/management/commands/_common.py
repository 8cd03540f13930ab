"""Shared bits of the rooms management commands."""

from __future__ import annotations

from django.core.management.base import CommandError

from rooms import selectors
from rooms.models import Room


def existing_room(room_id: str) -> Room:
    try:
        return selectors.room_get(room_id=room_id)
    except selectors.RoomNotFound:
        raise CommandError(f"no room with id {room_id!r} (ids are lowercase slugs, as in /rooms/<id>/)") from None
