"""The unit tier's faster moto (tests/support/fast_moto.py) answers exactly as moto does: every
UpdateItem below, good or refused, gets the same item or the same error with and without the
speed-ups, a copied expression is the tree moto's deepcopy makes, and only requests moto answers
go unsigned."""

from __future__ import annotations

import copy

import botocore.exceptions
import pytest
from botocore.awsrequest import AWSResponse

from tests.support.fast_moto import ORIGINALS, make_copy_expression

KEY = {"PK": {"S": "item"}, "SK": {"S": "one"}}

# (UpdateExpression, names, values): each is sent twice in a row (the second finds the check
# results remembered from the first) and after the others (an item with more attributes).
UPDATES = [
    ("SET #a = :a, #b = :b", {"#a": "a", "#b": "b"}, {":a": {"S": "x"}, ":b": {"N": "1"}}),
    ("ADD #n :one, #k :keys SET #e = :e REMOVE #old, #gone",
     {"#n": "n", "#k": "k", "#e": "e", "#old": "old", "#gone": "gone"},
     {":one": {"N": "1"}, ":keys": {"SS": ["k1"]}, ":e": {"N": "9"}}),
    ("SET #l = list_append(if_not_exists(#l, :empty), :more)", {"#l": "l"},
     {":empty": {"L": []}, ":more": {"L": [{"S": "m"}]}}),
    ("SET #m = :map", {"#m": "m"}, {":map": {"M": {"inner": {"M": {"deep": {"N": "1"}}}}}}),
    ("SET #m.inner.deep = #m.inner.deep + :one", {"#m": "m"}, {":one": {"N": "2"}}),
    ("SET #l[0] = :v REMOVE #l[1]", {"#l": "l"}, {":v": {"S": "first"}}),
    ("DELETE #k :keys", {"#k": "k"}, {":keys": {"SS": ["k1"]}}),
    # refused, each for its own reason
    ("SET #a = :a SET #b = :b", {"#a": "a", "#b": "b"}, {":a": {"S": "x"}, ":b": {"S": "y"}}),
    ("SET #a = :a, #a = :b", {"#a": "a"}, {":a": {"S": "x"}, ":b": {"S": "y"}}),
    ("SET #a = :a, #b = :b", {"#a": "PK", "#b": "b"}, {":a": {"S": "x"}, ":b": {"S": "y"}}),
    ("SET #a = :a", {"#a": "a"}, {":b": {"S": "x"}}),
    ("SET #a = :a", {}, {":a": {"S": "x"}}),
    ("SET #a = list_append(#a, :l)", {"#a": "a"}, {":l": {"L": []}}),
    ("SET #x.y = :v", {"#x": "x"}, {":v": {"S": "v"}}),
    ("SET #a = #missing", {"#a": "a", "#missing": "missing"}, {}),
    ("ADD #n :one ADD #e :one", {"#n": "n", "#e": "e"}, {":one": {"N": "1"}}),
]


def _answers(client) -> list:
    """Each update's outcome: the item as stored after it, or the error's code and message."""
    client.put_item(TableName="test_chat", Item={**KEY, "old": {"S": "o"}, "gone": {"N": "1"}})
    outcomes = []
    for expression, names, values in [*UPDATES, *UPDATES, *reversed(UPDATES)]:
        kwargs = {"ExpressionAttributeNames": names} if names else {}
        if values:
            kwargs["ExpressionAttributeValues"] = values
        try:
            client.update_item(TableName="test_chat", Key=KEY, UpdateExpression=expression, **kwargs)
            outcomes.append(("stored", client.get_item(TableName="test_chat", Key=KEY, ConsistentRead=True)["Item"]))
        except botocore.exceptions.ClientError as exc:
            outcomes.append(("refused", exc.response["Error"]["Code"], exc.response["Error"]["Message"]))
        except Exception as exc:  # moto's own failure on a name missing from the map: the same too
            outcomes.append(("crashed", type(exc).__name__, str(exc)))
    return outcomes


def test_every_update_gets_the_answer_moto_gives_without_the_speed_ups(moto_tables):
    client = moto_tables.client()
    fast = _answers(client)
    assert any(outcome[0] == "refused" for outcome in fast) and any(o[0] == "stored" for o in fast)
    client.delete_item(TableName="test_chat", Key=KEY)
    with pytest.MonkeyPatch.context() as monkeypatch:
        for (owner, name), original in ORIGINALS.items():
            monkeypatch.setattr(owner, name, original)
        plain = _answers(client)
    assert fast == plain


def test_a_key_attribute_is_refused_under_a_name_after_the_same_expression_passed(moto_tables):
    """The remembered checks are per (expression, names): a name that now points at a key fails."""
    client = moto_tables.client()
    client.update_item(TableName="test_chat", Key=KEY, UpdateExpression="SET #a = :a",
                       ExpressionAttributeNames={"#a": "a"}, ExpressionAttributeValues={":a": {"S": "x"}})
    for _ in range(2):
        with pytest.raises(botocore.exceptions.ClientError, match="key"):
            client.update_item(TableName="test_chat", Key=KEY, UpdateExpression="SET #a = :a",
                               ExpressionAttributeNames={"#a": "SK"}, ExpressionAttributeValues={":a": {"S": "x"}})


def _shape(node, seen_in_copy, source_ids):
    """A node's class, its attributes (nodes by shape) and whether its parent is the node above."""
    from moto.dynamodb.parsing.ast_nodes import Node

    if isinstance(node, list):
        return [_shape(item, seen_in_copy, source_ids) for item in node]
    if not isinstance(node, Node):
        return node
    assert id(node) not in source_ids or seen_in_copy is None  # a copy shares no node with its source
    return (type(node).__name__,
            {key: ("parent", type(value).__name__) if key == "parent" else _shape(value, seen_in_copy, source_ids)
             for key, value in vars(node).items()},
            all(child.parent is node for child in node.children or [] if isinstance(child, Node)))


@pytest.mark.parametrize("expression", [item[0] for item in UPDATES[:7]])
def test_a_copied_expression_is_the_tree_deepcopy_makes(expression):
    from moto.dynamodb.parsing.ast_nodes import Node
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    tree = UpdateExpressionParser.make(expression)
    source_ids = set()

    def collect(node):
        if isinstance(node, Node):
            source_ids.add(id(node))
            for child in node.children or []:
                collect(child)

    collect(tree)
    copied = make_copy_expression()(tree)
    assert copied is not tree
    assert _shape(copied, True, source_ids) == _shape(copy.deepcopy(tree), True, source_ids) == _shape(tree, None, set())


def _sent_headers(client) -> dict:
    sent = {}

    def capture(request, **kwargs):
        sent.update(request.headers)
        return AWSResponse(request.url, 200, {}, None)  # stands in for the server: nothing is sent

    client.meta.events.register_first("before-send.dynamodb", capture)
    try:
        client.list_tables()
    except Exception:
        pass  # the stand-in answer has no body; only the request matters here
    finally:
        client.meta.events.unregister("before-send.dynamodb", capture)
    return {key.lower(): value for key, value in sent.items()}


def test_requests_moto_answers_go_unsigned_and_others_are_signed(moto_tables):
    import boto3

    moto_client = moto_tables.client()
    assert "authorization" not in _sent_headers(moto_client)
    assert moto_client.list_tables()["TableNames"]  # and moto answers them
    other = boto3.session.Session().client("dynamodb", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
    authorization = _sent_headers(other)["authorization"]
    assert (authorization.decode() if isinstance(authorization, bytes) else authorization).startswith("AWS4-HMAC-SHA256")
