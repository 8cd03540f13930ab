"""A signed-in room stream carries its user's side: `sidebar` events (the "Your rooms" list and
the counts, first the current state, then whenever they change: a post in another room, a read
in another tab) and `notify` events for messages their setting asks for, never their own. Driven
in-process (moto, Django's test client), as tests/rooms/test_streams.py drives streams."""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import urlencode

import pytest

from chatsite import keys
from chatsite.dynamodb import count_calls
from chatsite.sse import read_event
from rooms import activity, live, services, validators
from rooms.models import UserRoomRecord
from rooms.timestamps import now_ms
from tests.support.sessions import request_user, sign_in

BOB = request_user("bob")


class Reader:
    """Reads a streaming response in a thread; ``events(name)`` are the SSE events so far."""

    def __init__(self, response):
        self.response = response
        self.text = ""
        self.done = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        try:
            for chunk in self.response.streaming_content:
                self.text += chunk.decode() if isinstance(chunk, bytes) else chunk
        finally:
            self.done.set()

    def events(self, name: str) -> list[str]:
        found = []
        for block in self.text.split("\n\n"):
            event = read_event(block)
            if event is not None and event.name == name:
                found.append(event.data)
        return found

    def wait_for(self, name: str, predicate=lambda data: True, timeout: float = 8) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for data in self.events(name):
                if predicate(data):
                    return data
            time.sleep(0.02)
        raise AssertionError(f"no {name} event as wanted; got {self.text!r}")

    def close(self):
        self.response.close()


@pytest.fixture
def rooms(moto_tables, settings):
    """Alice is in art, books and cafe (bob in all three); bob posts, alice watches cafe."""
    settings.CHAT_LIVE_STREAMS = "on"
    settings.CHAT_LIVE_PUSH_REFRESH_SECONDS = 0.05
    settings.CHAT_LIVE_HEARTBEAT_SECONDS = 0.3
    settings.CHAT_ACTIVITY_REFRESH_SECONDS = 0.05
    made = {}
    for name in ("Art", "Books", "Cafe"):
        room = services.room_create(name=name, created_by="alice")
        services.room_join(room=room, user=BOB)
        made[room.room_id] = room
    return made


def post(room, text="hi", author=BOB):
    return services.message_post(room=room, author=author, comment=text, idempotency_key=validators.new_token()).message


def open_stream(client, room_id="cafe"):
    return Reader(client.get(f"/rooms/{room_id}/stream", {"w": live.watermark_token(room_id, now_ms())}))


def counts(data: str) -> dict:
    return json.loads(data)["rooms"]


def wait_primed():
    """The hub has made its first refresh (what it found then notifies nobody)."""
    hub = activity.hub()
    deadline = time.monotonic() + 5
    while hub.queries < hub.shards and time.monotonic() < deadline:
        time.sleep(0.02)


def test_the_first_sidebar_event_is_the_current_state(client, rooms):
    post(rooms["art"], "one")
    post(rooms["art"], "two")
    sign_in(client, "alice")
    reader = open_stream(client)
    first = json.loads(reader.wait_for("sidebar"))
    assert first["rooms"] == {"art": 2, "books": 0, "cafe": 0} and first["total"] == 2
    assert 'id="your-rooms"' in first["html"] and "2 unread" in first["html"]
    assert 'aria-current="page"' in first["html"] and 'name="csrfmiddlewaretoken"' in first["html"]
    reader.close()


def test_posts_in_other_rooms_and_reads_in_other_tabs_reach_the_sidebar(client, rooms):
    sign_in(client, "alice")
    reader = open_stream(client)
    reader.wait_for("sidebar")
    wait_primed()
    post(rooms["art"])
    post(rooms["books"])
    data = reader.wait_for("sidebar", lambda d: counts(d) == {"art": 1, "books": 1, "cafe": 0})
    assert json.loads(data)["total"] == 2
    # Alice reads art in another tab (or device): this stream's sidebar clears it.
    message = post(rooms["art"], "second")
    reader.wait_for("sidebar", lambda d: counts(d)["art"] == 2)
    services.read_cursor_advance(user_id="alice", room_id="art", seq=message.seq, pos=message.sk)
    reader.wait_for("sidebar", lambda d: counts(d) == {"art": 0, "books": 1, "cafe": 0})
    # ...and marks the newest one unread there: the count comes back.
    services.read_cursor_set_before(user_id="alice", message=message)
    reader.wait_for("sidebar", lambda d: counts(d)["art"] == 1)
    reader.close()


def test_a_reconnect_starts_from_the_state_not_from_what_was_missed(client, rooms):
    sign_in(client, "alice")
    reader = open_stream(client)
    reader.wait_for("sidebar")
    reader.close()
    post(rooms["books"])  # while the tab was disconnected
    again = open_stream(client)
    assert counts(again.wait_for("sidebar"))["books"] == 1
    again.close()


def set_notify(user_id, room_id, level):
    UserRoomRecord(keys.user_pk(user_id), keys.user_room_sk(room_id)).update(
        actions=[UserRoomRecord.notify.set(level)])


def test_notify_follows_the_setting_and_never_for_ones_own_message(client, rooms):
    set_notify("alice", "art", "all")
    set_notify("alice", "books", "none")
    sign_in(client, "alice")
    reader = open_stream(client)
    reader.wait_for("sidebar")
    wait_primed()
    own = post(rooms["art"], "mine", author=request_user("alice"))
    quiet = post(rooms["books"], "nobody asked")
    plain = post(rooms["cafe"], "default: mentions only")  # not notified
    wanted = post(rooms["art"], "look at this")
    note = json.loads(reader.wait_for("notify"))
    assert note == {"id": wanted.message_id, "room": "art", "title": "Bob in Art", "body": "look at this",
                    "url": f"/rooms/art/?{urlencode({'at': wanted.sk})}#m-{wanted.message_id}",
                    "mention": False}
    shout = post(rooms["cafe"], "@room lunch?")  # @room is a mention for every member
    data = reader.wait_for("notify", lambda d: json.loads(d)["id"] == shout.message_id)
    assert json.loads(data)["mention"] is True and json.loads(data)["title"] == "Bob mentioned you in Cafe"
    ids = [json.loads(d)["id"] for d in reader.events("notify")]
    assert ids == [wanted.message_id, shout.message_id]
    assert not {own.message_id, quiet.message_id, plain.message_id} & set(ids)
    reader.close()


def test_a_mention_event_notifies_in_a_mentions_only_room(client, rooms):
    sign_in(client, "alice")
    reader = open_stream(client)
    reader.wait_for("sidebar")
    wait_primed()
    message = post(rooms["books"], "hey alice")
    activity.put_events([activity.mention_item(user_id="alice", message=message, room=rooms["books"])])
    data = json.loads(reader.wait_for("notify"))
    assert (data["id"], data["mention"], data["title"]) == (message.message_id, True, "Bob mentioned you in Books")
    time.sleep(0.3)
    assert len(reader.events("notify")) == 1  # the post and its mention: one notification
    reader.close()


def test_a_signed_out_stream_has_no_user_side(client, rooms):
    reader = open_stream(client)
    deadline = time.monotonic() + 0.6
    while time.monotonic() < deadline and "event: beat" not in reader.text:
        time.sleep(0.02)
    assert "event: beat" in reader.text and reader.events("sidebar") == []
    reader.close()


def test_opening_a_signed_in_stream_costs_the_session_and_the_sidebar_reads(client, rooms):
    sign_in(client, "alice")
    warm = open_stream(client)  # the room's feed warm, as on a busy process
    warm.wait_for("sidebar")
    with count_calls() as calls:  # this thread: the view's own work
        reader = open_stream(client)
        reader.wait_for("sidebar")
    # the session Query; the user's side: the sidebar Query, the rooms' Seqs (cached here: 0-1 call)
    assert calls["Query"] == 2 and calls.get("BatchGetItem", 0) <= 1 and sum(calls.values()) <= 3, calls
    warm.close()
    reader.close()


def test_a_stream_that_ends_ends_its_subscription(client, rooms, settings):
    settings.CHAT_LIVE_STREAM_RECHECK_SECONDS = 0.3
    sign_in(client, "alice")
    reader = open_stream(client)
    reader.wait_for("sidebar")
    assert activity.hub().subscriptions == 1
    client.session.flush()  # signed out: the stream ends at its next check
    assert reader.done.wait(5)
    deadline = time.monotonic() + 5
    while activity.hub().subscriptions and time.monotonic() < deadline:
        time.sleep(0.02)
    assert activity.hub().subscriptions == 0
