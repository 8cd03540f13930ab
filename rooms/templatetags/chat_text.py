"""Message text for HTML: escaped, with http(s) URLs turned into safe links."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from rooms.timestamps import datetime_from_iso

register = template.Library()

_URL_RE = re.compile(r"\bhttps?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?'\")]}>"
_LINK_REL = "nofollow noopener noreferrer"


def _trim(url: str) -> str:
    """Drop sentence punctuation after a URL, but keep a closing bracket that belongs to it."""
    while url and url[-1] in _TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def _is_safe(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in {"http", "https"} and bool(parts.hostname)


@register.filter(is_safe=True)
def linkify(text: str) -> SafeString:
    """Escape ``text`` and link its http/https URLs (rel="nofollow noopener noreferrer").
    Newlines stay newlines: the stylesheet shows them (white-space: pre-wrap)."""
    out: list[str] = []
    position = 0
    for match in _URL_RE.finditer(text):
        url = _trim(match.group())
        if not _is_safe(url):
            continue
        out.append(escape(text[position:match.start()]))
        out.append(f'<a href="{escape(url)}" rel="{_LINK_REL}">{escape(url)}</a>')
        position = match.start() + len(url)
    out.append(escape(text[position:]))
    return mark_safe("".join(out))


@register.filter
def utc_time(created_at: str) -> str:
    """What a reader without JavaScript sees: "2023-04-01 14:00 UTC" (chat.js shows local time)."""
    return datetime_from_iso(created_at).strftime("%Y-%m-%d %H:%M UTC")
