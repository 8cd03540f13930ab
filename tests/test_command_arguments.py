"""Management-command arguments are bounded like the site's: an id longer than any room id or
username can be is a clear CommandError before any DynamoDB call (DynamoDB itself would answer a
key over 2 KB with a ValidationException, and the operator would see a traceback)."""

import io
import json

import pytest
from django.core.management import CommandError, call_command, get_commands

from chatsite.dynamodb import count_calls

LONG = "a" * 3000

ROOM_ID_CASES = {
    "delete_room": [LONG, "--yes"],
    "export_room": [LONG],
    "purge_messages": ["--room", LONG, "--before", "2023-04-01", "--yes"],
    "import_room": ["{file}", "--room", LONG],
    "reindex": ["--room", LONG],
}
USER_ID_CASES = {
    "activate_user": [LONG, "--yes"],
    "deactivate_user": [LONG, "--yes"],
    "expire_sessions": [LONG, "--yes"],
    "set_password": [LONG, "--password-stdin", "--yes"],
    "user_sessions": [LONG],
    "create_user": [LONG, "--password-stdin"],
    "create_room": ["Fine Name", "--created-by", LONG],
    "set_staff": [LONG, "--on", "--yes"],
}


def run_with_long_id(command, args, tmp_path, monkeypatch):
    if command not in get_commands():
        pytest.skip(f"{command} is not installed")
    export = tmp_path / "room.jsonl"
    export.write_text(json.dumps({"type": "room", "room_id": "fine", "name": "Fine"}) + "\n", encoding="utf-8")
    monkeypatch.setattr("sys.stdin", io.StringIO("a-fine-password-for-tests-9\n"))
    with count_calls() as calls, pytest.raises(CommandError) as error:
        call_command(command, *[arg.format(file=export) for arg in args])
    assert calls == {}, f"{command} reached DynamoDB with a 3,000-character id: {dict(calls)}"
    message = str(error.value)
    assert len(message) < 400, "the message should not repeat the whole id"
    return message


@pytest.mark.parametrize("command", sorted(ROOM_ID_CASES))
def test_a_3000_character_room_id_is_refused_before_dynamodb(moto_tables, tmp_path, monkeypatch, command):
    message = run_with_long_id(command, ROOM_ID_CASES[command], tmp_path, monkeypatch)
    assert "at most 48 characters" in message


@pytest.mark.parametrize("command", sorted(USER_ID_CASES))
def test_a_3000_character_username_is_refused_before_dynamodb(moto_tables, tmp_path, monkeypatch, command):
    message = run_with_long_id(command, USER_ID_CASES[command], tmp_path, monkeypatch)
    assert "at most 30 characters" in message


def test_a_3000_character_room_name_or_cursor_is_refused_before_dynamodb(moto_tables):
    for args in (["create_room", LONG], ["list_users", "--cursor", LONG]):
        with count_calls() as calls, pytest.raises(CommandError) as error:
            call_command(*args)
        assert calls == {} and len(str(error.value)) < 400


@pytest.mark.parametrize("size", ["0", "-1", "-100", "100001"])
def test_clearsessions_refuses_a_page_size_out_of_range(moto_tables, size):
    with count_calls() as calls, pytest.raises(CommandError, match="--page-size must be between 1 and"):
        call_command("clearsessions", "--page-size", size, stdout=io.StringIO())
    assert calls == {}


def test_clearsessions_accepts_page_size_one(moto_tables):
    out = io.StringIO()
    call_command("clearsessions", "--page-size", "1", stdout=out)
    assert "Deleted 0 expired session records" in out.getvalue()
