"""Metrics in one process (moto; no PROMETHEUS_MULTIPROC_DIR, so prometheus_client's in-process
registry): a few requests through Django's test client, then the registry read back. The numbers
must add up: requests by URL pattern and status are exactly those sent, DynamoDB calls by
operation are exactly what count_calls counted for the same requests, and each refusal counts once.
The same metrics summed over gunicorn's workers: tests/integration/test_metrics_scrape.py."""

from __future__ import annotations

import json
import types
from collections import Counter

import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse
from django.test import Client
from prometheus_client import REGISTRY

from chatsite import dynamodb, metrics
from rooms import live, services, validators
from rooms.models import RoomDirectoryEntry
from tests.support.sessions import sign_in
from tests.support.users import create_user

HX = {"HTTP_HX_REQUEST": "true"}


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def requests_counted(view: str, status: int, method: str = "GET") -> float:
    return sample("chatsite_request_duration_seconds_count", view=view, method=method, status=str(status))


def dynamodb_calls_by_operation() -> Counter:
    counted = Counter()
    for metric in REGISTRY.collect():
        if metric.name == "chatsite_dynamodb_calls":
            for s in metric.samples:
                if s.name == "chatsite_dynamodb_calls_total":
                    counted[s.labels["operation"]] = s.value
    return counted


@pytest.fixture
def room(moto_tables):
    return services.room_create(name="Art", created_by="alice")


def test_requests_are_counted_by_url_pattern_and_status_never_by_path(client, room):
    views = [("rooms:list", 200), ("rooms:room", 200), ("rooms:room", 404), ("unmatched", 404)]
    before = {v: requests_counted(*v) for v in views}
    for _ in range(3):
        assert client.get("/").status_code == 200
    assert client.get("/rooms/art/").status_code == 200
    assert client.get("/rooms/no-such-room/").status_code == 404
    assert client.get("/rooms/art/").status_code == 200
    assert client.get("/nothing/here/at/all").status_code == 404
    after = {v: requests_counted(*v) for v in views}
    assert {v: after[v] - before[v] for v in views} == {
        ("rooms:list", 200): 3, ("rooms:room", 200): 2, ("rooms:room", 404): 1, ("unmatched", 404): 1}
    exposed = metrics_text()
    assert "no-such-room" not in exposed and "/nothing/here" not in exposed  # patterns, never paths


def metrics_text() -> str:
    from prometheus_client import generate_latest

    return generate_latest(REGISTRY).decode()


def test_the_request_histogram_measures_time(client, room):
    before = sample("chatsite_request_duration_seconds_sum", view="rooms:list", method="GET", status="200")
    client.get("/")
    spent = sample("chatsite_request_duration_seconds_sum", view="rooms:list", method="GET", status="200") - before
    assert 0 < spent < 30


def test_dynamodb_calls_by_operation_equal_count_calls_for_the_same_requests(client, room):
    sign_in(client, "alice")
    before = dynamodb_calls_by_operation()
    with dynamodb.count_calls() as calls:
        client.get("/")
        client.get("/rooms/art/")
        assert client.post("/rooms/art/messages", {"comment": "hello", "idempotency_key": validators.new_token()},
                           **HX).status_code == 200
    after = dynamodb_calls_by_operation()
    counted = Counter({op: int(after[op] - before.get(op, 0)) for op in after if after[op] != before.get(op, 0)})
    assert sum(calls.values()) > 5 and {"Query", "UpdateItem"} <= set(calls)  # a real mix of operations
    assert counted == calls


def test_every_dynamodb_attempt_is_timed_by_operation(room):
    before = sample("chatsite_dynamodb_attempt_duration_seconds_count", operation="Query")
    with dynamodb.count_calls() as calls:
        live.query_events("art", 0)
    timed = sample("chatsite_dynamodb_attempt_duration_seconds_count", operation="Query") - before
    assert calls["Query"] >= 1 and timed == calls["Query"]  # no retries here: one attempt per call


class _Body:
    def __init__(self, data: bytes):
        self._data = data

    def stream(self, **kwargs):
        yield self._data

    def read(self, *args, **kwargs):
        return self._data


def _answer_next_attempts_with(code: str, times: int):
    """DynamoDB's answer ``code`` to the next ``times`` HTTP attempts (before they reach moto)."""
    client = RoomDirectoryEntry._get_connection().connection.client
    sent = {"n": 0}

    def before_send(request, **kwargs):
        sent["n"] += 1
        if sent["n"] > times:
            return None
        body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "no"}).encode()
        return AWSResponse(request.url, 400, {"x-amzn-ErrorType": code, "content-type": "application/x-amz-json-1.0"},
                           _Body(body))

    client.meta.events.register_first("before-send.dynamodb.*", before_send, unique_id="test-metrics-inject")
    return lambda: client.meta.events.unregister("before-send.dynamodb.*", unique_id="test-metrics-inject")


def test_a_throttled_attempt_counts_as_a_throttle_of_its_operation(client, room, monkeypatch):
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=lambda seconds: None))  # no backoff
    throttles = sample("chatsite_dynamodb_throttles_total", operation="Query")
    attempts = sample("chatsite_dynamodb_attempt_duration_seconds_count", operation="Query")
    stop = _answer_next_attempts_with("ProvisionedThroughputExceededException", times=1)
    try:
        with dynamodb.count_calls() as calls:
            assert client.get("/").status_code == 200  # retried (DYNAMODB_MAX_ATTEMPTS=2), then answered
    finally:
        stop()
    assert sample("chatsite_dynamodb_throttles_total", operation="Query") - throttles == 1
    # the retry is an attempt of its own: attempts = calls + 1
    assert sample("chatsite_dynamodb_attempt_duration_seconds_count", operation="Query") - attempts == calls["Query"] + 1


def test_other_failed_attempts_count_as_errors_by_code(room):
    before = sample("chatsite_dynamodb_errors_total", operation="GetItem", code="ConditionalCheckFailedException")
    validation = sample("chatsite_dynamodb_errors_total", operation="GetItem", code="ValidationException")
    with pytest.raises(Exception):
        dynamodb.client().get_item(TableName=dynamodb.table_name(dynamodb.CHAT), Key={"PK": {"S": "x"}})
    assert sample("chatsite_dynamodb_errors_total", operation="GetItem", code="ValidationException") - validation == 1
    assert sample("chatsite_dynamodb_errors_total", operation="GetItem",
                  code="ConditionalCheckFailedException") == before


def test_a_post_over_the_rate_limit_is_counted_once(client, room, settings):
    settings.CHAT_POST_RATE_LIMIT = 2
    sign_in(client, "alice")
    refused = sample("chatsite_post_rate_limited_total", reason="rate_limit")
    answered_429 = requests_counted("rooms:post", 429, "POST")
    statuses = [client.post("/rooms/art/messages", {"comment": f"m{i}", "idempotency_key": validators.new_token()},
                            **HX).status_code for i in range(3)]
    assert statuses == [200, 200, 429]
    assert sample("chatsite_post_rate_limited_total", reason="rate_limit") - refused == 1
    assert requests_counted("rooms:post", 429, "POST") - answered_429 == 1


def test_a_sign_in_throttle_refusal_is_counted_by_its_counter(moto_tables, settings):
    settings.ACCOUNTS_SIGN_IN_FAILURE_LIMIT = 3
    settings.ACCOUNTS_SIGN_IN_IP_FAILURE_LIMIT = 8
    create_user("alice")
    before = sample("chatsite_account_throttled_total", scope="signin-user")

    def sign_in_with(password):
        return Client().post("/accounts/login/", {"username": "alice", "password": password},
                             REMOTE_ADDR="203.0.113.5").status_code

    # the third failure uses up the limit (429, told at once): a failure that was checked, not a refusal
    assert [sign_in_with("wrong") for _ in range(3)] == [200, 200, 429]
    assert sample("chatsite_account_throttled_total", scope="signin-user") == before
    assert sign_in_with("wrong") == 429  # refused before any password check
    assert sample("chatsite_account_throttled_total", scope="signin-user") - before == 1


def test_open_live_streams_are_a_gauge_that_returns_to_zero(room, settings):
    """The gauge goes up while a stream's generator runs and down when it ends, however it ends."""
    from rooms import streams

    settings.CHAT_LIVE_PUSH_REFRESH_SECONDS = 0.05
    open_now = lambda: sample("chatsite_live_streams", kind="room")  # noqa: E731
    before = open_now()
    channel, first = streams.open_stream(room_id="art", watermark_ms=live.now_ms(), seen=frozenset(), admit=None)
    cursor = streams.Cursor.resumed(first.watermark_ms, frozenset(), channel.feed)
    sse = streams.stream(channel=channel, first=first, cursor=cursor, render=lambda events: "",
                         token=lambda ms: str(ms), still_allowed=lambda: True)
    assert open_now() == before  # not yet running
    next(sse)
    assert open_now() == before + 1
    sse.close()  # the tab went away
    assert open_now() == before


def test_room_feed_refreshes_are_counted_and_timed(room):
    refreshes = sample("chatsite_live_refresh_duration_seconds_count", feed="room", outcome="ok")
    spent = sample("chatsite_live_refresh_duration_seconds_sum", feed="room", outcome="ok")
    feed = live.feed_for("art")
    feed.refresh_now()
    feed.refresh_now()
    assert sample("chatsite_live_refresh_duration_seconds_count", feed="room", outcome="ok") - refreshes == 2
    assert sample("chatsite_live_refresh_duration_seconds_sum", feed="room", outcome="ok") > spent


def test_a_failed_refresh_is_counted_as_an_error(room):
    failed = sample("chatsite_live_refresh_duration_seconds_count", feed="room", outcome="error")

    def broken(room_id, since):
        raise RuntimeError("DynamoDB is down")

    feed = live.RoomFeed("art", source=broken)
    with pytest.raises(RuntimeError):
        feed.refresh_now()
    assert sample("chatsite_live_refresh_duration_seconds_count", feed="room", outcome="error") - failed == 1


def test_activity_hub_refreshes_are_counted(moto_tables):
    from rooms.activity import ActivityHub

    before = sample("chatsite_live_refresh_duration_seconds_count", feed="activity", outcome="ok")
    ActivityHub(query=lambda **kwargs: [], autostart=False).refresh_now()
    assert sample("chatsite_live_refresh_duration_seconds_count", feed="activity", outcome="ok") - before == 1


def test_the_public_site_serves_no_metrics(client, moto_tables):
    for path in ("/metrics", "/metrics/"):
        response = client.get(path)
        assert response.status_code == 404 and b"chatsite_request_duration_seconds" not in response.content


def test_importing_the_module_creates_no_values(tmp_path):
    """gunicorn's master imports chatsite.metrics to serve: every metric has labels, so nothing is
    written to the multi-process directory until a worker counts something."""
    for metric in (metrics.REQUEST_SECONDS, metrics.DYNAMODB_CALLS, metrics.DYNAMODB_ATTEMPT_SECONDS,
                   metrics.DYNAMODB_THROTTLES, metrics.DYNAMODB_ERRORS, metrics.LIVE_STREAMS,
                   metrics.LIVE_REFRESH_SECONDS, metrics.POST_RATE_LIMITED, metrics.ACCOUNT_THROTTLED):
        assert metric._labelnames, metric


def test_parse_bind_defaults_to_loopback():
    assert metrics.parse_bind("127.0.0.1:9100") == ("127.0.0.1", 9100)
    assert metrics.parse_bind(":9200") == ("127.0.0.1", 9200)
    assert metrics.parse_bind("9300") == ("127.0.0.1", 9300)
    assert metrics.parse_bind("[::1]:9400") == ("::1", 9400)


def test_a_signed_in_users_own_stream_is_counted_while_open(client, room, settings):
    settings.CHAT_LIVE_STREAMS = "on"
    sign_in(client, "alice")
    before = sample("chatsite_live_streams", kind="user")
    response = client.get("/live/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/event-stream")
    chunks = iter(response.streaming_content)
    next(chunks)  # the stream has started
    assert sample("chatsite_live_streams", kind="user") == before + 1
    response.close()  # the tab went away: Django closes the generator
    assert sample("chatsite_live_streams", kind="user") == before
