"""The live stream view and its channel, in-process (moto, Django's test client): what a stream
sends, how it resumes from Last-Event-ID, who may open one, when it ends, and what it costs."""

from __future__ import annotations

import re
import threading
import time

import pytest

from chatsite.dynamodb import count_calls
from rooms import live, services, streams, validators
from rooms.timestamps import now_ms
from tests.support.sessions import request_user, sign_in
from tests.support.web import comments

ALICE = request_user("alice")
ID_RE = re.compile(r"^id: (.*)$", re.M)


@pytest.fixture
def art(moto_tables, settings):
    settings.CHAT_LIVE_STREAMS = "on"
    settings.CHAT_LIVE_PUSH_REFRESH_SECONDS = 0.05
    settings.CHAT_LIVE_HEARTBEAT_SECONDS = 0.3
    return services.room_create(name="Art", created_by="alice")


def post(room, text: str):
    return services.message_post(room=room, author=ALICE, comment=text, idempotency_key=validators.new_token()).message


class Reader:
    """Reads a streaming response's chunks in a thread, as a server would send them."""

    def __init__(self, response):
        self.response = response
        self.chunks: list[str] = []
        self.done = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        try:
            for chunk in self.response.streaming_content:
                self.chunks.append(chunk.decode() if isinstance(chunk, bytes) else chunk)
        finally:
            self.done.set()

    def wait_for(self, text: str, timeout: float = 5) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for chunk in self.chunks:
                if text in chunk:
                    return chunk
            time.sleep(0.02)
        raise AssertionError(f"{text!r} not streamed; got {self.chunks}")

    def close(self):
        self.response.close()


def open_stream(client, room_id: str = "art", *, w: str | None = None, last_event_id: str | None = None):
    headers = {"HTTP_LAST_EVENT_ID": last_event_id} if last_event_id else {}
    params = {"w": w or live.watermark_token(room_id, now_ms())} if last_event_id is None else {}
    return client.get(f"/rooms/{room_id}/stream", params, **headers)


def test_without_gevent_the_stream_answers_204_so_the_page_polls(client, art, settings):
    settings.CHAT_LIVE_STREAMS = "auto"  # the test process is not gevent-patched
    assert streams.enabled() is False
    assert open_stream(client).status_code == 204


def test_a_stream_sends_what_is_owed_then_pushes_new_posts_with_the_cursor_as_id(client, art):
    before = post(art, "already there")
    response = open_stream(client, w=live.watermark_token("art", now_ms() - 2000))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/event-stream")
    assert response["X-Accel-Buffering"] == "no" and "no-cache" in response["Cache-Control"]
    reader = Reader(response)
    first = reader.wait_for("already there")
    assert first.startswith("event: updates\n") and f"m-{before.message_id}" in ID_RE.search(first).group(1)
    sent = post(art, "pushed <b>")
    chunk = reader.wait_for("pushed")
    assert "pushed &lt;b&gt;" in chunk and "<b>" not in chunk  # escaped, as on the page
    token, refs = streams.parse_id(ID_RE.search(chunk).group(1))
    assert live.watermark_from_token("art", token) > 0 and sent.dom_id in refs
    reader.wait_for("event: beat")  # idle: a heartbeat with the watermark
    reader.close()


def test_resuming_from_last_event_id_sends_only_what_the_tab_does_not_hold(client, art):
    reader = Reader(open_stream(client))
    post(art, "one")
    chunk = reader.wait_for("one")
    last_id = ID_RE.search(chunk).group(1)
    reader.close()
    post(art, "two")
    again = Reader(open_stream(client, last_event_id=last_id))
    resumed = again.wait_for("two")
    assert comments("".join(again.chunks)) == ["two"]  # "one" was in the id's refs: not sent again
    assert comments(resumed) == ["two"]
    again.close()


@pytest.mark.parametrize("w", ["", "12.forged", "1700000000000.AAAAAAAAAAAAAAAA"])
def test_a_cursor_the_site_did_not_issue_is_400(client, art, w):
    response = client.get("/rooms/art/stream", {"w": w})
    assert response.status_code == 400


def test_a_private_room_streams_only_to_members_and_hides_otherwise(client, moto_tables, settings):
    settings.CHAT_LIVE_STREAMS = "on"
    den = services.room_create(name="Den", created_by="alice", kind="private")
    token = live.watermark_for(den, now_ms())
    assert client.get("/rooms/den/stream", {"w": token}).status_code == 404  # signed out
    sign_in(client, "mallory")
    assert client.get("/rooms/den/stream", {"w": token}).status_code == 404  # not a member
    assert client.get("/rooms/never-made/stream", {"w": token}).status_code == 404  # the same answer
    sign_in(client, "alice")
    response = client.get("/rooms/den/stream", {"w": token})
    assert response.status_code == 200
    response.close()


def test_a_removed_member_gets_reload_and_the_stream_ends_within_the_recheck(client, moto_tables, settings):
    settings.CHAT_LIVE_STREAMS = "on"
    settings.CHAT_LIVE_HEARTBEAT_SECONDS = 0.2
    settings.CHAT_LIVE_STREAM_RECHECK_SECONDS = 0.5
    den = services.room_create(name="Den", created_by="alice", kind="private")
    services.membership_add(room=den, user_id="bob", display_name="Bob")
    sign_in(client, "bob")
    reader = Reader(client.get("/rooms/den/stream", {"w": live.watermark_for(den, now_ms())}))
    reader.wait_for("event: beat")
    assert not reader.done.is_set()
    removed_at = time.monotonic()
    services.membership_remove(room_id="den", user_id="bob")
    assert reader.done.wait(5), reader.chunks
    assert "event: reload\ndata: access" in reader.chunks[-1]
    assert time.monotonic() - removed_at < 0.5 + 0.2 + 2  # the recheck interval, plus slack


def test_a_signed_out_session_ends_a_public_room_stream_too(client, art, settings):
    settings.CHAT_LIVE_STREAM_RECHECK_SECONDS = 0.5
    sign_in(client, "bob")
    reader = Reader(open_stream(client))
    reader.wait_for("event: beat")
    client.session.flush()  # the session is gone from the store (sign out, sign out everywhere)
    assert reader.done.wait(5), reader.chunks
    assert "event: reload\ndata: access" in reader.chunks[-1]


def test_refresh_queries_do_not_grow_with_the_number_of_streams(client, art, monkeypatch):
    queries = []
    real = live.query_room_events

    def counted(room_id, since_ms, limit=None):
        queries.append(time.monotonic())
        return real(room_id, since_ms, limit)

    monkeypatch.setattr(live, "query_room_events", counted)

    WINDOW = 0.5  # seconds

    def rate(n_streams: int) -> float:
        readers = [Reader(open_stream(client)) for _ in range(n_streams)]
        for reader in readers:
            reader.wait_for("retry:")
        queries.clear()
        time.sleep(WINDOW)  # ~10 refreshes of one refresher; twenty streams' own would be ~200
        per_second = len(queries) / WINDOW
        for reader in readers:
            reader.close()
        return per_second

    one, twenty = rate(1), rate(20)
    assert 0 < one <= 1 / 0.05 + 2
    assert twenty <= one * 1.5 + 2, (one, twenty)  # one refresher per room, however many streams


def test_opening_a_stream_costs_the_room_and_one_refresh_then_nothing_per_stream(client, art):
    first = Reader(open_stream(client))
    first.wait_for("retry:")
    with count_calls() as calls:  # this thread: the view's own work for a second stream
        second = Reader(open_stream(client))
        second.wait_for("retry:")
    assert sum(calls.values()) == 0, calls  # room cached, feed warm: no DynamoDB call of its own
    first.close()
    second.close()


def test_a_stream_says_stalled_while_its_room_cannot_be_read_and_ok_after(client, art, monkeypatch):
    reader = Reader(open_stream(client))
    reader.wait_for("event: beat")  # at once: nothing was owed
    feed = streams.channel_for("art").feed
    real = feed.source
    down = {"now": True}

    def failing(room_id, since_ms, limit=None):
        if down["now"]:
            raise ConnectionError("DynamoDB unreachable")
        return real(room_id, since_ms, limit)

    monkeypatch.setattr(feed, "source", failing)
    reader.wait_for("event: status\ndata: stalled")
    down["now"] = False
    reader.wait_for("event: status\ndata: ok")
    post(art, "after the outage")
    reader.wait_for("after the outage")
    reader.close()


def test_a_post_is_rendered_once_for_all_the_streams_of_its_room(client, art, monkeypatch):
    from rooms import views

    renders = []
    real = views.loader.render_to_string

    def counting(template_name, *args, **kwargs):
        if template_name == "rooms/_updates.html":
            renders.append(template_name)
        return real(template_name, *args, **kwargs)

    monkeypatch.setattr(views.loader, "render_to_string", counting)
    readers = [Reader(open_stream(client)) for _ in range(5)]
    for reader in readers:
        reader.wait_for("event: beat")
    renders.clear()
    post(art, "for everyone")
    for reader in readers:
        reader.wait_for("for everyone")
        reader.close()
    assert len(renders) == 1


@pytest.mark.parametrize("data", ["one line", "two\nlines", "", "a\r\nb: c"])
def test_what_sse_writes_read_event_reads_back_as_eventsource_would(data):
    written = streams.sse("updates", data, "123.sig m-a,d-b")
    read = streams.read_event(written.removesuffix("\n\n"))
    assert (read.name, read.id, read.data) == ("updates", "123.sig m-a,d-b", data.replace("\r", " "))
    assert streams.read_event(": a comment") is None
    assert streams.read_event("retry: 2000").retry_ms == 2000
