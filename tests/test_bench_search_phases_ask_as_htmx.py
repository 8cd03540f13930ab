"""The benchmark's search phases measure what a JavaScript user's search costs (HX-Request: the
results alone, rooms.views.search_page) and, beside each, the whole page (a link, a reload, no
JavaScript); wrk sends a phase's headers with every request."""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench import data, report, run, wrk
from rooms.validators import clean_room_name


def search_phases() -> list[dict]:
    rooms = {role: clean_room_name(name)[1] for role, name in data.ROLE_ROOMS.items()}
    plan = run.build_plan(run.SMOKE, base_url="http://127.0.0.1:1", rooms=rooms, sessions=[{"sessionid": "x"}],
                          pids={}, workers=2, searches={"one word": {"q": "ba", "share": 0.01},
                                                        "two words": {"q": "ba co", "share": 0.001}},
                          only={"search"})
    return [p for p in plan["phases"] if p["key"].startswith("search_")]


def test_each_search_is_measured_through_htmx_and_as_the_whole_page():
    phases = {p["key"]: p for p in search_phases()}
    assert list(phases) == ["search_one_word", "search_one_word_page", "search_two_words", "search_two_words_page"]
    for kind in ("one_word", "two_words"):
        htmx, page = phases["search_" + kind], phases["search_" + kind + "_page"]
        assert htmx["headers"] == {"HX-Request": "true"}
        assert "headers" not in page
        assert htmx["path"] == page["path"] and htmx["users"] == page["users"] == run.SEARCH_USERS
        assert (htmx["endpoint"], page["endpoint"]) == ("search", "search page")
    # The report's table lists both, the whole page right after its htmx search.
    keys = report.MAIN_PHASES
    assert keys.index("search_one_word_page") == keys.index("search_one_word") + 1


def test_the_search_target_gives_the_whole_pages_p95_beside_the_htmx_one():
    def measured(key, p95, calls):
        return {"phase": {"key": key, "users": 4}, "requests": 100, "p95_ms": p95, "p50_ms": p95 / 2, "rps": 20.0,
                "statuses": {"200": 100}, "calls_per_request": calls, "calls_per_request_total": sum(calls.values()),
                "calls_max": round(sum(calls.values()))}

    results = {"seeded": {"big_messages": 1000, "searches": {"one word": {"q": "ba", "share": 0.01}}},
               "phases": [measured("search_one_word", 250, {"Query": 4.0}),
                          measured("search_one_word_page", 350, {"Query": 4.0, "BatchGetItem": 2.0})]}
    (row,) = report.search_targets(results)
    assert "results through htmx: p95 250 ms" in row[1]
    assert "the whole page (no JavaScript): p95 350 ms, calls Query 4.00 + BatchGetItem 2.00 = 6.00" in row[1]
    assert row[2] == "met"


class Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: Counter = Counter()

    def do_GET(self):  # noqa: N802 (http.server's name)
        type(self).seen[self.headers.get("HX-Request", "none")] += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.send_header("X-Bench-Sent", self.headers.get("X-Bench-Sent", ""))
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.mark.integration  # starts wrk
@pytest.mark.skipif(not wrk.available(), reason="wrk is not installed (make wrk)")
def test_wrk_sends_the_phases_headers_with_every_request():
    Recorder.seen = Counter()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        host = f"http://127.0.0.1:{httpd.server_address[1]}"
        wrk.run(host=host, paths=["/s"], cookies=[], user_agent="test", connections=2, warmup=0, seconds=1,
                headers={"HX-Request": "true"})
        assert set(Recorder.seen) == {"true"} and Recorder.seen["true"] > 0
        Recorder.seen = Counter()
        wrk.run(host=host, paths=["/s"], cookies=[], user_agent="test", connections=2, warmup=0, seconds=1)
        assert set(Recorder.seen) == {"none"}
    finally:
        httpd.shutdown()
        httpd.server_close()
