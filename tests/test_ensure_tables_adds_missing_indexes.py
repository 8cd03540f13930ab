"""ensure_tables gives a table made before one of its indexes that index, keeping its items (moto:
UpdateTable GlobalSecondaryIndexUpdates Create, as on AWS)."""

from __future__ import annotations

from moto import mock_aws

from chatsite import dynamodb


def _old_chat_table(prefix: str) -> str:
    """The chat table as ensure_tables made it before thread_messages: the room index only."""
    spec = dynamodb.TABLES[dynamodb.CHAT]
    old = dynamodb.TableSpec(spec.name, spec.key, spec.indexes[:1], spec.ttl_attribute)
    name = f"{prefix}chat"
    dynamodb.client().create_table(**old.create_request(name))
    return name


def _put_reply(name: str) -> None:
    dynamodb.client().put_item(TableName=name, Item={
        "PK": {"S": "User:bob"}, "SK": {"S": "2026-01-01T00:00:00.000Z#bbbbbbbbbbbbbbbbbbbb"},
        "RoomID": {"S": "art"}, "CreatedAt": {"S": "2026-01-01T00:00:00.000Z"}, "Comment": {"S": "hi"},
        "ThreadID": {"S": "aaaaaaaaaaaaaaaaaaaa"}})


def _thread(name: str) -> list[dict]:
    return dynamodb.client().query(
        TableName=name, IndexName=dynamodb.THREAD_INDEX, KeyConditionExpression="ThreadID = :t",
        ExpressionAttributeValues={":t": {"S": "aaaaaaaaaaaaaaaaaaaa"}})["Items"]


def test_an_existing_chat_table_gets_the_thread_index_and_keeps_its_items():
    with mock_aws():
        dynamodb.configure(endpoint_url=None, prefix="old_")
        try:
            name = _old_chat_table("old_")
            _put_reply(name)
            lines: list[str] = []
            outcome = dynamodb.ensure_tables(wait_seconds=5, log=lines.append)
            assert outcome == {"old_chat": "exists", "old_session_store": "created"}
            table = dynamodb.client().describe_table(TableName=name)["Table"]
            assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["room_messages", "thread_messages"]
            assert {"AttributeName": "ThreadID", "AttributeType": "S"} in table["AttributeDefinitions"]
            assert "old_chat: adding index thread_messages" in lines
            assert not any("rebuilding" in line for line in lines)  # moto adds it in place, as AWS does
            assert [item["SK"]["S"] for item in _thread(name)] == ["2026-01-01T00:00:00.000Z#bbbbbbbbbbbbbbbbbbbb"]
            assert dynamodb.ensure_tables(wait_seconds=5) == {"old_chat": "exists", "old_session_store": "exists"}
        finally:
            dynamodb.configure(endpoint_url=None, prefix="test_")


def test_a_new_chat_table_has_both_indexes():
    with mock_aws():
        dynamodb.configure(endpoint_url=None, prefix="new_")
        try:
            dynamodb.ensure_tables(wait_seconds=5)
            table = dynamodb.client().describe_table(TableName="new_chat")["Table"]
            indexes = {i["IndexName"]: [k["AttributeName"] for k in i["KeySchema"]]
                       for i in table["GlobalSecondaryIndexes"]}
            assert indexes == {"room_messages": ["RoomID", "CreatedAt"], "thread_messages": ["ThreadID", "CreatedAt"]}
        finally:
            dynamodb.configure(endpoint_url=None, prefix="test_")
