"""A stalled DynamoDB (dynalite under SIGSTOP: it accepts connections and never answers) behind
real gunicorn with the checked-in gunicorn.conf.py and production settings.

- Pages are the 503 page with Retry-After (the fragment for HTMX), with one log line per request.
- /healthz keeps answering within a second while every worker thread would otherwise be waiting
  on DynamoDB.

Each test stops its own dynalite (never the session's shared one).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
import requests

from tests.support.servers import ROOT, DynaliteServer, GunicornServer, free_port
from tests.support.web import Person

pytestmark = pytest.mark.integration

DB_DOWN = "We can't reach our database right now"

# argv: base URL, room path, watermark, clients, seconds. Prints {kind: {status: count}}.
FLOOD = """
import collections, json, sys, threading, time
import requests
from tests.support.web import Person
url, room, watermark, clients, seconds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
results = {"list": collections.Counter(), "poll": collections.Counter()}
end = time.monotonic() + seconds
def visitor(kind):
    person = Person(url)
    while time.monotonic() < end:
        try:
            status = (person.get("/", timeout=30) if kind == "list" else person.poll(room, watermark)).status_code
        except requests.RequestException:
            status = 0
        results[kind][status] += 1
threads = [threading.Thread(target=visitor, args=("list" if n % 2 else "poll",)) for n in range(clients)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps(results))
"""


@pytest.fixture
def stallable(tmp_path):
    """A private dynalite with the tables, and a way to stall it; gunicorn servers pointed at it."""
    from chatsite import dynamodb

    dynalite = DynaliteServer(data_dir=tmp_path / "dynalite", port=free_port())
    dynalite.start()
    prefix = f"b{uuid.uuid4().hex[:8]}_"
    dynamodb.configure(endpoint_url=dynalite.url, prefix=prefix)
    dynamodb.ensure_tables(wait_seconds=20)
    dynamodb.configure(endpoint_url=None, prefix="test_")
    servers: list[GunicornServer] = []

    class Rig:
        log_path = tmp_path / "gunicorn.log"

        @staticmethod
        def serve(**env) -> GunicornServer:
            server = GunicornServer(port=free_port(), log_path=Rig.log_path, env={
                "DYNAMODB_ENDPOINT_URL": dynalite.url, "DYNAMODB_TABLE_PREFIX": prefix, **env})
            server.start()
            servers.append(server)
            return server

        @staticmethod
        def stall() -> None:
            os.kill(dynalite.proc.pid, signal.SIGSTOP)

        @staticmethod
        def resume() -> None:
            os.kill(dynalite.proc.pid, signal.SIGCONT)

        @staticmethod
        def log_size() -> int:
            return Rig.log_path.stat().st_size if Rig.log_path.exists() else 0

        @staticmethod
        def log_since(offset: int) -> list[str]:
            with open(Rig.log_path, "rb") as log:
                log.seek(offset)
                return [line for line in log.read().decode(errors="replace").splitlines() if line.strip()]

    try:
        yield Rig
    finally:
        Rig.resume()
        for server in servers:
            server.stop()
        dynalite.stop()


def test_stalled_dynamodb_gives_the_503_page_and_one_log_line_per_request(stallable):
    site = stallable.serve(DYNAMODB_READ_TIMEOUT="1", DYNAMODB_MAX_ATTEMPTS="2")
    for _ in range(4):  # both workers have built their DynamoDB client
        assert requests.get(site.url + "/", timeout=10).status_code == 200
    stallable.stall()
    offset = stallable.log_size()

    started = time.monotonic()
    page = requests.get(site.url + "/", timeout=30)
    fragment = requests.get(site.url + "/", headers={"HX-Request": "true"}, timeout=30)
    elapsed = time.monotonic() - started

    assert page.status_code == 503, page.text[:300]
    assert page.headers["Retry-After"].isdigit()
    assert "<h1>Chat is temporarily unavailable</h1>" in page.text and DB_DOWN in page.text
    assert fragment.status_code == 503 and fragment.headers["Retry-After"].isdigit()
    assert DB_DOWN in fragment.text and "<html" not in fragment.text
    assert elapsed < 2 * (2 * 1 + 1 + 1)  # attempts × read timeout + backoff, per request
    time.sleep(0.2)  # let the log lines land
    lines = stallable.log_since(offset)
    # Per request: its warning (one line, no traceback) and its request line, with the same id.
    warnings = [line for line in lines if " chatsite.request " not in line]
    requests_logged = [line for line in lines if " chatsite.request " in line]
    assert len(warnings) == 2 and len(requests_logged) == 2, "\n".join(lines[:40])
    assert all("DynamoDB unavailable (read timeout) for GET /: " in line for line in warnings), lines
    assert all(" GET rooms:list 503 " in line for line in requests_logged), lines

    def request_ids(group):
        return sorted(line.split(" [", 1)[1].split("]: ", 1)[0] for line in group)

    assert request_ids(warnings) == request_ids(requests_logged) and len(set(request_ids(warnings))) == 2, lines


def test_healthz_answers_within_a_second_while_every_thread_would_wait_on_dynamodb(stallable):
    # Production timeouts (3 attempts of 2 s reads): a stalled call holds its thread for 6 s or more.
    site = stallable.serve(DYNAMODB_MAX_ATTEMPTS="3", DYNAMODB_READ_TIMEOUT="2", DYNAMODB_CONNECT_TIMEOUT="1")
    alice = Person(site.url)
    alice.sign_up("alice", "Alice")
    room = alice.create_room("Brownout").removeprefix(site.url)
    watermark = alice.watermark(room)
    for _ in range(4):  # both workers have a DynamoDB client and a warm feed
        assert requests.get(site.url + "/", timeout=10).status_code == 200
        assert Person(site.url).poll(room, watermark).status_code in (200, 204)
    stallable.stall()

    # Three times as many clients as the two workers have threads (2 × 8): half load the room
    # list (a DynamoDB query), half poll the room (waiting on its feed's refresh, stuck on DynamoDB).
    # They run in another process, so their threads don't slow this one's probes.
    flood = subprocess.Popen(
        [sys.executable, "-c", FLOOD, site.url, room, watermark, "48", "8"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(1)
        probes = []
        for _ in range(10):
            started = time.monotonic()
            response = requests.get(site.url + "/healthz", timeout=10)
            probes.append(time.monotonic() - started)
            assert response.status_code == 200 and response.text == "ok"
            time.sleep(0.4)
        results = json.loads(flood.communicate(timeout=60)[0])
    finally:
        flood.kill()
    assert max(probes) < 1.0, [f"{p:.2f}" for p in probes]
    assert results["list"] and set(results["list"]) == {"503"}, results
    # A poll is answered from the feed's memory, or refused: never an error or a dropped connection.
    assert results["poll"] and set(results["poll"]) <= {"200", "204", "503"}, results
