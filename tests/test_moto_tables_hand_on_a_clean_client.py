"""moto_tables hands the last test's botocore client to the next test only while nothing about it
differs from just after it was built; a handler, an attribute or spent retries a test left on it
mean a new client, and the items a test wrote are gone either way."""

from __future__ import annotations

import pytest

from chatsite import keys
from rooms.models import RoomRecord
from tests.support.moto_tables import SharedMotoTables


@pytest.fixture
def shared():
    tables = SharedMotoTables()  # its own, so the process's shared client is not the one checked
    yield tables
    tables.pause()


def _test(shared, body=lambda client: None):
    """One test under moto_tables: its body gets the shared client; returns that client."""
    dynamodb = shared.start()
    try:
        client = dynamodb.client()
        body(client)
        return client
    finally:
        shared.finish()


def _count(calls: list):
    return lambda **kwargs: calls.append(kwargs["event_name"])


def test_a_client_left_as_built_is_handed_on_without_the_last_tests_items(shared):
    def write_a_room(client):
        RoomRecord(keys.room_pk("art"), keys.META, name="Art", created_by="a", created_at="x").save()

    first = _test(shared, write_a_room)
    seen = []
    second = _test(shared, lambda client: seen.append(RoomRecord.count(keys.room_pk("art"))))
    assert second is first and shared.clients_built == 1
    assert seen == [0]


def test_a_handler_a_test_left_registered_means_a_new_client_without_it(shared):
    calls = []
    first = _test(shared, lambda client: client.meta.events.register("before-call.dynamodb", _count(calls)))
    second = _test(shared, lambda client: client.list_tables())
    assert second is not first and shared.clients_built == 2
    assert calls == []  # the next test's calls never reach the handler the last one left


def test_a_handler_registered_and_removed_keeps_the_client(shared):
    calls = []

    def register_call_unregister(client):
        handler = _count(calls)
        client.meta.events.register("before-call.dynamodb.ListTables", handler)
        client.list_tables()
        client.meta.events.unregister("before-call.dynamodb.ListTables", handler)

    first = _test(shared, register_call_unregister)
    assert calls == ["before-call.dynamodb.ListTables"]
    assert _test(shared) is first


def test_an_attribute_a_test_set_on_the_client_means_a_new_client(shared):
    first = _test(shared, lambda client: setattr(client, "list_tables", lambda: {"TableNames": []}))
    second = _test(shared)
    assert second is not first
    assert "test_chat" in second.list_tables()["TableNames"]


def test_retries_a_test_spent_from_the_quota_mean_a_new_client(shared):
    def spend_a_retry(client):
        handler = client.meta.events._emitter._unique_id_handlers["retry-config-dynamodb"]["handler"]
        assert handler.__self__._retry_quota._quota.acquire(5)  # what one retried timeout costs

    first = _test(shared, spend_a_retry)
    assert _test(shared) is not first
