"""The benchmark names the access patterns that made a page's DynamoDB calls: its middleware sends
them per request (X-DynamoDB-Patterns), the load generator counts cold and steady views by them,
and the report's cold and steady rows say which patterns made the calls and the views at the max."""

from __future__ import annotations

import pytest
from django.http import HttpResponse

from bench import report, wrk
from bench.middleware import PATTERNS_HEADER, BenchMiddleware
from rooms import selectors, services
from tests.test_bench_wrk_phase import FakeWorkers


def test_the_middleware_names_each_calls_pattern(moto_tables):
    services.room_create(name="Art", description="", created_by="alice")
    selectors.clear_room_cache()

    def view(request):
        selectors.room_get(room_id="art")
        selectors.user_rooms(user_id="alice")
        selectors.user_rooms(user_id="bob")
        return HttpResponse("ok")

    response = BenchMiddleware(view)(_request())
    assert response.headers[PATTERNS_HEADER] == "selectors.room_get_any=1,selectors.user_rooms=2"
    assert response.headers["X-DynamoDB-Calls"] == "GetItem=1,Query=2"
    assert BenchMiddleware(lambda request: HttpResponse("ok"))(_request()).headers[PATTERNS_HEADER] == "none"


def _request():
    from django.test import RequestFactory

    return RequestFactory().get("/rooms/art/")


def test_named_mixes_are_normalised():
    assert wrk._named_mix("selectors.user_with_rooms=1,selectors.room_get_any=1") == \
        "selectors.room_get_any=1,selectors.user_with_rooms=1"
    assert wrk._named_mix("none") == wrk._named_mix("") == "none"


def test_the_cold_and_steady_rows_name_the_patterns():
    cold = {"requests": 100, "calls_per_request_total": 3.1, "calls_max": 5,
            "calls_per_request": {"BatchGetItem": 0.04, "GetItem": 1.0, "Query": 2.06},
            "by_calls": {"GetItem=1,Query=2": 96, "BatchGetItem=2,GetItem=1,Query=2": 2, "GetItem=1,Query=3": 2},
            "by_patterns": {"selectors.room_get_any=1,selectors.room_tail_messages=1,selectors.user_with_rooms=1": 96,
                            "selectors.room_get_any=1,selectors.room_sequences=2,selectors.room_tail_messages=1,"
                            "selectors.user_with_rooms=1": 2,
                            "selectors.room_get_any=1,selectors.room_tail_messages=1,selectors.user_with_rooms=1,"
                            "session_patterns.own_record=1": 2}}
    steady = {"requests": 10, "calls_per_request_total": 2.0, "calls_max": 2, "calls_per_request": {"Query": 2.0},
              "by_patterns": {"selectors.live_events_since=1,selectors.user_with_rooms=1": 10}}
    rows = report.room_call_targets({"phases": [
        {"phase": {"key": "room_page"}, "requests": 50, "calls_per_request_total": 1.0, "calls_per_request": {"Query": 1.0},
         "calls_max": 1},
        {"phase": {"key": "rooms_warm"}, "cold": cold, "steady": steady}]})

    (_, steady_text, _), (_, cold_text, _) = rows
    assert ("by pattern, calls per view: selectors.room_get_any 1.00 + selectors.room_tail_messages 1.00 + "
            "selectors.user_with_rooms 1.00 + selectors.room_sequences 0.04 + session_patterns.own_record 0.02") in cold_text
    assert ("the patterns at the max (5): selectors.room_get_any 1 + selectors.room_sequences 2 + "
            "selectors.room_tail_messages 1 + selectors.user_with_rooms 1 (2)") in cold_text
    assert "own_record 1 (2)" not in cold_text  # 4 calls: not at the max
    assert "later views (10; by pattern, calls per view: selectors.live_events_since 1.00 + " \
           "selectors.user_with_rooms 1.00; the patterns at the max (2): " in steady_text


def test_a_run_without_patterns_reads_as_before():
    cold = {"requests": 10, "calls_per_request_total": 3.0, "calls_max": 3, "calls_per_request": {"Query": 3.0}}
    (_, measured, _), = report.room_call_targets({"phases": [{"phase": {"key": "rooms_warm"}, "cold": cold}]})
    assert "pattern" not in measured


class NamingWorkers(FakeWorkers):
    def send_header(self, keyword, value):
        super().send_header(keyword, value)
        if keyword == "X-DynamoDB-Calls":
            named = {"Query=1": "selectors.user_with_rooms=1",
                     "GetItem=1,Query=2": "selectors.user_with_rooms=1,selectors.room_get_any=1,"
                                          "selectors.room_tail_messages=1"}.get(value, "none")
            super().send_header("X-DynamoDB-Patterns", named)


@pytest.fixture
def naming_server():
    import threading
    from http.server import ThreadingHTTPServer

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), NamingWorkers)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.integration
@pytest.mark.skipif(not wrk.available(), reason="wrk is not installed (make wrk)")
def test_wrk_counts_cold_and_steady_views_by_their_patterns(naming_server):
    raw = wrk.run(host=naming_server, paths=["/a", "/b"], cookies=[], user_agent="test", connections=2,
                  warmup=0, seconds=1, threads=1)
    found = wrk.summary(raw)

    assert sum(found["cold"]["by_patterns"].values()) == found["cold"]["requests"] > 0
    assert set(found["cold"]["by_patterns"]) <= {
        "selectors.user_with_rooms=1",
        "selectors.room_get_any=1,selectors.room_tail_messages=1,selectors.user_with_rooms=1"}
    assert sum(found["steady"]["by_patterns"].values()) == found["steady"]["requests"] > 0
