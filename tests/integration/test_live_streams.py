"""Pushed live delivery against real gunicorn (gevent workers) and dynalite: one stream per tab,
woken in-process by a post on the same server and within a refresh interval by a post on another,
resumed from Last-Event-ID with nothing lost or doubled, and ended when access ends."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest

from tests.support.sse import Stream
from tests.support.web import Person, comments

pytestmark = pytest.mark.integration


def open_stream(person: Person, room: str, watermark: str) -> Stream:
    return Stream(person.http, f"{person.base_url}{room}stream?w={quote(watermark)}").open()


@pytest.fixture
def two_servers(gunicorn_server):
    return gunicorn_server(), gunicorn_server()


def test_a_post_reaches_streams_on_the_same_and_the_other_server(two_servers):
    one, two = two_servers
    alice = Person(one.url)
    alice.sign_up("alice", "Alice")
    room = alice.create_room("Pushed")
    here = open_stream(Person(one.url), room, alice.watermark(room))
    there_person = Person(two.url)
    there = open_stream(there_person, room, there_person.watermark(room))
    assert here.status == 200 and there.status == 200
    assert here.response.headers["Content-Type"].startswith("text/event-stream")

    for n in range(5):
        sent = time.monotonic()
        assert alice.post_message(room, f"pushed {n}").status_code == 200
        near = here.wait_for(lambda e: e.name == "updates" and f"pushed {n}" in comments(e.data), timeout=5)
        far = there.wait_for(lambda e: e.name == "updates" and f"pushed {n}" in comments(e.data), timeout=5)
        # Loose bounds (shared host): in-process wake-up vs. one refresh interval away.
        assert near.received - sent < 2.0 and far.received - sent < 3.0
    assert here.comments() == there.comments() == [f"pushed {n}" for n in range(5)]
    here.close()
    there.close()


def test_a_dropped_stream_resumes_from_last_event_id_with_nothing_lost_or_doubled(two_servers):
    one, two = two_servers
    alice = Person(one.url)
    alice.sign_up("alice", "Alice")
    room = alice.create_room("Resume")
    bob = Person(two.url)
    stream = open_stream(bob, room, bob.watermark(room))
    alice.post_message(room, "before the drop")
    stream.wait_for(lambda e: "before the drop" in comments(e.data))
    stream.close()
    for text in ("while away 1", "while away 2"):
        alice.post_message(room, text)
    # Back on the other server, as a load balancer might send it: the id carries the cursor.
    moved = Stream(alice.http.__class__(), f"{one.url}{room}stream", last_event_id=stream.last_event_id)
    moved.events = stream.events
    moved.open()
    assert moved.status == 200
    moved.wait_for(lambda e: "while away 2" in comments(e.data))
    alice.post_message(room, "after")
    moved.wait_for(lambda e: "after" in comments(e.data))
    assert moved.comments() == ["before the drop", "while away 1", "while away 2", "after"]
    assert len(moved.message_ids()) == len(set(moved.message_ids())) == 4
    moved.close()


def test_a_stream_with_a_forged_cursor_is_refused_and_a_private_room_hides(two_servers):
    one, _ = two_servers
    alice = Person(one.url)
    alice.sign_up("alice", "Alice")
    room = alice.create_room("Open")
    assert open_stream(Person(one.url), room, "123.forged").status == 400
    assert Stream(Person(one.url).http, f"{one.url}/rooms/nowhere/stream?w=1").open().status == 404
