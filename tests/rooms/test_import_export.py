"""import_room checks the whole file before it writes anything, and a re-run never duplicates."""

import json

import pytest
from django.core.management import CommandError, call_command

from chatsite.dynamodb import count_calls
from rooms import selectors, services, validators
from rooms.models import MessageRecord
from tests.support.sessions import request_user

ALICE = request_user("alice")


@pytest.fixture(autouse=True)
def no_rate_limit(settings):
    settings.CHAT_POST_RATE_LIMIT = 1000


def index(room_id):
    return list(MessageRecord.room_index.query(room_id))


def exported(room, tmp_path, count) -> list[str]:
    for n in range(count):
        services.message_post(room=room, author=ALICE, comment=f"m{n}", idempotency_key=validators.new_token())
    out = tmp_path / "export.jsonl"
    call_command("export_room", room.room_id, "--output", str(out))
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == count + 1
    return lines


def write_lines(path, lines) -> str:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_a_bad_line_late_in_the_file_writes_nothing_and_the_fixed_rerun_writes_each_message_once(
        room, tmp_path):
    lines = exported(room, tmp_path, 60)
    good_line_40 = lines[39]
    broken = json.loads(good_line_40)
    broken["created_at"] = "yesterday"
    lines[39] = json.dumps(broken)
    path = write_lines(tmp_path / "broken.jsonl", lines)
    with count_calls() as calls:
        with pytest.raises(CommandError, match=r"line 40\b.*created_at"):
            call_command("import_room", path, "--room", "copy", "--name", "Copy")
    assert index("copy") == []
    assert calls["BatchWriteItem"] == 0 and calls["PutItem"] == 0  # not even the room was created
    with pytest.raises(selectors.RoomNotFound):
        selectors.room_get(room_id="copy")

    lines[39] = good_line_40
    path = write_lines(tmp_path / "fixed.jsonl", lines)
    call_command("import_room", path, "--room", "copy", "--name", "Copy")
    call_command("import_room", path, "--room", "copy", "--name", "Copy")  # a re-run overwrites
    copies = index("copy")
    assert len(copies) == 60
    assert sorted(r.comment for r in copies) == sorted(f"m{n}" for n in range(60))
    # New ids in the other room (the originals stay untouched), the same ids on every run.
    assert {r.message_id for r in copies}.isdisjoint({r.message_id for r in index("art")})
    assert len(index("art")) == 60


def test_the_derived_ids_depend_on_the_target_room(room, tmp_path):
    path = write_lines(tmp_path / "e.jsonl", exported(room, tmp_path, 3))
    call_command("import_room", path, "--room", "one", "--name", "One")
    call_command("import_room", path, "--room", "two", "--name", "Two")
    one, two = {r.message_id for r in index("one")}, {r.message_id for r in index("two")}
    assert len(one) == len(two) == 3 and one.isdisjoint(two)
    assert all(validators.is_token(message_id) for message_id in one | two)


@pytest.mark.parametrize("line, message", [
    ("[1, 2, 3]", "line 2: expected a JSON object"),
    ('"just a string"', "line 2: expected a JSON object"),
    ("null", "line 2: expected a JSON object"),
    ("{not json", "line 2: not JSON"),
])
def test_json_that_is_not_an_object_names_the_line(room, tmp_path, line, message):
    lines = exported(room, tmp_path, 2)
    path = write_lines(tmp_path / "bad.jsonl", [lines[0], line, lines[1]])
    with pytest.raises(CommandError, match=message):
        call_command("import_room", path, "--room", "copy", "--name", "Copy")
    assert index("copy") == []


def test_a_header_that_is_not_an_object_names_line_1(moto_tables, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text("[]\n", encoding="utf-8")
    with pytest.raises(CommandError, match="line 1"):
        call_command("import_room", str(path))


def test_invalid_utf8_names_the_line(room, tmp_path):
    lines = exported(room, tmp_path, 3)
    path = tmp_path / "latin1.jsonl"
    body = "\n".join(lines[:3]).encode("utf-8") + b'\n{"type": "message", "comment": "caf\xe9"}\n'
    path.write_bytes(body + (lines[3] + "\n").encode("utf-8"))
    with pytest.raises(CommandError, match="line 4: not valid UTF-8"):
        call_command("import_room", str(path), "--room", "copy", "--name", "Copy")
    assert index("copy") == []


@pytest.mark.parametrize("field, value, message", [
    ("author_name", "x" * 51, "author_name.*at most 50"),
    ("author_name", "Eve\u202e", "author_name.*control"),
    ("author_name", "   ", "author_name.*display name"),
    ("author_id", "a" * 3000, "author_id"),
    ("author_id", "Not Canonical", "author_id"),
    ("author_id", "eve#1", "author_id"),
    ("comment", "", "comment.*Write something"),
    ("comment", "bell\x07", "comment.*control"),
    ("comment", 42, "comment"),
    ("message_id", "short", "message_id"),
    ("created_at", "2023-13-45", "created_at"),
    ("type", "room", "expected a message line"),
])
def test_every_field_goes_through_the_sites_validators(room, tmp_path, field, value, message):
    lines = exported(room, tmp_path, 2)
    row = json.loads(lines[2])
    row[field] = value
    path = write_lines(tmp_path / "bad.jsonl", [lines[0], lines[1], json.dumps(row)])
    with pytest.raises(CommandError, match="line 3: " + message):
        call_command("import_room", path, "--room", "copy", "--name", "Copy")
    assert index("copy") == []


def test_a_message_repeated_in_the_file_is_refused(room, tmp_path):
    lines = exported(room, tmp_path, 2)
    path = write_lines(tmp_path / "twice.jsonl", [*lines, lines[1]])
    with pytest.raises(CommandError, match="line 4: .*line 2"):
        call_command("import_room", path, "--room", "copy", "--name", "Copy")


def test_the_header_is_validated_too(moto_tables, tmp_path):
    for header, message in [
        ({"type": "room", "room_id": "x" * 3000, "name": "X"}, "line 1: .*room_id"),
        ({"type": "room", "room_id": "ok-room", "name": "Ok Room", "description": "d" * 301}, "line 1: .*description"),
        ({"type": "room", "room_id": "ok-room", "name": "Ok#Room"}, "line 1: .*name"),
        ({"type": "room", "room_id": "ok-room", "name": "Ok Room", "created_by": "a" * 3000}, "line 1: .*created_by"),
    ]:
        path = write_lines(tmp_path / "h.jsonl", [json.dumps(header)])
        with pytest.raises(CommandError, match=message):
            call_command("import_room", path)


def test_a_missing_author_name_falls_back_to_the_author_id(moto_tables, tmp_path):
    path = write_lines(tmp_path / "e.jsonl", [
        json.dumps({"type": "room", "room_id": "imported", "name": "Imported"}),
        json.dumps({"type": "message", "message_id": "A" * 20, "author_id": "bob",
                    "created_at": "2023-04-01T14:00:00.000Z", "comment": "hello"}),
    ])
    call_command("import_room", path)
    [message] = selectors.room_history(room_id="imported").items
    assert (message.author_name, message.comment, message.message_id) == ("bob", "hello", "A" * 20)


def test_import_from_stdin_checks_utf8_too(room, tmp_path, monkeypatch):
    import io

    lines = exported(room, tmp_path, 1)
    raw = (lines[0] + "\n").encode() + b'{"type": "message", "comment": "\xff"}\n'
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8"))
    with pytest.raises(CommandError, match="line 2: not valid UTF-8"):
        call_command("import_room", "-", "--room", "copy", "--name", "Copy")
    good = (lines[0] + "\n" + lines[1] + "\n").encode()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(good), encoding="utf-8"))
    call_command("import_room", "-", "--room", "copy", "--name", "Copy")
    assert len(index("copy")) == 1
