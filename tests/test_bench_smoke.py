"""The benchmark's smoke run (`python -m bench --smoke`): about 35 s of load on tiny data.

A smoke test, not a timed one: it checks the harness works end to end (servers, seeding, signed-in
load with CSRF, every endpoint measured, the report written). It never asserts on speed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench import wrk

ROOT = Path(__file__).resolve().parents[1]
ENDPOINT_PHASES = ["room_list", "sidebar", "room_page", "room_page_beside_big", "room_page_big", "permalink_big", "room_page_private", "floor",
                   "post", "live_tick", "search_one_word", "search_prefix", "search_two_words", "post_ab"]


@pytest.mark.integration
@pytest.mark.timeout(400)
def test_bench_smoke_reports_numbers_for_every_endpoint(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DYNAMODB_", "DJANGO_"))}
    run = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--out", str(tmp_path)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=360)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-8000:]

    results = json.loads((tmp_path / "benchmarks.json").read_text())
    phases = {p["phase"]["key"]: p for p in results["phases"]}
    for key in ENDPOINT_PHASES:
        phase = phases[key]
        assert phase["requests"] > 0, key
        assert phase["rps"] > 0 and phase["p50_ms"] is not None and phase["p99_ms"] is not None, key
        assert all(status.startswith("2") for status in phase["statuses"]), (key, phase["statuses"], phase["failures"])
    assert phases["floor"]["calls_per_request"] == {}  # the floor never touches DynamoDB
    # The small store's phases ran before the big room was written, the big room's after (run.stretch).
    stores = [p["phase"]["store"] for p in results["phases"]]
    assert stores == sorted(stores, key=["small", "big"].index) and {"small", "big"} == set(stores), stores
    assert phases["room_page"]["phase"]["store"] == phases["floor"]["phase"]["store"] == "small"
    assert phases["room_page_beside_big"]["phase"]["store"] == phases["history_ab"]["phase"]["store"] == "big"
    if wrk.available():  # GET phases on wrk: requests by worker counted; many rooms' first views cold
        assert results["load_generator"] == "wrk" and phases["room_page"]["phase"]["load"] == "wrk"
        assert sum(phases["room_page"]["requests_by_worker"].values()) == phases["room_page"]["requests"]
        warm = phases["rooms_warm"]
        assert warm["requests"] > 0 and warm["cold"]["requests"] > 0, warm
        assert warm["cold"]["requests"] + warm["steady"]["requests"] == warm["requests"]
        assert sum(warm["cold"]["by_calls"].values()) == warm["cold"]["requests"]  # first views by their calls
        assert len(warm["rss_mb_after"]) == 2 and all(mb > 0 for mb in warm["rss_mb_after"].values())
        # The room page's readers as seeded (bench/data.py READER_MIX), each group's calls per page counted.
        assert set(phases["room_page"]["by_reader"]) == {"caught-up", "few-unread", "many-unread"}
    assert phases["room_page"]["calls_per_request"]  # the header is there and counted
    assert results["seeded"]["sidebar_rooms"] == 200  # the measured page has the 200-room sidebar (run.check_sidebar)
    # Unread counts for 200 rooms: the session, the user with their rooms, at most 2 BatchGetItems.
    assert 0 < sum(phases["sidebar"]["calls_per_request"].values()) <= 4, phases["sidebar"]["calls_per_request"]
    # The permanent link 1,000 back of 2,000: the room page's budget, its two history Queries keyed on the message.
    assert 0 < phases["permalink_big"]["calls_per_request_total"] <= 6, phases["permalink_big"]["calls_per_request"]
    assert phases["permalink_big"]["calls_per_request"]["Query"] == 4  # session, sidebar, the two around the message

    watches = [p for p in results["phases"] if p["phase"]["kind"] == "watch"]
    assert watches and all(p["live"]["posts"] > 0 and p["live"]["deliveries"] > 0 for p in watches)
    assert all(p["live"]["duplicates"] == 0 for p in watches)
    # Pushed delivery in miniature: streams opened, every marked post reached every stream once and
    # in order, idle streams made no HTTP request, and the report puts them beside the polls.
    streams = [p for p in results["phases"] if p["phase"]["kind"] == "stream"]
    assert len(streams) == 2
    for phase in streams:
        live, opened = phase["live"], phase["streams"]
        assert opened["open"] == phase["phase"]["users"] and opened["statuses"] == {"200": opened["open"]}, opened
        assert live["posts"] > 0 and live["deliveries"] == live["expected_deliveries"], live
        assert (live["missing"], live["duplicates"], live["out_of_order"]) == (0, 0, 0), live
        assert phase["idle"]["requests"] == 0 and opened["drops"] == 0, (phase["idle"], opened)
        assert phase["live_reads_per_second_probed"] is not None
        assert len(opened["rss_mb_open"]) == 2 and all(mb > 0 for mb in opened["rss_mb_open"].values())
    assert watches[-1]["idle"]["requests"] > 0  # the polls beside them do poll while idle
    assert results["workers"] and all(w["rss_mb"] > 0 for w in results["workers"])
    assert set(results["profile"]) == {"room page", "floor"}
    # Search: the big room's index was bulk-loaded (every term of every message), each measured
    # query matched messages (run.check_searches) and costs Queries of the index plus reads.
    seeded = results["seeded"]
    assert seeded["index_items"] > 10 * seeded["big_messages"], seeded["index_items"]
    assert set(seeded["searches"]) == {"one word", "prefix", "two words"}
    for kind in seeded["searches"]:
        calls = phases["search_" + kind.replace(" ", "_")]["calls_per_request"]
        assert calls.get("Query", 0) >= 3 and "Scan" not in calls, (kind, calls)  # session, sidebar, the index
    # The post A/B: both servers answered posts in the same window; only the indexer's differs.
    off = phases["post_ab"]["other_requests"]["post (indexer off)"]
    assert off["requests"] > 0 and all(status.startswith("2") for status in off["statuses"]), off

    table = (tmp_path / "benchmarks.md").read_text()
    for label in ["room list", "sidebar (200 rooms, 18–20 unread)", "room page (100 msgs)", "room page (2,000 msgs)",
                  "permalink (1,000 back of 2,000 msgs)", "private room page (100 msgs)",
                  "floor (room page, no DynamoDB)", "post message", "live tick"]:
        row = next((line for line in table.splitlines() if line.startswith(f"| {label} |")), None)
        assert row is not None, label
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert all(re.fullmatch(r"[\d,]+(\.\d+)?", c) for c in cells[1:6]), row  # users, req/s, p50, p95, p99
    assert "## Pushed delivery: streams beside polls" in table
    for target in ["streams: delivery p50", "streams: 0 missing", "HTTP requests per idle tab",
                   "DynamoDB reads/s flat", "worker RSS ≤ 150 MB each with 30 open streams",
                   "CPU per idle stream", "search, one word", "search, prefix", "search, two words",
                   "post p95 with the search indexer", "room page ≥ 0.70× the floor",
                   "room page: ≤ 1 DynamoDB call in the steady state"]:
        assert any(line.startswith(f"| {target}") for line in table.splitlines()), target
    assert (tmp_path / "benchmarks.png").stat().st_size > 10_000
    assert "Per endpoint" in run.stdout  # the table is printed too
