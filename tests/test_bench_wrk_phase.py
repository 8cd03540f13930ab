"""The benchmark's light load generator (bench/wrk.py + bench/wrk_phase.lua) against a small local
server that answers like gunicorn with bench/middleware.py: the Lua script's counts are what the
server saw. Needs Debian's wrk (`make wrk`); skipped without it."""

from __future__ import annotations

import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench import wrk

pytestmark = [pytest.mark.integration,  # starts wrk
              pytest.mark.skipif(not wrk.available(), reason="wrk is not installed (make wrk)")]


class FakeWorkers(BaseHTTPRequestHandler):
    """Two "workers" by connection parity; /a costs 1 Query, /b 2 and a GetItem; /missing is a 404."""

    protocol_version = "HTTP/1.1"
    cookies: Counter = Counter()
    closes = 0
    connections = 0
    lock = threading.Lock()

    def setup(self):
        super().setup()
        with self.lock:
            type(self).connections += 1
            self.pid = str(1000 + type(self).connections % 2)

    def do_GET(self):  # noqa: N802 (http.server's name)
        with self.lock:
            type(self).cookies[self.headers.get("Cookie", "")] += 1
            if self.headers.get("Connection") == "close":
                type(self).closes += 1
        calls = {"/a": "Query=1", "/b": "GetItem=1,Query=2"}.get(self.path)
        self.send_response(200 if calls else 404)
        self.send_header("Content-Length", "2")
        self.send_header("X-DynamoDB-Calls", calls or "none")
        self.send_header("X-Bench-Process", f"pid={self.pid},Query=7")
        self.send_header("X-Bench-Path", self.path)
        self.send_header("X-Bench-Sent", self.headers.get("X-Bench-Sent", ""))
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    FakeWorkers.cookies = Counter()
    FakeWorkers.closes = FakeWorkers.connections = 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeWorkers)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_every_session_in_turn_and_counts_as_the_server_saw(server):
    sessions = [f"sessionid=s{i}" for i in range(7)]
    moments = []
    raw = wrk.run(host=server, paths=["/a", "/b"], cookies=sessions, user_agent="test", connections=4, warmup=1,
                  seconds=1, at_start=lambda: moments.append(time.monotonic()),
                  at_end=lambda: moments.append(time.monotonic()))
    result = wrk.summary(raw)

    assert moments[1] - moments[0] == pytest.approx(1, abs=0.3)  # the CPU window is the counting window
    seen = FakeWorkers.cookies
    assert set(seen) == set(sessions)  # every session, and nothing else
    assert max(seen.values()) - min(seen.values()) <= 4 * 2  # in turn: even, whatever the connections did
    total = sum(seen.values())
    assert 0 < result["requests"] < total  # only the measured window: not the warm-up, not the tail
    assert result["statuses"] == {"200": result["requests"]}
    # /a and /b alternate: 1 and 3 calls, 2 a request on average.
    assert result["calls_per_request_total"] == pytest.approx(2, abs=0.1)
    assert result["calls_max"] == 3
    assert result["p50_ms"] is not None and 0 < result["p50_ms"] < 1000
    assert sum(result["requests_by_worker"].values()) == result["requests"]
    assert FakeWorkers.closes > 0 and FakeWorkers.connections > 4  # connections are renewed as it goes


def test_first_view_of_a_path_on_a_worker_is_cold(server):
    raw = wrk.run(host=server, paths=["/a", "/b", "/missing"], cookies=[], user_agent="test", connections=2,
                  warmup=0, seconds=1, threads=1)
    result = wrk.summary(raw)

    workers = result["requests_by_worker"]
    assert set(workers) <= {"1000", "1001"}
    assert result["cold"]["requests"] == sum(result["paths_by_worker"].values()) <= 3 * len(workers)
    assert result["cold"]["requests"] + result["steady"]["requests"] == result["requests"]
    assert result["statuses"].get("404", 0) > 0  # non-2xx counted, not dropped
    assert FakeWorkers.cookies.keys() == {""}  # no sessions: no Cookie header
