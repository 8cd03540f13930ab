"""rooms.permissions for templates: ``user|may_delete:message``, ``user|may_edit:message``,
``user|delete_scope`` and ``{% edit_seconds %}``."""

from __future__ import annotations

from django import template
from django.conf import settings

from rooms import permissions
from rooms.timestamps import now_ms

register = template.Library()


@register.filter
def may_delete(user, message) -> bool:
    return permissions.may_delete_message(user, author_id=message.author_id)


@register.filter
def delete_scope(user) -> str:
    return permissions.delete_scope(user)


@register.filter
def may_edit(user, message) -> bool:
    return permissions.may_edit_message(user, author_id=message.author_id, created_ms=message.created_ms,
                                        now_ms=now_ms())


@register.simple_tag
def edit_seconds() -> int:
    """How long an author may edit (the room page tells static/js/chat/edit.js)."""
    return settings.CHAT_MESSAGE_EDIT_SECONDS
