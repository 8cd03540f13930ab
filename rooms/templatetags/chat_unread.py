"""Unread counts as pages show them: per room in the sidebar, and the total in the page title."""

from __future__ import annotations

from django import template

from rooms.models import unread_label as _label

register = template.Library()


@register.filter
def unread_total(your_rooms) -> int:
    """The unread messages across the sidebar's rooms (0 on pages without a sidebar)."""
    return sum(getattr(entry, "unread", 0) for entry in your_rooms or ())


@register.filter
def unread_label(count) -> str:
    """A count as shown: "99+" beyond 99."""
    return _label(int(count or 0))
