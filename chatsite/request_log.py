"""One log line per request, and that request's id on every log line it causes.

- ``RequestLogMiddleware`` gives each request an id (the incoming ``X-Request-ID`` when it is a
  sane token, else a new one), echoes it in the response's ``X-Request-ID``, keeps it in a
  contextvar while the request runs, and logs one line on ``chatsite.request`` when it ends: method,
  URL pattern (never the path: no ids, no query strings), status, duration, the DynamoDB calls and
  milliseconds it spent, the signed-in user's id if the request looked at who that is.
  Never cookies, session keys, query strings or anything a user typed.
- ``RequestIdFilter`` (on the log handler, so it sees every logger's records) stamps each record
  with the current request's id: a warning logged deep in a view carries the same id as its
  request line.
- ``JsonFormatter``: one JSON object per line (``DJANGO_LOG_FORMAT=json``), the request line's
  fields at the top level, so CloudWatch Logs Insights can filter on ``status`` or ``view``.

A streamed response (the live SSE streams) is logged once, when the stream ends (the server closes
it): ``stream`` is true, ``duration_ms`` is the whole stream's life and ``open_ms`` the time until
its headers went out; the calls and milliseconds include what the stream did while open.

The id lives in a contextvar: each thread (gthread) has its own context, and so does each greenlet
(gevent: greenlet switches contexts), so concurrent requests never see each other's id
(tests/test_request_log_gevent.py checks it under gevent's patching, and the gunicorn test with
real gevent workers). Threads and greenlets a request starts begin with an empty context: their
lines carry no id, and their DynamoDB time is not in the request's milliseconds (their calls are,
when the code credits them: dynamodb.credit_calls).

Stdlib and Django's utilities only at import time: gunicorn's master may load the formatter
before Django's settings exist.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections import Counter
from contextvars import ContextVar
from datetime import datetime, timezone

from django.utils.functional import LazyObject, empty

REQUEST_ID_HEADER = "X-Request-ID"
# What we accept from a load balancer or proxy: long enough to be unique, short and plain enough
# that it can't flood or forge a log line or a header. Anything else is replaced by a fresh id.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:=+/@-]{8,128}")
LOG_FORMATS = ("text", "json")

logger = logging.getLogger("chatsite.request")


class _Request:
    """What the log line needs that only the request's own thread or greenlet can gather."""

    __slots__ = ("id", "started", "dynamodb_seconds", "calls")

    def __init__(self, request_id: str):
        self.id = request_id
        self.started = time.monotonic()
        self.dynamodb_seconds = 0.0
        self.calls: Counter = Counter()


_current: ContextVar[_Request | None] = ContextVar("chatsite_request", default=None)


def current_request_id() -> str | None:
    """The id of the request this thread or greenlet is serving, if any."""
    state = _current.get()
    return state.id if state is not None else None


def request_id_from(header: str | None) -> str:
    """The incoming id if it is a sane token, else a new one (32 hex digits)."""
    if header and _SANE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def _count_attempt(operation_name: str, seconds: float, exception: BaseException | None) -> None:
    state = _current.get()
    if state is not None:
        state.dynamodb_seconds += seconds


_observing = False


def _observe_dynamodb() -> None:
    global _observing
    if not _observing:
        from chatsite import dynamodb  # needs settings: not at import (see the module's docstring)

        dynamodb.observe_attempts(_count_attempt)
        _observing = True


class RequestLogMiddleware:
    """Placed right after /healthz's middleware (settings.MIDDLEWARE): it sees every other request
    whole, static files, the bulkhead's 503, the session's DynamoDB calls and the error pages."""

    def __init__(self, get_response):
        from django.conf import settings

        from chatsite import dynamodb

        self.get_response = get_response
        self.count_calls = dynamodb.count_calls
        self.static_prefix = "/" + settings.STATIC_URL.lstrip("/")
        _observe_dynamodb()

    def __call__(self, request):
        state = _Request(request_id_from(request.headers.get(REQUEST_ID_HEADER)))
        token = _current.set(state)
        try:
            with self.count_calls() as calls:
                response = self.get_response(request)
            state.calls.update(calls)
            response[REQUEST_ID_HEADER] = state.id
            # A file (WhiteNoise's static files) is logged now: wrapping its body would cost the
            # server's sendfile (file_to_stream), and the rest is the kernel's work.
            if response.streaming and getattr(response, "file_to_stream", None) is None:
                response.streaming_content = _LoggedStream(response.streaming_content, self, request,
                                                           response, state)
            else:
                self.log(request, response.status_code, state)
            return response
        finally:
            _current.reset(token)

    def log(self, request, status: int, state: _Request, *, open_ms: float | None = None) -> None:
        match = request.resolver_match
        if match is not None:
            view, route = match.view_name, match.route
        elif request.path.startswith(self.static_prefix):
            view, route = "static", None  # WhiteNoise answers before URLs are resolved
        else:
            view, route = "unmatched", None
        fields = {
            "method": request.method,
            "view": view,
            "route": route,
            "status": status,
            "duration_ms": round((time.monotonic() - state.started) * 1000, 1),
            "dynamodb_calls": sum(state.calls.values()),
            "dynamodb_ms": round(state.dynamodb_seconds * 1000, 1),
            "dynamodb_ops": dict(sorted(state.calls.items())),
            "user_id": _signed_in_user_id(request),
            "stream": open_ms is not None,
        }
        if open_ms is not None:
            fields["open_ms"] = open_ms
        logger.info("%s %s %s %.1fms dynamodb=%d/%.1fms user=%s%s", fields["method"], view, status,
                    fields["duration_ms"], fields["dynamodb_calls"], fields["dynamodb_ms"],
                    fields["user_id"] or "-", " stream" if open_ms is not None else "",
                    extra={"request": fields})


class _LoggedStream:
    """A streamed body, iterated in its request's context (id, calls, milliseconds); the request
    line is logged when the server closes it (Django passes close() on: HttpResponse.close)."""

    def __init__(self, chunks, middleware: RequestLogMiddleware, request, response, state: _Request):
        self.chunks = iter(chunks)
        self.middleware, self.request, self.response, self.state = middleware, request, response, state
        self.open_ms = round((time.monotonic() - state.started) * 1000, 1)
        self.logged = False

    def __iter__(self):
        return self

    def __next__(self):
        token = _current.set(self.state)
        try:
            with self.middleware.count_calls() as calls:
                try:
                    return next(self.chunks)
                finally:
                    self.state.calls.update(calls)
        finally:
            _current.reset(token)

    def close(self) -> None:
        if self.logged:
            return
        self.logged = True
        token = _current.set(self.state)
        try:
            self.middleware.log(self.request, self.response.status_code, self.state, open_ms=self.open_ms)
        finally:
            _current.reset(token)


def _signed_in_user_id(request) -> str | None:
    """The user's id if this request already loaded its user and they are signed in. Never loads
    it: session-blind views (the live poll) must stay free of DynamoDB reads."""
    user = request.__dict__.get("user")
    if isinstance(user, LazyObject):
        user = user.__dict__.get("_wrapped", empty)
    if user is None or user is empty or not getattr(user, "is_authenticated", False):
        return None
    return str(user.id)


class RequestIdFilter(logging.Filter):
    """Stamps every record with its request's id ("-" outside a request). On the handler, not a
    logger: a handler's filters see the records every logger propagates to it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO 8601, UTC), level, logger, message, request_id, the
    request line's fields, and a traceback as one string (JSON escapes its newlines)."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id if request_id not in (None, "-") else None,
        }
        fields = getattr(record, "request", None)
        if isinstance(fields, dict):
            entry.update((key, value) for key, value in fields.items() if key not in entry)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


def log_format(value: str | None) -> str:
    """DJANGO_LOG_FORMAT, checked: "text" (the default) or "json"."""
    chosen = (value or "text").strip().lower() or "text"
    if chosen not in LOG_FORMATS:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"DJANGO_LOG_FORMAT is {value!r}; use json (one JSON object per line, "
                                   f"for CloudWatch Logs and the like) or text (the default)")
    return chosen
