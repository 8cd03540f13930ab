"""Throughput phases with wrk (Debian's package, installed by `make bench`): a light load generator
in C, so the load process is not what bounds a page's throughput (locust, in Python, costs about a
millisecond of CPU per request; wrk a few tens of microseconds). bench/wrk_phase.lua rotates the
signed-in sessions' cookies and counts statuses, DynamoDB calls and which worker answered.

bench/load.py uses it for every GET-only phase ("page" and "alternate" kinds); scripted behaviour
(posts with idempotency keys, live ticks, watchers, streams) stays on locust.
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

SCRIPT = Path(__file__).with_name("wrk_phase.lua")
MARK = "BENCH-JSON "


def available() -> bool:
    return shutil.which("wrk") is not None


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(*, host: str, paths: list[str], cookies: list[str], user_agent: str, connections: int, warmup: float,
        seconds: float, threads: int | None = None, at_start=lambda: None, at_end=lambda: None,
        timeout: float = 30.0, sleep=time.sleep, headers: dict[str, str] | None = None) -> dict:
    """One wrk run: ``connections`` closed-loop connections; every request takes the next path and
    the next cookie (round-robin). Answers are counted from ``warmup`` s after the start for
    ``seconds`` s; ``at_start`` and ``at_end`` are called at the window's ends (CPU snapshots).
    ``headers``: sent with every request (the search's HX-Request: what a JavaScript user sends).
    Returns the Lua script's counts (latencies in ms) and the CPU seconds wrk used."""
    threads = max(1, min(threads or 2, connections))
    with tempfile.NamedTemporaryFile("w", suffix=".txt", prefix="bench-wrk-", delete=False) as config:
        config.write(f"agent\t{user_agent}\n")
        config.writelines(f"path\t{p}\n" for p in paths)
        config.writelines(f"cookie\t{c}\n" for c in cookies)
        config.writelines(f"header\t{name}\t{value}\n" for name, value in (headers or {}).items())
    try:
        cpu_before = _children_cpu()
        # wrk runs whole seconds: the warm-up gets what rounding leaves (at least half a second), then
        # the window, then 0.1 s so the window ends before wrk does. No warm-up: from the first answer.
        launched = time.monotonic()
        if warmup:
            total = max(round(0.2 + warmup + seconds + 0.1), math.ceil(0.2 + 0.5 + seconds + 0.1))
            window_end = launched + total - 0.1
            window_start = window_end - seconds
        else:
            total = math.ceil(seconds + 0.1)
            window_start, window_end = launched, launched + seconds
        proc = subprocess.Popen(
            ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{total}s", "--timeout", f"{timeout:g}s",
             "-s", str(SCRIPT), host, "--", config.name, str(threads), f"{window_start:.6f}", f"{window_end:.6f}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sleep(max(0.0, window_start - time.monotonic()))
        at_start()
        sleep(max(0.0, window_end - time.monotonic()))
        at_end()
        stdout, stderr = proc.communicate(timeout=total + timeout + 30)
        # wrk's CPU over its whole run, scaled to the window (it works at the same pace throughout).
        cpu = (_children_cpu() - cpu_before) * seconds / max(seconds, time.monotonic() - launched)
    finally:
        os.unlink(config.name)
    line = next((line for line in stdout.splitlines() if line.startswith(MARK)), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed (exit {proc.returncode}): {stdout[-800:]} {stderr[-800:]}")
    out = json.loads(line[len(MARK):])
    out["cpu_seconds"] = cpu
    out["window_seconds"] = seconds
    return out


def _percentile(values: list[float], q: float) -> float | None:
    """Nearest rank, as bench/load.py's percentile()."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * q / 100)) - 1]


def _mix(header: str) -> str:
    """An X-DynamoDB-Calls text ("Query=2,GetItem=1", "none") with its operations sorted by name."""
    ops = sorted((op, int(n)) for op, n in re.findall(r"([A-Za-z]+)=(\d+)", header or "") if int(n))
    return ",".join(f"{op}={n}" for op, n in ops) or "none"


def _named_mix(header: str) -> str:
    """An X-DynamoDB-Patterns text ("selectors.user_with_rooms=1,selectors.room_get_any=1") sorted by name."""
    named = sorted((p, int(n)) for p, n in re.findall(r"([\w.]+)=(\d+)", header or "") if int(n))
    return ",".join(f"{p}={n}" for p, n in named) or "none"


def summary(raw: dict) -> dict:
    """The wrk run as bench/load.py's Recorder.summary() shapes a phase's numbers."""
    seconds = raw["window_seconds"]
    latencies: list[float] = []
    statuses: Counter = Counter()
    calls: Counter = Counter()
    by_worker: Counter = Counter()
    distinct: Counter = Counter()
    cold_calls: Counter = Counter()
    cold_mix: Counter = Counter()  # first views by their calls, e.g. "GetItem=1,Query=2" (normalised, sorted)
    # Views by the access patterns that made their calls, e.g. "selectors.room_get_any=1,selectors.user_with_rooms=1"
    cold_patterns: Counter = Counter()
    steady_patterns: Counter = Counter()
    steady_calls: Counter = Counter()
    answered = cold = steady = 0
    calls_max = cold_max = steady_max = 0
    readers: dict[str, dict] = {}  # reader group -> requests, calls, calls_max (bench.data.READER_MIX)
    threads = raw["threads"]
    for thread in threads.values() if isinstance(threads, dict) else threads:  # Lua tables come as objects
        answered += int(thread.get("answered") or 0)
        found = thread.get("latencies") or []
        latencies += [float(v) for v in (found.values() if isinstance(found, dict) else found)]
        statuses.update({k: int(v) for k, v in (thread.get("statuses") or {}).items()})
        calls.update({k: int(v) for k, v in (thread.get("calls") or {}).items()})
        by_worker.update({k: int(v) for k, v in (thread.get("by_worker") or {}).items()})
        distinct.update({k: int(v) for k, v in (thread.get("distinct_by_worker") or {}).items()})
        cold_calls.update({k: int(v) for k, v in (thread.get("cold_calls") or {}).items()})
        cold_mix.update({_mix(k): int(v) for k, v in (thread.get("cold_mix") or {}).items()})
        steady_calls.update({k: int(v) for k, v in (thread.get("steady_calls") or {}).items()})
        cold_patterns.update({_named_mix(k): int(v) for k, v in (thread.get("cold_patterns") or {}).items()})
        steady_patterns.update({_named_mix(k): int(v) for k, v in (thread.get("steady_patterns") or {}).items()})
        cold += int(thread.get("cold_requests") or 0)
        steady += int(thread.get("steady_requests") or 0)
        calls_max = max(calls_max, int(thread.get("calls_max") or 0))
        cold_max = max(cold_max, int(thread.get("cold_max") or 0))
        steady_max = max(steady_max, int(thread.get("steady_max") or 0))
        for group, count in (thread.get("reader_requests") or {}).items():
            seen = readers.setdefault(group, {"requests": 0, "calls": 0, "calls_max": 0})
            seen["requests"] += int(count)
            seen["calls"] += int((thread.get("reader_calls") or {}).get(group) or 0)
            seen["calls_max"] = max(seen["calls_max"], int((thread.get("reader_max") or {}).get(group) or 0))
    n = answered
    errors = raw.get("errors") or {}
    failures = {f"wrk {k} errors": int(v) for k, v in errors.items() if k != "status" and v}

    def per(counter: Counter, count: int) -> dict:
        return {op: total / count for op, total in sorted(counter.items())} if count else {}

    return {
        "requests": n,
        "seconds": seconds,
        "rps": n / seconds if seconds else 0.0,
        # Answers that don't echo X-Bench-Sent (a server without bench/middleware.py): wrk's own
        # percentiles, which cover the warm-up too.
        **({"p50_ms": _percentile(latencies, 50), "p95_ms": _percentile(latencies, 95),
            "p99_ms": _percentile(latencies, 99), "max_ms": max(latencies)} if latencies or not n else
           {"p50_ms": raw["p50_us"] / 1000, "p95_ms": raw["p95_us"] / 1000, "p99_ms": raw["p99_us"] / 1000,
            "max_ms": raw["max_us"] / 1000}),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "calls_per_request": per(calls, n),
        "calls_per_request_total": sum(calls.values()) / n if n else None,
        "calls_max": calls_max,
        "requests_by_worker": dict(sorted(by_worker.items())),
        # Distinct paths each worker answered (exact with one wrk thread: each thread keeps its own).
        "paths_by_worker": dict(sorted(distinct.items())),
        "cold": {"requests": cold, "calls_per_request_total": sum(cold_calls.values()) / cold if cold else None,
                 "calls_per_request": per(cold_calls, cold), "calls_max": cold_max,
                 # How many first views made each mix of calls, most first: the report names the max's.
                 "by_calls": dict(sorted(cold_mix.items(), key=lambda kv: (-kv[1], kv[0]))),
                 "by_patterns": dict(sorted(cold_patterns.items(), key=lambda kv: (-kv[1], kv[0])))},
        "steady": {"requests": steady,
                   "calls_per_request_total": sum(steady_calls.values()) / steady if steady else None,
                   "calls_per_request": per(steady_calls, steady), "calls_max": steady_max,
                   "by_patterns": dict(sorted(steady_patterns.items(), key=lambda kv: (-kv[1], kv[0])))},
        # Calls per page by the session's reader group (the measured rooms' read cursors, seed.py).
        "by_reader": {group: {"requests": r["requests"], "calls_per_request_total": r["calls"] / r["requests"],
                              "calls_max": r["calls_max"]} for group, r in sorted(readers.items()) if r["requests"]},
        "failures": failures,
        "load_generator": "wrk",
    }
