"""Presence and typing against real gunicorn (gevent workers) and dynalite: a beat or a typing
signal posted on one server reaches another person's stream on the other server by the same path
as messages; typing is gone within 6 s of the last signal, at once when the typist's message
arrives, and "away" drops a member from Here now."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest

from tests.support.sse import Stream
from tests.support.web import Person

pytestmark = pytest.mark.integration


def open_stream(person: Person, room: str) -> Stream:
    return Stream(person.http, f"{person.base_url}{room}stream?w={quote(person.watermark(room))}").open()


def here(event, name: str) -> bool:
    return event.name == "presence" and f">{name}</li>" in event.data


def test_presence_and_typing_reach_another_persons_stream_on_the_other_server(gunicorn_server):
    one, two = gunicorn_server(), gunicorn_server()
    alice = Person(one.url)
    alice.sign_up("alice", "Alice")
    room = alice.create_room("Lobby")
    bob = Person(two.url)
    bob.sign_up("bob", "Bob")
    assert bob.post(room + "join", {}, form_path=room).status_code == 302
    stream = open_stream(bob, room)
    assert stream.status == 200
    stream.wait_for(lambda e: e.name == "presence")  # the list as it is, first

    assert alice.post(room + "presence", {"state": "here"}, form_path=room).status_code == 204
    stream.wait_for(lambda e: here(e, "Alice"), timeout=5)

    sent = time.monotonic()
    assert alice.post(room + "typing", {}, form_path=room).status_code == 204
    shown = stream.wait_for(lambda e: e.name == "typing" and e.data == "Alice is typing…", timeout=5)
    gone = stream.wait_for(lambda e: e.name == "typing" and e.data == "", timeout=10)
    assert shown.received - sent < 3.0  # loose: a shared host
    assert gone.received - sent < 6.0, gone.received - sent  # within 6 s of the last keystroke's signal

    time.sleep(3.1)  # past the per-user typing throttle
    assert alice.post(room + "typing", {}, form_path=room).status_code == 204
    stream.wait_for(lambda e: e.name == "typing" and e.data == "Alice is typing…", timeout=5)
    posted = time.monotonic()
    assert alice.post_message(room, "typed it").status_code == 200
    stream.wait_for(lambda e: e.name == "updates" and "typed it" in e.data, timeout=5)
    cleared = stream.wait_for(lambda e: e.name == "typing" and e.data == "", timeout=5)
    assert cleared.received - posted < 2.5  # at once with the message, not when the signal ages out

    assert alice.post(room + "presence", {"state": "away"}, form_path=room).status_code == 204
    stream.wait_for(lambda e: e.name == "presence" and ">Alice</li>" not in e.data, timeout=5)
    stream.close()


def test_a_private_rooms_signals_are_for_its_members(gunicorn_server):
    server = gunicorn_server()
    alice = Person(server.url)
    alice.sign_up("alice", "Alice")
    response = alice.post("/", {"name": "Den", "description": "", "private": "on"})
    room = response.headers["Location"]
    mallory = Person(server.url)
    mallory.sign_up("mallory", "Mallory")
    for path in ("presence", "typing"):
        answer = mallory.post(room + path, {"state": "here"}, form_path="/")
        assert answer.status_code == 404, (path, answer.status_code)
    assert alice.post(room + "presence", {"state": "here"}, form_path=room).status_code == 204
