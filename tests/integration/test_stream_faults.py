"""Pushed live delivery under faults, against real gunicorn (gevent workers) and dynalite: a worker
killed with kill -9, a gunicorn restart, a dynalite stalled for 10 s (SIGSTOP), a client that never
reads its stream, two servers whose clocks are 2 s apart, a revoked session and a removed member.

Tabs are tests/support/sse.Stream: on a dropped connection they resume the way EventSource does,
with the last id as Last-Event-ID (retrying while the server is away). Every tab must end with
every message exactly once, in order, including the ones posted while it was away.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import requests

from tests.integration.test_brownout import stallable  # noqa: F401 - a private dynalite to SIGSTOP
from tests.support.sse import Stream
from tests.support.web import Person, comments, wait_until

pytestmark = pytest.mark.integration

FAST = {"CHAT_LIVE_HEARTBEAT_SECONDS": "1", "CHAT_POST_RATE_LIMIT": "1000"}


def open_stream(person: Person, room: str, watermark: str) -> Stream:
    stream = Stream(person.http, f"{person.base_url}{room}stream?w={quote(watermark)}").open()
    assert stream.status == 200
    return stream


def is_open(stream: Stream) -> bool:
    return stream._thread is not None and stream._thread.is_alive()


def resume(stream: Stream, base_url: str | None = None, timeout: float = 30) -> Stream:
    """EventSource after a drop: the same URL (or the same path on ``base_url``, another host),
    Last-Event-ID = the last id received, retried until the server answers."""
    url = stream.url if base_url is None else base_url + urlsplit(stream.url).path
    deadline = time.monotonic() + timeout
    while True:
        again = Stream(stream.http, url, last_event_id=stream.last_event_id)
        again.events = stream.events
        try:
            if again.open().status == 200:
                return again
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, f"the stream did not reopen within {timeout} s"
        time.sleep(0.5)


def has(text: str):
    return lambda event: event.name == "updates" and text in comments(event.data)


def assert_exactly_once_in_order(stream: Stream, expected: list[str]) -> None:
    assert stream.comments() == expected
    assert len(stream.message_ids()) == len(set(stream.message_ids())) == len(expected)


def post(person: Person, room: str, text: str) -> None:
    """Post, retrying while the server is away (a connection refused or reset never stored it)."""
    wait_until(lambda: _posted(person, room, text), timeout=30, interval=0.3, message=f"posting {text!r}")


def _posted(person: Person, room: str, text: str) -> bool:
    try:
        return person.post_message(room, text).status_code == 200
    except (requests.ConnectionError, AssertionError):
        return False


def worker_pids(master: int) -> list[int]:
    """gunicorn's workers: the master's children."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == master:
                pids.append(int(entry.name))
    return sorted(pids)


@pytest.fixture
def room_with_tabs(gunicorn_server):
    """A server, Alice (signed in) with a public room and two messages, and six anonymous tabs
    streaming it that hold both."""

    def make(**env):
        server = gunicorn_server(**FAST, **env)
        alice = Person(server.url)
        alice.sign_up("alice", "Alice")
        room = alice.create_room("Faults")
        watermark = alice.watermark(room)
        tabs = [open_stream(Person(server.url), room, watermark) for _ in range(6)]
        expected = ["before 0", "before 1"]
        for text in expected:
            post(alice, room, text)
        for tab in tabs:
            tab.wait_for(has(expected[-1]))
        return server, alice, room, tabs, expected

    return make


def test_kill_9_of_a_worker_every_stream_resumes_with_nothing_lost_or_doubled(room_with_tabs):
    server, alice, room, tabs, expected = room_with_tabs()
    workers = worker_pids(server.proc.pid)
    assert len(workers) == 2
    killed = []
    for pid in workers:  # the first worker, and the second too if the first held none of the tabs
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)
        if wait_until_any_closed(tabs, timeout=5):
            break
    dropped = [n for n, tab in enumerate(tabs) if not is_open(tab)]
    assert dropped, "no stream was on a killed worker"

    for n in range(3):  # while the dropped tabs are away
        expected.append(f"while away {n}")
        post(alice, room, expected[-1])
    wait_until(lambda: len(set(worker_pids(server.proc.pid)) - set(killed)) == 2, message="workers respawned")
    tabs = [resume(tab) if n in dropped else tab for n, tab in enumerate(tabs)]
    expected.append("after")
    post(alice, room, "after")
    for tab in tabs:
        tab.wait_for(has("after"), timeout=15)
        assert_exactly_once_in_order(tab, expected)
        tab.close()


def wait_until_any_closed(streams: list[Stream], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(not is_open(stream) for stream in streams):
            time.sleep(0.5)  # the others on the same worker close about now too
            return True
        time.sleep(0.05)
    return False


def test_a_gunicorn_restart_every_stream_resumes_with_nothing_lost_or_doubled(room_with_tabs, gunicorn_server):
    server, alice, room, tabs, expected = room_with_tabs()
    other = gunicorn_server(**FAST)
    started = time.monotonic()
    server.stop()  # SIGTERM: graceful, streams end with their workers
    stopped_in = time.monotonic() - started
    assert wait_until(lambda: not any(is_open(tab) for tab in tabs), timeout=5)

    alice.base_url = other.url  # posted elsewhere while this server is down
    for n in range(3):
        expected.append(f"while down {n}")
        post(alice, room, expected[-1])
    server.start()  # the same port
    alice.base_url = server.url
    tabs = [resume(tab) for tab in tabs]
    expected.append("after")
    post(alice, room, "after")
    for tab in tabs:
        tab.wait_for(has("after"), timeout=15)
        assert_exactly_once_in_order(tab, expected)
        tab.close()
    assert stopped_in < 15  # within gunicorn's graceful_timeout (10 s), not the fixture's kill
    print(f"gunicorn stopped in {stopped_in:.1f} s with {len(tabs)} streams open")


def test_dynamodb_stalled_for_10_s_streams_stay_or_resume_and_lose_nothing(stallable):  # noqa: F811
    server = stallable.serve(**FAST)
    alice = Person(server.url)
    alice.sign_up("alice", "Alice")
    room = alice.create_room("Stall")
    watermark = alice.watermark(room)
    tabs = [open_stream(Person(server.url), room, watermark) for _ in range(4)]
    post(alice, room, "before")
    for tab in tabs:
        tab.wait_for(has("before"))

    stallable.stall()
    stalled_at = time.monotonic()
    during = threading.Thread(target=_posted, args=(alice, room, "during"), daemon=True)
    during.start()  # its fate is DynamoDB's: it may be stored when the stall ends, or not
    time.sleep(10)
    beats_in_stall = [sum(1 for e in tab.events if e.name == "beat" and e.received > stalled_at) for tab in tabs]
    stallable.resume()
    during.join(timeout=30)
    stayed_open = sum(is_open(tab) for tab in tabs)

    tabs = [tab if is_open(tab) else resume(tab) for tab in tabs]
    for n in range(2):
        post(alice, room, f"after {n}")
    truth = comments(alice.get(room).text)
    assert truth[0] == "before" and truth[-2:] == ["after 0", "after 1"]
    for tab in tabs:
        tab.wait_for(has("after 1"), timeout=20)
        assert_exactly_once_in_order(tab, truth)
        tab.close()
    print(f"stall: {stayed_open} of {len(tabs)} streams stayed open; beats during it {beats_in_stall}")


def server_side_state(server_port: int, client_port: int) -> tuple[str, int] | None:
    """The server end of a loopback TCP connection in /proc/net/tcp: (state, bytes in its send queue)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
            return fields[3], int(fields[4].split(":")[0], 16)
    return None


ESTABLISHED = "01"


def test_a_client_that_never_reads_is_dropped_and_the_other_streams_keep_receiving(gunicorn_server, settings):
    send_timeout = 2
    server = gunicorn_server(**FAST, GUNICORN_WORKERS="1", CHAT_LIVE_SEND_TIMEOUT_SECONDS=str(send_timeout))
    alice = Person(server.url)
    alice.sign_up("alice", "Alice")
    room = alice.create_room("Stuck")
    watermark = alice.watermark(room)
    reader = open_stream(Person(server.url), room, watermark)  # the same (only) worker

    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect(("127.0.0.1", server.port))
    stuck.sendall(f"GET {room}stream?w={quote(watermark)} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  f"Accept: text/event-stream\r\n\r\n".encode())
    client_port = stuck.getsockname()[1]
    wait_until(lambda: server_side_state(server.port, client_port), message="the server's end of the stuck stream")

    big = "x" * 3900
    posted: list[str] = []
    queued, last_growth, dropped_at = 0, time.monotonic(), None
    deadline = time.monotonic() + 90
    while dropped_at is None and time.monotonic() < deadline:
        posted.append(f"{len(posted)} {big}")
        post(alice, room, posted[-1])
        state = server_side_state(server.port, client_port)
        if state is None or state[0] != ESTABLISHED:
            dropped_at = time.monotonic()
        elif state[1] > queued:
            queued, last_growth = state[1], time.monotonic()
    assert dropped_at is not None, f"the stuck stream is still open after {len(posted)} posts ({queued} bytes queued)"
    # A bounded buffer: the kernel's send queue is capped for a stream (the default autotunes to
    # megabytes per connection), then it is dropped once a write has waited the send timeout.
    assert queued < 512 * 1024, f"{queued} bytes queued for a client that never reads"
    assert dropped_at - last_growth < send_timeout + 5
    posted.append("after the drop")
    post(alice, room, posted[-1])
    reader.wait_for(has("after the drop"), timeout=15)
    assert_exactly_once_in_order(reader, posted)
    reader.close()
    stuck.close()
    print(f"stuck stream dropped after {len(posted) - 1} posts, {queued} bytes in the server's send queue, "
          f"{dropped_at - last_growth:.1f} s after the queue stopped growing")


def test_two_servers_2_s_apart_a_tab_switching_between_them_loses_and_doubles_nothing(gunicorn_server):
    """Server A's clock is 2 s ahead of B's (CHAT_TEST_CLOCK_SKEW_MS). A message posted on A
    carries a time 2 s in B's future; a tab holding it that moves to B must not get it again, and
    one posted on B with an older time than A's latest must still arrive."""
    ahead = gunicorn_server(**FAST, CHAT_TEST_CLOCK_SKEW_MS="2000")
    behind = gunicorn_server(**FAST)
    alice_a = Person(ahead.url)
    alice_a.sign_up("alice", "Alice")
    room = alice_a.create_room("Skew")
    alice_b = Person(behind.url)
    alice_b.http.cookies.update(alice_a.http.cookies)
    skew = int(alice_a.watermark(room).split(".")[0]) - int(alice_b.watermark(room).split(".")[0])
    assert 1500 < skew < 2500, f"the servers' clocks are {skew} ms apart"
    tab = open_stream(Person(ahead.url), room, alice_a.watermark(room))
    posted = []

    def post_on(person: Person, text: str) -> None:
        posted.append(text)
        post(person, room, text)

    post_on(alice_a, "on A 0")
    post_on(alice_b, "on B 0")
    post_on(alice_a, "on A 1")
    tab.wait_for(has("on A 1"))
    tab.wait_for(lambda e: set(posted) <= set(tab.comments()), timeout=5)
    tab.close()

    tab = resume(tab, behind.url)  # the load balancer sends the reconnect to B
    end = time.monotonic() + 13  # through the overlap (10 s) plus the skew: every id ref's window
    n = 0
    while time.monotonic() < end:
        post_on(alice_a if n % 2 else alice_b, f"moved {n}")
        n += 1
        time.sleep(0.3)
    tab.wait_for(lambda e: set(posted) <= set(tab.comments()), timeout=10)
    tab.close()

    tab = resume(tab, ahead.url)  # and back to A
    post_on(alice_b, "back 0")
    post_on(alice_a, "back 1")
    tab.wait_for(lambda e: set(posted) <= set(tab.comments()), timeout=10)
    time.sleep(1.5)  # anything sent twice would have arrived by now
    got = tab.comments()
    assert sorted(got) == sorted(posted), [c for c in got if got.count(c) > 1]
    assert len(tab.message_ids()) == len(set(tab.message_ids()))
    tab.close()


@pytest.fixture
def rechecked(gunicorn_server):
    server = gunicorn_server(**FAST, CHAT_LIVE_STREAM_RECHECK_SECONDS="2")
    alice = Person(server.url)
    alice.sign_up("alice", "Alice")
    bob_phone = Person(server.url)
    bob_phone.sign_up("bob", "Bob")
    bob_laptop = Person(server.url)
    assert bob_laptop.sign_in("bob").status_code == 302
    return server, alice, bob_phone, bob_laptop


def wait_for_access_reload(stream: Stream, since: float, bound: float) -> float:
    reload = stream.wait_for(lambda e: e.name == "reload", timeout=bound + 10)
    assert reload.data == "access"
    took = reload.received - since
    assert took < bound, f"the stream lost access after {took:.1f} s"
    wait_until(lambda: not is_open(stream), timeout=5, message="the stream ends")
    return took


def test_sign_out_everywhere_ends_the_other_sessions_streams_within_the_recheck(rechecked):
    server, alice, bob_phone, bob_laptop = rechecked
    room = alice.create_room("Lobby")
    stream = open_stream(bob_phone, room, bob_phone.watermark(room))
    post(alice, room, "hello")
    stream.wait_for(has("hello"))
    revoked_at = time.monotonic()
    assert bob_laptop.post("/accounts/sessions/sign-out-others/", {},
                           form_path="/accounts/sessions/").status_code == 302
    # The recheck interval, plus the session check's own cache (ACCOUNTS_USER_RECHECK_SECONDS, 3 s).
    took = wait_for_access_reload(stream, revoked_at, bound=2 + 3 + 2)
    print(f"revoked session's stream ended after {took:.1f} s")


def test_a_removed_member_loses_the_private_rooms_stream_within_the_recheck(rechecked):
    server, alice, bob_phone, _ = rechecked
    assert alice.post("/", {"name": "Den", "description": "", "private": "on"}).status_code == 302
    room = "/rooms/den/"
    assert alice.post(f"{room}invite", {"username": "bob"}, form_path=room).status_code == 302
    stream = open_stream(bob_phone, room, bob_phone.watermark(room))
    post(alice, room, "secret")
    stream.wait_for(has("secret"))
    removed_at = time.monotonic()
    assert alice.post(f"{room}members/remove", {"user": "bob"}, form_path=f"{room}members/").status_code == 302
    took = wait_for_access_reload(stream, removed_at, bound=2 + 2)
    print(f"removed member's stream ended after {took:.1f} s")
    assert bob_phone.get(room).status_code == 404
