"""Editing a message (rooms.services.message_edit) on moto: a conditional update on the EditVersion
the editor saw, its stated write cost, the earlier versions kept outside the room index, and a
clear refusal for each kind of bad edit."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from chatsite import keys
from chatsite.dynamodb import count_calls
from rooms import live, selectors, services, validators
from rooms.models import MessageRecord
from tests.support.sessions import request_user

ALICE, BOB = request_user("alice"), request_user("bob")
STAFF = request_user("sam", is_staff=True)
T0 = 1_800_000_000_000  # a fixed clock: posting time
DAY_MS = 86_400_000


def post(room, text="first words", author=ALICE):
    return services.message_post(room=room, author=author, comment=text,
                                 idempotency_key=validators.new_token()).message


def edit(room, message, text, *, actor=ALICE, seen=0):
    return services.message_edit(room=room, actor=actor, author_id=message.author_id, sk=message.sk,
                                 comment=text, seen_version=seen)


@pytest.fixture
def clock(monkeypatch):
    now = [T0]
    monkeypatch.setattr(services, "now_ms", lambda: now[0])
    return now


def test_an_edit_costs_five_calls_and_changes_text_versions_and_time(room, clock):
    message = post(room)
    clock[0] = T0 + 5000
    with count_calls() as calls:
        edited = edit(room, message, "  better words\r\n")
    # GetItem (consistent), UpdateItem (the change limit), PutItem (the history item), UpdateItem
    # (conditional), PutItem (u- event).
    assert sum(calls.values()) == 5 and dict(calls) == {"GetItem": 1, "PutItem": 2, "UpdateItem": 2}, calls
    assert edited.comment == "better words"
    assert (edited.edit_version, edited.version) == (1, 1)
    assert edited.edited_at == "2027-01-15T08:00:05.000Z"
    stored = selectors.message_get(author_id="alice", sk=message.sk)
    assert stored == edited and stored.created_at == message.created_at and stored.seq == message.seq


def test_the_previous_versions_are_kept_oldest_first_and_stay_out_of_the_room_index(room, clock):
    message = post(room, "one")
    clock[0] += 1000
    edit(room, message, "two")
    clock[0] += 1000
    edit(room, message, "three", seen=1)
    history = selectors.message_edits(author_id="alice", sk=message.sk)
    assert [(e.edit_version, e.comment) for e in history] == [(0, "one"), (1, "two")]
    assert history[0].at == message.created_at and history[1].at == "2027-01-15T08:00:01.000Z"
    # Only the message is a message: the room's index, its history page, the author's messages.
    assert [r.SK for r in MessageRecord.room_index.query("art")] == [message.sk]
    assert [m.comment for m in selectors.room_history(room_id="art").items] == ["three"]
    assert [m.comment for m in selectors.user_messages(user_id="alice")] == ["three"]
    assert [r.room_id for r in selectors.user_rooms(user_id="alice")] == ["art"]


def test_the_history_keys_sort_outside_every_range_query_of_the_user_partition():
    sk = keys.edit_sk(keys.message_sk("2027-01-15T08:00:00.000Z", "a" * 20), 7)
    assert sk.endswith("#0007") and keys.edit_version_from_sk(sk) == 7
    assert not keys.MESSAGE_SK_MIN <= sk <= keys.MESSAGE_SK_MAX
    assert not keys.mention_sk_from("") <= sk <= keys.MENTION_SK_MAX
    assert not keys.USER_AND_ROOMS_SK_MIN <= sk <= keys.USER_AND_ROOMS_SK_MAX
    assert keys.edit_sk("x", 9) < keys.edit_sk("x", 10) < keys.edit_sk("x", services.MAX_EDITS)


def test_an_edit_reaches_the_room_events_as_one_update(room, clock):
    message = post(room)
    clock[0] += 1000
    edit(room, message, "live words")
    _, _, _, updates = live.query_room_events("art", T0 - 1)
    ((at, changed),) = updates
    assert at == T0 + 1000 and changed.comment == "live words" and changed.version == 1
    assert changed.edited_at and changed.edit_version == 1


def test_a_stale_version_is_a_conflict_carrying_the_current_message_and_writes_nothing(room, clock):
    message = post(room)
    edit(room, message, "Alice's second")
    with count_calls() as calls, pytest.raises(services.EditConflict) as caught:
        edit(room, message, "from an old tab", seen=0)
    assert dict(calls) == {"GetItem": 1}
    assert caught.value.current.comment == "Alice's second" and caught.value.current.edit_version == 1
    assert len(selectors.message_edits(author_id="alice", sk=message.sk)) == 1


def test_two_edits_racing_past_the_read_end_with_one_winner_and_one_conflict(room, clock, monkeypatch):
    """Bob's edit reads version 0, then staff's edit lands before Bob's update: Bob's conditional
    update fails and he is told what the message says now. Nothing he wrote replaces it."""
    message = post(room, author=BOB)
    real_get = selectors.message_get
    interleaved = []

    def get_then_let_the_other_edit_land(**kwargs):
        found = real_get(**kwargs)
        if not interleaved:
            interleaved.append(True)
            edit(room, message, "staff's words", actor=STAFF)  # reads, writes, wins
        return found

    monkeypatch.setattr(selectors, "message_get", get_then_let_the_other_edit_land)
    with pytest.raises(services.EditConflict) as caught:
        edit(room, message, "Bob's words", actor=BOB)
    assert caught.value.current.comment == "staff's words" and caught.value.current.edit_version == 1
    monkeypatch.setattr(selectors, "message_get", real_get)
    stored = selectors.message_get(author_id="bob", sk=message.sk)
    assert stored.comment == "staff's words" and stored.version == 1
    assert [e.comment for e in selectors.message_edits(author_id="bob", sk=message.sk)] == ["first words"]


def test_someone_elses_message_is_refused_before_any_read(room):
    message = post(room)
    with count_calls() as calls, pytest.raises(PermissionDenied):
        edit(room, message, "mine now", actor=BOB)
    assert sum(calls.values()) == 0
    assert selectors.message_get(author_id="alice", sk=message.sk).comment == "first words"


def test_a_deleted_message_or_one_of_another_room_is_not_found(room):
    message = post(room)
    other = services.room_create(name="Jazz", created_by="alice")
    with pytest.raises(services.MessageNotFound):
        edit(other, message, "moved")
    services.message_delete(room_id="art", actor=ALICE, author_id="alice", sk=message.sk)
    with pytest.raises(services.MessageNotFound):
        edit(room, message, "too late")
    with pytest.raises(services.MessageNotFound):
        services.message_edit(room=room, actor=ALICE, author_id="alice", sk="not-a-key", comment="x", seen_version=0)


def test_an_author_edits_for_the_window_and_staff_at_any_time(room, clock, settings):
    assert settings.CHAT_MESSAGE_EDIT_SECONDS == 86400
    message = post(room)
    clock[0] = T0 + DAY_MS
    assert edit(room, message, "just in time").edit_version == 1
    clock[0] = T0 + DAY_MS + 1
    with count_calls() as calls, pytest.raises(services.EditWindowClosed) as caught:
        edit(room, message, "too late", seen=1)
    assert "24 hours" in str(caught.value) and isinstance(caught.value, PermissionDenied)
    assert dict(calls) == {"GetItem": 1}
    clock[0] = T0 + 365 * DAY_MS
    staff_edit = edit(room, message, "moderated", actor=STAFF, seen=1)
    assert staff_edit.comment == "moderated" and staff_edit.author_id == "alice" and staff_edit.edit_version == 2
    settings.CHAT_MESSAGE_EDIT_SECONDS = 900
    assert services.edit_window_words() == "15 minutes"


@pytest.mark.parametrize("text, words", [("", "Write something"), ("   \n ", "Write something"),
                                         ("x" * 4001, "at most 4,000 characters"),
                                         ("bell \x07", "control characters")])
def test_an_empty_or_bad_edit_is_a_validation_error_and_writes_nothing(room, text, words):
    message = post(room)
    with count_calls() as calls, pytest.raises(ValidationError) as caught:
        edit(room, message, text)
    assert words in " ".join(caught.value.messages) and sum(calls.values()) == 0
    assert selectors.message_get(author_id="alice", sk=message.sk).comment == "first words"


def test_the_same_text_again_writes_nothing(room):
    message = post(room)
    with count_calls() as calls:
        same = edit(room, message, "first words ")
    assert dict(calls) == {"GetItem": 1} and same.edit_version == 0 and same.edited_at is None


def test_an_edit_count_is_bounded(room, monkeypatch):
    monkeypatch.setattr(services, "MAX_EDITS", 2)
    message = post(room)
    edit(room, message, "a")
    edit(room, message, "b", seen=1)
    with pytest.raises(services.TooManyEdits):
        edit(room, message, "c", seen=2)


def test_deleting_an_edited_message_deletes_its_history(room):
    message = post(room)
    edit(room, message, "a")
    edit(room, message, "b", seen=1)
    with count_calls() as calls:
        services.message_delete(room_id="art", actor=ALICE, author_id="alice", sk=message.sk)
    assert calls["BatchWriteItem"] == 1
    assert selectors.message_edits(author_id="alice", sk=message.sk) == []


def test_purging_and_deleting_a_room_take_the_earlier_versions_with_the_messages(room, settings, capsys, clock):
    from django.core.management import call_command

    from chatsite.dynamodb import CHAT, client, table_name

    settings.CHAT_ROOM_CACHE_SECONDS = settings.CHAT_ROOM_DELETE_GRACE_SECONDS = 0
    first = post(room, "old one")
    clock[0] += 1000
    second = post(room, "new one")
    edit(room, first, "old, edited")
    edit(room, second, "new, edited")
    edit(room, second, "new, edited twice", seen=1)

    def history_items() -> list[str]:
        items = client().scan(TableName=table_name(CHAT))["Items"]
        return sorted(i["SK"]["S"] for i in items if i["SK"]["S"].startswith(keys.EDIT_PREFIX))

    assert len(history_items()) == 3
    call_command("purge_messages", "--room", "art", "--before", second.created_at, "--yes")
    assert "deleted 1 messages" in capsys.readouterr().out
    assert history_items() == [keys.edit_sk(second.sk, 0), keys.edit_sk(second.sk, 1)]
    assert services.room_delete(room_id="art", sleep=lambda s: None) == 1
    assert history_items() == []
