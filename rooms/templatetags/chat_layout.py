"""The chat layout's server side: avatars (initials and a colour class from the author's id) and
the timeline's day dividers and author grouping, in UTC. static/js/chat/layout.js redoes the
dividers and grouping in the reader's time zone, and around every message it inserts."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date
from typing import Iterable

from django import template

from rooms.timestamps import datetime_from_iso

register = template.Library()

AVATAR_HUES = 12  # .avatar-hue-0 … -11 in static/css/site.css: classes, so the CSP needs no inline style
GROUP_WITHIN_MS = 5 * 60 * 1000  # a message this close after the same author's shares their name line


@register.filter
def avatar_hue(key: str) -> int:
    """A stable colour class number for ``key`` (a user or room id): the same on every host and run."""
    return zlib.crc32(str(key).encode()) % AVATAR_HUES


@register.filter
def initials(name: str) -> str:
    """Up to two letters: "Alice Moreau" → "AM", "bob" → "B"."""
    words = [w for w in str(name).split() if w[:1].isalnum()]
    if not words:
        return "?"
    letters = words[0][0] + (words[-1][0] if len(words) > 1 else "")
    return letters.upper()


@dataclass(frozen=True)
class Row:
    message: object
    day: date | None  # set on the first message of a (UTC) day: the divider above it
    continued: bool  # same author as the message before, within GROUP_WITHIN_MS


@register.filter
def timeline(messages: Iterable) -> list[Row]:
    """The messages (oldest first) with their day dividers and grouping."""
    rows: list[Row] = []
    previous = None
    for message in messages:
        day = datetime_from_iso(message.created_at).date()
        new_day = previous is None or datetime_from_iso(previous.created_at).date() != day
        continued = (not new_day and previous.author_id == message.author_id
                     and message.created_ms - previous.created_ms <= GROUP_WITHIN_MS)
        rows.append(Row(message, day if new_day else None, continued))
        previous = message
    return rows
