"""`ensure_tables --check` compares the live tables with chatsite/dynamodb.py's TABLES and changes
nothing: table_drift (a pure function, on DynamoDB's own description shapes) lists every difference;
the command prints them and exits non-zero, using Describe* calls only."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from moto import mock_aws

from chatsite import dynamodb
from tests.support.servers import free_port

CHAT = dynamodb.TABLES[dynamodb.CHAT]
SESSIONS = dynamodb.TABLES[dynamodb.SESSIONS]
DESCRIBE_ONLY = {"DescribeTable", "DescribeTimeToLive", "DescribeContinuousBackups"}


def _chat_description() -> dict:
    """The chat table as DescribeTable reports it when it matches the code (written out, not derived)."""
    def index(name, hash_key):
        return {"IndexName": name, "IndexStatus": "ACTIVE", "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [{"AttributeName": hash_key, "KeyType": "HASH"},
                              {"AttributeName": "CreatedAt", "KeyType": "RANGE"}]}
    return {
        "TableName": "prod_chat", "TableStatus": "ACTIVE",
        "KeySchema": [{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": "S"}
                                 for n in ("CreatedAt", "PK", "RoomID", "SK", "ThreadID")],
        "GlobalSecondaryIndexes": [index("room_messages", "RoomID"), index("thread_messages", "ThreadID")],
        "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
    }


TTL_ON = {"TimeToLiveStatus": "ENABLED", "AttributeName": "ExpiresAt"}
PITR_ON = {"ContinuousBackupsStatus": "ENABLED",
           "PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "ENABLED"}}


# --- table_drift --------------------------------------------------------------------------------


def test_a_table_as_the_code_defines_it_has_no_drift():
    assert dynamodb.table_drift(CHAT, _chat_description(), TTL_ON, PITR_ON) == []


def test_billing_mode_and_capacity_are_not_drift():
    table = _chat_description()
    table["BillingModeSummary"] = {"BillingMode": "PROVISIONED"}
    table["ProvisionedThroughput"] = {"ReadCapacityUnits": 50, "WriteCapacityUnits": 20}
    assert dynamodb.table_drift(CHAT, table, TTL_ON, PITR_ON) == []


def test_a_missing_table():
    assert dynamodb.table_drift(CHAT, None, None, None) == [
        "table missing (`python manage.py ensure_tables` or the CloudFormation stack creates it)"]


def test_a_missing_index():
    table = _chat_description()
    del table["GlobalSecondaryIndexes"][1]
    assert dynamodb.table_drift(CHAT, table, TTL_ON, PITR_ON) == [
        "index thread_messages: missing; the code expects ThreadID (HASH), CreatedAt (RANGE), projection ALL "
        "(`ensure_tables` adds it)"]


def test_a_wrong_table_key():
    table = _chat_description()
    table["KeySchema"] = [{"AttributeName": "PK", "KeyType": "HASH"}]
    assert dynamodb.table_drift(CHAT, table, TTL_ON, PITR_ON) == [
        "key: PK (HASH); the code expects PK (HASH), SK (RANGE)"]


def test_a_wrong_index_key_projection_and_attribute_type():
    table = _chat_description()
    room = table["GlobalSecondaryIndexes"][0]
    room["KeySchema"] = [{"AttributeName": "CreatedAt", "KeyType": "RANGE"}, {"AttributeName": "PK", "KeyType": "HASH"}]
    room["Projection"] = {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["Comment"]}
    table["AttributeDefinitions"][0] = {"AttributeName": "CreatedAt", "AttributeType": "N"}
    assert dynamodb.table_drift(CHAT, table, TTL_ON, PITR_ON) == [
        "attribute CreatedAt: type N; the code expects S",
        "index room_messages: key PK (HASH), CreatedAt (RANGE); the code expects RoomID (HASH), CreatedAt (RANGE)",
        "index room_messages: projection INCLUDE ['Comment']; the code expects ALL",
    ]


def test_an_index_still_backfilling_and_an_index_the_code_lacks():
    table = _chat_description()
    table["GlobalSecondaryIndexes"][1]["IndexStatus"] = "CREATING"
    table["GlobalSecondaryIndexes"].append({
        "IndexName": "old_index", "IndexStatus": "ACTIVE", "Projection": {"ProjectionType": "KEYS_ONLY"},
        "KeySchema": [{"AttributeName": "Author", "KeyType": "HASH"}]})
    assert dynamodb.table_drift(CHAT, table, TTL_ON, PITR_ON) == [
        "index thread_messages: CREATING, not ACTIVE yet (its queries miss items until it is)",
        "index old_index: not in the code (Author (HASH))",
    ]


def test_ttl_off_or_on_another_attribute():
    table = _chat_description()
    assert dynamodb.table_drift(CHAT, table, {"TimeToLiveStatus": "DISABLED"}, PITR_ON) == [
        "TTL: DISABLED; the code expects it ENABLED on ExpiresAt"]
    assert dynamodb.table_drift(CHAT, table, {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"},
                                PITR_ON) == ["TTL: on expires_at; the code expects ExpiresAt"]
    assert dynamodb.table_drift(CHAT, table, {"TimeToLiveStatus": "ENABLING", "AttributeName": "ExpiresAt"},
                                PITR_ON) == []


def test_point_in_time_recovery_off_and_a_server_that_does_not_report_it():
    table = _chat_description()
    off = copy.deepcopy(PITR_ON)
    off["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] = "DISABLED"
    assert dynamodb.table_drift(CHAT, table, TTL_ON, off) == [
        "point-in-time recovery: DISABLED; the code expects ENABLED"]
    assert dynamodb.table_drift(CHAT, table, None, None) == []  # dynalite: neither is asked of it


def test_the_session_table_is_held_to_its_own_definition():
    table = _chat_description()
    assert "index GSI1_inverse: missing; the code expects SK (HASH), PK (RANGE), projection ALL " \
           "(`ensure_tables` adds it)" in dynamodb.table_drift(SESSIONS, table, TTL_ON, PITR_ON)
    assert "TTL: on ExpiresAt; the code expects expires_at" in dynamodb.table_drift(SESSIONS, table, TTL_ON, PITR_ON)


# --- the command ---------------------------------------------------------------------------------


def test_no_drift_after_ensure_tables_and_only_describe_calls(moto_tables, capsys):
    with dynamodb.count_calls() as calls:
        call_command("ensure_tables", "--check")
    out = capsys.readouterr().out
    assert "test_chat: matches the code" in out and "test_session_store: matches the code" in out
    assert "Tables match the code." in out
    assert set(calls) == DESCRIBE_ONLY
    assert calls["DescribeContinuousBackups"] == 2  # moto reports point-in-time recovery: it is checked


def test_ensure_tables_turns_on_point_in_time_recovery(moto_tables):
    backups = dynamodb.client().describe_continuous_backups(TableName="test_chat")["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_tables_made_before_point_in_time_recovery_get_it_from_ensure_tables(capsys):
    with mock_aws():
        dynamodb.configure(endpoint_url=None, prefix="old_")
        try:
            for spec in dynamodb.TABLES.values():
                dynamodb.client().create_table(**spec.create_request(dynamodb.table_name(spec.name)))
            with pytest.raises(CommandError):
                call_command("ensure_tables", "--check")
            assert "  - point-in-time recovery: DISABLED; the code expects ENABLED" in capsys.readouterr().out
            lines: list[str] = []
            dynamodb.ensure_tables(wait_seconds=5, log=lines.append)
            assert "old_chat: point-in-time recovery enabled" in lines
            assert dynamodb.check_tables() == {"old_chat": [], "old_session_store": []}
            lines.clear()
            dynamodb.ensure_tables(wait_seconds=5, log=lines.append)
            assert "old_chat: point-in-time recovery already enabled" in lines
        finally:
            dynamodb.configure(endpoint_url=None, prefix="test_")


@pytest.fixture
def drifted():
    """Tables ensure_tables made, then changed behind the code's back: the chat table without its
    thread index and with TTL off, the session table made with another key."""
    with mock_aws():
        dynamodb.configure(endpoint_url=None, prefix="drift_")
        try:
            spec = dynamodb.TableSpec(SESSIONS.name, ("PK", "Owner"), SESSIONS.indexes, SESSIONS.ttl_attribute)
            request = spec.create_request("drift_session_store")
            request["AttributeDefinitions"] = [{"AttributeName": n, "AttributeType": "S"} for n in ("Owner", "PK", "SK")]
            dynamodb.client().create_table(**request)
            dynamodb.ensure_tables(wait_seconds=5)
            client = dynamodb.client()
            client.update_table(TableName="drift_chat",
                                GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": dynamodb.THREAD_INDEX}}])
            client.update_time_to_live(TableName="drift_chat",
                                       TimeToLiveSpecification={"Enabled": False, "AttributeName": "ExpiresAt"})
            yield client
        finally:
            dynamodb.configure(endpoint_url=None, prefix="test_")


def test_drift_is_listed_and_the_command_fails_without_changing_anything(drifted, capsys):
    before = {name: drifted.describe_table(TableName=name)["Table"] for name in ("drift_chat", "drift_session_store")}
    with dynamodb.count_calls() as calls, pytest.raises(CommandError) as failure:
        call_command("ensure_tables", "--check")
    out = capsys.readouterr().out
    assert "drift_chat: 2 differences from the code" in out
    assert "  - index thread_messages: missing; the code expects ThreadID (HASH), CreatedAt (RANGE)" in out
    assert "  - TTL: DISABLED; the code expects it ENABLED on ExpiresAt" in out
    assert "drift_session_store: 1 difference from the code" in out
    assert "  - key: PK (HASH), Owner (RANGE); the code expects PK (HASH), SK (RANGE)" in out
    assert "3 differences between the live tables and chatsite/dynamodb.py" in str(failure.value)
    assert set(calls) <= DESCRIBE_ONLY
    after = {name: drifted.describe_table(TableName=name)["Table"] for name in before}
    assert after == before
    assert drifted.describe_time_to_live(TableName="drift_chat")["TimeToLiveDescription"]["TimeToLiveStatus"] == "DISABLED"


def test_a_missing_table_is_drift(capsys):
    with mock_aws():
        dynamodb.configure(endpoint_url=None, prefix="none_")
        try:
            with pytest.raises(CommandError, match="2 differences"):
                call_command("ensure_tables", "--check")
            assert dynamodb.client().list_tables()["TableNames"] == []  # it created nothing
        finally:
            dynamodb.configure(endpoint_url=None, prefix="test_")
    assert "none_chat: 1 difference from the code\n  - table missing" in capsys.readouterr().out


@pytest.mark.subprocess
def test_unreachable_dynamodb_is_a_clear_error_and_exit_status_1():
    """As a deploy pipeline runs it: a process whose exit status gates the deploy."""
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {**os.environ, "DYNAMODB_ENDPOINT_URL": endpoint, "DYNAMODB_MAX_ATTEMPTS": "1"}
    result = subprocess.run([sys.executable, "manage.py", "ensure_tables", "--check"], env=env,
                            cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"cannot reach DynamoDB at {endpoint}" in result.stderr
    assert "Traceback" not in result.stderr
