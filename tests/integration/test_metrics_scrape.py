"""Metrics under real gunicorn (two gevent workers) on dynalite: the master serves every worker's
values, summed, on its own loopback port; the public port serves none. After a few requests the
scrape adds up: requests by pattern and status are exactly those sent, each worker's own files
hold part of them, and a live stream is counted while open and not after."""

from __future__ import annotations

import re
import signal
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.support.servers import free_port
from tests.support.sse import Stream
from tests.support.web import Person, wait_until

pytestmark = pytest.mark.integration

ROOM_PAGES = 40


def scrape(port: int) -> dict[tuple[str, frozenset], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.status == 200
        text = response.read().decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples, name: str, **labels) -> float:
    """Summed over every label the caller didn't name."""
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls)


def room_pages_in(files: list[Path]) -> float:
    """rooms:room 200 GETs recorded in these files (one worker's), read the way the master reads all."""
    for metric in MultiProcessCollector.merge([str(f) for f in files], accumulate=True):
        for s in metric.samples:
            if (s.name == "chatsite_request_duration_seconds_count" and s.labels.get("view") == "rooms:room"
                    and s.labels.get("status") == "200" and s.labels.get("method") == "GET"):
                return s.value
    return 0.0


def test_the_master_sums_both_workers_on_its_own_port_and_the_public_port_serves_none(gunicorn_server, tmp_path):
    metrics_port = free_port()
    directory = tmp_path / "prometheus"
    directory.mkdir()
    (directory / "counter_4242.db").write_bytes(b"left by an earlier run")  # read, it would break a scrape
    server = gunicorn_server(GUNICORN_METRICS_BIND=f"127.0.0.1:{metrics_port}",
                             PROMETHEUS_MULTIPROC_DIR=str(directory), GUNICORN_WORKER_CLASS="gevent",
                             GUNICORN_WORKERS="2", CHAT_LIVE_HEARTBEAT_SECONDS="1")
    assert not (directory / "counter_4242.db").exists()  # a fresh directory per start

    alice = Person(server.url)
    alice.sign_up("alice", "Alice")
    room = alice.create_room("Llama Farm")

    def visit(_):  # a new connection each time: the kernel hands them to either worker
        return requests.get(server.url + room, timeout=15, headers={"Connection": "close"}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = Counter(pool.map(visit, range(ROOM_PAGES)))
    assert statuses == {200: ROOM_PAGES}

    # The public port has no metrics (Django's 404, counted as such); the metrics port has them.
    public = requests.get(server.url + "/metrics", timeout=10)
    assert public.status_code == 404 and "chatsite_request_duration_seconds" not in public.text
    samples = scrape(metrics_port)
    assert value(samples, "chatsite_request_duration_seconds_count",
                 view="rooms:room", method="GET", status="200") == ROOM_PAGES
    assert value(samples, "chatsite_request_duration_seconds_count",
                 view="unmatched", method="GET", status="404") == 1
    assert value(samples, "chatsite_request_duration_seconds_count",
                 view="rooms:list", method="POST", status="302") == 1  # the room's creation
    assert total(samples, "chatsite_request_duration_seconds_sum", view="rooms:room") > 0

    # Both workers served some of the pages, each in its own files, and the scrape is their sum.
    by_pid: dict[str, list[Path]] = {}
    for path in directory.glob("*.db"):
        by_pid.setdefault(re.search(r"_(\d+)\.db$", path.name).group(1), []).append(path)
    per_worker = {pid: room_pages_in(files) for pid, files in by_pid.items()}
    assert len([n for n in per_worker.values() if n > 0]) == 2, per_worker
    assert sum(per_worker.values()) == ROOM_PAGES

    # DynamoDB: the pages' calls are counted by operation, every call made at least one attempt.
    calls = {dict(ls)["operation"]: v for (n, ls), v in samples.items() if n == "chatsite_dynamodb_calls_total"}
    # A signed-out page of a room this worker holds a fresh tail of reads nothing (rooms/room_tail.py),
    # but each worker's first page loads the tail: a Query on each of the two.
    assert calls.get("Query", 0) >= 2, calls
    for operation, count in calls.items():
        attempts = value(samples, "chatsite_dynamodb_attempt_duration_seconds_count", operation=operation)
        assert attempts >= count, (operation, attempts, count)
    assert total(samples, "chatsite_dynamodb_throttles_total") == 0

    # A live stream is counted while it is open, and no longer once it has ended.
    watermark = re.search(r'data-watermark="([^"]+)"', alice.get(room).text).group(1)
    stream = Stream(alice.http, f"{server.url}{room}stream?w={quote(watermark)}").open()
    assert stream.status == 200
    stream.wait_for(lambda event: event.name == "beat")
    wait_until(lambda: value(scrape(metrics_port), "chatsite_live_streams", kind="room") == 1,
               message="the open stream in the gauge")
    after_open = scrape(metrics_port)
    assert total(after_open, "chatsite_live_refresh_duration_seconds_count", feed="room") >= 1  # its feed refreshed
    stream.close()
    # the worker notices the closed connection at its next write (a heartbeat, every second here)
    wait_until(lambda: value(scrape(metrics_port), "chatsite_live_streams", kind="room") == 0, timeout=20,
               message="the ended stream out of the gauge")

    # A reload (SIGHUP: new workers, the same master) keeps the port and the totals: the old
    # workers' counters stay in the sum, their live gauges leave it (child_exit).
    old_workers = workers_of(server.proc.pid)
    stream = Stream(alice.http, f"{server.url}{room}stream?w={quote(watermark)}").open()
    stream.wait_for(lambda event: event.name == "beat")
    wait_until(lambda: value(scrape(metrics_port), "chatsite_live_streams", kind="room") == 1,
               message="the second stream in the gauge")
    server.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: len(workers_of(server.proc.pid)) == 2 and not workers_of(server.proc.pid) & old_workers,
               timeout=30, message="two new workers after the reload")
    wait_until(lambda: value(scrape(metrics_port), "chatsite_live_streams", kind="room") == 0, timeout=20,
               message="the old worker's stream out of the gauge")
    assert not [p for p in directory.glob("gauge_livesum_*.db") if int(p.stem.rpartition("_")[2]) in old_workers]
    assert requests.get(server.url + room, timeout=15).status_code == 200
    samples = scrape(metrics_port)
    assert value(samples, "chatsite_request_duration_seconds_count",
                 view="rooms:room", method="GET", status="200") == ROOM_PAGES + 2  # + alice's page, + the page after the reload
    stream.close()


def workers_of(master: int) -> set[int]:
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            children.add(int(stat.parent.name))
    return children

