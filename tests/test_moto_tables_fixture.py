"""The unit tests' moto tables: made once per process, empty for every test, remade when a test
has reset moto or changed a table, and emptied without a DynamoDB call."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
from moto import mock_aws
from moto.core.models import MockAWS

from chatsite import keys
from rooms.models import RoomRecord
from tests.support.moto_tables import SharedMotoTables, pause_unless_asked_for


@pytest.fixture
def shared():
    tables = SharedMotoTables()  # its own, so these tests can reset moto freely
    yield tables
    tables.pause()


def _one_test(shared, body=lambda dynamodb: None):
    """What the moto_tables fixture does around one test (the mock stays on for the next)."""
    dynamodb = shared.start()
    try:
        return body(dynamodb)
    finally:
        shared.finish()


def _write_a_room(dynamodb):
    RoomRecord(keys.room_pk("art"), keys.META, name="Art", created_by="alice", created_at="x").save()
    return RoomRecord.count(keys.room_pk("art"))


def _rooms(dynamodb):
    return RoomRecord.count(keys.room_pk("art"))


def _describe(dynamodb):
    client = dynamodb.client()
    chat = client.describe_table(TableName="test_chat")["Table"]
    sessions = client.describe_table(TableName="test_session_store")["Table"]
    ttl = client.describe_time_to_live(TableName="test_chat")["TimeToLiveDescription"]
    return chat["GlobalSecondaryIndexes"][0]["IndexName"], sessions["GlobalSecondaryIndexes"][0]["IndexName"], ttl


def test_the_next_test_finds_the_tables_empty_and_emptying_them_calls_nothing(shared):
    from chatsite import dynamodb

    assert _one_test(shared, _write_a_room) == 1
    seen = []
    stop_observing = dynamodb.observe_calls(seen.append)
    try:
        shared.start()
    finally:
        stop_observing()
    try:
        assert _rooms(dynamodb) == 0
        assert _describe(dynamodb)[:2] == ("room_messages", "GSI1_inverse")
    finally:
        shared.finish()
    assert seen == []  # no CreateTable, DescribeTable or Scan: the items were dropped in moto itself


def test_tables_are_made_again_after_a_test_reset_moto_with_its_own_mock(shared):
    _one_test(shared, _write_a_room)
    shared.pause()  # as the conftest does before a test without moto_tables
    with mock_aws():  # resets every moto backend, as a test of ensure_tables does
        pass
    assert _one_test(shared, _rooms) == 0
    chat_index, sessions_index, ttl = _one_test(shared, _describe)
    assert (chat_index, sessions_index) == ("room_messages", "GSI1_inverse")
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ExpiresAt"}


def test_a_table_a_test_changed_is_made_again(shared):
    def turn_ttl_off(dynamodb):
        dynamodb.client().update_time_to_live(
            TableName="test_chat", TimeToLiveSpecification={"Enabled": False, "AttributeName": "ExpiresAt"})

    _one_test(shared, _write_a_room)
    _one_test(shared, turn_ttl_off)
    assert _one_test(shared, _describe)[2] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ExpiresAt"}
    assert _one_test(shared, _rooms) == 0


def test_a_table_a_test_dropped_is_made_again(shared):
    _one_test(shared, _write_a_room)
    _one_test(shared, lambda dynamodb: dynamodb.client().delete_table(TableName="test_session_store"))
    assert _one_test(shared, _describe)[:2] == ("room_messages", "GSI1_inverse")
    assert _one_test(shared, _rooms) == 0


def test_another_table_left_behind_means_a_fresh_moto(shared):
    def make_another_table(dynamodb):
        dynamodb.configure(endpoint_url=None, prefix="other_")
        dynamodb.ensure_tables(wait_seconds=5)

    _one_test(shared, make_another_table)
    names = _one_test(shared, lambda dynamodb: dynamodb.client().list_tables()["TableNames"])
    assert sorted(names) == ["test_chat", "test_session_store"]


def test_a_test_without_moto_tables_runs_with_moto_off(shared):
    _one_test(shared, _write_a_room)
    pause_unless_asked_for(SimpleNamespace(fixturenames=["room", "moto_tables", "client"]), shared)
    assert MockAWS._nested_count == 1  # the next moto test keeps the mock on
    pause_unless_asked_for(SimpleNamespace(fixturenames=["client", "settings"]), shared)
    assert MockAWS._nested_count == 0
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"  # not moto's fake credentials
    assert _one_test(shared, _rooms) == 0


def test_a_unit_test_using_moto(moto_tables):
    assert MockAWS._nested_count == 1


def test_the_next_test_without_moto_tables_finds_moto_off():
    """Run after the one above (file order, on one process) this checks the conftest's hook."""
    assert MockAWS._nested_count == 0
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
