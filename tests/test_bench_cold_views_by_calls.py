"""The cold room-page target is judged on the max calls of a room's first view on a worker: the
load generator counts first views by their mix of calls, and the report states the mean, the
max, the share of views at each count and which calls the views at the max made."""

from __future__ import annotations

import pytest

from bench import report, wrk
from tests.test_bench_wrk_phase import FakeWorkers, server  # noqa: F401 (the fixture)


def test_mixes_are_normalised():
    assert wrk._mix("Query=2,GetItem=1") == wrk._mix("GetItem=1,Query=2") == "GetItem=1,Query=2"
    assert wrk._mix("none") == wrk._mix("") == wrk._mix("Query=0") == "none"


def test_the_report_names_the_calls_of_the_views_at_the_max():
    cold = {"requests": 1000, "calls_per_request_total": 3.05, "calls_max": 6,
            "calls_per_request": {"BatchGetItem": 0.05, "GetItem": 0.9, "Query": 2.1},
            "by_calls": {"GetItem=1,Query=2": 900, "Query=3": 98,
                         "BatchGetItem=1,GetItem=1,Query=3,UpdateItem=1": 2}}
    rows = report.room_call_targets({"phases": [{"phase": {"key": "rooms_warm"}, "cold": cold}]})

    (target, measured, verdict), = rows
    assert "judged on the max" in target and verdict == "**not met**"
    assert measured.startswith("mean 3.05, max 6 over 1,000 first views")
    assert "views by calls: 3: 99.8%, 6: 0.2%" in measured  # 900 + 98 views of 3 calls, 2 of 6
    assert "the 2 at the max (6): BatchGetItem 1 + GetItem 1 + Query 3 + UpdateItem 1 (2)" in measured
    assert "the most common: GetItem 1 + Query 2 (900)" in measured


def test_a_run_without_the_mixes_states_mean_and_max_alone():
    cold = {"requests": 10, "calls_per_request_total": 3.0, "calls_max": 3, "calls_per_request": {"Query": 3.0}}
    (_, measured, verdict), = report.room_call_targets({"phases": [{"phase": {"key": "rooms_warm"}, "cold": cold}]})

    assert measured == "mean 3.00, max 3 over 10 first views (Query 3.00 (max 3))" and verdict == "met"


@pytest.mark.integration
@pytest.mark.skipif(not wrk.available(), reason="wrk is not installed (make wrk)")
def test_wrk_counts_first_views_by_their_calls(server):  # noqa: F811 (the fixture)
    raw = wrk.run(host=server, paths=["/a", "/b", "/missing"], cookies=[], user_agent="test", connections=2,
                  warmup=0, seconds=1, threads=1)
    cold = wrk.summary(raw)["cold"]

    assert sum(cold["by_calls"].values()) == cold["requests"] > 0
    assert set(cold["by_calls"]) <= {"Query=1", "GetItem=1,Query=2", "none"}  # /a, /b (sorted), the 404
    assert "GetItem=1,Query=2" in cold["by_calls"] and cold["calls_max"] == 3
