"""Benchmark-only middleware: DynamoDB calls per request, in response headers.

Enabled only when CHATSITE_BENCH=1 (one guarded line in settings.MIDDLEWARE puts it first, so it
also sees the session middleware's calls). `bench/` reads two headers:

- ``X-DynamoDB-Calls: GetItem=1,Query=1``: the calls this request's thread made, by operation,
  counted with ``chatsite.dynamodb.count_calls`` (``none`` for zero).
- ``X-Bench-Process: pid=123,GetItem=40,Query=7``: every DynamoDB call this worker process has made
  so far, from any thread. Live updates refresh a per-process room feed, possibly off the request
  thread; the load generator takes the difference of these totals across a measurement window to
  get the process-wide read rate whoever made the calls.
- ``X-Bench-Path: /rooms/abc/``: the path answered, so a load generator that keeps several
  connections open (wrk) can tell which page an answer is for (a page's first view on a worker).
- ``X-Bench-Sent``: the request's own header of that name, echoed (wrk's script times each answer
  with it, bench/wrk_phase.lua).
- ``X-Bench-Reader: caught-up``: the request's reader group cookie (bench.data.READER_COOKIE, set
  beside each bench session), echoed, so the load generator counts calls per page by reader group.
"""

from __future__ import annotations

import os
import threading
from collections import Counter

from bench.data import READER_COOKIE
from chatsite import dynamodb

CALLS_HEADER = "X-DynamoDB-Calls"
PROCESS_HEADER = "X-Bench-Process"
PATH_HEADER = "X-Bench-Path"
SENT_HEADER = "X-Bench-Sent"
READER_HEADER = "X-Bench-Reader"

_process_calls: Counter = Counter()
_process_lock = threading.Lock()


def _count_for_process(operation_name: str) -> None:
    with _process_lock:
        _process_calls[operation_name] += 1


dynamodb.observe_calls(_count_for_process)  # once, when settings load this middleware


def _format(counts: Counter) -> str:
    return ",".join(f"{op}={n}" for op, n in sorted(counts.items()) if n) or "none"


class BenchMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with dynamodb.count_calls() as calls:
            response = self.get_response(request)
        response.headers[CALLS_HEADER] = _format(calls)
        with _process_lock:
            totals = _format(_process_calls)
        response.headers[PROCESS_HEADER] = f"pid={os.getpid()},{totals}"
        response.headers[PATH_HEADER] = request.path
        sent = request.headers.get(SENT_HEADER)
        if sent:
            response.headers[SENT_HEADER] = sent[:32]
        reader = request.COOKIES.get(READER_COOKIE)
        if reader:
            response.headers[READER_HEADER] = reader[:32]
        return response
