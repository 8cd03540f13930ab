"""The sidebar's list of rooms (templates/rooms/_your_rooms.html) drawn in Python.

Every signed-in page draws it, and users can be in hundreds of rooms: a template loop costs a
variable lookup per attribute, a filter call per avatar and a reverse() per entry (20-30 ms of
CPU for 200 rooms); these string operations draw the same HTML in about a millisecond.
tests/rooms/test_sidebar_render.py holds the loop this replaces and proves the output the same.
"""

from __future__ import annotations

import functools
import re
from html import escape as _html_escape

from django import template
from django.urls.converters import get_converters
from django.utils.safestring import SafeString, mark_safe

from chatsite.urls_fast import fast_reverse
from rooms.models import DIRECT, PRIVATE, PUBLIC, UserRoom
from rooms.templatetags.chat_layout import avatar_hue, initials
from rooms.templatetags.chat_unread import badges_html

register = template.Library()

_PLACEHOLDER = "0"  # a valid room id: reverse() of it gives the room URL's prefix and suffix
_KINDS = frozenset({PUBLIC, PRIVATE, DIRECT})


def _escape(value) -> str:
    """What the template's autoescape does to a value ({{ value }}), without a SafeString per call."""
    if hasattr(value, "__html__"):
        return value.__html__()
    return _html_escape(str(value))


@functools.cache
def _room_id_pattern() -> re.Pattern[str]:
    """The URL's room id converter (rooms/urls.py; registered once a reverse() has loaded the
    URLconf): an id it matches is written into the URL as is."""
    return re.compile(get_converters()["room_id"].regex)


def entries_html(your_rooms, current_room_id) -> SafeString:
    """The <li> entries, exactly as the template loop drew them (whitespace included)."""
    # One URL built per list, not per room: it honours the request's script prefix like the rest.
    before, _, after = fast_reverse("rooms:room", _PLACEHOLDER).rpartition(_PLACEHOLDER)
    before, after = _escape(before), _escape(after)
    valid = _room_id_pattern().fullmatch
    out = []
    for entry in your_rooms:
        room_id, kind, name = entry.room_id, entry.kind, entry.name
        # A room id the URL converter matches is a slug ([a-z0-9-]) and a known kind a plain word:
        # nothing in them to escape. Escaping only what may need it halves the cost.
        plain_id = valid(room_id) is not None
        id_html = room_id if plain_id else _escape(room_id)
        if type(entry) is UserRoom:  # UserRoom.url is this reverse(); other entries bring their own url
            # An id the converter refuses: reverse() raises NoReverseMatch for it, as the template did.
            url_html = before + room_id + after if plain_id else _escape(fast_reverse("rooms:room", room_id))
        else:
            url_html = _escape(getattr(entry, "url", ""))
        if kind == DIRECT:
            avatar = _escape(initials(name))
            kind_text = '<span class="visually-hidden">, direct message</span>'
        else:
            avatar = "#"
            kind_text = ('<span class="visually-hidden">, private</span><span class="sidebar-kind" aria-hidden="true">'
                         'private</span>') if kind == PRIVATE else ""
        current = ' aria-current="page"' if room_id == current_room_id else ""
        unread = getattr(entry, "unread", "")  # the template drew a missing attribute as ""
        badges = badges_html(unread or 0, getattr(entry, "mentions", 0))
        out.append(
            f'\n    <li class="sidebar-entry sidebar-{kind if kind in _KINDS else _escape(kind)}" data-room="{id_html}" '
            f'data-unread="{unread if type(unread) is int else _escape(unread)}"><a href="{url_html}"{current}>\n'
            f'      <span class="avatar avatar-small avatar-hue-{avatar_hue(room_id)}" aria-hidden="true">{avatar}</span>\n'
            f'      <span class="sidebar-name">{_escape(name)}</span>{kind_text}<span class="sidebar-badges">{badges}</span>\n'
            f'    </a></li>\n    ')
    return mark_safe("".join(out))


@register.simple_tag
def sidebar_entries(your_rooms, current_room_id=None) -> SafeString:
    return entries_html(your_rooms, current_room_id)
