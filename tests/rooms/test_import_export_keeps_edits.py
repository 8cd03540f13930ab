"""export_room writes an edited message's edited_at and earlier versions; import_room writes them
back (the message edited, its history items), checked like every field; files from before edits
still import."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from rooms import selectors, services, validators
from tests.support.sessions import request_user

ALICE = request_user("alice")


def edited_room(room):
    message = services.message_post(room=room, author=ALICE, comment="as posted",
                                     idempotency_key=validators.new_token()).message
    services.message_edit(room=room, actor=ALICE, author_id="alice", sk=message.sk, comment="second", seen_version=0)
    services.message_edit(room=room, actor=ALICE, author_id="alice", sk=message.sk, comment="third", seen_version=1)
    services.message_post(room=room, author=ALICE, comment="never edited", idempotency_key=validators.new_token())
    return selectors.message_get(author_id="alice", sk=message.sk)


def test_edits_survive_an_export_and_import_into_another_room(room, tmp_path, capsys):
    edited = edited_room(room)
    out = tmp_path / "art.jsonl"
    call_command("export_room", "art", "--output", str(out))
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()[1:]]
    assert rows[0]["comment"] == "third" and rows[0]["edited_at"] == edited.edited_at
    history = selectors.message_edits(author_id="alice", sk=edited.sk)
    assert rows[0]["edits"] == [{"comment": "as posted", "at": edited.created_at},
                                {"comment": "second", "at": history[1].at}]
    assert "edits" not in rows[1] and "edited_at" not in rows[1]

    call_command("import_room", str(out), "--room", "copy", "--name", "Copy")
    assert "imported 2 messages into copy (and 2 earlier versions of edited ones)" in capsys.readouterr().out
    copied, plain = selectors.room_history(room_id="copy").items
    assert (copied.comment, copied.edited_at, copied.edit_version) == ("third", edited.edited_at, 2)
    assert plain.edited_at is None and plain.edit_version == 0
    assert [(e.edit_version, e.comment, e.at) for e in selectors.message_edits(author_id="alice", sk=copied.sk)] == \
        [(0, "as posted", edited.created_at), (1, "second", history[1].at)]
    # The copy edits like the original: against its imported version, keeping the history.
    room_copy = selectors.room_get(room_id="copy")
    services.message_edit(room=room_copy, actor=ALICE, author_id="alice", sk=copied.sk, comment="fourth",
                          seen_version=2)
    assert [e.comment for e in selectors.message_edits(author_id="alice", sk=copied.sk)] == \
        ["as posted", "second", "third"]
    # A re-run overwrites: still two messages, the same history.
    call_command("import_room", str(out), "--room", "copy", "--name", "Copy")
    assert len(selectors.room_history(room_id="copy").items) == 2
    assert len(selectors.message_edits(author_id="alice", sk=copied.sk)) == 3


def _file(tmp_path, **message):
    row = {"type": "message", "message_id": validators.new_token(), "author_id": "alice", "author_name": "Alice",
           "created_at": "2026-01-01T00:00:01.000Z", "comment": "hi", **message}
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"type": "room", "room_id": "art", "name": "Art"}) + "\n" + json.dumps(row) + "\n",
                    encoding="utf-8")
    return path


def test_an_export_from_before_edits_still_imports(room, tmp_path):
    call_command("import_room", str(_file(tmp_path)))
    [message] = selectors.room_history(room_id="art").items
    assert message.comment == "hi" and message.edited_at is None and message.edit_version == 0


OK_AT = "2026-01-01T00:00:02.000Z"


@pytest.mark.parametrize("fields, words", [
    ({"edited_at": OK_AT}, "edited_at and edits go together"),
    ({"edits": [{"comment": "old", "at": OK_AT}]}, "edited_at and edits go together"),
    ({"edited_at": "yesterday", "edits": [{"comment": "old", "at": OK_AT}]}, "edited_at 'yesterday' is not a UTC time"),
    ({"edited_at": OK_AT, "edits": "old"}, "edits is a list"),
    ({"edited_at": OK_AT, "edits": ["old"]}, "edits[0] must be an object"),
    ({"edited_at": OK_AT, "edits": [{"comment": "old"}]}, "edits[0].at"),
    ({"edited_at": OK_AT, "edits": [{"comment": "", "at": OK_AT}]}, "edits[0].comment: Write something"),
    ({"edited_at": OK_AT, "edits": [{"at": OK_AT}]}, "edits[0].comment is missing"),
    ({"edited_at": OK_AT, "edits": [{"comment": "x", "at": OK_AT}] * 101}, "at most 100"),
])
def test_bad_edit_fields_name_the_line_and_write_nothing(room, tmp_path, fields, words):
    with pytest.raises(CommandError) as caught:
        call_command("import_room", str(_file(tmp_path, **fields)))
    assert str(caught.value).startswith("line 2: ") and words in str(caught.value)
    assert selectors.room_history(room_id="art").items == []
