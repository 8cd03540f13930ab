"""A deploy under load loses nothing: people keep posting and watching while gunicorn's master is
sent SIGHUP (every worker replaced) and then SIGTERM (a graceful stop), and a new gunicorn starts
on the same port (what a deploy on one host does).

The clients behave as the page does. A poster sends the composer's form (CSRF token, text,
idempotency key) with HTMX headers; when a send fails (connection refused or dropped, no answer,
an error status) the text and its key stay, and it is sent again with the SAME key, as
static/js/chat/composer.js keeps them for the user's next Enter. A watcher is a tab's one live
stream: it reconnects after a dropped connection with the last event id as Last-Event-ID, as
EventSource does (static/js/chat/stream.js); an error status or a `reload` event would end it
(the page falls back to polls or reloads), so either fails the test.

What must hold: every acknowledged post is in DynamoDB exactly once, and in the search index;
nothing failed except sends the poster retried, each of which ended acknowledged; every tab
reconnected after the stop and has seen every acknowledged message exactly once.
"""

from __future__ import annotations

import os
import secrets
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from rooms import selectors
from tests.support.servers import GunicornServer, free_port
from tests.support.sse import MESSAGE_RE, Stream
from tests.support.web import HX, Person, composer_key, csrf_from, wait_until

pytestmark = pytest.mark.integration

POSTERS = 3
TABS = 2
# Each poster waits this long between its posts: about 2 posts/s each on a loaded host, so a
# tab's cursor holds well under the 120 refs an SSE id carries (rooms.streams.MAX_ID_REFS).
POSTER_PAUSE_SECONDS = 0.3
RETRY_PAUSE_SECONDS = 0.3  # a person pressing Enter again
TAB_RETRY_SECONDS = 1.0  # the stream's `retry:` (CHAT_LIVE_STREAM_RETRY_MS below)
GIVE_UP_SECONDS = 60  # generous: a loaded 2-core host; only reached if something is really wrong


def worker_pids(master_pid: int) -> set[int]:
    """The master's live children (gunicorn's workers), from /proc."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after its closing paren.
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[1]) == master_pid:
            pids.add(int(entry.name))
    return pids


@dataclass
class Failure:
    poster: str
    text: str
    key: str
    what: str  # the exception's class or "HTTP <status>"
    phase: str


@dataclass
class Load:
    """What the posters and tabs did, shared between their threads (list appends are atomic)."""

    phase: str = "steady"
    acked: dict[str, tuple[str, str]] = field(default_factory=dict)  # text -> (key, message dom id)
    attempts: Counter = field(default_factory=Counter)  # text -> sends
    failures: list[Failure] = field(default_factory=list)
    unacked: list[str] = field(default_factory=list)  # texts given up on
    sends: list[tuple[float, float, bool]] = field(default_factory=list)  # (start, end, acknowledged)
    in_flight: int = 0  # sends waiting for their answer
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop_posting: threading.Event = field(default_factory=threading.Event)


def failure_kind(exc: requests.RequestException) -> str:
    text = str(exc)
    if "Connection refused" in text:
        return "refused"  # no gunicorn on the port (between the stop and the start): it reached no server
    if "Connection reset" in text or "Connection aborted" in text or "RemoteDisconnected" in text:
        return "reset"  # closed before any answer (e.g. still in the listen queue when the socket closed)
    return type(exc).__name__


def poster(load: Load, person: Person, room: str, name: str) -> None:
    page = person.get(room)
    assert page.status_code == 200
    csrf, key = csrf_from(page.text), composer_key(page.text)  # the page is loaded once
    url = person.base_url + room + "messages"
    headers = {"Referer": person.base_url + room, **HX}
    n = 0
    while not load.stop_posting.is_set():
        text = f"{name} says {n}"
        give_up = time.monotonic() + GIVE_UP_SECONDS
        while True:
            load.attempts[text] += 1
            with load.lock:
                load.in_flight += 1
            started = time.monotonic()
            response = None
            try:
                response = person.http.post(url, data={"csrfmiddlewaretoken": csrf, "comment": text,
                                                       "idempotency_key": key},
                                            headers=headers, timeout=30, allow_redirects=False)
            except requests.RequestException as exc:
                what = failure_kind(exc)
            finally:
                with load.lock:
                    load.in_flight -= 1
                load.sends.append((started, time.monotonic(), response is not None and response.status_code < 400))
            if response is not None:
                if response.status_code < 400:
                    dom_ids = [dom_id for dom_id, _ in MESSAGE_RE.findall(response.text)]
                    load.acked[text] = (key, dom_ids[0] if dom_ids else "")
                    key = composer_key(response.text)  # the fresh key the server swaps in
                    break
                what = f"HTTP {response.status_code}"
            load.failures.append(Failure(name, text, key, what, load.phase))
            if time.monotonic() > give_up:
                load.unacked.append(text)
                break
            time.sleep(RETRY_PAUSE_SECONDS)  # the same text, the same key
        n += 1
        time.sleep(POSTER_PAUSE_SECONDS)


def indexed_dom_ids(poster_names: list[str]) -> set[str]:
    """The messages the search index holds under each poster's name (every post's text has it)."""
    found = set()
    for name in poster_names:
        below = "~"
        while below is not None:
            page = selectors.search_hits(scope="pub", term=name, lowest="", below=below, limit=500)
            found |= {"m-" + hit.sk.rsplit("#", 1)[1] for hit in page.hits}
            below = page.resume_below
    return found


class Tab:
    """One room tab's live stream, reconnecting like EventSource until ``stop()``."""

    def __init__(self, person: Person, room: str):
        self.url = f"{person.base_url}{room}stream?w={quote(person.watermark(room))}"
        self.http = person.http
        self.events: list = []  # every event of every connection, in order
        self.connections = 0  # answered 200
        self.refused: list[str] = []  # answered, but not with a stream: EventSource would give up
        self.connect_errors = 0  # no server to answer (EventSource keeps trying)
        self.stream: Stream | None = None
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Tab:
        self.thread.start()
        return self

    def _run(self) -> None:
        last_event_id = None
        while not self.stopping:
            stream = Stream(self.http, self.url, last_event_id=last_event_id)
            stream.events = self.events
            try:
                stream.open(timeout=15)
            except requests.RequestException:
                self.connect_errors += 1
                time.sleep(TAB_RETRY_SECONDS)
                continue
            if stream.status != 200:
                self.refused.append(f"HTTP {stream.status}")
                return
            self.connections += 1
            self.stream = stream
            while stream._thread.is_alive() and not self.stopping:
                stream._thread.join(timeout=0.2)
                if any(e.name == "reload" for e in self.events):
                    self.refused.append("reload")
                    stream.close()
                    return
            last_event_id = stream.last_event_id
            time.sleep(TAB_RETRY_SECONDS)

    def stop(self) -> None:
        self.stopping = True
        if self.stream is not None:
            self.stream.close()
        self.thread.join(timeout=10)

    def message_ids(self) -> list[str]:
        return [dom_id for e in self.events if e.name == "updates" for dom_id, _ in MESSAGE_RE.findall(e.data)]


@pytest.fixture
def deployable(dynalite, dynalite_tables, tmp_path):
    """A gunicorn on a free port; ``replace()`` starts the next one on the same port."""
    log_path = tmp_path / "gunicorn.log"
    env = {"DYNAMODB_ENDPOINT_URL": dynalite.url, "DYNAMODB_TABLE_PREFIX": dynalite_tables,
           # Three people posting for half a minute: far past the per-person limit of 20 a minute.
           "CHAT_POST_RATE_LIMIT": "100000", "CHAT_LIVE_STREAM_RETRY_MS": str(int(TAB_RETRY_SECONDS * 1000))}
    servers = [GunicornServer(port=free_port(), env=env, log_path=log_path)]
    servers[0].start()

    def replace() -> GunicornServer:
        server = GunicornServer(port=servers[0].port, env=env, log_path=log_path)
        server.start()
        servers.append(server)
        return server

    replace.first = servers[0]
    replace.log_path = log_path
    yield replace
    for server in servers:
        server.stop()


def test_a_sighup_then_a_stop_and_start_lose_no_post_and_every_tab_resumes(deployable):
    server = deployable.first
    owner = Person(server.url)
    owner.sign_up("owner", "Owner")
    room = owner.create_room("Rolling")
    room_id = room.strip("/").split("/")[-1]
    people = []
    for n in range(POSTERS):
        person = Person(server.url)
        person.sign_up(f"poster{n}", f"Poster {n}")
        people.append(person)
    tabs = [Tab(owner, room)] + [Tab(Person(server.url), room) for _ in range(TABS - 1)]  # signed in and not
    for tab in tabs:
        tab.start()
    wait_until(lambda: all(any(e.name == "beat" for e in tab.events) for tab in tabs), timeout=20,
               message="every tab's stream to open")

    load = Load()
    threads = [threading.Thread(target=poster, args=(load, person, room, f"poster{n}"), daemon=True)
               for n, person in enumerate(people)]
    for thread in threads:
        thread.start()

    def acked_count():
        return len(load.acked)

    def more_acked(count: int, message: str):
        start = acked_count()
        wait_until(lambda: acked_count() >= start + count, timeout=30, message=message)

    log = []
    try:
        more_acked(8, "posts before the SIGHUP")

        # SIGHUP: the master starts new workers and stops the old ones gracefully; it keeps the
        # listening socket, so nobody should even see a refused connection.
        load.phase = "hup"
        old_workers = worker_pids(server.proc.pid)
        assert old_workers, "no workers found under the master"
        os.kill(server.proc.pid, signal.SIGHUP)
        wait_until(lambda: (now := worker_pids(server.proc.pid)) and not (now & old_workers)
                   and len(now) == len(old_workers), timeout=40, interval=0.2,
                   message="every worker to be replaced after SIGHUP")
        log.append(f"workers {sorted(old_workers)} -> {sorted(worker_pids(server.proc.pid))}")
        more_acked(8, "posts on the new workers")

        # SIGTERM: a graceful stop (requests in flight finish, streams end), then a new
        # gunicorn on the same port: posters meanwhile see refused connections and retry.
        load.phase = "term"
        # While a post is on its way: a stop must let the request it accepted finish.
        wait_until(lambda: load.in_flight > 0, timeout=10, interval=0.005, message="a post in flight")
        stopped_at = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(timeout=40)
        log.append(f"old master exited {server.proc.returncode} after {time.monotonic() - stopped_at:.1f} s")
        new = deployable()
        log.append(f"new server answering {time.monotonic() - stopped_at:.1f} s after SIGTERM")
        load.phase = "after"
        more_acked(8, "posts on the new server")
        # Every tab reconnected to the new server (one more connection since the stop).
        wait_until(lambda: all(tab.connections >= 2 for tab in tabs), timeout=30,
                   message="every tab to reconnect")
        more_acked(5, "posts after the tabs reconnected")
    finally:
        load.stop_posting.set()
        for thread in threads:
            thread.join(timeout=GIVE_UP_SECONDS + 35)

    acked = load.acked
    wanted = {dom_id for _, dom_id in acked.values()}

    def everything_seen():
        return all(wanted <= set(tab.message_ids()) for tab in tabs) or any(tab.refused for tab in tabs)

    try:
        wait_until(everything_seen, timeout=30, message="every tab to see every acknowledged message")
    except AssertionError:
        pass  # the assertions below say what is missing
    for tab in tabs:
        tab.stop()

    failures_by_kind = Counter((f.phase, f.what) for f in load.failures)
    retried = {f.text for f in load.failures}
    duplicates_sent = sum(1 for text in acked if load.attempts[text] > 1)
    print(f"\n{len(acked)} posts acknowledged, {len(load.failures)} failed sends of {len(retried)} posts "
          f"(retried with the same key): {dict(failures_by_kind)}; {duplicates_sent} posts needed a resend")
    across = sum(1 for start, end, ok in load.sends if ok and start < stopped_at < end)
    log.append(f"{across} posts sent before the SIGTERM were answered after it")
    print("\n".join(log))
    for n, tab in enumerate(tabs):
        print(f"tab {n}: {tab.connections} connections, {tab.connect_errors} refused connects, "
              f"{len(tab.message_ids())} messages, refused: {tab.refused}")

    assert not load.unacked, f"posts never acknowledged after {GIVE_UP_SECONDS} s of retries: {load.unacked}"
    assert len(acked) >= 28  # the load really ran through every phase
    assert all(dom_id for _, dom_id in acked.values()), "an acknowledged post's answer did not carry its message"

    # Stored exactly once: one message per text in the room, with the acknowledged id, and no other.
    stored = Counter()
    stored_ids = {}
    for message in selectors.room_messages(room_id=room_id):
        stored[message.comment] += 1
        stored_ids[message.comment] = message.dom_id
    assert {text: n for text, n in stored.items() if n != 1} == {}, "a post stored twice"
    assert set(stored) == set(acked), (f"lost: {sorted(set(acked) - set(stored))}; "
                                       f"stored but not acknowledged: {sorted(set(stored) - set(acked))}")
    assert {text: stored_ids[text] for text in acked} == {text: dom_id for text, (_, dom_id) in acked.items()}
    # Searchable too: each worker's indexer writes after the answer, and a graceful stop lets it
    # finish (gunicorn.conf.py worker_exit), so no acknowledged post is missing from the index.
    names = [f"poster{n}" for n in range(POSTERS)]
    try:
        wait_until(lambda: wanted <= indexed_dom_ids(names), timeout=20, interval=0.5,
                   message="every acknowledged post in the search index")
    except AssertionError:
        pass  # the assertion below says which
    assert sorted(wanted - indexed_dom_ids(names)) == [], "acknowledged posts missing from the search index"

    # Nothing failed but sends the poster repeated with the same key, and each of those ended
    # acknowledged (checked above: every text was). No error page: only the connection failed.
    for failure in load.failures:
        assert acked[failure.text][0] == failure.key, failure
    assert not [f for f in load.failures if f.what.startswith("HTTP")], \
        f"a send was answered with an error: {[f for f in load.failures if f.what.startswith('HTTP')]}"
    # The SIGHUP replaced the workers behind the master's socket: no send failed during it.
    assert not [f for f in load.failures if f.phase == "hup"], [f for f in load.failures if f.phase == "hup"]

    # Every tab resumed (it reconnected after the stop, was never refused or told to reload) and
    # saw every acknowledged message exactly once.
    for tab in tabs:
        assert tab.refused == []
        assert tab.connections >= 2
        seen = Counter(tab.message_ids())
        assert sorted(wanted - set(seen)) == [], "a tab missed acknowledged messages"
        assert {dom_id: n for dom_id, n in seen.items() if n > 1} == {}, "a tab got a message twice"
        assert set(seen) == wanted
