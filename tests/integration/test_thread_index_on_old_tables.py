"""A chat table made before the thread_messages index gets it from ensure_tables on dynalite (which
accepts UpdateTable's Create and does nothing: the table is rebuilt with its items)."""

from __future__ import annotations

import time
import uuid

import pytest

from chatsite import dynamodb

pytestmark = pytest.mark.integration

THREAD = "aaaaaaaaaaaaaaaaaaaa"


def _items(count: int) -> list[dict]:
    items = []
    for n in range(count):  # more than a BatchWriteItem's 25, and a reply in a thread among them
        at = f"2026-01-01T00:00:{n % 60:02d}.{n:03d}Z"
        item = {"PK": {"S": "User:bob"}, "SK": {"S": f"{at}#b{n:019d}"}, "RoomID": {"S": "art"},
                "CreatedAt": {"S": at}, "Comment": {"S": f"message {n}"}}
        if n == 7:
            item["ThreadID"] = {"S": THREAD}
        items.append(item)
    return items


def _create_active(client, request: dict) -> None:
    """CreateTable, then wait for ACTIVE: dynalite (--createTableMs 0) makes a table active on a
    timer, and a PutItem that reaches it first is refused with ResourceNotFoundException."""
    client.create_table(**request)
    deadline = time.monotonic() + 20
    while client.describe_table(TableName=request["TableName"])["Table"]["TableStatus"] != "ACTIVE":
        assert time.monotonic() < deadline, f"{request['TableName']} never became active"
        time.sleep(0.01)


@pytest.fixture
def old_prefix(dynalite):
    prefix = f"o{uuid.uuid4().hex[:10]}_"
    dynamodb.configure(endpoint_url=dynalite.url, prefix=prefix)
    yield prefix
    dynamodb.configure(endpoint_url=None, prefix="test_")


def test_ensure_tables_adds_the_thread_index_to_an_old_chat_table_keeping_its_items(old_prefix):
    client = dynamodb.client()
    spec = dynamodb.TABLES[dynamodb.CHAT]
    name = f"{old_prefix}chat"
    _create_active(client, dynamodb.TableSpec(spec.name, spec.key, spec.indexes[:1], spec.ttl_attribute)
                   .create_request(name))
    for item in _items(60):
        client.put_item(TableName=name, Item=item)
    lines: list[str] = []
    outcome = dynamodb.ensure_tables(wait_seconds=20, log=lines.append)
    assert outcome[name] == "exists"
    table = client.describe_table(TableName=name)["Table"]
    assert sorted(i["IndexName"] for i in table["GlobalSecondaryIndexes"]) == ["room_messages", "thread_messages"]
    assert any("rebuilding" in line for line in lines), lines  # dynalite: no online indexing
    assert f"{name}: copied 60 items back from {name}.rebuild" in lines
    assert client.scan(TableName=name, Select="COUNT")["Count"] == 60
    thread = client.query(TableName=name, IndexName=dynamodb.THREAD_INDEX, KeyConditionExpression="ThreadID = :t",
                          ExpressionAttributeValues={":t": {"S": THREAD}})["Items"]
    assert [i["Comment"]["S"] for i in thread] == ["message 7"]
    room = client.query(TableName=name, IndexName=dynamodb.ROOM_INDEX, KeyConditionExpression="RoomID = :r",
                        ExpressionAttributeValues={":r": {"S": "art"}}, Select="COUNT")
    assert room["Count"] == 60
    assert not any(t.endswith(".rebuild") for t in client.list_tables()["TableNames"])
    assert dynamodb.ensure_tables(wait_seconds=20) == {name: "exists", f"{old_prefix}session_store": "exists"}


def test_an_interrupted_rebuild_is_finished_by_the_next_ensure_tables(old_prefix):
    """A rebuild that died after deleting the table (its items only in the copy) loses nothing."""
    client = dynamodb.client()
    spec = dynamodb.TABLES[dynamodb.CHAT]
    name = f"{old_prefix}chat"
    _create_active(client, spec.create_request(f"{name}.rebuild"))
    for item in _items(30):
        client.put_item(TableName=f"{name}.rebuild", Item=item)
    dynamodb.ensure_tables(wait_seconds=20)
    assert client.scan(TableName=name, Select="COUNT")["Count"] == 30
    assert f"{name}.rebuild" not in client.list_tables()["TableNames"]
    table = client.describe_table(TableName=name)["Table"]
    assert sorted(i["IndexName"] for i in table["GlobalSecondaryIndexes"]) == ["room_messages", "thread_messages"]
