"""ensure_tables adds a missing index to the session_store table as it does to the chat table (moto:
UpdateTable on that table, as on AWS), keeping its items: the admin role's UpdateTable is needed on
both tables, and the IAM policy test sees it used on both."""

from __future__ import annotations

from moto import mock_aws

from chatsite import dynamodb


def test_an_existing_session_table_gets_its_inverse_index_and_keeps_its_items():
    with mock_aws():
        dynamodb.configure(endpoint_url=None, prefix="old_")
        try:
            spec = dynamodb.TABLES[dynamodb.SESSIONS]
            old = dynamodb.TableSpec(spec.name, spec.key, (), spec.ttl_attribute)
            request = old.create_request("old_session_store")
            del request["GlobalSecondaryIndexes"]  # DynamoDB refuses an empty list
            dynamodb.client().create_table(**request)
            item = {"PK": {"S": "Session:abc"}, "SK": {"S": "User:alice"}}
            dynamodb.client().put_item(TableName="old_session_store", Item=item)
            lines: list[str] = []

            assert dynamodb.ensure_tables(wait_seconds=5, log=lines.append) == {
                "old_chat": "created", "old_session_store": "exists"}
            table = dynamodb.client().describe_table(TableName="old_session_store")["Table"]
            assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == [dynamodb.SESSION_INVERSE_INDEX]
            assert "old_session_store: adding index GSI1_inverse" in lines
            found = dynamodb.client().query(
                TableName="old_session_store", IndexName=dynamodb.SESSION_INVERSE_INDEX,
                KeyConditionExpression="SK = :user", ExpressionAttributeValues={":user": {"S": "User:alice"}})
            assert found["Items"] == [item]
        finally:
            dynamodb.configure(endpoint_url=None, prefix="test_")
