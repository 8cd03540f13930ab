"""Every way DynamoDB can fail gives the 503 page (or the HTMX fragment), with Retry-After and one
log line naming the cause. The failures are real: botocore talks to tiny TCP servers that stall,
refuse, reset, answer 500 or throttle, or whose accept queue is full (tests/support/fault_servers.py).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import types

import botocore.endpoint
import botocore.exceptions
import pytest
from django.test import Client, RequestFactory
from pynamodb.exceptions import GetError, PynamoDBConnectionError, QueryError

from chatsite import dynamodb, errors, middleware
from rooms import selectors
from tests.support import fault_servers

THROTTLE_BODY = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
                            "message": "Rate of requests exceeds the allowed throughput."}).encode()

FAULTS = {
    "read timeout": fault_servers.silent_server,
    "connect timeout": fault_servers.full_backlog_server,
    "connection refused": fault_servers.refusing_port,
    "connection reset": fault_servers.resetting_server,
    "HTTP 500": lambda: fault_servers.answering_server(
        "500 Internal Server Error", {"Content-Type": "text/html"}, b"<html>upstream broke</html>"),
    "throttled": lambda: fault_servers.answering_server(
        "400 Bad Request", {"Content-Type": "application/x-amz-json-1.0", "x-amzn-ErrorType": "ThrottlingException"},
        THROTTLE_BODY),
}
DB_DOWN = b"We can't reach our database right now"


@pytest.fixture
def point_at(settings, monkeypatch):
    """Point every model (and the shared client) at a faulty endpoint, with short timeouts.
    botocore's backoff before the retry is recorded, not slept (up to 1 s of waiting for nothing:
    the failure and its cause are the same after it)."""
    settings.DYNAMODB_CONNECT_TIMEOUT = 0.3
    settings.DYNAMODB_READ_TIMEOUT = 0.3
    settings.DYNAMODB_MAX_ATTEMPTS = 2
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=lambda seconds: None))

    def point(url: str) -> None:
        dynamodb.configure(endpoint_url=url, prefix="fault_")

    yield point
    dynamodb.configure(endpoint_url=None, prefix="test_")


def _failure(point_at, url):
    point_at(url)
    with pytest.raises(Exception) as info:
        selectors.room_list()
    return info.value


@pytest.mark.parametrize("cause", FAULTS)
def test_a_real_failure_is_classified_with_its_cause(point_at, cause):
    with FAULTS[cause]() as url:
        exc = _failure(point_at, url)
    assert isinstance(exc, PynamoDBConnectionError)  # what the selectors really raise
    assert dynamodb.unavailable_cause(exc).startswith(cause)
    assert dynamodb.is_unavailable(exc)
    assert not dynamodb.is_missing_table(exc)


def _warnings(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("cause", FAULTS)
def test_each_failure_gives_the_503_page_with_retry_after_and_one_log_line(point_at, caplog, cause):
    with FAULTS[cause]() as url:
        point_at(url)
        with caplog.at_level(logging.DEBUG):
            response = Client(raise_request_exception=False).get("/")
    assert response.status_code == 503
    assert response["Retry-After"].isdigit()
    assert b"<h1>Chat is temporarily unavailable</h1>" in response.content and DB_DOWN in response.content
    assert b"Traceback" not in response.content
    lines = _warnings(caplog)
    assert len(lines) == 1, [r.getMessage()[:200] for r in lines]
    assert lines[0].getMessage().startswith(f"DynamoDB unavailable ({cause}") and "for GET /:" in lines[0].getMessage()
    assert lines[0].exc_info is None  # one line, not a traceback


@pytest.mark.parametrize("cause", ["read timeout", "connection refused"])
def test_htmx_requests_get_the_503_fragment(point_at, caplog, cause):
    with FAULTS[cause]() as url:
        point_at(url)
        response = Client(raise_request_exception=False).get("/", headers={"HX-Request": "true"})
    assert response.status_code == 503 and response["Retry-After"].isdigit()
    assert DB_DOWN in response.content
    assert b"<html" not in response.content and b"<h1>" not in response.content


class RoomsInMiddleware:
    """Reads DynamoDB outside any view, as session loading and saving do."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        selectors.room_list()
        return self.get_response(request)


def test_a_failure_outside_the_view_is_a_503_with_one_log_line(point_at, settings, caplog):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.test_dynamodb_failures.RoomsInMiddleware"]
    with fault_servers.silent_server() as url:
        point_at(url)
        with caplog.at_level(logging.DEBUG):
            response = Client(raise_request_exception=False).get("/accounts/login/")
    assert response.status_code == 503 and response["Retry-After"].isdigit()
    assert DB_DOWN in response.content
    lines = _warnings(caplog)
    assert len(lines) == 1, [r.getMessage()[:200] for r in lines]
    assert lines[0].getMessage().startswith("DynamoDB unavailable (read timeout) for GET /accounts/login/:")


def test_the_500_handler_turns_a_timeout_into_the_503_page(point_at):
    """The exact crash from the stalled-DynamoDB report: the handler itself must not raise."""
    with fault_servers.silent_server() as url:
        exc = _failure(point_at, url)
    request = RequestFactory().get("/")
    try:
        raise exc
    except Exception:
        response = errors.server_error(request)
    assert response.status_code == 503 and response["Retry-After"].isdigit()


# --- classification never raises --------------------------------------------------------------


class _Hostile(Exception):
    @property
    def response(self):
        raise RuntimeError("no response here")

    def __getattr__(self, name):
        raise RuntimeError(f"no {name} here")


def _looped() -> Exception:
    a, b = ValueError("a"), KeyError("b")
    a.__context__, b.__context__ = b, a
    return a


def _odd_chains():
    timeout = botocore.exceptions.ReadTimeoutError(endpoint_url="http://x")
    yield "read timeout", GetError("Failed to get item", timeout)  # cause_response_code raises here
    yield "read timeout", QueryError("Failed", timeout)
    yield None, QueryError("Failed", None)
    yield None, QueryError("Failed", _Hostile())
    yield None, _Hostile()
    yield None, _looped()
    no_response = botocore.exceptions.ClientError({"Error": {"Code": "ThrottlingException"}}, "Query")
    no_response.response = None
    yield None, no_response
    yield None, botocore.exceptions.ClientError({"Error": {"Code": "ConditionalCheckFailedException"}}, "PutItem")
    yield None, botocore.exceptions.ClientError({"Error": {"Code": "ValidationException"},
                                                 "ResponseMetadata": {"HTTPStatusCode": 400}}, "Query")
    yield "HTTP 503", botocore.exceptions.ClientError({"Error": {"Code": "503"},
                                                       "ResponseMetadata": {"HTTPStatusCode": 503}}, "Query")
    yield "throttled", QueryError("Failed", botocore.exceptions.ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException"}}, "Query"))
    yield "table missing", QueryError("Failed", botocore.exceptions.ClientError(
        {"Error": {"Code": "ResourceNotFoundException"}}, "Query"))
    yield None, ValueError("unrelated")
    deep: BaseException = timeout
    for n in range(5000):
        outer = RuntimeError(n)
        outer.__cause__ = deep
        deep = outer
    yield None, deep  # too deep to be worth walking: treated as not a DynamoDB outage
    yield None, None


@pytest.mark.parametrize("expected,exc", list(_odd_chains()), ids=lambda value: str(value)[:20] if isinstance(value, str) else "")
def test_classification_is_total(expected, exc):
    cause = dynamodb.unavailable_cause(exc)
    assert (cause is None) if expected is None else cause.startswith(expected)
    assert dynamodb.is_unavailable(exc) is (expected is not None)
    assert dynamodb.is_missing_table(exc) is (expected == "table missing")


# --- bulkhead: a stalled DynamoDB can hold only so many threads -----------------------------------


@pytest.fixture
def bulkhead_of_two():
    middleware.limit_concurrent_requests(2)
    yield
    middleware.limit_concurrent_requests(None)


def test_requests_beyond_the_bulkhead_get_the_503_page_at_once_while_dynamodb_stalls(
        point_at, settings, bulkhead_of_two, caplog):
    settings.DYNAMODB_READ_TIMEOUT = 2  # the stalled requests hold their slots for the whole test
    settings.DYNAMODB_MAX_ATTEMPTS = 1  # one 2 s attempt each is enough to hold them (two waited 4 s)
    with fault_servers.silent_server() as url:
        point_at(url)
        dynamodb.client()  # built before the clock starts: building it is slow, not a call
        stalled = [threading.Thread(target=Client(raise_request_exception=False).get, args=("/",)) for _ in range(2)]
        for thread in stalled:
            thread.start()
        time.sleep(middleware.BULKHEAD_PATIENCE_SECONDS + 0.1)  # both slots held by stalled requests
        started = time.monotonic()
        with caplog.at_level(logging.DEBUG):
            refused = Client(raise_request_exception=False).get("/", headers={"HX-Request": "true"})
        elapsed = time.monotonic() - started
        for thread in stalled:
            thread.join()
    # Refused at once, not after another 2 s read timeout. Far below that, not tight: the machine
    # may be loaded, and speed is measured by benchmarks, not timed tests.
    assert elapsed < 1.0
    assert refused.status_code == 503 and refused["Retry-After"].isdigit() and DB_DOWN in refused.content
    lines = [r.getMessage() for r in _warnings(caplog)]  # one per request: the refused one and the 2 stalled
    assert sorted(line.split(" (")[1].split(":")[0].split(")")[0] for line in lines) == [
        "busy", "read timeout", "read timeout"], lines
    assert any(line.startswith("DynamoDB unavailable (busy: all 2 request slots of this worker held") for line in lines)


def test_the_bulkhead_lets_a_healthy_crowd_through(moto_tables, bulkhead_of_two):
    statuses: list[int] = []

    def visitor():
        client = Client(raise_request_exception=False)
        for _ in range(10):
            statuses.append(client.get("/").status_code)

    threads = [threading.Thread(target=visitor) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 80
