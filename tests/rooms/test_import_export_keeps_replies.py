"""export_room writes a thread's shape (a root's reply count, each reply's thread and quote);
import_room writes it back, into the exported room or another one (where every id is derived, the
thread's and the quote's too), checked like every field; files from before replies still import."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from rooms import selectors, services, validators
from tests.support.sessions import request_user


@pytest.fixture(autouse=True)
def many_posts(settings):
    settings.CHAT_POST_RATE_LIMIT = 1000


def say(room, text, author="alice", reply_to=None):
    return services.message_post(room=room, author=request_user(author), comment=text,
                                 idempotency_key=validators.new_token(), reply_to=reply_to).message


def threaded_room(room):
    root = say(room, "Lunch?\nnoon")
    first = say(room, "Yes", author="bob", reply_to=(root.author_id, root.sk))
    say(room, "Me too", author="carol", reply_to=(first.author_id, first.sk))  # joins root's thread
    say(room, "unrelated")
    return root


def shape(room_id: str) -> list[tuple]:
    """Each message's text, reply count, thread (by its root's text) and quote (by text)."""
    messages = selectors.room_history(room_id=room_id).items
    text = {m.message_id: m.comment for m in messages}
    return [(m.comment, m.reply_count, text.get(m.thread_id) if m.thread_id else None,
             (text.get(m.reply_to.message_id), m.reply_to.author_name, m.reply_to.excerpt) if m.reply_to else None)
            for m in messages]


EXPECTED = [("Lunch?\nnoon", 2, "Lunch?\nnoon", None),
            ("Yes", 0, "Lunch?\nnoon", ("Lunch?\nnoon", "Alice", "Lunch?")),
            ("Me too", 0, "Lunch?\nnoon", ("Yes", "Bob", "Yes")),
            ("unrelated", 0, None, None)]


def test_threads_survive_an_export_and_import_into_another_room(room, tmp_path):
    root = threaded_room(room)
    assert shape("art") == EXPECTED
    out = tmp_path / "art.jsonl"
    call_command("export_room", "art", "--output", str(out))
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()[1:]]
    assert rows[0]["reply_count"] == 2 and rows[0]["thread_id"] == root.message_id and "reply_to" not in rows[0]
    assert rows[1]["reply_to"] == {"message_id": root.message_id, "author_id": "alice", "created_at": root.created_at,
                                   "author_name": "Alice", "excerpt": "Lunch?"}
    assert "thread_id" not in rows[3] and "reply_count" not in rows[3]

    call_command("import_room", str(out), "--room", "copy", "--name", "Copy")
    assert shape("copy") == EXPECTED
    copied_root = selectors.room_history(room_id="copy").items[0]
    assert copied_root.message_id != root.message_id
    page = selectors.thread_messages(thread_id=copied_root.message_id)
    assert [m.comment for m in page.items] == ["Lunch?\nnoon", "Yes", "Me too"]
    # The copy's thread goes on: a reply there counts on the copied root.
    copy = selectors.room_get(room_id="copy")
    say(copy, "late", author="bob", reply_to=(copied_root.author_id, copied_root.sk))
    assert selectors.message_get(author_id="alice", sk=copied_root.sk).reply_count == 3


def test_threads_survive_an_import_into_the_exported_room(room, tmp_path):
    threaded_room(room)
    out = tmp_path / "art.jsonl"
    call_command("export_room", "art", "--output", str(out))
    services.room_delete(room_id="art", sleep=lambda s: None)
    call_command("import_room", str(out))
    assert shape("art") == EXPECTED


def _file(tmp_path, **message):
    row = {"type": "message", "message_id": validators.new_token(), "author_id": "alice", "author_name": "Alice",
           "created_at": "2026-01-01T00:00:01.000Z", "comment": "hi", **message}
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"type": "room", "room_id": "art", "name": "Art"}) + "\n" + json.dumps(row) + "\n",
                    encoding="utf-8")
    return path


QUOTE = {"message_id": "a" * 20, "author_id": "bob", "created_at": "2026-01-01T00:00:00.000Z",
         "author_name": "Bob", "excerpt": "hello"}


@pytest.mark.parametrize("fields, words", [
    ({"reply_count": -1}, "reply_count is a number of replies"),
    ({"reply_count": "2"}, "reply_count is a number of replies"),
    ({"thread_id": "no"}, "thread_id 'no' is not a message id"),
    ({"reply_to": QUOTE}, "a reply has a thread_id"),
    ({"thread_id": "a" * 20, "reply_to": "bob"}, "reply_to must be an object"),
    ({"thread_id": "a" * 20, "reply_to": {**QUOTE, "message_id": "x"}}, "reply_to.message_id 'x' is not"),
    ({"thread_id": "a" * 20, "reply_to": {**QUOTE, "author_id": "Bob"}}, "reply_to.author_id 'Bob' is not a user id"),
    ({"thread_id": "a" * 20, "reply_to": {**QUOTE, "created_at": "then"}}, "reply_to.created_at 'then' is not"),
    ({"thread_id": "a" * 20, "reply_to": {**QUOTE, "excerpt": "x" * 121}}, "reply_to.excerpt is longer than 120"),
    ({"thread_id": "a" * 20, "reply_to": {**QUOTE, "reply_count": 3}}, "reply_to has unknown fields"),
])
def test_bad_reply_fields_name_the_line_and_write_nothing(room, tmp_path, fields, words):
    with pytest.raises(CommandError) as caught:
        call_command("import_room", str(_file(tmp_path, **fields)))
    assert str(caught.value).startswith("line 2: ") and words in str(caught.value), str(caught.value)
    assert selectors.room_history(room_id="art").items == []


def test_an_export_from_before_replies_still_imports(room, tmp_path):
    call_command("import_room", str(_file(tmp_path)))
    [message] = selectors.room_history(room_id="art").items
    assert (message.reply_count, message.thread_id, message.reply_to) == (0, None, None)
