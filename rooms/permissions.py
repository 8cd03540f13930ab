"""Who may delete or edit a message: its author (an edit: for CHAT_MESSAGE_EDIT_SECONDS after
posting), or staff. The one copy of the rule.

The delete service enforces it, the page templates use it to show delete buttons, and the room
page hands its script ``delete_scope`` for the viewer, so messages that arrive live (rendered
without a viewer: the poll is session-blind) show the button by the same rule.
"""

from __future__ import annotations

from django.conf import settings

ANY_AUTHOR = "*"  # never a user id: those are usernames of letters, digits and "._-"


def delete_scope(user) -> str:
    """Whose messages ``user`` may delete: ANY_AUTHOR (staff), their own user id, or "" (signed out)."""
    if not getattr(user, "is_authenticated", False):
        return ""
    return ANY_AUTHOR if user.is_staff else user.id


def may_delete_message(user, *, author_id: str) -> bool:
    scope = delete_scope(user)
    return scope == ANY_AUTHOR or (scope != "" and scope == author_id)


def may_edit_message(user, *, author_id: str, created_ms: int, now_ms: int) -> bool:
    """Who may edit a message: staff at any time (moderation), its author for
    CHAT_MESSAGE_EDIT_SECONDS after posting it. The same people as may delete it, within the window."""
    if not may_delete_message(user, author_id=author_id):
        return False
    return user.is_staff or now_ms - created_ms <= settings.CHAT_MESSAGE_EDIT_SECONDS * 1000


def may_manage_room(user, room) -> bool:
    """Who may rename a room, edit its description and remove its members: its owner (the
    creator) and staff. Direct conversations have no owner: nobody manages them."""
    if not getattr(user, "is_authenticated", False) or room.kind == "direct":
        return False
    return user.is_staff or user.id == room.created_by
