"""Read-your-writes without JavaScript when the room page comes from memory: the redirect after a
plain post or deletion carries when it was done (``?sent=``), and a tail not refreshed since is not
used as it is. Two processes: this test process serves the pages (its tail is fresh, so a plain
page comes from memory), and the writes are made as by another process, whose posts this
process's feed and tail are never told of."""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest

from chatsite.dynamodb import count_calls
from rooms import live, selectors
from rooms.timestamps import now_ms
from tests.rooms.test_views import composer_key
from tests.support.seeding import messages_posted
from tests.support.sessions import request_user, sign_in


@pytest.fixture(autouse=True)
def fresh_for_long(settings):
    settings.CHAT_LIVE_REFRESH_SECONDS = 30  # this process's tail counts as fresh all along
    settings.CHAT_POST_RATE_LIMIT = 1000


@contextmanager
def on_another_process(room_id: str):
    """Whatever is written meanwhile is written by another process: this one's feed and tail learn
    of it only by reading DynamoDB."""
    feed = live.existing_feed(room_id)
    follower, events = feed.follower, dict(feed.events)
    feed.follower = None
    try:
        yield
    finally:
        feed.follower, feed.events = follower, events


def test_a_plain_post_on_another_process_shows_on_the_page_it_redirects_to(client, room):
    sign_in(client, "alice")
    page = client.get("/rooms/art/")  # this process's tail is loaded, fresh for the rest of the test
    with on_another_process("art"):
        posted = client.post("/rooms/art/messages", {"comment": "hello from the other host",
                                                     "idempotency_key": composer_key(page)})
    assert posted.status_code == 302 and re.fullmatch(r"/rooms/art/\?sent=\d+#latest", posted["Location"])
    # Without the write's time this process would show its memory, which is behind:
    assert "hello from the other host" not in client.get("/rooms/art/").content.decode()
    with count_calls() as calls:
        redirected = client.get(posted["Location"])
    assert "hello from the other host" in redirected.content.decode()
    assert calls["Query"] <= 3, calls  # the session, the sidebar, and the feed's one Query


def test_a_plain_deletion_on_another_process_is_gone_from_the_page_it_redirects_to(client, room):
    messages_posted(room, ["keep me", "delete me"], author=request_user("alice"))
    sign_in(client, "alice")
    assert "delete me" in client.get("/rooms/art/").content.decode()
    doomed = selectors.room_history(room_id="art").items[-1]
    with on_another_process("art"):
        deleted = client.post("/rooms/art/messages/delete", {"author": "alice", "sk": doomed.sk})
    assert deleted.status_code == 302
    assert "delete me" in client.get("/rooms/art/").content.decode()  # this process's memory is behind
    body = client.get(deleted["Location"]).content.decode()
    assert "delete me" not in body and "keep me" in body


def test_a_redirect_long_after_the_write_costs_nothing_more(client, room):
    sign_in(client, "alice")
    client.get("/rooms/art/")
    client.get("/rooms/art/")
    with count_calls() as calls:
        client.get("/rooms/art/?sent=1000")  # a bookmarked redirect: the tail is long past that write
    assert calls["Query"] <= 2, calls  # no refresh: the session and the sidebar at most


def test_a_time_from_the_future_is_ignored(client, room):
    sign_in(client, "alice")
    client.get("/rooms/art/")
    with count_calls() as calls:
        assert client.get("/rooms/art/?sent=99999999999999").status_code == 200
    assert calls["Query"] <= 2, calls


def test_a_cold_process_reads_the_recent_events_consistently_after_the_index(client, room):
    """The index may lag behind the write: after loading the tail from it, a page after the
    reader's own write also reads the room's recent events, consistently (the feed's Query)."""
    sign_in(client, "alice")
    with count_calls() as calls:
        page = client.get(f"/rooms/art/?sent={now_ms()}")
    assert page.status_code == 200
    feed = live.existing_feed("art")
    assert feed.watermark_ms is not None  # the feed has read the room's events
    assert feed.follower.view().watermark_ms == feed.watermark_ms  # and the tail took them in
    assert calls["Query"] <= 4, calls  # the session, the sidebar, the index, the recent events
