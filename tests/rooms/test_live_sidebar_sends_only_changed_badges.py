"""A live sidebar change costs a stream a few string operations, not a render of the whole list:
after the first `sidebar` event of a connection (the whole list, the current state), each event
carries the total, the counts and the badges ("N unread", "N mentions") of the rooms that changed,
as the page's own template draws them. A 200-room list is rendered once per stream open, never per
post: with a thousand members' streams open, a post would otherwise cost a thousand renders."""

from __future__ import annotations

import json
import re

from rooms import activity
from rooms.templatetags.chat_unread import badges_html
from tests.rooms.test_stream_user_side import open_stream, post, rooms, wait_primed  # noqa: F401
from tests.support.sessions import sign_in


def test_later_sidebar_events_carry_only_the_changed_badges(client, rooms, monkeypatch):
    renders = []
    real = activity.UserSide.__init__

    def counting(self, *, render, **kwargs):
        def counted(state):
            renders.append(1)
            return render(state)
        real(self, render=counted, **kwargs)

    monkeypatch.setattr(activity.UserSide, "__init__", counting)
    sign_in(client, "alice")
    reader = open_stream(client)
    first = json.loads(reader.wait_for("sidebar"))
    assert 'id="your-rooms"' in first["html"]
    wait_primed()
    post(rooms["art"], "one")
    post(rooms["art"], "two")
    post(rooms["books"], "@alice look")
    data = reader.wait_for("sidebar", lambda d: json.loads(d)["rooms"] == {"art": 2, "books": 1, "cafe": 0})
    later = [json.loads(d) for d in reader.events("sidebar")[1:]]
    assert later and all("html" not in event for event in later)
    assert {rid for event in later for rid in event["badges"]} == {"art", "books"}  # cafe never changed
    last = json.loads(data)
    assert last["total"] == 3
    assert renders == [1]  # the whole list: once, for the first event
    reader.close()
    # The badges are the page's: the same markup inside the room's entry of a freshly served page.
    page = client.get("/rooms/cafe/").content.decode()
    for room_id, (unread, mentions) in {"art": (2, 0), "books": (1, 1)}.items():
        entry = re.search(rf'data-room="{room_id}".*?<span class="sidebar-badges">(.*?)</span>\s*</a>', page, re.S)
        assert entry and entry.group(1) == badges_html(unread, mentions)
    newest = {}
    for event in later:
        newest.update(event["badges"])
    assert newest == {"art": badges_html(2, 0), "books": badges_html(1, 1)}
