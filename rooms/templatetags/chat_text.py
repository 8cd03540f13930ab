"""Message text for HTML: escaped, formatted (rooms/formatting.py), with http(s) URLs turned into
safe links and mentions into links to their people."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from chatsite.urls_fast import fast_reverse
from rooms import formatting, mentions
from rooms.timestamps import datetime_from_iso

register = template.Library()

_URL_RE = re.compile(r"\bhttps?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?'\")]}>"
_LINK_REL = "nofollow noopener noreferrer"
# Bounded work for any page, anonymous ones too: past these, a message stays plain escaped text.
MAX_URL_LENGTH = 2048  # what browsers and servers reliably handle
MAX_URLS_PER_MESSAGE = 20  # URL-like runs examined per message; later ones are not linked


def _trim(url: str) -> str:
    """Drop sentence punctuation after a URL, but keep a closing bracket that belongs to it:
    of the trailing ')', only those beyond the URL's '(' count are dropped. Linear, in C (str
    methods): a trailing run of thousands of ')' costs microseconds, not a scan per bracket."""
    stem = url.rstrip(_TRAILING)
    tail = url[len(stem):]
    if ")" not in tail:
        return stem
    # Keep the ')' that has exactly `surplus` ')' after it in the tail (or the last one if none).
    kept = max(url.count(")") - url.count("("), 0) + 1
    pieces = tail.rsplit(")", kept)
    if len(pieces) <= kept:  # fewer ')' in the tail than that: none of them is balanced
        return stem
    return url[:len(stem) + len(pieces[0]) + 1]


def _is_safe(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in {"http", "https"} and bool(parts.hostname)


def _escape_with_mentions(text: str, linked: frozenset[str], room: bool) -> str:
    """Escape ``text`` (a stretch between URLs), its mentions of ``linked`` user ids as links to
    their pages and @room (when ``room``) highlighted. Names not in ``linked`` stay plain text."""
    if "@" not in text or not (linked or room):
        return escape(text)
    out: list[str] = []
    position = 0
    for token in mentions.tokens(text):
        if token.user_id is None:
            if not room:
                continue
            html = f'<span class="mention mention-room">@{escape(token.name)}</span>'
        elif token.user_id in linked:
            url = fast_reverse("rooms:user", token.user_id)
            html = f'<a class="mention" href="{escape(url)}" data-user="{escape(token.user_id)}">@{escape(token.name)}</a>'
        else:
            continue
        out.append(escape(text[position:token.start]))
        out.append(html)
        position = token.end
    out.append(escape(text[position:]))
    return "".join(out)


@register.filter(is_safe=True)
def message_html(message) -> SafeString:
    """A message's text formatted (rooms/formatting.py), its unformatted runs as linkify makes them,
    with its mentions (ChatMessage.mentions: the members notified, and @room) as highlighted links.
    The same HTML for every viewer: the reader's own mentions are marked in the browser
    (static/js/chat/mentions.js), so a live fragment is still rendered once per room."""
    links = _Links(frozenset(message.mentions), message.mentions_room)
    return mark_safe(formatting.to_html(message.comment, links))


@register.filter(is_safe=True)
def linkify(text: str, linked: frozenset[str] = frozenset(), room: bool = False) -> SafeString:
    """Escape ``text`` and link its http/https URLs (rel="nofollow noopener noreferrer"): at most the
    first MAX_URLS_PER_MESSAGE, each at most MAX_URL_LENGTH long. Linear in the text's length.
    Newlines stay newlines: the stylesheet shows them (white-space: pre-wrap)."""
    return mark_safe(_Links(linked, room)(text))


class _Links:
    """linkify for one message, called on each of its unformatted runs in order: the bound on the
    URL-like runs examined is per message, not per run."""

    def __init__(self, linked: frozenset[str], room: bool):
        self.linked, self.room, self.examined = linked, room, 0

    def __call__(self, text: str) -> str:
        out: list[str] = []
        position = 0
        if self.examined < MAX_URLS_PER_MESSAGE:
            for match in _URL_RE.finditer(text):
                if self.examined == MAX_URLS_PER_MESSAGE:
                    break
                self.examined += 1
                url = _trim(match.group())
                if len(url) > MAX_URL_LENGTH or not _is_safe(url):
                    continue
                out.append(_escape_with_mentions(text[position:match.start()], self.linked, self.room))
                out.append(f'<a href="{escape(url)}" rel="{_LINK_REL}">{escape(url)}</a>')
                position = match.start() + len(url)
        out.append(_escape_with_mentions(text[position:], self.linked, self.room))
        return "".join(out)


@register.filter
def utc_time(created_at: str) -> str:
    """What a reader without JavaScript sees: "2023-04-01 14:00 UTC" (static/js/chat/times.js shows local time)."""
    return datetime_from_iso(created_at).strftime("%Y-%m-%d %H:%M UTC")
