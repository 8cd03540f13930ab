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
- ``X-DynamoDB-Patterns: selectors.room_get_any=1,selectors.user_with_rooms=1``: the same calls by
  the named access pattern that made each (docs/data-model.md): the innermost function of rooms/
  or accounts/ on the stack, ``module.function``; ``none`` for zero. So the report says which
  patterns make a page's calls (a cold view's, a steady one's), not only which operations.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import Counter
from pathlib import Path

from bench.data import READER_COOKIE
from chatsite import dynamodb

CALLS_HEADER = "X-DynamoDB-Calls"
PROCESS_HEADER = "X-Bench-Process"
PATH_HEADER = "X-Bench-Path"
SENT_HEADER = "X-Bench-Sent"
READER_HEADER = "X-Bench-Reader"
PATTERNS_HEADER = "X-DynamoDB-Patterns"

_process_calls: Counter = Counter()
_process_lock = threading.Lock()


def _count_for_process(operation_name: str) -> None:
    with _process_lock:
        _process_calls[operation_name] += 1


dynamodb.observe_calls(_count_for_process)  # once, when settings load this middleware

_APPS = tuple(str(Path(__file__).resolve().parents[1] / app) + os.sep for app in ("rooms", "accounts"))
_request = threading.local()  # greenlet-local under gevent: each request's own


def pattern_of(frame) -> str:
    """``module.function`` of the innermost rooms/ or accounts/ function on the stack (a
    comprehension's frame stands for its function's): the access pattern making the call."""
    while frame is not None:
        code = frame.f_code
        if code.co_filename.startswith(_APPS) and not code.co_name.startswith("<"):
            return f"{Path(code.co_filename).stem}.{code.co_name}"
        frame = frame.f_back
    return "other"


def _name_for_request(operation_name: str) -> None:
    named = getattr(_request, "patterns", None)
    if named is not None:
        named[pattern_of(sys._getframe(1))] += 1


dynamodb.observe_calls(_name_for_request)


def _format(counts: Counter) -> str:
    return ",".join(f"{op}={n}" for op, n in sorted(counts.items()) if n) or "none"


class BenchMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        _request.patterns = named = Counter()
        try:
            with dynamodb.count_calls() as calls:
                response = self.get_response(request)
        finally:
            _request.patterns = None
        response.headers[CALLS_HEADER] = _format(calls)
        response.headers[PATTERNS_HEADER] = _format(named)
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
