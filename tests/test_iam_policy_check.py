"""The check that holds the IAM policies to the calls made (tests/support/iam_policy.py), on small
hand-made inputs: it reports what the app would be refused, what a policy grants beyond the calls,
and anything outside the two tables. The policies of deploy/chatsite.yaml are checked against the
whole unit suite's calls by tests/integration/test_iam_policy_matches_calls.py."""

import textwrap

from tests.support.iam_policy import TABLE_INDEX, Grant, Resource, Use, compare, policies_from_template
from tests.support.iam_policy import load_template, uses_from_record

TABLES = {"chat", "session_store"}
CHAT = Resource("chat")
CHAT_INDEXES = Resource("chat", TABLE_INDEX)
SESSIONS = Resource("session_store")


def test_a_policy_granting_exactly_what_was_used_passes():
    uses = [Use("web", "GetItem", "chat"), Use("web", "Query", "chat", "room_messages"),
            Use("web", "GetItem", "session_store"), Use("admin", "Scan", "session_store")]
    policies = {"web": [Grant(("dynamodb:GetItem",), (CHAT, SESSIONS)), Grant(("dynamodb:Query",), (CHAT_INDEXES,))],
                "admin": [Grant(("dynamodb:Scan",), (SESSIONS,))]}
    assert compare(uses, policies, TABLES) == []


def test_an_action_used_that_the_policy_lacks_is_reported():
    uses = [Use("web", "GetItem", "chat"), Use("web", "PutItem", "chat")]
    policies = {"web": [Grant(("dynamodb:GetItem",), (CHAT,))], "admin": []}
    assert compare(uses, policies, TABLES) == ["web calls PutItem on chat but WebPolicy does not grant it"]


def test_an_action_granted_on_the_other_roles_policy_only_is_reported():
    uses = [Use("admin", "Scan", "session_store")]
    policies = {"web": [Grant(("dynamodb:Scan",), (SESSIONS,))], "admin": []}
    assert compare(uses, policies, TABLES) == [
        "admin calls Scan on session_store but AdminPolicy does not grant it",
        "WebPolicy grants dynamodb:Scan on session_store, which no web call used"]


def test_a_grant_nothing_used_is_reported_resource_by_resource():
    uses = [Use("web", "GetItem", "chat")]
    policies = {"web": [Grant(("dynamodb:GetItem", "dynamodb:Scan"), (CHAT, SESSIONS))]}
    assert compare(uses, policies, TABLES) == [
        "WebPolicy grants dynamodb:GetItem on session_store, which no web call used",
        "WebPolicy grants dynamodb:Scan on chat, which no web call used",
        "WebPolicy grants dynamodb:Scan on session_store, which no web call used"]


def test_the_table_and_its_indexes_are_different_resources():
    policies = {"web": [Grant(("dynamodb:Query",), (CHAT,))]}
    assert compare([Use("web", "Query", "chat", "room_messages")], policies, TABLES) == [
        "web calls Query on chat/index/room_messages but WebPolicy does not grant it",
        "WebPolicy grants dynamodb:Query on chat, which no web call used"]
    named = {"web": [Grant(("dynamodb:Query",), (Resource("chat", "thread_messages"),))]}
    assert compare([Use("web", "Query", "chat", "thread_messages")], named, TABLES) == []
    assert compare([Use("web", "Query", "chat", "room_messages")], named, TABLES)[0].startswith(
        "web calls Query on chat/index/room_messages but")


def test_anything_outside_the_two_tables_or_not_named_exactly_is_reported():
    uses = [Use("web", "GetItem", "chat"), Use("admin", "ListTables", None), Use("admin", "DescribeTable", "chat.rebuild")]
    policies = {"web": [Grant(("dynamodb:*",), (CHAT,)), Grant(("dynamodb:GetItem",), ("'*'",))],
                "admin": [Grant(("dynamodb:DescribeTable",), (Resource("chat.rebuild"),)),
                          Grant(("s3:GetObject",), (CHAT,))]}
    problems = compare(uses, policies, TABLES)
    assert "WebPolicy grants dynamodb:*: only DynamoDB actions, named one by one" in problems
    assert "WebPolicy grants on '*', which is not one of the tables chat, session_store or their indexes" in problems
    assert "AdminPolicy grants on chat.rebuild, which is not one of the tables chat, session_store or their indexes" in problems
    assert "AdminPolicy grants s3:GetObject: only DynamoDB actions, named one by one" in problems
    assert "admin calls ListTables on no table (resource *), outside the two tables: no policy may grant it" in problems
    assert "admin calls DescribeTable on chat.rebuild, outside the two tables: no policy may grant it" in problems


TEMPLATE = textwrap.dedent("""\
    Parameters:
      TablePrefix: {Type: String, Default: ""}
    Resources:
      ChatTable:
        Type: AWS::DynamoDB::Table
        Properties: {TableName: !Sub "${TablePrefix}chat"}
      SessionTable:
        Type: AWS::DynamoDB::Table
        Properties:
          TableName: !Join ["", [!Ref TablePrefix, session_store]]
      WebPolicy:
        Type: AWS::IAM::ManagedPolicy
        Properties:
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: [dynamodb:GetItem, dynamodb:Query]
                Resource:
                  - !GetAtt ChatTable.Arn
                  - !Sub "${ChatTable.Arn}/index/*"
                  - !Sub "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${TablePrefix}session_store"
                  - "*"
      AdminPolicy:
        Type: AWS::IAM::ManagedPolicy
        Properties:
          PolicyDocument:
            Statement:
              - {Effect: Deny, Action: "dynamodb:*", Resource: "*"}
    """)


def test_template_policies_resolve_to_tables_and_indexes(tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    policies, problems = policies_from_template(load_template(path))
    assert policies["web"] == [Grant(("dynamodb:GetItem", "dynamodb:Query"),
                                     (CHAT, CHAT_INDEXES, SESSIONS, "'*'"))]
    assert problems == ["AdminPolicy statement 0: only plain Allow statements can be checked (Effect Deny)"]


def test_a_missing_policy_is_reported(tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE.split("  AdminPolicy:")[0])
    _, problems = policies_from_template(load_template(path))
    assert problems == ["AdminPolicy: no AWS::IAM::ManagedPolicy of that name in the template"]


def test_the_record_gives_the_roles_calls_on_aws_and_on_the_two_tables_anywhere():
    def call(role, table, endpoint="aws", action="DescribeTable"):
        return {"role": role, "operation": action, "action": action, "table": table, "index": None,
                "endpoint": endpoint, "count": 1, "first_test": "t", "first_caller": "c"}

    record = {"calls": [call("admin", "chat"), call("admin", "chat", "local", "UpdateTable"),
                        call("admin", "test_chat.rebuild", "local"), call("admin", "chat.copy"),
                        call("test", "chat", action="Scan"), call("web", "chat", action="GetItem")]}
    assert uses_from_record(record, TABLES) == [
        Use("admin", "DescribeTable", "chat"), Use("admin", "UpdateTable", "chat"),
        Use("admin", "DescribeTable", "chat.copy"), Use("web", "GetItem", "chat")]
