"""Live unread state against real gunicorn (gevent workers) and dynalite: a signed-in stream of
room C gets a `sidebar` event when someone posts in room A, through the activity feed, whichever
server the post went to; and a read on another server clears it."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import quote

import pytest

from tests.support.sse import Stream
from tests.support.web import Person

pytestmark = pytest.mark.integration


def open_stream(person: Person, room: str) -> Stream:
    return Stream(person.http, f"{person.base_url}{room}stream?w={quote(person.watermark(room))}").open()


def counts(event) -> dict:
    return json.loads(event.data)["rooms"]


def test_a_post_in_room_a_reaches_the_sidebar_of_a_stream_of_room_c(gunicorn_server):
    one, two = gunicorn_server(), gunicorn_server()
    alice = Person(one.url)
    alice.sign_up("alice", "Alice")
    rooms = {name: alice.create_room(name) for name in ("Apples", "Berries", "Cherries")}
    bob = Person(two.url)
    bob.sign_up("bob", "Bob")
    stream = open_stream(alice, rooms["Cherries"])
    assert stream.status == 200
    first = stream.wait_for(lambda e: e.name == "sidebar", timeout=5)
    assert set(counts(first).values()) == {0}
    time.sleep(1.5)  # the activity hub's first refresh (what it finds then notifies nobody)

    sent = time.monotonic()
    assert bob.post_message(rooms["Apples"], "fresh apples").status_code == 200  # joins, on the other server
    event = stream.wait_for(lambda e: e.name == "sidebar" and counts(e).get("apples") == 1, timeout=10)
    # Loose bound (shared host): one activity refresh (1 s) away, plus the post itself.
    assert event.received - sent < 5.0
    payload = json.loads(event.data)
    assert payload["total"] == 1 and "1 unread" in payload["badges"]["apples"] and "html" not in payload

    # Alice reads Apples through the other server: the stream's sidebar clears.
    page = Person(two.url)
    page.http.cookies.update(alice.http.cookies)
    body = page.get(rooms["Apples"]).text
    seq, pos = _newest(body)
    assert page.post(f"{rooms['Apples']}read", {"seq": seq, "pos": pos}, form_path=rooms["Apples"],
                     headers={"HX-Request": "true"}).status_code == 204
    stream.wait_for(lambda e: e.name == "sidebar" and counts(e).get("apples") == 0, timeout=10)
    stream.close()


def _newest(body: str) -> tuple[str, str]:
    found = re.findall(r'data-seq="(\d+)"[^>]*data-pos="([^"]+)"', body)
    assert found, "no message with a seq on the page"
    return found[-1]
