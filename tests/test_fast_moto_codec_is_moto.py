"""The unit tier's compiled DynamoDB request parser and response serializer
(tests/support/fast_moto_codec.py) give moto's bytes: every call below (every kind of attribute
value, pages, batches, transactions, conditional writes that fail, refused requests, consumed
capacity, returned values) gets the same status and the same body from moto with and without
them, the compiled parser reads odd bodies as moto's parser does, the compiled serializer writes
odd results as moto's serializer does (or hands them to it), and the fast path is the one taken."""

from __future__ import annotations

import enum
import json

import botocore.exceptions
import pytest

from tests.support.fast_moto_codec import ORIGINALS, compile_parser

TABLE = "test_chat"
KEY = {"PK": {"S": "ROOM#r"}, "SK": {"S": "META"}}
RICH = {
    "PK": {"S": "ROOM#r"}, "SK": {"S": "MSG#001"}, "RoomID": {"S": "r"}, "CreatedAt": {"S": "2024-01-01T00:00:01Z"},
    "Text": {"S": "héllo \"quoted\" \\ \u2603"}, "Count": {"N": "12.50"}, "Big": {"N": "123456789012345678901234567890"},
    "Blob": {"B": b"\x00\xffbinary"}, "Blobs": {"BS": [b"a", b"\xfe"]},
    "Tags": {"SS": ["x", "y"]}, "Nums": {"NS": ["1", "2.5"]}, "Flag": {"BOOL": False}, "Nothing": {"NULL": True},
    "List": {"L": [{"S": "a"}, {"N": "1"}, {"M": {"deep": {"L": [{"BOOL": True}]}}}]},
    "Map": {"M": {"inner": {"M": {"n": {"N": "-3"}}}, "empty": {"M": {}}, "none": {"L": []}}},
}


def _calls(client) -> list:
    """(operation, parameters) for a run of every call the app and its tests make, and more."""
    messages = [{**RICH, "SK": {"S": f"MSG#{n:03d}"}, "CreatedAt": {"S": f"2024-01-01T00:00:{n:02d}Z"}}
                for n in range(1, 8)]
    calls = [("PutItem", {"Item": {**KEY, "Name": {"S": "room"}, "Seq": {"N": "0"}}})]
    calls += [("PutItem", {"Item": item, "ReturnConsumedCapacity": "TOTAL"}) for item in messages[:3]]
    calls += [
        ("BatchWriteItem", {"RequestItems": {TABLE: [{"PutRequest": {"Item": item}} for item in messages[3:]]},
                            "ReturnConsumedCapacity": "INDEXES"}),
        ("GetItem", {"Key": KEY, "ConsistentRead": True, "ReturnConsumedCapacity": "TOTAL"}),
        ("GetItem", {"Key": {**KEY, "SK": {"S": "MISSING"}}}),
        ("GetItem", {"Key": {"PK": {"S": "ROOM#r"}, "SK": {"S": "MSG#001"}},
                     "ProjectionExpression": "#t, Map.inner, List[2]", "ExpressionAttributeNames": {"#t": "Text"}}),
        ("Query", {"KeyConditionExpression": "PK = :p AND begins_with(SK, :m)",
                   "ExpressionAttributeValues": {":p": {"S": "ROOM#r"}, ":m": {"S": "MSG#"}}, "Limit": 3}),
        ("Query", {"IndexName": "room_messages", "KeyConditionExpression": "RoomID = :r",
                   "ExpressionAttributeValues": {":r": {"S": "r"}}, "ScanIndexForward": False, "Limit": 2,
                   "ReturnConsumedCapacity": "INDEXES"}),
        ("Query", {"KeyConditionExpression": "PK = :p", "ExpressionAttributeValues": {":p": {"S": "ROOM#r"}},
                   "Select": "COUNT"}),
        ("Query", {"KeyConditionExpression": "PK = :p", "ExpressionAttributeValues": {":p": {"S": "ROOM#r"}},
                   "ExclusiveStartKey": {"PK": {"S": "ROOM#r"}, "SK": {"S": "MSG#004"}},
                   "FilterExpression": "#c > :n", "ExpressionAttributeNames": {"#c": "Count"},
                   "ExpressionAttributeValues": {":p": {"S": "ROOM#r"}, ":n": {"N": "1"}}}),
        ("Scan", {"Limit": 4}),
        ("UpdateItem", {"Key": KEY, "UpdateExpression": "ADD Seq :one SET #n = :n",
                        "ExpressionAttributeNames": {"#n": "Name"},
                        "ExpressionAttributeValues": {":one": {"N": "1"}, ":n": {"S": "renamed"}},
                        "ReturnValues": "ALL_NEW"}),
        ("UpdateItem", {"Key": KEY, "UpdateExpression": "SET Seq = :s", "ConditionExpression": "Seq = :old",
                        "ExpressionAttributeValues": {":s": {"N": "9"}, ":old": {"N": "7"}},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}),
        ("UpdateItem", {"Key": KEY, "UpdateExpression": "SET PK = :p",
                        "ExpressionAttributeValues": {":p": {"S": "x"}}}),
        ("PutItem", {"Item": {**KEY}, "ConditionExpression": "attribute_not_exists(PK)"}),
        ("PutItem", {"Item": {"PK": {"S": "x"}}}),
        ("PutItem", {"Item": {**KEY, "Empty": {"S": "x"}}, "ReturnValues": "ALL_OLD"}),
        ("BatchGetItem", {"RequestItems": {TABLE: {"Keys": [KEY, {"PK": {"S": "ROOM#r"}, "SK": {"S": "MSG#002"}},
                                                            {"PK": {"S": "nobody"}, "SK": {"S": "x"}}]}}}),
        ("TransactWriteItems", {"TransactItems": [
            {"Put": {"TableName": TABLE, "Item": {"PK": {"S": "T"}, "SK": {"S": "1"}}}},
            {"Update": {"TableName": TABLE, "Key": KEY, "UpdateExpression": "ADD Seq :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}}]}),
        ("TransactWriteItems", {"TransactItems": [
            {"Put": {"TableName": TABLE, "Item": {"PK": {"S": "T"}, "SK": {"S": "2"}}}},
            {"ConditionCheck": {"TableName": TABLE, "Key": KEY, "ConditionExpression": "attribute_not_exists(PK)",
                                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}]}),
        ("TransactGetItems", {"TransactItems": [{"Get": {"TableName": TABLE, "Key": KEY}},
                                                {"Get": {"TableName": TABLE, "Key": {"PK": {"S": "no"}, "SK": {"S": "no"}}}}]}),
        ("DeleteItem", {"Key": {"PK": {"S": "T"}, "SK": {"S": "1"}}, "ReturnValues": "ALL_OLD"}),
        ("DeleteItem", {"Key": {"PK": {"S": "T"}, "SK": {"S": "1"}}, "ConditionExpression": "attribute_exists(PK)"}),
        ("Query", {"IndexName": "no_such_index", "KeyConditionExpression": "RoomID = :r",
                   "ExpressionAttributeValues": {":r": {"S": "r"}}}),
        ("Query", {"KeyConditionExpression": "PK = :p", "ExpressionAttributeValues": {}}),
        ("GetItem", {"TableName": "no_such_table", "Key": KEY}),
        ("DescribeTable", {}),
        ("DescribeTimeToLive", {}),
        ("ListTables", {}),
    ]
    return calls


def _wire(client) -> list:
    """Each call's HTTP status and body as moto sent them, and what botocore made of them."""
    from moto.core import botocore_stubber

    sent: list = []
    stubber = botocore_stubber.BotocoreStubber
    process_request = stubber.process_request

    def recording(self, request):
        answer = process_request(self, request)
        if answer is not None:
            sent.append((answer[0], answer[2]))
        return answer

    outcomes = []
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(stubber, "process_request", recording)
        for operation, parameters in _calls(client):
            parameters = {"TableName": TABLE, **parameters} if operation not in (
                "BatchWriteItem", "BatchGetItem", "TransactWriteItems", "TransactGetItems", "ListTables") else parameters
            try:
                answer = getattr(client, _snake(operation))(**parameters)
                answer.pop("ResponseMetadata")
                outcomes.append((operation, "answered", answer))
            except botocore.exceptions.ClientError as exc:
                outcomes.append((operation, "refused", exc.response["Error"], exc.response.get("CancellationReasons"),
                                 exc.response.get("Item")))
    return [(*outcome, status, body) for outcome, (status, body) in zip(outcomes, sent, strict=True)]


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")


def _empty(client) -> None:
    for item in client.scan(TableName=TABLE)["Items"]:
        client.delete_item(TableName=TABLE, Key={"PK": item["PK"], "SK": item["SK"]})


def test_every_call_gets_the_bytes_moto_sends_without_the_compiled_codec(moto_tables):
    client = moto_tables.client()
    fast = _wire(client)
    kinds = {outcome[1] for outcome in fast}
    assert kinds == {"answered", "refused"}
    refused = {outcome[2]["Code"] for outcome in fast if outcome[1] == "refused"}
    assert {"ConditionalCheckFailedException", "ValidationException", "TransactionCanceledException",
            "ResourceNotFoundException"} <= refused
    _empty(client)
    with pytest.MonkeyPatch.context() as monkeypatch:
        for (owner, name), original in ORIGINALS.items():
            monkeypatch.setattr(owner, name, original)
        plain = _wire(client)
    for fast_one, plain_one in zip(fast, plain, strict=True):
        assert fast_one == plain_one


def test_the_compiled_codec_is_the_path_taken(moto_tables, monkeypatch):
    """A Query's request is parsed and its answer written by the compiled functions: moto's own
    parser and serializer are not called."""
    from moto.core import parse, serialize

    client = moto_tables.client()
    client.put_item(TableName=TABLE, Item=RICH)
    used: list[str] = []
    for owner, name in ((parse.JSONParser, "parse"), (serialize.JSONSerializer, "serialize")):
        original = getattr(owner, name)
        monkeypatch.setattr(owner, name, lambda self, *a, _o=original, _n=name, **k: used.append(_n) or _o(self, *a, **k))
    items = client.query(TableName=TABLE, KeyConditionExpression="PK = :p",
                         ExpressionAttributeValues={":p": {"S": "ROOM#r"}})["Items"]
    assert items[0]["Blob"] == {"B": b"\x00\xffbinary"} and items[0]["Map"] == RICH["Map"]
    assert used == []
    client.put_item(TableName=TABLE, Item=KEY, ConditionExpression="attribute_not_exists(PK)")
    assert used == []
    with pytest.raises(botocore.exceptions.ClientError, match="ConditionalCheckFailed"):
        client.put_item(TableName=TABLE, Item=KEY, ConditionExpression="attribute_not_exists(PK)")
    assert used == []  # moto answers this error itself (an HTTP exception), as before


def _moto_parse(operation: str, body):
    from moto.core.parse import JSONParser
    from moto.core.utils import get_service_model

    model = get_service_model("dynamodb").operation_model(operation)
    return JSONParser(model).parse({"method": "POST", "values": {}, "headers": {}, "body": body,
                                    "url_path": "/", "url_params": {}})


ODD_BODIES = [
    ("Query", {"TableName": "t", "Limit": "7", "ScanIndexForward": None, "Unknown": 1,
               "ExclusiveStartKey": {"PK": {"S": "a", "B": None}, "SK": {"B": "AAE="}},
               "ExpressionAttributeValues": {":b": {"BS": ["AA==", "AQ=="]}, ":n": {"NULL": True}}}),
    ("PutItem", {"TableName": "t", "Item": {"m": {"M": {"": {"S": ""}, "l": {"L": [None, {"N": "1"}]}}}}}),
    ("BatchWriteItem", {"RequestItems": {"t": [{"PutRequest": {"Item": {"a": {"BOOL": True}}}},
                                              {"DeleteRequest": {"Key": {"a": {"S": "b"}}}}]}}),
    ("UpdateTable", {"TableName": "t", "ProvisionedThroughput": {"ReadCapacityUnits": 5.0, "WriteCapacityUnits": "3"}}),
    ("ExportTableToPointInTime", {"TableArn": "arn", "S3Bucket": "b", "ExportTime": 1700000000}),
    ("ListTables", None),
    ("ListTables", b""),
    ("GetItem", b"not json"),
    ("GetItem", b"\xff\xfe"),
    ("DescribeTable", b"null"),
]


@pytest.mark.parametrize(("operation", "body"), ODD_BODIES)
def test_the_compiled_parser_reads_a_body_as_moto_does(operation, body):
    from moto.core.utils import get_service_model

    from tests.support.fast_moto_codec import _body_as_json

    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    try:
        expected = ("parsed", _moto_parse(operation, raw))
    except Exception as exc:  # moto's failure on a bad body is the one to match
        expected = ("failed", type(exc))
    shape = get_service_model("dynamodb").operation_model(operation).input_shape
    try:
        got = ("parsed", compile_parser(shape, {})(_body_as_json(raw)))
    except Exception as exc:
        got = ("failed", type(exc))
    assert got == expected
    assert repr(got) == repr(expected)  # same types too (1 and 1.0 are equal)


class _Kind(enum.Enum):
    PUT = "PUT"


class _Attrs:
    """A result that is not a plain dict: moto's picker reads its attributes."""

    def __init__(self, **attrs):
        self.__dict__.update(attrs)


ODD_RESULTS = [
    ("Query", {"Items": [{"a": {"S": "x"}}], "Count": "1", "ScannedCount": 1.0, "LastEvaluatedKey": None}),
    ("Query", {"ItemList": [{"a": {"S": "from the shape's name"}}], "Items": [], "count": 2, "scanned_count": 3}),
    ("Query", {"Items": [{"a": {"B": b"\x00raw"}, "b": {"B": "text"}, "c": {"BS": [b"1", "2"]}}]}),
    ("Query", {"Items": [{"a": {"N": 5}, "b": {"S": 7}, "c": {"L": [None, {"S": None}]}}]}),
    ("Query", {"Items": [{"": {"S": "an empty attribute name"}}]}),
    ("Query", {"Items": [{"a": {"M": {"": {"S": "x"}}}}]}),
    ("Query", {"Items": ({"a": {"S": "a tuple of items"}},)}),
    ("Query", _Attrs(Items=[{"a": {"S": "an object"}}], Count=1)),
    ("Query", {"Items": [{"a": {"S": _Kind.PUT}}], "ConsumedCapacity": {"TableName": "t", "CapacityUnits": 1}}),
    ("Query", {"Items": [{"a": {"S": ""}, "b": {"SS": ["", {}, []]}}], "ConsumedCapacity": {}}),
    ("GetItem", {"Item": {"a": {"NULL": True}, "b": {"BOOL": False}}, "Extra": "dropped"}),
    ("GetItem", {}),
    ("GetItem", None),
    ("BatchGetItem", {"Responses": {"t": [{"a": {"S": "x"}}]}, "UnprocessedKeys": {}}),
    ("TransactWriteItems", {"ConsumedCapacity": [{"TableName": "t", "CapacityUnits": 2.0}], "ItemCollectionMetrics": {}}),
    ("DescribeTable", {"Table": {"TableName": "t", "CreationDateTime": 1700000000.5, "ItemCount": 3}}),
    ("ListTables", {"TableNames": ["a", "b"], "LastEvaluatedTableName": None}),
]


def _handler(operation: str):
    from moto.dynamodb.responses import DynamoHandler

    handler = DynamoHandler()
    handler.headers = {"X-Amz-Target": f"DynamoDB_20120810.{operation}", "Content-Type": "application/x-amz-json-1.0"}
    handler.querystring = {}
    handler.response_headers = {"server": "amazon.com"}
    return handler


@pytest.mark.parametrize(("operation", "result"), ODD_RESULTS)
def test_the_compiled_serializer_writes_a_result_as_moto_does(operation, result):
    import copy

    from moto.core.responses import ActionResult
    from moto.dynamodb.responses import DynamoHandler

    def answer(serialized):
        try:
            return ("answered", serialized(_handler(operation), ActionResult(copy.deepcopy(result))))
        except Exception as exc:
            return ("failed", type(exc))

    assert answer(DynamoHandler.serialized) == answer(ORIGINALS[(DynamoHandler, "serialized")])


def test_threads_compiling_the_same_operation_at_once_all_parse_as_moto_does():
    """The first calls of an operation, from many threads at once (the live tests' helpers): none of
    them may use a structure another thread has not finished compiling."""
    import sys
    import threading

    from moto.dynamodb.responses import DynamoHandler

    from tests.support import fast_moto_codec

    body = json.dumps({"TableName": "t", "Limit": 3, "ExclusiveStartKey": {"PK": {"S": "a"}, "SK": {"B": "AAE="}},
                       "ExpressionAttributeValues": {":m": {"M": {"x": {"L": [{"N": "1"}, {"SS": ["s"]}]}}}},
                       "KeyConditionExpression": "PK = :m", "ScanIndexForward": False}).encode()
    expected = _moto_parse("Query", body)

    class _Request:
        content_type = "application/x-amz-json-1.0"
        data = body

    interval = sys.getswitchinterval()
    for _ in range(5):
        with pytest.MonkeyPatch.context() as fresh:
            fast_moto_codec.compile_codecs(fresh)  # empty memos: every thread's first call compiles
            barrier, got = threading.Barrier(8), []

            def parse():
                handler = _handler("Query")
                barrier.wait()
                try:
                    DynamoHandler.parse_parameters(handler, _Request())
                    got.append(handler.params)
                except Exception as exc:
                    got.append(exc)

            sys.setswitchinterval(1e-6)  # threads switch between almost every bytecode
            try:
                threads = [threading.Thread(target=parse) for _ in range(8)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
            finally:
                sys.setswitchinterval(interval)
        assert got == [expected] * 8
