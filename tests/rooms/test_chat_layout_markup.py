"""The chat layout's server-rendered markup: the "Your rooms" sidebar, avatars, day dividers and
author groups (in UTC; static/js/chat/layout.js redoes them in the reader's zone). Rendered from
plain objects: no tables needed. The browser tests (tests/browser/test_chat_layout.py) check the
page as people see it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from types import SimpleNamespace

from django.template.loader import render_to_string

from rooms.models import ChatMessage
from rooms.templatetags.chat_layout import AVATAR_HUES, avatar_hue, initials, timeline


@dataclass
class Entry:  # what the sidebar needs of each of the user's rooms
    room_id: str
    name: str
    kind: str
    url: str


class Links(HTMLParser):
    """The sidebar's links: (href, aria-current, accessible text without aria-hidden parts)."""

    def __init__(self):
        super().__init__()
        self.links, self._hidden_depth, self._depth, self._in_link = [], 0, 0, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a":
            self._in_link = True
            self.links.append([attrs["href"], attrs.get("aria-current"), ""])
        if tag == "span":
            self._depth += 1
            if attrs.get("aria-hidden") == "true" and not self._hidden_depth:
                self._hidden_depth = self._depth

    def handle_endtag(self, tag):
        if tag == "a":
            self._in_link = False
        if tag == "span":
            if self._hidden_depth == self._depth:
                self._hidden_depth = 0
            self._depth -= 1

    def handle_data(self, data):
        if self._in_link and not self._hidden_depth:
            self.links[-1][2] += data


def sidebar(**context) -> str:
    return render_to_string("rooms/_sidebar.html", context)


def test_sidebar_lists_rooms_and_conversations_named_first_with_the_current_one_marked():
    rooms = [Entry("hike", "Weekend Hike", "public", "/rooms/hike/"),
             Entry("ops", "Ops", "private", "/rooms/ops/"),
             Entry("dm-1", "Bob Okafor", "direct", "/rooms/dm-1/")]
    html = sidebar(your_rooms=rooms, current_room_id="ops")
    assert '<nav id="your-rooms" class="your-rooms" aria-label="Your rooms">' in html
    parser = Links()
    parser.feed(html)
    entries = [(href, current, " ".join(text.split())) for href, current, text in parser.links]
    assert entries == [("/rooms/hike/", None, "Weekend Hike"), ("/rooms/ops/", "page", "Ops, private"),
                       ("/rooms/dm-1/", None, "Bob Okafor, direct message"), ("/", None, "All rooms")]
    assert ">BO</span>" in html  # a direct conversation's initials, hidden from screen readers
    # Phone: the "Rooms" button, hidden until static/js/chat/sidebar.js makes it work.
    assert re.search(r'<button type="button" class="sidebar-toggle" id="sidebar-toggle" aria-expanded="false" '
                     r'aria-controls="your-rooms" hidden>Rooms</button>', html)
    assert "style=" not in html


def test_sidebar_without_rooms_says_so_and_links_the_room_list():
    for context in ({}, {"your_rooms": [], "current_room_id": "x"}):
        html = sidebar(**context)
        assert "No rooms yet." in html and 'href="/"' in html and 'aria-label="Your rooms"' in html


def test_avatar_colour_is_a_stable_class_from_the_id_and_initials_come_from_the_name():
    assert avatar_hue("u-ann") == avatar_hue("u-ann")  # crc32, not Python's per-process hash()
    hues = {avatar_hue(f"u-{n}") for n in range(200)}
    assert hues == set(range(AVATAR_HUES))
    assert [initials(n) for n in ("Alice Moreau", "bob", "Jean-Luc de la Tour", "  ", "émile zola")] == [
        "AM", "B", "JT", "?", "ÉZ"]


def _message(n: int, author: str, at: str) -> ChatMessage:
    return ChatMessage(room_id="r", author_id=author, sk=f"sk{n}", message_id=f"id{n:03d}", created_at=at,
                       author_name=author.title(), comment=f"text {n}")


def test_timeline_has_a_utc_day_divider_per_day_and_groups_an_author_within_five_minutes():
    messages = [
        _message(1, "ann", "2024-03-01T23:58:00.000Z"),
        _message(2, "ann", "2024-03-02T00:01:00.000Z"),  # 3 min later but a new (UTC) day: new group
        _message(3, "ann", "2024-03-02T00:05:00.000Z"),  # continues
        _message(4, "ann", "2024-03-02T00:10:00.001Z"),  # 5 min + 1 ms: a new group
        _message(5, "ben", "2024-03-02T00:11:00.000Z"),  # another author
        _message(6, "ann", "2024-03-02T00:12:00.000Z"),
    ]
    rows = timeline(messages)
    assert [str(r.day) if r.day else None for r in rows] == ["2024-03-01", "2024-03-02", None, None, None, None]
    assert [r.continued for r in rows] == [False, False, True, False, False, False]

    html = render_to_string("rooms/_older.html", {"history": SimpleNamespace(items=messages, next_cursor=None),
                                                   "room": SimpleNamespace(room_id="r"), "user": None})
    assert html.count('class="day-divider"') == 2
    assert '<h2 class="day-divider" data-day="2024-03-02">Saturday 2 March 2024</h2>' in html
    assert html.count(" data-continued>") == 1
    # A grouped message still names its author (hidden visually by the stylesheet, read by screen readers).
    continued = html.split(" data-continued>")[1].split("</li>")[0]
    assert '<span class="author">Ann</span>' in continued
    assert f'class="avatar avatar-hue-{avatar_hue("ann")}" aria-hidden="true">A</span>' in html
    assert "style=" not in html
