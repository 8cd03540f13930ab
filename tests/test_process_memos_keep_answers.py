"""The unit tier's process-wide memos (tests/support/process_memos.py) save work, not answers: a
static file that changes is served as it now is, and DynamoDB items of every attribute type read
back exactly as written through moto, and one parsed UpdateExpression updates each item as its own."""

from __future__ import annotations

import os

import pytest
from whitenoise.base import WhiteNoise

from chatsite import dynamodb, keys


def _served(root, url: str):
    static_file = WhiteNoise(application=None, root=root, prefix="/s/").files[url]
    headers = dict(static_file.get_response("GET", {}).headers)
    return static_file, headers


def test_an_unchanged_static_file_is_reused_and_a_changed_one_served_as_it_now_is(tmp_path):
    path = tmp_path / "site.css"
    path.write_text("body { color: red }")
    first, headers = _served(tmp_path, "/s/site.css")
    again, _ = _served(tmp_path, "/s/site.css")
    assert again is first  # the memo is in force: nothing was built twice
    assert headers["Content-Length"] == str(len("body { color: red }"))

    path.write_text("body { color: rebeccapurple }")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    changed, headers = _served(tmp_path, "/s/site.css")
    assert changed is not first
    assert headers["Content-Length"] == str(len("body { color: rebeccapurple }"))
    assert changed.get_response("GET", {}).file.read() == b"body { color: rebeccapurple }"


def test_every_attribute_type_reads_back_exactly_through_moto(moto_tables):
    client = dynamodb.client()
    table = dynamodb.table_name(dynamodb.CHAT)
    item = {
        "PK": {"S": keys.user_pk("memo-check")}, "SK": {"S": keys.META},
        "s": {"S": "ünïcode"}, "n": {"N": "-12.5"}, "b": {"B": b"\x00\xff"},
        "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]}, "bs": {"BS": [b"x", b"y"]},
        "m": {"M": {"inner": {"L": [{"S": "x"}, {"N": "1"}, {"NULL": True}, {"BOOL": False}]}}},
        "null": {"NULL": True}, "bool": {"BOOL": True},
    }
    for _ in range(2):  # the second read goes through remembered keys
        client.put_item(TableName=table, Item=item)
        got = client.get_item(TableName=table, Key={"PK": item["PK"], "SK": item["SK"]})["Item"]
        for name in ("ss", "ns", "bs"):  # sets come back in any order
            kind = next(iter(item[name]))
            assert sorted(got.pop(name)[kind]) == sorted(item[name][kind])
        assert got == {k: v for k, v in item.items() if k not in ("ss", "ns", "bs")}


def test_one_update_expression_serves_many_items_and_a_bad_one_fails_every_time(moto_tables):
    client = dynamodb.client()
    table = dynamodb.table_name(dynamodb.CHAT)

    def add(user: str, expression: str = "SET label = :l ADD n :one REMOVE gone"):
        key = {"PK": {"S": keys.user_pk(user)}, "SK": {"S": keys.META}}
        client.update_item(TableName=table, Key=key, UpdateExpression=expression,
                           ExpressionAttributeValues={":l": {"S": user}, ":one": {"N": "1"}})
        return client.get_item(TableName=table, Key=key)["Item"]

    client.put_item(TableName=table, Item={"PK": {"S": keys.user_pk("b")}, "SK": {"S": keys.META},
                                           "gone": {"S": "x"}, "n": {"N": "5"}})
    add("a")
    assert add("a")["n"] == {"N": "2"}
    b = add("b")
    assert b["n"] == {"N": "6"} and b["label"] == {"S": "b"} and "gone" not in b
    for _ in range(2):
        with pytest.raises(client.exceptions.ClientError, match="ValidationException"):
            add("a", "SET label = :l ADD")
