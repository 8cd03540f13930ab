"""Prometheus metrics: what pages someone, counted where it happens, scraped from gunicorn's master.

Why Prometheus's multi-process mode (docs/deploy.md, "Metrics"): a host runs one gunicorn with
several workers, and a scrape must see the host's totals, not one worker's. In multi-process mode
(PROMETHEUS_MULTIPROC_DIR) each worker writes its values to small memory-mapped files in that
directory; gunicorn's master serves them, summed, on a port of its own (GUNICORN_METRICS_BIND,
127.0.0.1:9100 by default), never through the public site. gunicorn.conf.py sets it up: a fresh
directory per start, ``mark_process_dead`` when a worker exits (its live gauge drops out; its
counters stay, so totals never go backwards). Without PROMETHEUS_MULTIPROC_DIR (tests,
manage.py) the values live in this process's registry (prometheus_client.REGISTRY).

What is measured, and where:
- requests: latency by URL pattern name (never the path), method and status (``MetricsMiddleware``);
  a live stream's latency is the time to open it; how many are open is ``chatsite_live_streams``;
- DynamoDB: API calls by operation (chatsite.dynamodb.observe_calls: the calls count_calls counts),
  the latency of each HTTP attempt (retries are attempts), throttled attempts and failed ones by
  error code (chatsite.dynamodb.observe_attempt_outcomes);
- live: open streams (a gauge summed over the live workers), feed refreshes and their duration
  (rooms.live's room feeds, rooms.activity's activity hub);
- refusals: posts over the rate limit (rooms.post_guard), sign-in and other account throttles
  (accounts.services).

Every metric has labels, so importing this module creates no value (and no file in the
multi-process directory) until something is counted: gunicorn's master imports it to serve.
Nothing here imports Django settings or other project modules at import time for the same reason.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile
import time
from typing import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess, start_http_server

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_MADE_ENV = "CHATSITE_METRICS_DIR_MADE"  # the directory a gunicorn master made itself (not the operator's)
DEFAULT_BIND = "127.0.0.1:9100"

_FAST_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUEST_SECONDS = Histogram(
    "chatsite_request_duration_seconds",
    "Time to answer a request (for a live stream: to open it), by URL pattern name, method and status.",
    ["view", "method", "status"], buckets=_REQUEST_BUCKETS)
DYNAMODB_CALLS = Counter(
    "chatsite_dynamodb_calls", "DynamoDB API calls (retries not counted), by operation.", ["operation"])
DYNAMODB_ATTEMPT_SECONDS = Histogram(
    "chatsite_dynamodb_attempt_duration_seconds",
    "DynamoDB HTTP attempts (each retry is one) and their latency, by operation.",
    ["operation"], buckets=_FAST_BUCKETS)
DYNAMODB_THROTTLES = Counter(
    "chatsite_dynamodb_throttles",
    "DynamoDB attempts refused for throughput (ProvisionedThroughputExceeded, Throttling, "
    "RequestLimitExceeded), by operation.", ["operation"])
DYNAMODB_ERRORS = Counter(
    "chatsite_dynamodb_errors",
    "DynamoDB attempts that failed otherwise, by operation and error code (ConditionalCheckFailed"
    "Exception is the app's normal way to lose a race; no answer at all: the exception's class).",
    ["operation", "code"])
LIVE_STREAMS = Gauge(
    "chatsite_live_streams", "Open live streams (Server-Sent Events), summed over the live workers.",
    ["kind"], multiprocess_mode="livesum")
LIVE_REFRESH_SECONDS = Histogram(
    "chatsite_live_refresh_duration_seconds",
    "Live feed refreshes (room: a room's feed; activity: the users' activity hub) and their duration.",
    ["feed", "outcome"], buckets=_FAST_BUCKETS)
POST_RATE_LIMITED = Counter(
    "chatsite_post_rate_limited", "Posts refused because their author is over the rate limit.", ["reason"])
ACCOUNT_THROTTLED = Counter(
    "chatsite_account_throttled",
    "Attempts refused by an account throttle before any password or code was checked, by counter "
    "(signin-user, signin-ip, signin-device, signup-ip, ...).", ["scope"])

# Kept in step with chatsite.dynamodb's own list (it calls them throttling in its 503 logic).
THROTTLE_CODES = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"})
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


# --- recording ----------------------------------------------------------------------------------


def _count_call(operation: str) -> None:
    DYNAMODB_CALLS.labels(operation).inc()


def _count_attempt(operation: str, seconds: float, error: str | None) -> None:
    DYNAMODB_ATTEMPT_SECONDS.labels(operation).observe(seconds)
    if error is None:
        return
    if error in THROTTLE_CODES:
        DYNAMODB_THROTTLES.labels(operation).inc()
    else:
        DYNAMODB_ERRORS.labels(operation, error).inc()


_uninstall: list[Callable[[], None]] = []


def install() -> None:
    """Count DynamoDB calls and attempts from now on (chatsite's AppConfig.ready). Idempotent."""
    from chatsite import dynamodb  # reads Django settings: not at import (gunicorn's master)

    if not _uninstall:
        _uninstall.append(dynamodb.observe_calls(_count_call))
        _uninstall.append(dynamodb.observe_attempt_outcomes(_count_attempt))


@contextlib.contextmanager
def live_stream(kind: str) -> Iterator[None]:
    """One open live stream of ``kind`` ("room" or "user") while the block runs."""
    gauge = LIVE_STREAMS.labels(kind)
    gauge.inc()
    try:
        yield
    finally:
        gauge.dec()


def timed_refresh(feed: str) -> Callable:
    """Decorator: each call is one refresh of a ``feed`` ("room" or "activity"), timed, by outcome."""

    def decorate(refresh: Callable) -> Callable:
        def timed(*args, **kwargs):
            started = time.perf_counter()
            outcome = "error"
            try:
                result = refresh(*args, **kwargs)
                outcome = "ok"
                return result
            finally:
                LIVE_REFRESH_SECONDS.labels(feed, outcome).observe(time.perf_counter() - started)

        timed.__name__, timed.__doc__, timed.__wrapped__ = refresh.__name__, refresh.__doc__, refresh
        return timed

    return decorate


def post_rate_limited() -> None:
    POST_RATE_LIMITED.labels("rate_limit").inc()


def account_throttled(scope: str) -> None:
    ACCOUNT_THROTTLED.labels(scope).inc()


def view_label(request) -> str:
    """The URL pattern's name ("rooms:room"), never the path: ids and query strings stay out, and
    the number of series stays the number of routes. Resolved here when the request was answered
    before Django's URL resolution (static files, the bulkhead's 503)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        from django.conf import settings
        from django.urls import Resolver404, resolve

        if settings.STATIC_URL and request.path_info.startswith(settings.STATIC_URL):
            return "static"
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return "unmatched"
    return match.view_name or "unnamed"


class MetricsMiddleware:
    """Times each request and counts it by URL pattern name, method and status."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method in _METHODS else "other"
        REQUEST_SECONDS.labels(view_label(request), method, str(response.status_code)).observe(
            time.perf_counter() - started)
        return response


# --- gunicorn's master: the directory, the scrape port, dead workers ------------------------------


def prepare_multiprocess_dir() -> tuple[str, bool]:
    """Before the first worker starts: the directory the workers write to, emptied (values of an
    earlier run must not be added to this one's), and whether we made it (then remove it at exit).
    PROMETHEUS_MULTIPROC_DIR if set, else a new temporary directory; the environment is set for
    the workers, which inherit it. Values are decided at prometheus_client's import, so this must
    run before the workers import it."""
    path = os.environ.get(MULTIPROC_ENV)
    # A directory another gunicorn master made is not the operator's: a binary upgrade (USR2)
    # inherits it while the old master's workers still write there, and that master removes it.
    if path and os.environ.get(_MADE_ENV) != path:
        os.makedirs(path, exist_ok=True)
        for stale in glob.glob(os.path.join(path, "*.db")):
            os.remove(stale)
        return path, False
    path = tempfile.mkdtemp(prefix="chatsite-metrics-")
    os.environ[MULTIPROC_ENV] = os.environ[_MADE_ENV] = path
    return path, True


def parse_bind(bind: str) -> tuple[str, int]:
    """"127.0.0.1:9100" -> ("127.0.0.1", 9100); a bare port means loopback, never all interfaces."""
    host, _, port = bind.rpartition(":")
    return (host.strip("[]") or "127.0.0.1"), int(port)


_server = None


def serve_multiprocess(bind: str):
    """Serve every worker's values, summed, on ``bind`` (gunicorn's master, in a thread)."""
    global _server
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    host, port = parse_bind(bind)
    _server, _thread = start_http_server(port, addr=host, registry=registry)
    return _server


def close_inherited_server() -> None:
    """In a worker just forked from the master: close its copy of the scrape socket, so the port is
    free once the master is gone even while old workers finish (a restart binds it again)."""
    if _server is not None:
        _server.socket.close()


def mark_process_dead(pid: int) -> None:
    """A worker exited: its live gauges stop counting (its counters and histograms stay)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)


def remove_multiprocess_dir(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)
