"""What rooms adds to pages of other apps. The accounts app may not import rooms (rooms builds on
accounts), so its profile page asks for the user's messages here, in its template."""

from __future__ import annotations

from django import template

from rooms import selectors
from rooms.models import ChatMessage

register = template.Library()

RECENT_MESSAGES = 20


@register.simple_tag
def recent_messages(user_id: str, limit: int = RECENT_MESSAGES) -> list[ChatMessage]:
    """The user's latest messages, newest first (one Query: rooms.selectors.user_messages)."""
    return selectors.user_messages(user_id=user_id, limit=limit)
