"""The request log from real gunicorn with gevent workers and DJANGO_LOG_FORMAT=json: every line is
one JSON object; concurrent requests each get exactly one request line with their own
X-Request-ID (echoed), another logger's line inside a request carries that request's id, and a
live stream is logged once, when it ends."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest
import requests

from tests.support.servers import GunicornServer, free_port
from tests.support.sse import Stream
from tests.support.web import Person

pytestmark = pytest.mark.integration


@pytest.fixture
def json_server(dynalite, dynalite_tables, tmp_path):
    server = GunicornServer(port=free_port(), log_path=tmp_path / "gunicorn.log", env={
        "DYNAMODB_ENDPOINT_URL": dynalite.url, "DYNAMODB_TABLE_PREFIX": dynalite_tables,
        "DJANGO_LOG_FORMAT": "json", "CHAT_LIVE_HEARTBEAT_SECONDS": "0.5", "GUNICORN_LOGLEVEL": "info"})
    server.start()
    yield server
    server.stop()


def log_lines(server: GunicornServer, offset: int) -> list[str]:
    with open(server.log_path, "rb") as log:
        log.seek(offset)
        return [line for line in log.read().decode().splitlines() if line.strip()]


def wait_for_lines(server, offset, predicate, timeout: float = 10) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        entries = [json.loads(line) for line in log_lines(server, offset)]
        if predicate(entries) or time.monotonic() > deadline:
            return entries
        time.sleep(0.1)


def test_json_lines_carry_each_requests_own_id_under_gevent(json_server):
    site = json_server
    alice = Person(site.url)
    alice.sign_up("alice", "Alice")
    room = alice.create_room("Logged")
    assert alice.get(room).status_code == 200
    offset = site.log_path.stat().st_size

    def get(i: int) -> requests.Response:
        return requests.get(site.url + room, headers={"X-Request-ID": f"gunicorn-get-{i:03d}"}, timeout=30)

    def refused_post(i: int) -> requests.Response:  # no CSRF token: django.security.csrf warns inside it
        return requests.post(site.url + room + "messages", data={"comment": "nope"},
                             headers={"X-Request-ID": f"gunicorn-csrf-{i:03d}"}, timeout=30)

    with ThreadPoolExecutor(max_workers=24) as pool:
        gets = list(pool.map(get, range(40)))
        posts = list(pool.map(refused_post, range(8)))
    assert [r.status_code for r in gets] == [200] * 40 and [r.status_code for r in posts] == [403] * 8
    assert [r.headers["X-Request-ID"] for r in gets] == [f"gunicorn-get-{i:03d}" for i in range(40)]
    malformed = requests.get(site.url + room, headers={"X-Request-ID": "not ok\ttoken"}, timeout=30)
    made = malformed.headers["X-Request-ID"]
    assert len(made) == 32 and made != "not ok\ttoken"

    entries = wait_for_lines(site, offset, lambda es: sum(e["logger"] == "chatsite.request" for e in es) >= 49)
    request_lines = [e for e in entries if e["logger"] == "chatsite.request"]
    # Every line is a JSON object (json.loads above), and each request has exactly one line, its own.
    assert sorted(e["request_id"] for e in request_lines) == sorted(
        [f"gunicorn-get-{i:03d}" for i in range(40)] + [f"gunicorn-csrf-{i:03d}" for i in range(8)] + [made])
    for entry in request_lines:
        assert entry["method"] in ("GET", "POST") and entry["view"] in ("rooms:room", "rooms:post")
        assert entry["status"] == (200 if entry["method"] == "GET" else 403)
        assert type(entry["duration_ms"]) is float and type(entry["dynamodb_calls"]) is int
        assert entry["dynamodb_ms"] <= entry["duration_ms"] and entry["user_id"] is None
        assert room.strip("/").split("/")[-1] not in json.dumps(entry)  # the pattern, never the room's path
    everything = [json.loads(line) for line in log_lines(site, 0)]  # gunicorn's own lines are JSON too
    assert any(e["logger"] == "gunicorn.error" and e["message"].startswith("Booting worker") for e in everything)
    csrf_warnings = [e for e in entries if e["logger"] == "django.security.csrf"]
    assert sorted(e["request_id"] for e in csrf_warnings) == [f"gunicorn-csrf-{i:03d}" for i in range(8)]
    assert all(e["level"] == "WARNING" for e in csrf_warnings)


def test_a_live_stream_is_logged_when_it_ends(json_server):
    site = json_server
    alice = Person(site.url)
    alice.sign_up("alice", "Alice")
    room = alice.create_room("Streamed")
    watermark = alice.watermark(room)
    offset = site.log_path.stat().st_size
    alice.http.headers["X-Request-ID"] = "gunicorn-stream-001"
    stream = Stream(alice.http, f"{site.url}{room}stream?w={quote(watermark)}").open()
    assert stream.status == 200 and stream.response.headers["X-Request-ID"] == "gunicorn-stream-001"
    stream.wait_for(lambda e: e.name == "beat")
    stream.wait_for(lambda e: e.name == "beat")  # open for a heartbeat interval (0.5 s) at least
    early = [json.loads(line) for line in log_lines(site, offset)]
    assert not [e for e in early if e["request_id"] == "gunicorn-stream-001" and e["logger"] == "chatsite.request"]
    stream.close()

    def logged(entries):
        return [e for e in entries if e["logger"] == "chatsite.request" and e["request_id"] == "gunicorn-stream-001"]

    # The server notices the closed connection at its next heartbeat write.
    (line,) = logged(wait_for_lines(site, offset, logged))
    assert line["stream"] is True and line["view"] == "rooms:stream" and line["status"] == 200
    assert line["user_id"] and line["open_ms"] < line["duration_ms"] and line["duration_ms"] >= 400
