"""The benchmark's readers of the measured rooms are like a busy room's: most caught up, a stated
minority with a few unread (within the room tail), a few with more unread than the tail holds.
bench/data.py READER_MIX, seed.seed_read_cursors, and the calls per page by reader group that
wrk_phase.lua counts and the report shows."""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings
from django.urls import reverse

from bench import data, report, wrk
from bench.seed import reader_mix_text, seed_read_cursors
from chatsite import dynamodb
from rooms import selectors
from rooms import services as room_services
from rooms.validators import new_token
from tests.support.sessions import sign_in


def test_most_readers_are_caught_up_and_the_minorities_are_spread_over_the_sessions():
    groups = data.reader_groups(240)

    assert Counter(groups) == {"caught-up": 192, "few-unread": 36, "many-unread": 12}
    assert groups[0] == "caught-up"  # the profiled and checked session reads the newest page
    # wrk takes the sessions in turn: any 20 in a row have the mix, give or take one.
    for start in range(0, 240 - 20):
        window = Counter(groups[start:start + 20])
        assert 15 <= window["caught-up"] <= 17 and window["many-unread"] <= 2, (start, window)
    assert set(data.reader_groups(3)) == {"caught-up", "few-unread", "many-unread"}  # a smoke run has each
    assert data.reader_groups(2) == ["caught-up", "caught-up"]


def test_unread_counts_fall_inside_and_beyond_what_the_room_tail_holds():
    groups = data.reader_groups(240)
    unread = data.reader_unread(groups, 100)
    tail_holds = settings.CHAT_HISTORY_PAGE_SIZE - selectors.HISTORY_CONTEXT  # rooms.room_tail.room_page_around

    by_group = {g: [u for gg, u in zip(groups, unread) if gg == g] for g in set(groups)}
    assert set(by_group["caught-up"]) == {0}
    assert min(by_group["few-unread"]) >= 1 and max(by_group["few-unread"]) < tail_holds
    assert min(by_group["many-unread"]) > settings.CHAT_HISTORY_PAGE_SIZE + 1
    assert max(by_group["many-unread"]) == 100
    assert len(set(by_group["few-unread"])) > 10  # spread over the range, not one value
    assert reader_mix_text(groups, unread) == "192 caught up, 36 with 1–30 unread, 12 with 60–100 unread"
    assert max(data.reader_unread(groups, 40)) == 40  # never more than the room has


def test_seeded_read_cursors_open_each_reader_where_they_stopped_reading(moto_tables, client, settings):
    settings.CHAT_POST_RATE_LIMIT = 1000  # the seed posts as fast as it can, as bench/run.py allows
    settings.CHAT_LIVE_REFRESH_SECONDS = 60  # a slow host: the warm tail stays fresh, no refresh Query
    # The many-unread reader's page from DynamoDB, as the bench's cold rooms read it (a hot room's
    # tail deepened for it: tests/rooms/test_hot_room_tail_deepened.py).
    settings.CHAT_ROOM_TAIL_DEEP_MAX = 0
    owner = sign_in(client, "benchowner")
    room = room_services.room_create(name="Busy room", description="", created_by=owner.id,
                                     created_by_name=owner.display_name)
    readers = [sign_in(client, name) for name in ("caught", "few", "many")]
    for reader in readers:
        room_services.room_join(room=room, user=reader)
    posted = [room_services.message_post(room=room, author=owner, comment=f"message {i}",
                                         idempotency_key=new_token()).message for i in range(60)]

    moved = seed_read_cursors(readers, [0, 10, 60], [posted])

    assert moved == 2  # every message unread: the cursor stays where the join put it
    entries = {r.room_id: r for r in selectors.with_unread(selectors.user_rooms(user_id="few"), cached=False)}
    assert entries[room.room_id].unread == 10
    pages = {}
    for reader in readers:
        sign_in(client, reader.id)
        pages[reader.id] = client.get(reverse("rooms:room", args=[room.room_id])).content.decode()
    assert 'id="new-messages"' not in pages["caught"]  # the newest page
    marker = pages["few"].index('id="new-messages"')
    assert pages["few"].index(">message 49<") < marker < pages["few"].index(">message 50<")
    assert pages["many"].index('id="new-messages"') < pages["many"].index(">message 0<")
    # The caught-up and few-unread readers' pages come from the room tail (warm now); the
    # many-unread reader's from DynamoDB: room_history_around's two Queries more.
    calls = {}
    for reader in readers:
        sign_in(client, reader.id)
        with dynamodb.count_calls() as counted:
            client.get(reverse("rooms:room", args=[room.room_id]))
        calls[reader.id] = counted["Query"]
    assert calls["caught"] == calls["few"] and calls["many"] == calls["caught"] + 2, calls


class ReaderEcho(BaseHTTPRequestHandler):
    """Answers like bench/middleware.py: a caught-up reader's page costs 1 call, the others 3."""

    protocol_version = "HTTP/1.1"
    seen: Counter = Counter()
    lock = threading.Lock()

    def do_GET(self):  # noqa: N802 (http.server's name)
        cookie = dict(part.split("=", 1) for part in self.headers.get("Cookie", "").split("; ") if "=" in part)
        reader = cookie.get(data.READER_COOKIE, "")
        with self.lock:
            type(self).seen[reader] += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.send_header("X-DynamoDB-Calls", "Query=1" if reader == "caught-up" else "Query=3")
        self.send_header("X-Bench-Process", "pid=1,Query=1")
        self.send_header("X-Bench-Path", self.path)
        self.send_header("X-Bench-Sent", self.headers.get("X-Bench-Sent", ""))
        if reader:
            self.send_header("X-Bench-Reader", reader)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.mark.integration  # starts wrk
@pytest.mark.skipif(not wrk.available(), reason="wrk is not installed (make wrk)")
def test_wrk_counts_calls_per_page_by_reader_group():
    ReaderEcho.seen = Counter()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), ReaderEcho)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    groups = data.reader_groups(20)
    cookies = [f"sessionid=s{i}; {data.READER_COOKIE}={g}" for i, g in enumerate(groups)]
    try:
        result = wrk.summary(wrk.run(host=f"http://127.0.0.1:{httpd.server_address[1]}", paths=["/r"],
                                     cookies=cookies, user_agent="test", connections=4, warmup=0.5, seconds=1))
    finally:
        httpd.shutdown()
        httpd.server_close()

    readers = result["by_reader"]
    assert set(readers) == {"caught-up", "few-unread", "many-unread"}
    assert sum(r["requests"] for r in readers.values()) == result["requests"]
    assert readers["caught-up"]["calls_per_request_total"] == 1 and readers["few-unread"]["calls_max"] == 3
    assert readers["caught-up"]["requests"] / result["requests"] == pytest.approx(0.8, abs=0.05)
    assert result["calls_per_request_total"] == pytest.approx(0.8 * 1 + 0.2 * 3, abs=0.1)


def test_report_states_the_mix_and_the_calls_per_page_of_each_group():
    groups = data.reader_groups(20)
    seeded = {"reader_groups": groups, "reader_unread": data.reader_unread(groups, 100), "small_messages": 100}
    page = {"phase": {"key": "room_page", "label": "room page (100 msgs)"}, "requests": 100,
            "calls_per_request": {"Query": 1.4}, "calls_per_request_total": 1.4, "calls_max": 4,
            "by_reader": {"many-unread": {"requests": 5, "calls_per_request_total": 4.0, "calls_max": 4},
                          "caught-up": {"requests": 80, "calls_per_request_total": 1.0, "calls_max": 2},
                          "few-unread": {"requests": 15, "calls_per_request_total": 1.2, "calls_max": 3}}}
    sidebar = {**page, "phase": {"key": "sidebar", "label": "sidebar"}}
    results = {"seeded": seeded, "phases": [page, sidebar]}

    assert report.reader_mix(seeded) == "16 caught up, 3 with 1–30 unread, 1 with 80 unread"
    assert report.reader_rows(results) == [
        ["room page (100 msgs)", "caught-up (16 users, 0 unread)", "80%", "1.00", "2"],
        ["room page (100 msgs)", "few-unread (3 users, 1–30 unread)", "15%", "1.20", "3"],
        ["room page (100 msgs)", "many-unread (1 users, 80 unread)", "5%", "4.00", "4"]]  # not the sidebar's
    steady = report.room_call_targets(results)[0]
    assert "caught-up 1.00" in steady[1] and "many-unread 4.00" in steady[1]
    assert steady[2] == "**not met**"  # judged on the whole mix's mean, not on the caught-up readers alone
    assert "before the reader mix" in report.reader_mix({"small_messages": 100})
