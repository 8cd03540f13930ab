"""rooms.permissions for templates: ``user|may_delete:message`` and ``user|delete_scope``."""

from __future__ import annotations

from django import template

from rooms import permissions

register = template.Library()


@register.filter
def may_delete(user, message) -> bool:
    return permissions.may_delete_message(user, author_id=message.author_id)


@register.filter
def delete_scope(user) -> str:
    return permissions.delete_scope(user)
