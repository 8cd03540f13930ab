"""The bulkhead refuses requests only while DynamoDB itself is stalled. A worker whose slots are all
held by slow but healthy work (CPU: a burst of Argon2 sign-ins on a loaded machine) queues the next
request, however long that work takes; it never tells the user the database is down."""

from __future__ import annotations

import threading
import time

import pytest
from django.test import Client

from chatsite import dynamodb, middleware
from rooms import selectors
from tests.support import fault_servers


@pytest.fixture
def bulkhead_of_two():
    middleware.limit_concurrent_requests(2)
    yield middleware._bulkhead
    middleware.limit_concurrent_requests(None)


def test_a_request_waits_for_a_slot_held_by_cpu_bound_requests_and_succeeds(moto_tables, bulkhead_of_two):
    bulkhead = bulkhead_of_two
    held = [bulkhead.acquire()[0] for _ in range(2)]  # two requests busy on the CPU: no DynamoDB call
    assert all(held)
    answers: list[int] = []
    waiting = threading.Thread(target=lambda: answers.append(Client(raise_request_exception=False).get("/").status_code))
    waiting.start()
    time.sleep(3 * middleware.BULKHEAD_PATIENCE_SECONDS)  # far past the patience: no slot has freed
    assert not answers  # still queued, not refused
    bulkhead.release(held.pop())
    waiting.join(timeout=30)
    bulkhead.release(held.pop())
    assert answers == [200]


def test_a_full_bulkhead_refuses_at_once_only_while_a_dynamodb_call_is_stuck(moto_tables, settings, bulkhead_of_two):
    bulkhead = bulkhead_of_two
    held = [bulkhead.acquire()[0] for _ in range(2)]
    try:
        assert not dynamodb.stalled()
        settings.DYNAMODB_CONNECT_TIMEOUT = settings.DYNAMODB_READ_TIMEOUT = 2
        settings.DYNAMODB_MAX_ATTEMPTS = 1
        with fault_servers.silent_server() as url:
            dynamodb.configure(endpoint_url=url, prefix="fault_")
            try:
                dynamodb.client()
                stuck = threading.Thread(target=lambda: pytest.raises(Exception, selectors.room_list))
                stuck.start()
                time.sleep(dynamodb.STALL_PATIENCE_SECONDS + 0.2)
                assert dynamodb.stalled()
                started = time.monotonic()
                slot, why = bulkhead.acquire()
                elapsed = time.monotonic() - started
            finally:
                dynamodb.configure(endpoint_url=None, prefix="test_")
        stuck.join()  # the server's close ended the stuck call: its 2 s timeout is not waited out
        assert slot is None and why.startswith("busy: all 2 request slots of this worker held")
        assert "DynamoDB call in flight" in why
        assert elapsed < 1.0  # far below the 2 s read timeout it would otherwise wait out
    finally:
        for slot in held:
            bulkhead.release(slot)


def test_answers_from_dynamodb_clear_the_stall(moto_tables):
    selectors.room_list()
    assert not dynamodb.stalled()
