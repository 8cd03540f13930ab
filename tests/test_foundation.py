"""The skeleton: settings from the environment, no ORM, ensure_tables, the 503 page (moto)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db.backends.dummy import base as dummy_base

from chatsite import dynamodb, keys
from rooms.models import RoomDirectoryEntry

ROOT = Path(__file__).resolve().parents[1]


def _django_setup(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "chatsite.settings", **env},
    )


@pytest.mark.subprocess
@pytest.mark.parametrize("secret", ["", "change-me", "django-insecure-abc"])
def test_refuses_to_start_without_real_secret_key_when_debug_off(secret):
    result = _django_setup({"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": secret})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr
    assert "started" not in result.stdout


@pytest.mark.subprocess
def test_starts_with_real_secret_key_when_debug_off():
    result = _django_setup({"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "a-real-secret-" + "k" * 40})
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_no_orm_models_are_installed():
    from django.conf import settings
    from django.db import connections

    # settings.py says `DATABASES = {}`; Django fills that in place with its "dummy" backend,
    # which refuses every query. Nothing else may be configured.
    assert set(settings.DATABASES) <= {"default"}
    assert connections["default"].settings_dict["ENGINE"] == "django.db.backends.dummy"
    assert list(apps.get_models()) == []


def test_request_through_whole_middleware_stack_touches_no_sql(moto_tables, client, monkeypatch):
    touched = []
    monkeypatch.setattr(dummy_base.DatabaseWrapper, "ensure_connection",
                        lambda self, *a, **k: touched.append("connect"), raising=False)
    monkeypatch.setattr(dummy_base.DatabaseWrapper, "cursor",
                        lambda self, *a, **k: touched.append("cursor"), raising=False)
    response = client.get("/")
    assert response.status_code == 200
    assert touched == []
    assert "django.contrib.auth.models" not in sys.modules


def test_home_page_lists_rooms_from_dynamodb(moto_tables, client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"No rooms yet" in response.content

    RoomDirectoryEntry(SK=keys.room_directory_sk("art"), name="Art & <Design>", description="pictures",
                       created_by="alice", created_at="2026-01-01T00:00:00.000Z").save()
    response = client.get("/")
    assert b"Art &amp; &lt;Design&gt;" in response.content
    assert b"No rooms yet" not in response.content


def test_ensure_tables_is_idempotent(moto_tables, capsys):
    call_command("ensure_tables")
    out = capsys.readouterr().out
    assert "test_chat: exists" in out and "test_session_store: exists" in out
    described = dynamodb.client().describe_table(TableName="test_chat")["Table"]
    assert described["GlobalSecondaryIndexes"][0]["IndexName"] == dynamodb.ROOM_INDEX
    assert [k["AttributeName"] for k in described["GlobalSecondaryIndexes"][0]["KeySchema"]] == ["RoomID", "CreatedAt"]
    sessions = dynamodb.client().describe_table(TableName="test_session_store")["Table"]
    inverse = sessions["GlobalSecondaryIndexes"][0]
    assert inverse["IndexName"] == "GSI1_inverse"
    assert [k["AttributeName"] for k in inverse["KeySchema"]] == ["SK", "PK"]
    ttl = dynamodb.client().describe_time_to_live(TableName="test_chat")["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] == "ENABLED" and ttl["AttributeName"] == "ExpiresAt"


def test_ensure_tables_creates_missing_tables():
    from moto import mock_aws

    with mock_aws():
        dynamodb.configure(endpoint_url=None, prefix="fresh_")
        outcome = dynamodb.ensure_tables(wait_seconds=5)
        assert outcome == {"fresh_chat": "created", "fresh_session_store": "created"}
        assert dynamodb.ensure_tables(wait_seconds=5) == {"fresh_chat": "exists", "fresh_session_store": "exists"}
    dynamodb.configure(endpoint_url=None, prefix="test_")


def test_ensure_tables_unreachable_endpoint_names_it():
    dynamodb.configure(endpoint_url="http://127.0.0.1:9", prefix="x_")
    try:
        with pytest.raises(CommandError) as excinfo:
            call_command("ensure_tables", "--wait", "1")
    finally:
        dynamodb.configure(endpoint_url=None, prefix="test_")
    assert "http://127.0.0.1:9" in str(excinfo.value)


def test_missing_tables_give_503_naming_the_command(client):
    from moto import mock_aws

    with mock_aws():
        dynamodb.configure(endpoint_url=None, prefix="missing_")
        response = client.get("/")
    dynamodb.configure(endpoint_url=None, prefix="test_")
    assert response.status_code == 503
    assert b"manage.py ensure_tables" in response.content
    assert b"Traceback" not in response.content


def test_unreachable_dynamodb_gives_503_and_one_log_line(client, caplog):
    dynamodb.configure(endpoint_url="http://127.0.0.1:9", prefix="x_")
    try:
        with caplog.at_level("WARNING"):
            response = client.get("/")
    finally:
        dynamodb.configure(endpoint_url=None, prefix="test_")
    assert response.status_code == 503
    assert b"temporarily unavailable" in response.content
    assert b"ensure_tables" not in response.content
    ours = [r for r in caplog.records if r.name == "chatsite.dynamodb"]
    assert len(ours) == 1


def test_keys_round_trip():
    assert keys.user_pk("alice") == "User:alice"
    assert keys.user_id_from_pk(keys.user_pk("alice")) == "alice"
    assert keys.message_sk_parts(keys.message_sk("2023-04-01T14:00:00.001Z", "abc")) == ("2023-04-01T14:00:00.001Z", "abc")
    assert keys.session_pk("d" * 64) == "suuid#" + "d" * 64  # a digest, never the cookie
    assert keys.session_digest_from_pk(keys.session_pk("d" * 64)) == "d" * 64
    assert keys.child_sk("c" * 64) == "child#suuid#" + "c" * 64
    assert keys.child_digest_from_sk(keys.child_sk("c" * 64)) == "c" * 64
    assert keys.customer_id_from_sk(keys.customer_sk(None)) is None
    assert keys.customer_id_from_sk(keys.customer_sk("bob")) == "bob"


def test_every_model_shares_one_botocore_client(moto_tables):
    """One client per process, not one per model class (memory and first-request latency)."""
    from accounts.models import SessionRecord, UserRecord
    from rooms.models import MessageRecord, RoomRecord

    clients = {id(model._get_connection().connection.client)
               for model in (UserRecord, SessionRecord, MessageRecord, RoomRecord, RoomDirectoryEntry)}
    assert clients == {id(dynamodb.client())}
