"""The unit tier's Query and request routing shortcuts (tests/support/fast_moto_dispatch.py) answer
exactly as moto does: every Query below (table and index, both directions, key conditions,
filters, limits and pages) gets the same items and the same LastEvaluatedKey with and without
them, and the shortcuts do take part (the partition read and the remembered route are used)."""

from __future__ import annotations

import botocore.exceptions
import pytest

from tests.support.fast_moto_dispatch import ORIGINALS

TABLE = "test_chat"


def _seed(client) -> None:
    for room in ("r1", "r2", "r3"):
        for n in range(12):
            item = {"PK": {"S": f"ROOM#{room}"}, "SK": {"S": f"MSG#{n:03d}"}, "RoomID": {"S": room},
                    "CreatedAt": {"S": f"2024-01-01T00:00:{(n * 7) % 60:02d}Z#{n}"}, "N": {"N": str(n)}}
            if n % 3 == 0:
                item["ThreadID"] = {"S": f"T{room}"}
            client.put_item(TableName=TABLE, Item=item)
    client.put_item(TableName=TABLE, Item={"PK": {"S": "USER#u"}, "SK": {"S": "PROFILE"}})


QUERIES = [
    {"KeyConditionExpression": "PK = :p", "ExpressionAttributeValues": {":p": {"S": "ROOM#r2"}}},
    {"KeyConditionExpression": "PK = :p", "ExpressionAttributeValues": {":p": {"S": "ROOM#r2"}},
     "ScanIndexForward": False, "Limit": 5},
    {"KeyConditionExpression": "PK = :p AND begins_with(SK, :s)",
     "ExpressionAttributeValues": {":p": {"S": "ROOM#r1"}, ":s": {"S": "MSG#00"}}},
    {"KeyConditionExpression": "PK = :p AND SK BETWEEN :a AND :b",
     "ExpressionAttributeValues": {":p": {"S": "ROOM#r3"}, ":a": {"S": "MSG#003"}, ":b": {"S": "MSG#009"},
                                   ":two": {"N": "2"}},
     "FilterExpression": "#n > :two", "ExpressionAttributeNames": {"#n": "N"}},
    {"KeyConditionExpression": "PK = :p", "ExpressionAttributeValues": {":p": {"S": "NOBODY"}}},
    {"IndexName": "room_messages", "KeyConditionExpression": "RoomID = :r",
     "ExpressionAttributeValues": {":r": {"S": "r1"}}, "Limit": 4},
    {"IndexName": "room_messages", "KeyConditionExpression": "RoomID = :r AND CreatedAt > :t",
     "ExpressionAttributeValues": {":r": {"S": "r2"}, ":t": {"S": "2024-01-01T00:00:20Z"}},
     "ScanIndexForward": False},
    {"IndexName": "thread_messages", "KeyConditionExpression": "ThreadID = :t",
     "ExpressionAttributeValues": {":t": {"S": "Tr3"}}},
    {"IndexName": "no_such_index", "KeyConditionExpression": "RoomID = :r",
     "ExpressionAttributeValues": {":r": {"S": "r1"}}},
]


def _answers(client) -> list:
    """Every page of every Query (followed by LastEvaluatedKey), or the error it got."""
    outcomes = []
    for query in QUERIES:
        pages, start = [], None
        try:
            while True:
                answer = client.query(TableName=TABLE, **query, **({"ExclusiveStartKey": start} if start else {}))
                pages.append((answer["Items"], answer["Count"], answer["ScannedCount"], answer.get("LastEvaluatedKey")))
                start = answer.get("LastEvaluatedKey")
                if not start:
                    break
        except botocore.exceptions.ClientError as exc:
            pages.append(("refused", exc.response["Error"]["Code"], exc.response["Error"]["Message"]))
        outcomes.append(pages)
    outcomes.append(client.scan(TableName=TABLE)["Items"])  # Scan keeps moto's sorted all_items
    return outcomes


def test_every_query_gets_the_answer_moto_gives_without_the_shortcuts(moto_tables):
    client = moto_tables.client()
    _seed(client)
    fast = _answers(client)
    assert [len(pages) for pages in fast[:2]] == [1, 3]  # a whole partition, then pages of 5
    assert fast[-2][0][0] == "refused" and len(fast[5]) == 3
    with pytest.MonkeyPatch.context() as monkeypatch:
        for (owner, name), original in ORIGINALS.items():
            monkeypatch.setattr(owner, name, original)
        plain = _answers(client)
    assert fast == plain


def test_a_table_query_reads_only_its_own_partition(moto_tables, monkeypatch):
    """The shortcut is in use: a table Query hands moto's filter one partition, an index Query
    every item, unsorted; other callers get moto's sorted list of the whole table."""
    from moto.dynamodb.models.table import Table

    client = moto_tables.client()
    _seed(client)
    handed: list[int] = []
    all_items = Table.all_items

    def counting(self):
        items = all_items(self)
        handed.append(len(items))
        return items

    monkeypatch.setattr(Table, "all_items", counting)
    client.query(TableName=TABLE, KeyConditionExpression="PK = :p", ExpressionAttributeValues={":p": {"S": "ROOM#r2"}})
    client.query(TableName=TABLE, IndexName="room_messages", KeyConditionExpression="RoomID = :r",
                 ExpressionAttributeValues={":r": {"S": "r2"}})
    client.scan(TableName=TABLE)
    assert handed == [12, 37, 37]


def test_requests_are_routed_to_the_handler_moto_picks(moto_tables, monkeypatch):
    client = moto_tables.client()
    client.put_item(TableName=TABLE, Item={"PK": {"S": "a"}, "SK": {"S": "b"}})
    from moto.core import botocore_stubber

    monkeypatch.setattr(botocore_stubber.BotocoreStubber, "process_request",
                        ORIGINALS[(botocore_stubber.BotocoreStubber, "process_request")])
    compiled: list[str] = []
    compile_ = botocore_stubber.re.compile
    monkeypatch.setattr(botocore_stubber.re, "compile", lambda p, *a: compiled.append(p) or compile_(p, *a))
    assert client.get_item(TableName=TABLE, Key={"PK": {"S": "a"}, "SK": {"S": "b"}})["Item"]["PK"] == {"S": "a"}
    assert compiled  # moto's loop compiles the backend's URL patterns on every request
    monkeypatch.undo()
    compiled.clear()
    monkeypatch.setattr(botocore_stubber.re, "compile", lambda p, *a: compiled.append(p) or compile_(p, *a))
    assert client.get_item(TableName=TABLE, Key={"PK": {"S": "a"}, "SK": {"S": "b"}})["Item"]["PK"] == {"S": "a"}
    assert compiled == []  # the remembered route


def _calls(client) -> list:
    """Every kind of call the site makes, and refusals: answers without their request metadata."""
    outcomes = []

    def call(name, **params):
        try:
            answer = getattr(client, name)(**params)
            answer.pop("ResponseMetadata", None)
            outcomes.append((name, answer))
        except botocore.exceptions.ClientError as exc:
            outcomes.append((name, "refused", exc.response["Error"]["Code"], exc.response["Error"]["Message"]))

    key = {"PK": {"S": "ROOM#r1"}, "SK": {"S": "MSG#001"}}
    call("get_item", TableName=TABLE, Key=key, ConsistentRead=True)
    call("get_item", TableName=TABLE, Key={"PK": {"S": "nobody"}, "SK": {"S": "x"}})
    call("get_item", TableName="no_such_table", Key=key)
    call("put_item", TableName=TABLE, Item={"PK": {"S": "ROOM#r1"}, "SK": {"S": "MSG#001"}, "N": {"N": "1"}},
         ConditionExpression="attribute_not_exists(PK)")
    call("update_item", TableName=TABLE, Key=key, UpdateExpression="ADD #n :one SET B = :b",
         ExpressionAttributeNames={"#n": "N"}, ExpressionAttributeValues={":one": {"N": "1"}, ":b": {"B": b"\x00\xff"}},
         ReturnValues="ALL_NEW")
    call("batch_get_item", RequestItems={TABLE: {"Keys": [key, {"PK": {"S": "USER#u"}, "SK": {"S": "PROFILE"}}],
                                                 "ProjectionExpression": "PK, SK, N"}})
    call("transact_write_items", TransactItems=[
        {"Put": {"TableName": TABLE, "Item": {"PK": {"S": "T"}, "SK": {"S": "1"}}}},
        {"ConditionCheck": {"TableName": TABLE, "Key": key, "ConditionExpression": "attribute_not_exists(PK)"}}])
    call("delete_item", TableName=TABLE, Key=key, ReturnValues="ALL_OLD")
    call("describe_table", TableName=TABLE)
    return outcomes


def test_calls_handed_to_moto_as_a_lean_request_get_moto_s_answers(moto_tables, monkeypatch):
    """A DynamoDB JSON call reaches moto's handler as a LeanRequest, and every answer and refusal is
    the one moto's own Request gets (the table's creation time aside, which differs per run)."""
    from tests.support import fast_moto_dispatch

    client = moto_tables.client()
    _seed(client)
    made: list[object] = []
    lean_request = fast_moto_dispatch.lean_request
    monkeypatch.setattr(fast_moto_dispatch, "lean_request", lambda request: made.append(lean_request(request)) or made[-1])
    fast = _calls(client)
    assert made and all(isinstance(r, fast_moto_dispatch.LeanRequest) for r in made)
    assert [o[1] for o in fast if len(o) > 2] == ["refused", "refused", "refused"]

    from chatsite import dynamodb

    client.delete_table(TableName=TABLE)  # the same start for moto's own Request
    dynamodb.ensure_tables(wait_seconds=0)
    _seed(client)
    made.clear()
    monkeypatch.setattr(fast_moto_dispatch, "lean_request", lambda request: made.append(request))  # None: moto's Request
    plain = _calls(client)
    assert len(made) == len(plain)

    def comparable(outcomes):
        return [(o[0], _without_times(o[1])) + tuple(o[2:]) for o in outcomes]

    assert comparable(fast) == comparable(plain)


def _without_times(answer):
    if isinstance(answer, dict):
        return {k: _without_times(v) for k, v in answer.items()
                if k not in ("CreationDateTime", "LatestStreamArn", "LatestStreamLabel")}
    if isinstance(answer, list):
        return [_without_times(v) for v in answer]
    return answer


def test_a_request_the_lean_path_cannot_describe_whole_gets_moto_s_request():
    from botocore.awsrequest import AWSPreparedRequest

    from tests.support.fast_moto_dispatch import LeanRequest, lean_request

    headers = {"X-Amz-Target": "DynamoDB_20120810.GetItem", "Content-Type": "application/x-amz-json-1.0"}

    def prepared(method="POST", url="https://dynamodb.us-east-1.amazonaws.com/", extra=None, body=b"{}"):
        return AWSPreparedRequest(method, url, {**headers, **(extra or {})}, body, None)

    lean = lean_request(prepared())
    assert isinstance(lean, LeanRequest) and lean.data == b"{}" and lean.raw_url.endswith(".com/")
    assert lean.headers.get("x-amz-target") == "DynamoDB_20120810.GetItem" and "CONTENT-TYPE" in lean.headers
    assert lean_request(prepared(method="GET")) is None
    assert lean_request(prepared(url="https://dynamodb.us-east-1.amazonaws.com/?a=1")) is None
    assert lean_request(prepared(extra={"Content-Encoding": "gzip"})) is None
    assert lean_request(prepared(extra={"X-Amz-Target": "Kinesis_20131202.PutRecord"})) is None
