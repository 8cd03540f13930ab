"""export_room writes a message's reactions ([[emoji, [[user id, name], ...]], ...], in reaction
order); import_room checks them like every field (one emoji each, listed once, user ids, names,
reaction_set's bounds) and writes them back; files from before reactions still import."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from rooms import selectors, services, validators
from rooms.models import Reaction
from tests.support.sessions import request_user

ALICE, BOB, CHEN = request_user("alice"), request_user("bob"), request_user("chen")


def reacted_room(room):
    message = services.message_post(room=room, author=ALICE, comment="look at this",
                                    idempotency_key=validators.new_token()).message
    for user, emoji in ((BOB, "👍"), (CHEN, "🎉"), (CHEN, "👍"), (ALICE, "❤️")):
        services.reaction_set(room=room, user=user, author_id="alice", sk=message.sk, emoji=emoji, on=True)
    services.message_post(room=room, author=ALICE, comment="no reactions", idempotency_key=validators.new_token())
    return selectors.message_get(author_id="alice", sk=message.sk)


def test_reactions_survive_an_export_and_import_into_another_room(room, tmp_path, capsys):
    reacted = reacted_room(room)
    out = tmp_path / "art.jsonl"
    call_command("export_room", "art", "--output", str(out))
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()[1:]]
    assert rows[0]["reactions"] == [["👍", [["bob", "Bob"], ["chen", "Chen"]]], ["🎉", [["chen", "Chen"]]],
                                    ["❤️", [["alice", "Alice"]]]]
    assert "reactions" not in rows[1]

    call_command("import_room", str(out), "--room", "copy", "--name", "Copy")
    assert "imported 2 messages into copy" in capsys.readouterr().out
    copied, plain = selectors.room_history(room_id="copy").items
    assert copied.reactions == reacted.reactions and plain.reactions == ()
    assert copied.reactions[0].label == "👍 2: Bob and Chen"
    assert copied.version == 4  # as if each reactor had reacted there: live tabs apply later changes
    # The copy reacts like the original: against its imported state.
    room_copy = selectors.room_get(room_id="copy")
    changed = services.reaction_set(room=room_copy, user=BOB, author_id="alice", sk=copied.sk, emoji="👍", on=False)
    assert changed.reactions[0] == Reaction("👍", (("chen", "Chen"),)) and changed.version == 5
    # A re-run overwrites: still two messages, the exported reactions again.
    call_command("import_room", str(out), "--room", "copy", "--name", "Copy")
    again = selectors.room_history(room_id="copy").items
    assert len(again) == 2 and again[0].reactions == reacted.reactions


def test_an_import_into_the_exported_room_keeps_them(room, tmp_path):
    reacted = reacted_room(room)
    out = tmp_path / "art.jsonl"
    call_command("export_room", "art", "--output", str(out))
    call_command("import_room", str(out))
    assert selectors.message_get(author_id="alice", sk=reacted.sk).reactions == reacted.reactions


def _file(tmp_path, **message):
    row = {"type": "message", "message_id": validators.new_token(), "author_id": "alice", "author_name": "Alice",
           "created_at": "2026-01-01T00:00:01.000Z", "comment": "hi", **message}
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"type": "room", "room_id": "art", "name": "Art"}) + "\n"
                    + json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def test_an_export_from_before_reactions_still_imports(room, tmp_path):
    call_command("import_room", str(_file(tmp_path)))
    [message] = selectors.room_history(room_id="art").items
    assert message.comment == "hi" and message.reactions == () and message.version == 0


def test_an_emoji_without_its_variation_selector_is_stored_as_the_site_stores_it(room, tmp_path):
    call_command("import_room", str(_file(tmp_path, reactions=[["❤", [["bob", "Bob"]]]])))
    [message] = selectors.room_history(room_id="art").items
    assert message.reactions == (Reaction("❤️", (("bob", "Bob"),)),)
    # So the site's own ❤️ is the same reaction, not a second one.
    reacted = services.reaction_set(room=room, user=CHEN, author_id="alice", sk=message.sk, emoji="❤️", on=True)
    assert [(r.emoji, r.count) for r in reacted.reactions] == [("❤️", 2)]


TWENTY_ONE = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "👀", "🔥", "🚀", "🌟", "✅", "💯", "🤔", "😍", "👏", "🙌",
              "🥳", "😎", "🤝", "🍕"]
BOB_ROW = [["bob", "Bob"]]


@pytest.mark.parametrize("reactions, words", [
    ("👍", "reactions must be a list"),
    ([[e, BOB_ROW] for e in TWENTY_ONE], "reactions has 21 emoji; a message has at most 20"),
    (["👍"], "reactions[0] must be [emoji, [[user id, name], …]]"),
    ([["👍", BOB_ROW, "extra"]], "reactions[0] must be"),
    ([["ok", BOB_ROW]], "reactions[0]: “ok” is not an emoji"),
    ([["👍👍", BOB_ROW]], "reactions[0]: React with one emoji at a time"),
    ([["👍", BOB_ROW], ["❤", BOB_ROW], ["❤️", BOB_ROW]], "reactions[2]: ❤️ is listed twice"),
    ([["👍", []]], "reactions[0]: 👍 has no one who reacted with it"),
    ([["👍", ["bob"]]], "reactions[0][1][0] must be [user id, name]"),
    ([["👍", [["Bob", "Bob"]]]], "reactions[0][1][0]: user id 'Bob' is not a user id"),
    ([["👍", [["b#b", "Bob"]]]], "reactions[0][1][0]: user id"),
    ([["👍", [[7, "Bob"]]]], "reactions[0][1][0]: user id must be a string"),
    ([["👍", [["bob", ""]]]], "reactions[0][1][0]: name: Enter a display name."),
    ([["👍", [["bob", "Bob\u202e"]]]], "reactions[0][1][0]: name:"),
    ([["👍", [["bob", "Bob"], ["chen", "Chen"], ["bob", "Bob"]]]], "reactions[0][1][2]: 'bob' reacted with 👍 already"),
    ([["👍", [[f"user{n:03d}", "N" * 50] for n in range(300)]]], "bytes stored; a message holds at most 16,384"),
])
def test_bad_reactions_name_the_line_and_write_nothing(room, tmp_path, reactions, words):
    with pytest.raises(CommandError) as caught:
        call_command("import_room", str(_file(tmp_path, reactions=reactions)))
    assert str(caught.value).startswith("line 2: ") and words in str(caught.value), str(caught.value)
    assert selectors.room_history(room_id="art").items == []


def test_the_largest_reactions_the_site_allows_import(room, tmp_path):
    twenty = [[e, [[f"user{n:03d}", "Name"] for n in range(20)]] for e in TWENTY_ONE[:20]]
    call_command("import_room", str(_file(tmp_path, reactions=twenty)))
    [message] = selectors.room_history(room_id="art").items
    assert len(message.reactions) == 20 and all(r.count == 20 for r in message.reactions)
