"""/healthz; the bulkhead that keeps threads free in a brown-out; DynamoDB unavailable → a plain
503 page; the Content-Security-Policy header; no-store for pages rendered for a signed-in user."""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers
from django.utils.functional import LazyObject, empty

from chatsite import dynamodb
from chatsite.errors import unavailable_response

logger = logging.getLogger("chatsite.dynamodb")


class DynamoDBUnavailableMiddleware:
    """Turn "DynamoDB is down / throttling / tables missing" raised by a view into a 503 page.

    Failures raised outside views (e.g. saving the session) reach ``chatsite.errors.server_error``,
    which makes the same page. Either way one log line per request, no traceback to the user.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        cause = dynamodb.unavailable_cause(exception)
        if cause is None:
            return None
        return unavailable_response(request, exception, cause=cause)


# While every slot is held a request waits for one, unless DynamoDB itself is stalled (an HTTP
# attempt unanswered for STALL_PATIENCE_SECONDS and no answer meanwhile: dynamodb.stalled_for()).
# Then it is refused at once, and so is every request for BULKHEAD_STALLED_SECONDS after: each
# wait holds one of the threads /healthz needs. Slots held by slow healthy work (CPU) just queue.
BULKHEAD_PATIENCE_SECONDS = dynamodb.STALL_PATIENCE_SECONDS
BULKHEAD_STALLED_SECONDS = 5
# How often a waiting request looks again at DynamoDB, so a stall that starts while it waits
# frees its thread within about the patience time.
BULKHEAD_RECHECK_SECONDS = 0.1
# A healthy queue is never refused; this only bounds a wait that something else broke.
BULKHEAD_MAX_WAIT_SECONDS = 25


class Bulkhead:
    """At most ``size`` requests of this process in the application at once. More wait for a slot,
    and are refused only while DynamoDB is stalled (or a wait passes BULKHEAD_MAX_WAIT_SECONDS)."""

    def __init__(self, size: int):
        self.size = size
        self._changed = threading.Condition()
        self._started: dict[object, float] = {}  # slot -> time.monotonic() its request entered
        self._stalled_until = 0.0  # refuse without waiting until then

    def acquire(self) -> tuple[object | None, str]:
        """(slot, "") or (None, why it was refused)."""
        arrived = time.monotonic()
        with self._changed:
            while len(self._started) >= self.size:
                now = time.monotonic()
                held = f"busy: all {self.size} request slots of this worker held"
                stalled_for = dynamodb.stalled_for()
                if stalled_for is not None:
                    self._stalled_until = now + BULKHEAD_STALLED_SECONDS
                    return None, f"{held}, a DynamoDB call in flight for {stalled_for:.1f} s unanswered"
                if now < self._stalled_until:
                    return None, f"{held}, DynamoDB stalled {BULKHEAD_STALLED_SECONDS - (self._stalled_until - now):.1f} s ago"
                if now - arrived >= BULKHEAD_MAX_WAIT_SECONDS:
                    return None, f"{held}, waited {now - arrived:.0f} s"
                self._changed.wait(BULKHEAD_RECHECK_SECONDS)
            slot = object()
            self._started[slot] = time.monotonic()
            return slot, ""

    def release(self, slot: object) -> None:
        with self._changed:
            del self._started[slot]
            self._changed.notify()


_bulkhead: Bulkhead | None = None


def limit_concurrent_requests(size: int | None) -> None:
    """Let at most ``size`` requests of this process run at once (None: no limit).

    gunicorn's gthread worker runs every request, /healthz included, on one pool of threads, in
    arrival order. When DynamoDB stalls each request holds its thread for up to attempts ×
    timeouts, and live polls wait on the feed refresh that is stuck on it; without a limit every
    thread ends up waiting and /healthz queues behind them. gunicorn.conf.py sets this to
    threads − 2 per worker, so two threads stay free: /healthz and static files keep answering.
    Requests past the limit wait for a slot, or get the 503 page at once while DynamoDB is stalled.
    """
    global _bulkhead
    _bulkhead = Bulkhead(size) if size else None


class BulkheadMiddleware:
    """Apply ``limit_concurrent_requests`` (after /healthz and static files, before any DynamoDB work)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        bulkhead = _bulkhead
        if bulkhead is None:
            return self.get_response(request)
        slot, refused = bulkhead.acquire()
        if slot is None:
            return unavailable_response(request, None, cause=refused)
        try:
            return self.get_response(request)
        finally:
            bulkhead.release(slot)


class ContentSecurityPolicyMiddleware:
    """No inline script anywhere: HTMX and our own JS load from /static/."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response


class NoStoreForSignedInMiddleware:
    """`Cache-Control: no-store` (and friends) on every response rendered for a signed-in user.

    Without it, after signing out, Back shows the user's pages (their name, the composer, their
    messages) from the browser's back/forward cache: on a shared computer, to the next person.
    It decides from what the request already loaded and never loads the session itself, so
    session-blind views (the live-update poll) stay free of DynamoDB reads.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if rendered_for_signed_in_user(request):
            add_never_cache_headers(response)
        return response


def rendered_for_signed_in_user(request: HttpRequest) -> bool:
    """True if this request's user, or its session, was looked at and is signed in."""
    user = request.__dict__.get("user")
    if isinstance(user, LazyObject):
        user = user.__dict__.get("_wrapped", empty)
    if user is not None and user is not empty:
        return bool(getattr(user, "is_authenticated", False))
    session = request.__dict__.get("session")
    if session is not None and getattr(session, "accessed", False):
        loaded = session.__dict__.get("_session_cache")  # present only once the session was loaded
        return isinstance(loaded, dict) and SESSION_KEY in loaded
    return False


class HealthCheckMiddleware:
    """Answer the load balancer's `GET /healthz` before anything else runs.

    Balancers probe each host by its IP address, which is not in ALLOWED_HOSTS, so a check that
    went through the host validation (CommonMiddleware) would get a 400 and mark every host
    unhealthy. It touches no DynamoDB: it says the process serves, nothing more.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/healthz":
            return HttpResponse("ok", content_type="text/plain")
        return self.get_response(request)
