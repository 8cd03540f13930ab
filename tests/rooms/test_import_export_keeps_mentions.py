"""export_room writes a message's mentions (the user ids its @names link to) and import_room keeps
them, checked like every field; an import notifies nobody (no MentionSeqs, no mention items)."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from rooms import selectors, services, validators
from tests.support.sessions import request_user


def test_mentions_survive_an_export_and_import(room, tmp_path):
    services.room_join(room=room, user=request_user("bob"))
    services.message_post(room=room, author=request_user("alice"), comment="hi @bob and @nobody1",
                          idempotency_key=validators.new_token())
    out = tmp_path / "art.jsonl"
    call_command("export_room", "art", "--output", str(out))
    row = json.loads(out.read_text(encoding="utf-8").splitlines()[1])
    assert row["mentions"] == ["bob"]
    call_command("import_room", str(out), "--room", "copy", "--name", "Copy")
    [copied] = selectors.room_history(room_id="copy").items
    assert copied.mentions == ("bob",)
    assert len(selectors.user_mentions(user_id="bob").items) == 1  # the post's own: the import notified nobody


@pytest.mark.parametrize("value, message", [
    ("bob", "mentions is a list"),
    (["Bob"], "user ids are lowercase"),
    (["bob", "bob"], "twice"),
    ([f"user{n:02d}" for n in range(11)], "at most 10"),
])
def test_bad_mentions_name_the_line(room, tmp_path, value, message):
    lines = [json.dumps({"type": "room", "room_id": "art", "name": "Art", "description": "", "created_by": "alice",
                         "created_at": "2026-01-01T00:00:00.000Z"}),
             json.dumps({"type": "message", "message_id": validators.new_token(), "author_id": "alice",
                         "author_name": "Alice", "created_at": "2026-01-01T00:00:01.000Z", "comment": "hi",
                         "mentions": value})]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(CommandError, match=rf"line 2: .*{message}"):
        call_command("import_room", str(path), "--room", "copy", "--name", "Copy")
