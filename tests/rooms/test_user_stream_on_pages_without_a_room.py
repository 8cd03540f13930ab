"""Every open tab with the sidebar keeps it live, not only room tabs: the Mentions page, a person's
page, a member list and New message open the user's own stream (`/live/`), which sends the same
`sidebar` and `notify` events a room stream's user side sends, from the activity feed."""

from __future__ import annotations

import json
import re

from rooms import services
from tests.rooms.test_stream_user_side import BOB, Reader, counts, post, rooms, set_notify, wait_primed  # noqa: F401
from tests.support.sessions import sign_in

LIVE = re.compile(r'<div id="user-live" data-stream-url="/live/" hidden></div>')


def test_signed_out_or_without_streams_it_is_204(client, rooms, settings):
    assert client.get("/live/").status_code == 204
    sign_in(client, "alice")
    settings.CHAT_LIVE_STREAMS = "off"
    assert client.get("/live/").status_code == 204


def test_the_user_stream_sends_the_sidebar_then_its_changes_and_notifications(client, rooms):
    set_notify("alice", "books", "all")
    post(rooms["art"], "before")
    sign_in(client, "alice")
    response = client.get("/live/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/event-stream")
    assert "no-store" in response["Cache-Control"]
    reader = Reader(response)
    first = json.loads(reader.wait_for("sidebar"))
    assert first["rooms"] == {"art": 1, "books": 0, "cafe": 0} and 'id="your-rooms"' in first["html"]
    assert 'aria-current="page"' not in first["html"]  # no room is open on this page
    wait_primed()
    message = post(rooms["books"], "a new book")
    reader.wait_for("sidebar", lambda d: counts(d).get("books") == 1)
    note = json.loads(reader.wait_for("notify"))
    assert note["id"] == message.message_id and note["room"] == "books"
    reader.close()


def test_pages_with_the_sidebar_and_no_room_open_the_user_stream_and_room_pages_do_not(client, rooms):
    services.message_post(room=rooms["art"], author=BOB, comment="@alice hi", idempotency_key="k" * 22)
    sign_in(client, "alice")
    for path in ("/mentions/", "/u/alice/", "/rooms/art/members/", "/direct/new/"):
        page = client.get(path).content.decode()
        assert LIVE.search(page), path
        assert 'src="/static/js/chat/pages.js"' in page or "js/chat/pages" in page, path
    room_page = client.get("/rooms/art/").content.decode()
    assert not LIVE.search(room_page)  # the room's own stream carries the user's side
