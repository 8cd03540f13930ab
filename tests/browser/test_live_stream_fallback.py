"""A tab whose stream is refused or buffered falls back to polls by itself (static/js/chat/stream.js)
and still gets messages live; it tries the stream again later and goes back to it once it works.

The servers here beat every second, so "two heartbeats" of silence is 2 s and the next try of the
stream comes 8 heartbeats after a failure (8 s), instead of 30 s and 2 minutes."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from tests.support.browser import sign_up
from tests.support.proxy import Proxy
from tests.support.stream_page import Watched
from tests.support.web import Person

FAST_BEATS = {"CHAT_LIVE_HEARTBEAT_SECONDS": "1"}


@pytest.fixture
def proxied(gunicorn_server):
    proxy = Proxy(gunicorn_server(**FAST_BEATS).port)
    yield proxy
    proxy.close()


def _room_with_reader(server_url: str, reader_url: str, new_context, name: str):
    alice = Person(server_url)  # posts straight to the server
    alice.sign_up("alice", "Alice")
    room = alice.create_room(name)
    bob = Watched(new_context().new_page())
    sign_up(bob.page, reader_url, "bob", "Bob")
    bob.page.goto(reader_url + room)
    return alice, room, bob


def _posts_arrive(alice, room, bob, texts) -> None:
    for text in texts:
        assert alice.post_message(room, text).status_code == 200
        expect(bob.page.locator("#messages li.message .comment", has_text=text)).to_have_count(1)


def test_a_refused_stream_falls_back_to_polls_then_returns_when_it_works(proxied, new_context):
    proxied.refuse_paths = ("/stream?",)  # a proxy that won't pass the stream: 502
    alice, room, bob = _room_with_reader(f"http://127.0.0.1:{proxied.upstream[1]}", proxied.url, new_context,
                                         "Refused")
    bob.wait_for_event("error")
    assert bob.events("error")[0]["state"] == 2  # CLOSED: EventSource gives up on an error status
    _posts_arrive(alice, room, bob, ["polled 1", "polled 2"])
    assert bob.polls() > 0 and not bob.events("updates")
    expect(bob.page.locator("#live-status")).to_have_text("")  # a fallback is not a failure

    proxied.refuse_paths = ()  # the stream is tried again after 8 heartbeats, and works
    bob.wait_for_event("beat", timeout=20)
    polls = bob.polls()
    _posts_arrive(alice, room, bob, ["streamed 1", "streamed 2"])
    bob.page.wait_for_timeout(2_000)
    assert bob.polls() <= polls + 1  # back on the stream (one poll may have been on its way)
    assert [c for c in bob.streamed_comments() if c.startswith("streamed")] == ["streamed 1", "streamed 2"]
    assert bob.shown() == ["polled 1", "polled 2", "streamed 1", "streamed 2"]
    assert len(proxied.stream_requests()) == 2


def test_a_buffered_stream_falls_back_to_polls_after_two_heartbeats(proxied, new_context):
    proxied.buffer_paths = ("/stream?",)  # a proxy that holds the stream's answer back
    alice, room, bob = _room_with_reader(f"http://127.0.0.1:{proxied.upstream[1]}", proxied.url, new_context,
                                         "Buffered")
    deadline = time.monotonic() + 10
    while not bob.polls():
        assert time.monotonic() < deadline, "the page never fell back to polls"
        bob.page.wait_for_timeout(100)
    _posts_arrive(alice, room, bob, ["through a buffering proxy"])
    assert bob.streams() >= 1 and not bob.events("open") and not bob.events("updates")


def test_a_server_that_serves_no_streams_answers_204_and_the_page_polls(gunicorn_server, new_context):
    site = gunicorn_server(CHAT_LIVE_STREAMS="off")
    alice, room, bob = _room_with_reader(site.url, site.url, new_context, "No streams")
    bob.wait_for_event("error")
    assert bob.events("error")[0]["state"] == 2
    _posts_arrive(alice, room, bob, ["polled here"])
    assert bob.streams() == 1 and bob.polls() > 0
