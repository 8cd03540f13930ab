"""Unread counts as pages show them: per room in the sidebar, and the total in the page title."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

from rooms.models import unread_label as _label

register = template.Library()


def badges_html(unread: int, mentions: int) -> SafeString:
    """A sidebar entry's badges, read with the room's name ("Design, 3 unread, 1 mention"). The
    page's template and the stream's live `sidebar` events (rooms.activity.UserSide) both draw them
    here, so a live change is a few string operations, not a render of the whole list. Only
    numbers and fixed words: nothing to escape."""
    parts = []
    if unread:
        parts.append(f'<span class="visually-hidden">,</span> <span class="unread">{_label(int(unread))} unread</span>')
    if mentions:
        word = "mention" if mentions == 1 else "mentions"
        parts.append(f'<span class="visually-hidden">,</span> <span class="mentions">{int(mentions)} {word}</span>')
    return mark_safe("".join(parts))


@register.simple_tag
def sidebar_badges(entry) -> SafeString:
    return badges_html(getattr(entry, "unread", 0), getattr(entry, "mentions", 0))


@register.filter
def unread_total(your_rooms) -> int:
    """The unread messages across the sidebar's rooms (0 on pages without a sidebar)."""
    return sum(getattr(entry, "unread", 0) for entry in your_rooms or ())


@register.filter
def unread_label(count) -> str:
    """A count as shown: "99+" beyond 99."""
    return _label(int(count or 0))
