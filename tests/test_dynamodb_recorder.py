"""The DynamoDB call recorder (tests/support/dynamodb_recorder.py) that the IAM policy test runs the
unit suite with: what it records for each call, and whose call it says it was."""

import ast
import threading

import pytest
from django.core.management import call_command

from accounts.session_engine import SessionStore
from chatsite import dynamodb
from rooms import services
from rooms.models import PUBLIC, MessageRecord
from tests.support.dynamodb_recorder import ADMIN_FUNCTIONS, ROOT, Recorder, accesses, logical_table, merge


def recorded(body, *, endpoint="aws") -> set[tuple]:
    recorder = Recorder()
    recorder.test_thread = threading.current_thread()
    recorder.start()
    try:
        body()
    finally:
        recorder.stop()
    assert {r["endpoint"] for r in recorder.records.values()} <= {endpoint}
    return {(r["role"], r["action"], r["table"], r["index"]) for r in recorder.records.values()}


def test_batches_and_transactions_need_an_action_on_each_table_they_touch():
    assert accesses("BatchWriteItem", {"RequestItems": {"p_chat": [], "p_session_store": []}}) == [
        ("BatchWriteItem", "p_chat", None), ("BatchWriteItem", "p_session_store", None)]
    assert accesses("TransactWriteItems", {"TransactItems": [
        {"Put": {"TableName": "p_chat"}}, {"ConditionCheck": {"TableName": "p_session_store"}}]}) == [
        ("PutItem", "p_chat", None), ("ConditionCheckItem", "p_session_store", None)]
    assert accesses("TransactGetItems", {"TransactItems": [{"Get": {"TableName": "p_chat"}}]}) == [
        ("GetItem", "p_chat", None)]
    assert accesses("Query", {"TableName": "p_chat", "IndexName": "room_messages"}) == [
        ("Query", "p_chat", "room_messages")]
    assert accesses("ListTables", {}) == [("ListTables", None, None)]


def test_table_names_lose_the_prefix_and_other_names_stay_whole():
    tables = dynamodb.TABLES
    assert logical_table("p_chat", "p_", tables) == "chat"
    assert logical_table("p_chat.rebuild", "p_", tables) == "p_chat.rebuild"
    assert logical_table("other_chat", "p_", tables) == "other_chat"


def test_a_command_is_admin_the_app_is_web_and_a_tests_own_call_is_test(moto_tables):
    def body():
        call_command("create_room", "Art")
        services.room_create(name="Music", description="", created_by="bob", created_by_name=None,
                             kind=PUBLIC)
        list(MessageRecord.room_index.query("art"))

    calls = recorded(body)
    assert ("admin", "PutItem", "chat", None) in calls
    assert ("web", "PutItem", "chat", None) in calls
    assert ("test", "Query", "chat", "room_messages") in calls
    assert not {call for call in calls if call[0] == "test" and call[1] == "PutItem"}


def test_a_fixture_making_the_tables_is_the_admin_command_at_work(moto_tables):
    calls = recorded(lambda: dynamodb.ensure_tables(wait_seconds=5))
    assert {("admin", "DescribeTable", "chat", None), ("admin", "DescribeTable", "session_store", None),
            ("admin", "DescribeTimeToLive", "session_store", None)} <= calls
    assert {role for role, *_ in calls} == {"admin"}


def test_clearing_expired_sessions_is_admin_work_whoever_calls_it(moto_tables):
    """SessionStore.clear_expired is Django's hook for clearsessions: a session test calling it
    does not make Scan something the web app does."""
    calls = recorded(SessionStore.clear_expired)
    assert ("admin", "Scan", "session_store", None) in calls
    assert "web" not in {role for role, *_ in calls}


class _Callers(ast.NodeVisitor):
    def __init__(self, names):
        self.names, self.functions, self.found = names, [None], []

    def visit_FunctionDef(self, node):
        self.functions.append(node.name)
        self.generic_visit(node)
        self.functions.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Call(self, node):
        name = getattr(node.func, "attr", getattr(node.func, "id", None))
        if name in self.names:
            self.found.append((name, node.lineno, self.functions[-1]))
        self.generic_visit(node)


def test_the_admin_functions_have_no_caller_in_the_app_but_commands_and_each_other():
    names = {name for _, name in ADMIN_FUNCTIONS}
    outside = []
    for app in ("accounts", "chatsite", "rooms", "demo"):
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if "/management/commands/" in relative:
                continue
            callers = _Callers(names)
            callers.visit(ast.parse(path.read_text()))
            outside += [f"{relative}:{line} {caller} calls {name}" for name, line, caller in callers.found
                        if (relative, caller) not in ADMIN_FUNCTIONS]
    assert outside == []


def test_a_call_to_a_local_endpoint_says_so(moto_tables):
    dynamodb.configure(endpoint_url="http://127.0.0.1:9", prefix="x_")  # nothing listens: refused at once
    calls = recorded(lambda: pytest.raises(dynamodb.DynamoDBUnreachable, dynamodb.ensure_tables, wait_seconds=1),
                     endpoint="local")
    assert calls == {("admin", "DescribeTable", "x_chat.rebuild", None)}  # the rebuild copy: local servers only


def test_a_thread_working_while_a_command_runs_is_admin(moto_tables, monkeypatch):
    """A call on another thread has no command on its stack: it is the command's while the thread
    running the test is inside one."""
    create = services.room_create

    def on_another_thread(**kwargs):
        answer = []
        worker = threading.Thread(target=lambda: answer.append(create(**kwargs)))
        worker.start()
        worker.join()
        return answer[0]

    monkeypatch.setattr(services, "room_create", on_another_thread)
    calls = recorded(lambda: call_command("create_room", "Art"))
    assert ("admin", "PutItem", "chat", None) in calls
    assert "web" not in {role for role, *_ in calls}

    # and the same thread's work outside a command is the web app's
    calls = recorded(lambda: on_another_thread(name="Music", description="", created_by="bob",
                                               created_by_name=None, kind=PUBLIC))
    assert ("web", "PutItem", "chat", None) in calls


def test_records_merge_across_processes_by_role_action_table_and_index():
    one = {"role": "web", "operation": "Query", "action": "Query", "table": "chat", "index": None, "endpoint": "aws"}
    merged = merge([dict(one, count=2, first_test="a", first_caller="x")],
                   [dict(one, count=3, first_test="b", first_caller="y"),
                    dict(one, role="admin", count=1, first_test="c", first_caller="z")])
    assert [(r["role"], r["count"], r["first_test"]) for r in merged] == [("admin", 1, "c"), ("web", 5, "a")]
