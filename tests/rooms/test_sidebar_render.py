"""The "Your rooms" list drawn in Python (rooms/templatetags/chat_sidebar.py) is the HTML the
template loop drew: the same elements, attributes, classes, accessible names, order and escaping,
so pages, browser tests and the live `sidebar` events see no difference. The reference below is
_your_rooms.html as it was, loop included. Rendered from plain objects: no tables needed."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from django.template import engines
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import NoReverseMatch, set_script_prefix

from accounts.auth import AnonymousUser
from rooms.models import UserRoom
from rooms.templatetags.chat_sidebar import entries_html

# templates/rooms/_your_rooms.html before the loop moved to Python: the reference.
TEMPLATE_LOOP = """{% load chat_layout chat_unread %}{# The sidebar's list (context: your_rooms, current_room_id; oob_swap: replace it out of band). #}
<nav id="your-rooms" class="your-rooms" aria-label="Your rooms"{% if oob_swap %} hx-swap-oob="outerHTML"{% endif %}>
  {% if your_rooms %}
  <ul class="sidebar-list">
    {% for entry in your_rooms %}
    <li class="sidebar-entry sidebar-{{ entry.kind }}" data-room="{{ entry.room_id }}" data-unread="{{ entry.unread }}"><a href="{{ entry.url }}"{% if entry.room_id == current_room_id %} aria-current="page"{% endif %}>
      <span class="avatar avatar-small avatar-hue-{{ entry.room_id|avatar_hue }}" aria-hidden="true">{% if entry.kind == "direct" %}{{ entry.name|initials }}{% else %}#{% endif %}</span>
      <span class="sidebar-name">{{ entry.name }}</span>{% if entry.kind == "private" %}<span class="visually-hidden">, private</span><span class="sidebar-kind" aria-hidden="true">private</span>{% elif entry.kind == "direct" %}<span class="visually-hidden">, direct message</span>{% endif %}<span class="sidebar-badges">{% sidebar_badges entry %}</span>{# read with the name: "Design, 3 unread" #}
    </a></li>
    {% endfor %}
  </ul>
  <form class="sidebar-more" method="post" action="{% url 'rooms:read_all' %}">{% csrf_token %}<input type="hidden" name="next" value="{% if current_room_id %}{% url 'rooms:room' current_room_id %}{% else %}{{ request.get_full_path }}{% endif %}"><button type="submit" class="link-button">Mark all as read</button></form>
  {% else %}
  <p class="sidebar-empty">No rooms yet.</p>
  {% endif %}
  <p class="sidebar-more"><a href="{% url 'rooms:list' %}">All rooms</a></p>
  {# A GET form, not a link: the sidebar's links are its rooms and the room list. #}
  <form class="sidebar-more" method="get" action="{% url 'rooms:direct_new' %}"><button type="submit" class="link-button">New message</button></form>
</nav>
"""

DM = "dm-0123456789abcdef0123456789abcdef"


def room(room_id, name, kind="public", *, unread=0, read_seq=10, mention_seqs=()) -> UserRoom:
    return UserRoom(room_id=room_id, name=name, kind=kind, role="member", joined_at="2026-01-01T00:00:00.000Z",
                    read_seq=read_seq, unread=unread, mention_seqs=frozenset(mention_seqs))


VARIED = [
    room("art", "Art"),
    room("design", "Design", unread=5),
    room("ops", "Ops", "private", unread=150, mention_seqs={11, 12, 3}),  # 99+, 2 mentions (3 is read)
    room("quiz", "Quiz", "private", unread=1, mention_seqs={11}),  # 1 mention
    room(DM, "Bob Okafor", "direct", unread=2),
    room("dm-ffffffffffffffffffffffffffffffff", "Zoë Ångström", "direct"),  # non-Latin initials
    room("dm-eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "!! ??", "direct"),  # no initials: "?"
    room("dm-dddddddddddddddddddddddddddddddd", "<script>alert(1)</script> x", "direct", unread=3),
    room("tom-jerry", "Tom & Jerry's \"best\" <b>room</b>"),
    room("xin", "新しい部屋 – café", "private"),
    room("ab-12", "<img src=x onerror=alert(1)>", unread=0, read_seq=None),
]


def request(path="/rooms/art/"):
    req = RequestFactory().get(path)
    req.user = AnonymousUser()
    return req


def without_csrf_token(html: str) -> str:
    """The CSRF token is masked afresh on every render: compare around it."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', 'name="csrfmiddlewaretoken" value=""', html)


def both(context: dict, req=None) -> tuple[str, str]:
    old = engines["django"].from_string(TEMPLATE_LOOP).render(context, req)
    new = render_to_string("rooms/_your_rooms.html", context, request=req)
    return without_csrf_token(old), without_csrf_token(new)


@pytest.mark.parametrize("current_room_id", ["art", "ops", DM, "ab-12", None])
def test_the_list_is_the_html_the_template_loop_drew(current_room_id):
    old, new = both({"your_rooms": VARIED, "current_room_id": current_room_id}, request())
    assert new == old
    assert new.count('<li class="sidebar-entry') == len(VARIED)
    assert new.count('aria-current="page"') == (current_room_id is not None)


def test_every_kind_count_and_mark_is_drawn_as_before_entry_by_entry():
    old, new = both({"your_rooms": VARIED, "current_room_id": "ops"})
    split = re.compile(r"(?=<li )")
    assert split.split(new) == split.split(old)  # a difference shows as one entry, not the whole page
    for text in ("99+ unread", "2 mentions", "1 mention<", "5 unread", "&gt;", ", direct message", ", private",
                 'avatar-small avatar-hue-', ">?</span>", ">BO</span>", ">ZÅ</span>"):
        assert text in new


def test_the_live_fragment_and_the_empty_list_are_as_before():
    old, new = both({"your_rooms": VARIED[:3], "current_room_id": "art", "oob_swap": True})
    assert new == old and 'hx-swap-oob="outerHTML"' in new
    old, new = both({"your_rooms": [], "current_room_id": None}, request("/search/?q=x"))
    assert new == old and "No rooms yet." in new


def test_entries_that_are_not_user_rooms_keep_their_own_url_and_missing_counts_draw_as_before():
    # tests and callers may pass plain objects: the template read url and unread from them
    entries = [SimpleNamespace(room_id="hike", name="Weekend Hike", kind="public", url="/elsewhere/hike/"),
               SimpleNamespace(room_id="dm-1", name="Bob Okafor", kind="direct", url="/rooms/dm-1/", unread=4),
               # nothing here is a slug, a known kind or a count: all of it escaped as the template did
               SimpleNamespace(room_id='x"<&y', name="Odd", kind='other"<kind', url='/a?b=1&c="2"', unread="7")]
    old, new = both({"your_rooms": entries, "current_room_id": "hike"})
    assert new == old
    assert 'href="/elsewhere/hike/"' in new and 'data-unread=""' in new
    assert 'sidebar-other&quot;&lt;kind" data-room="x&quot;&lt;&amp;y"' in new and 'href="/a?b=1&amp;c=&quot;2&quot;"' in new


def test_the_room_urls_follow_the_script_prefix_as_reverse_does():
    set_script_prefix("/chat/")  # as a request under SCRIPT_NAME sets it
    try:
        old, new = both({"your_rooms": VARIED, "current_room_id": "art"})
    finally:
        set_script_prefix("/")
    assert new == old and 'href="/chat/rooms/art/"' in new


def test_a_room_id_the_url_refuses_fails_as_the_template_did():
    bad = [room("Not A Slug", "Bad")]
    with pytest.raises(NoReverseMatch):
        both({"your_rooms": bad, "current_room_id": None})
    with pytest.raises(NoReverseMatch):
        entries_html(bad, None)


def test_a_room_name_with_markup_appears_only_escaped():
    name = "<img src=x onerror=alert(1)>"
    html = render_to_string("rooms/_your_rooms.html", {"your_rooms": [room("ab-12", name, "direct", unread=1)],
                                                       "current_room_id": None})
    assert "<img" not in html and "onerror=alert(1)>" not in html
    assert '<span class="sidebar-name">&lt;img src=x onerror=alert(1)&gt;</span>' in html
    html = str(entries_html([room("ab-12", '"><script>x</script>', "private")], "ab-12"))
    assert "<script>" not in html and "&quot;&gt;&lt;script&gt;x&lt;/script&gt;" in html
