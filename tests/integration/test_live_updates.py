"""Live updates over HTTP against dynalite: the poll endpoint, its cost, and the correctness cases
(same timestamp, index lag, 2 s clock skew, reconnect, deletions) end to end."""

from __future__ import annotations

import re

import pytest
from django.contrib.sessions.backends.base import SessionBase
from django.test import Client

from chatsite.dynamodb import count_calls
from rooms import live, services, validators
from rooms.timestamps import now_ms
from tests.support.sessions import request_user, sign_in

pytestmark = pytest.mark.integration
ALICE = request_user("alice")


@pytest.fixture
def room(dynalite_tables, settings):
    settings.CHAT_LIVE_REFRESH_SECONDS = 0  # most tests drive refreshes themselves
    return services.room_create(name="Art", created_by="alice")


class Tab:
    """A browser tab running the page's live-update protocol (static/js/chat/cursor.js) over the test client."""

    def __init__(self, client: Client, watermark: int, room_id: str = "art"):
        self.client, self.watermark, self.room_id = client, watermark, room_id
        self.token = live.watermark_token(room_id, watermark)  # as a server handed it out then
        self.held: dict[str, int] = {}
        self.received: list[str] = []

    def poll(self):
        floor = self.watermark - live.RoomFeed("x").overlap_ms
        seen = ",".join(ref for ref, at in self.held.items() if at > floor)
        response = self.client.get(f"/rooms/{self.room_id}/updates", {"w": self.token, "seen": seen})
        assert response.status_code in (200, 204), response.content
        body = response.content.decode()
        for dom_id, at in re.findall(r'<li class="message" id="(m-[^"]+)" data-at="(\d+)"', body):
            self.received.append(dom_id)
            self.held[dom_id] = int(at)
        for message_id, at in re.findall(r'data-deleted="([^"]+)" data-at="(\d+)"', body):
            self.received.append(f"d-{message_id}")
            self.held[f"d-{message_id}"] = int(at)
            self.held.pop(f"m-{message_id}", None)
        self.token = response["Chat-Watermark"]
        self.watermark = live.watermark_from_token(self.room_id, self.token)
        return response

    @property
    def messages(self) -> set[str]:
        return {ref for ref in self.held if ref.startswith("m-")}

    def assert_exactly_once(self):
        assert len(self.received) == len(set(self.received)), self.received


def post(room, text):
    return services.message_post(room=room, author=ALICE, comment=text, idempotency_key=validators.new_token())


def test_poll_answers_204_with_a_watermark_when_nothing_is_new(client, room):
    response = client.get("/rooms/art/updates", {"w": live.watermark_token("art", now_ms())})
    assert response.status_code == 204 and live.watermark_from_token("art", response["Chat-Watermark"]) > 0
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize("query", ["", "w=abc", "w={w}&seen=x-1", "w={w}&seen=m-short",
                                   "w={w}&seen=" + ",".join(f"m-{n:020d}" for n in range(401))])
def test_malformed_poll_cursor_is_400(client, room, query):
    assert client.get(f"/rooms/art/updates?{query.format(w=live.watermark_token('art', now_ms()))}").status_code == 400


def test_poll_delivers_new_messages_once_and_escapes_them(client, room):
    tab = Tab(client, now_ms())
    message = post(room, "<b>hi</b>").message
    response = tab.poll()
    assert response.status_code == 200 and "&lt;b&gt;hi&lt;/b&gt;" in response.content.decode()
    assert tab.messages == {message.dom_id}
    assert tab.poll().status_code == 204
    tab.assert_exactly_once()


def test_poll_never_reads_the_session(client, room, monkeypatch):
    sign_in(client, "alice")
    loads = []
    real = SessionBase._get_session
    monkeypatch.setattr(SessionBase, "_get_session", lambda self, *a, **k: loads.append(1) or real(self, *a, **k))
    Tab(client, now_ms()).poll()
    post(room, "hello")
    Tab(client, now_ms() - 5000).poll()
    assert loads == []


def test_twenty_tabs_polling_cost_about_one_refresh_per_interval(room, settings):
    settings.CHAT_LIVE_REFRESH_SECONDS = 0.5
    tabs = []
    for n in range(20):
        client = Client()
        sign_in(client, f"user{n}")  # signed-in tabs: the poll still must not read their sessions
        tabs.append(Tab(client, now_ms()))
    post(room, "hello")
    tabs[0].poll()  # warm: room meta cached, feed built
    with count_calls() as calls:
        for _ in range(3):  # three rounds of 20 polls, well inside one refresh interval or two
            for tab in tabs:
                tab.poll()
    total = sum(calls.values())
    assert total <= 2 * 2, calls  # at most two refreshes of two Queries each, for 60 polls
    assert all(tab.messages for tab in tabs)


def test_two_messages_sharing_a_timestamp_both_arrive(client, room, monkeypatch):
    tab = Tab(client, now_ms())
    fixed = now_ms()
    monkeypatch.setattr(services, "now_ms", lambda: fixed)
    first, second = post(room, "one"), post(room, "two")
    assert first.message.created_at == second.message.created_at
    tab.poll()
    assert tab.messages == {first.message.dom_id, second.message.dom_id}
    tab.poll()
    tab.assert_exactly_once()


def test_a_late_visible_event_is_delayed_but_not_lost(client, room, monkeypatch):
    """An event that a refresh doesn't see yet (a slow put; before live events, index lag)."""
    hidden = set()
    real = live.query_room_events

    def lagging_source(room_id, since_ms, limit=None):
        messages, deletions, *rest = real(room_id, since_ms, limit)  # and signals, changes
        return [m for m in messages if m.message_id not in hidden], deletions, *rest

    monkeypatch.setattr(live, "query_room_events", lagging_source)
    tab = Tab(client, now_ms())
    message = post(room, "late").message
    hidden.add(message.message_id)
    assert tab.poll().status_code == 204
    assert tab.poll().status_code == 204
    hidden.clear()  # the index catches up
    tab.poll()
    assert tab.messages == {message.dom_id}
    tab.poll()
    tab.assert_exactly_once()


def test_a_server_with_a_clock_two_seconds_behind(client, room, monkeypatch):
    tab = Tab(client, now_ms())
    ahead = post(room, "from the server on time").message
    tab.poll()
    behind_clock = now_ms() - 2000
    monkeypatch.setattr(services, "now_ms", lambda: behind_clock)
    behind = post(room, "from the server 2 s behind").message
    assert behind.created_at < ahead.created_at
    tab.poll()
    tab.poll()
    assert tab.messages == {ahead.dom_id, behind.dom_id}
    tab.assert_exactly_once()


def test_reconnecting_with_an_old_cursor_gets_everything_once(client, room, monkeypatch):
    start = now_ms()
    tab = Tab(client, start - 60_000)  # it last heard from us a minute ago
    tab.held = {}
    for n, age in enumerate((55_000, 40_000, 20_000, 1_000)):  # posted while it was away
        monkeypatch.setattr(services, "now_ms", lambda age=age: start - age)
        post(room, f"away{n}")
    with count_calls() as calls:
        tab.poll()  # beyond the feed's memory: answered by a direct query
    assert len(tab.messages) == 4 and calls["Query"] >= 2
    tab.poll()
    tab.poll()
    tab.assert_exactly_once()


def test_deletions_propagate_to_tabs(client, room):
    sign_in(client, "alice")
    tab = Tab(Client(), now_ms())
    message = post(room, "oops").message
    tab.poll()
    assert tab.messages == {message.dom_id}
    response = client.post("/rooms/art/messages/delete", {"author": "alice", "sk": message.sk},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    tab.poll()
    assert tab.messages == set() and f"d-{message.message_id}" in tab.received
    tab.poll()
    tab.assert_exactly_once()
    newcomer = Tab(Client(), now_ms() - 5000)
    newcomer.poll()
    assert newcomer.messages == set() and message.dom_id not in newcomer.received
