"""Throttling and slowness: bounded retries with backoff, then a 503 (moto + injected errors)."""

from __future__ import annotations

import json
import types

import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse

from chatsite import dynamodb
from rooms.models import RoomDirectoryEntry


class _RawBody:
    def __init__(self, data: bytes):
        self._data = data

    def stream(self, **kwargs):
        yield self._data

    def read(self, *a, **k):
        return self._data


def _inject_errors(client, code: str, times: int):
    """Answer the next ``times`` DynamoDB HTTP attempts with ``code`` (before they hit moto)."""
    attempts = {"n": 0}

    def before_send(request, **kwargs):
        attempts["n"] += 1
        if attempts["n"] > times:
            return None
        body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "slow down"}).encode()
        return AWSResponse(request.url, 400, {"x-amzn-ErrorType": code, "content-type": "application/x-amz-json-1.0"},
                           _RawBody(body))

    client.meta.events.register_first("before-send.dynamodb.*", before_send)
    return attempts


@pytest.fixture
def four_attempts(settings, moto_tables, monkeypatch):
    """Up to four attempts; botocore's backoff sleeps are recorded instead of slept (a real run
    waits up to 1 + 2 + 4 s for nothing), so the tests can check each against its bound."""
    settings.DYNAMODB_MAX_ATTEMPTS = 4
    dynamodb.configure(endpoint_url=None, prefix="test_")
    slept: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=slept.append))
    yield slept
    settings.DYNAMODB_MAX_ATTEMPTS = 2


def _within_standard_backoff(slept: list[float]) -> bool:
    """botocore "standard" mode: the wait before retry i (from 1) is at most 2**(i-1) seconds."""
    return all(0 <= seconds <= 2 ** i for i, seconds in enumerate(slept))


def _model_client():
    return RoomDirectoryEntry._get_connection().connection.client


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException"])
def test_reads_retry_throttling_and_succeed_within_bound(four_attempts, client, code):
    attempts = _inject_errors(_model_client(), code, times=2)
    response = client.get("/")
    assert response.status_code == 200
    assert attempts["n"] == 3  # two throttled attempts, then the real one
    assert len(four_attempts) == 2 and _within_standard_backoff(four_attempts), four_attempts


def test_user_sees_503_only_when_retries_are_exhausted(four_attempts, client):
    attempts = _inject_errors(_model_client(), "ThrottlingException", times=100)
    response = client.get("/")
    assert response.status_code == 503
    assert attempts["n"] == 4  # DYNAMODB_MAX_ATTEMPTS, then give up
    assert len(four_attempts) == 3 and _within_standard_backoff(four_attempts), four_attempts
    assert b"Traceback" not in response.content


def test_two_failing_calls_end_inside_gunicorn_timeout_with_production_defaults(monkeypatch):
    """A slow DynamoDB cannot hang a worker: compute the worst case from the real defaults."""
    import importlib

    from chatsite import settings as settings_module
    from tests import gunicorn_conf_loader

    for name in ("DYNAMODB_MAX_ATTEMPTS", "DYNAMODB_CONNECT_TIMEOUT", "DYNAMODB_READ_TIMEOUT", "GUNICORN_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    defaults = importlib.reload(settings_module)
    try:
        attempts = defaults.DYNAMODB_MAX_ATTEMPTS
        # botocore "standard" mode: backoff before retry i is at most 2**(i-1) seconds (base ≤ 1).
        backoff = sum(2 ** i for i in range(attempts - 1))
        per_call = attempts * (defaults.DYNAMODB_CONNECT_TIMEOUT + defaults.DYNAMODB_READ_TIMEOUT) + backoff
        assert 2 * per_call < gunicorn_conf_loader.load().timeout
    finally:
        monkeypatch.setenv("DYNAMODB_MAX_ATTEMPTS", "2")
        importlib.reload(settings_module)
