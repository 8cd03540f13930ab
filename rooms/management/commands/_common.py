"""Shared bits of the rooms management commands."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from accounts.validators import validate_username

from rooms import selectors, validators
from rooms.models import Room

ROOM_ID_RULE = (f"room ids are lowercase letters, digits and single dashes, at most "
                f"{validators.ROOM_ID_MAX_LENGTH} characters, as in /rooms/<id>/")


def brief(value: object, limit: int = 40) -> str:
    """repr() of an operator's argument, shortened: a 3,000-character id should not fill the screen."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(str(value)):,} characters)"


def require_room_id(room_id: str, *, what: str = "room id") -> str:
    """The same bound as the site's URLs, checked before the id goes into a DynamoDB key."""
    if not validators.is_room_id(room_id):
        raise CommandError(f"{brief(room_id)} is not a {what}: {ROOM_ID_RULE}")
    return room_id


def existing_room(room_id: str) -> Room:
    require_room_id(room_id)
    try:
        return selectors.room_get(room_id=room_id)
    except selectors.RoomNotFound:
        raise CommandError(f"no room with id {room_id!r} (ids are lowercase slugs, as in /rooms/<id>/)") from None


def require_username(username: str) -> str:
    """The user id for ``username``, checked against the site's rules before it goes into a key."""
    try:
        return validate_username(username)
    except ValidationError as exc:
        raise CommandError(f"{brief(username)} is not a username: {' '.join(exc.messages)}") from None
