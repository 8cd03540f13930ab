"""Read cursors and unread counts, the data side: a room's Seq counts its posts, a membership's
ReadSeq/ReadPos is where its user has read to; unread = Seq - ReadSeq, shown "99+" beyond 99."""

from __future__ import annotations

import pytest

from chatsite import keys
from chatsite.dynamodb import count_calls
from rooms import post_guard, selectors, services, validators
from rooms.models import UserRoomRecord, unread_label
from rooms.timestamps import iso_from_ms, now_ms
from tests.support.sessions import request_user

BOB = request_user("bob")


def post(room, text="hi", *, author="alice", key=None):
    return services.message_post(room=room, author=request_user(author), comment=text,
                                 idempotency_key=key or validators.new_token())


def cursor(user_id: str, room_id: str) -> tuple[int | None, str | None]:
    entry = selectors.user_room_get(user_id=user_id, room_id=room_id)
    return entry.read_seq, entry.read_pos


def unread(user_id: str) -> dict[str, int]:
    return {r.room_id: r.unread for r in selectors.with_unread(selectors.user_rooms(user_id=user_id), cached=False)}


@pytest.fixture
def bob_in_art(room):
    services.room_join(room=room, user=BOB)
    return room


def test_each_post_takes_the_next_seq_and_its_message_and_live_event_carry_it(room):
    first, second = post(room, "one").message, post(room, "two").message
    assert (first.seq, second.seq) == (1, 2)
    assert selectors.message_get(author_id="alice", sk=second.sk).seq == 2
    assert [m.seq for m in selectors.room_history(room_id="art").items] == [1, 2]
    assert selectors.room_seq(room_id="art") == 2
    from rooms import live
    messages, _, _, _ = live.query_room_events("art", 0)
    assert [m.seq for m in messages] == [1, 2]


def test_a_retried_key_takes_no_second_seq(room):
    key = validators.new_token()
    first = post(room, "once", key=key)
    again = post(room, "once", key=key)
    assert again.duplicate and again.message.seq == first.message.seq == 1
    assert selectors.room_seq(room_id="art") == 1


def test_a_retry_after_an_attempt_that_died_before_its_put_takes_a_seq(room):
    key = validators.new_token()
    now = now_ms()
    # The first attempt claimed the key, then died before taking a Seq or putting its message.
    post_guard.claim(user_id="alice", idempotency_key=key,
                     planned_sk=keys.message_sk(iso_from_ms(now), validators.new_token()), now_ms=now)
    result = post(room, "late", key=key)
    assert result.duplicate and result.message.seq == 1
    assert selectors.message_get(author_id="alice", sk=result.message.sk).seq == 1


def test_a_post_to_a_room_whose_record_is_gone_is_refused_and_writes_nothing(room):
    cached = selectors.room_get(room_id="art")
    services.room_delete(room_id="art", sleep=lambda s: None)
    with pytest.raises(selectors.RoomNotFound):
        post(cached, "too late")
    assert selectors.user_messages(user_id="alice") == []


def test_a_new_member_starts_with_everything_read(room):
    for n in range(5):
        post(room, f"before {n}")
    with count_calls() as calls:
        services.room_join(room=room, user=BOB)
    assert calls == {"PutItem": 2, "GetItem": 1}  # the room's Seq, read fresh
    assert unread("bob") == {"art": 0}
    assert cursor("bob", "art")[0] == 5
    post(room, "after")
    assert unread("bob") == {"art": 1}


def test_the_creator_of_a_room_starts_at_zero_without_a_read(moto_tables):
    with count_calls() as calls:
        services.room_create(name="Den", created_by="alice", kind="private")
    assert "GetItem" not in calls, calls
    assert cursor("alice", "den")[0] == 0


def test_advancing_moves_the_cursor_forward_only(bob_in_art):
    messages = [post(bob_in_art, f"m{n}").message for n in range(4)]
    assert unread("bob") == {"art": 4}
    newest = messages[-1]
    with count_calls() as calls:
        assert services.read_cursor_advance(user_id="bob", room_id="art", seq=newest.seq, pos=newest.sk) is True
    assert calls == {"UpdateItem": 1, "PutItem": 1}  # the move, and its activity event for other tabs
    assert cursor("bob", "art") == (4, newest.sk) and unread("bob") == {"art": 0}
    # A stale tab reports an older message: nothing moves (and it is not an error).
    older = messages[1]
    assert services.read_cursor_advance(user_id="bob", room_id="art", seq=older.seq, pos=older.sk) is False
    assert services.read_cursor_advance(user_id="bob", room_id="art", seq=newest.seq, pos=newest.sk) is False
    assert cursor("bob", "art") == (4, newest.sk)


def test_advancing_a_non_member_writes_nothing(room):
    message = post(room).message
    assert services.read_cursor_advance(user_id="bob", room_id="art", seq=message.seq, pos=message.sk) is False
    assert selectors.user_room_get(user_id="bob", room_id="art") is None


def test_mark_as_unread_moves_the_cursor_back_to_just_before_the_message(bob_in_art):
    messages = [post(bob_in_art, f"m{n}").message for n in range(4)]
    services.read_cursor_advance(user_id="bob", room_id="art", seq=4, pos=messages[-1].sk)
    target = messages[2]
    with count_calls() as calls:
        assert services.message_mark_unread(user_id="bob", room_id="art", author_id="alice", sk=target.sk) is True
    # + the move's activity event, and the Query of mentions to restore (none here: no UpdateItem)
    assert calls == {"GetItem": 1, "UpdateItem": 1, "PutItem": 1, "Query": 1}
    read_seq, read_pos = cursor("bob", "art")
    assert read_seq == target.seq - 1 and unread("bob") == {"art": 2}
    # The position sorts just before the message and after every earlier one.
    assert messages[1].sk < read_pos < target.sk
    # Reading again moves it forward as usual.
    assert services.read_cursor_advance(user_id="bob", room_id="art", seq=4, pos=messages[-1].sk) is True
    assert unread("bob") == {"art": 0}


def test_mark_as_unread_refuses_a_message_of_another_room_or_a_deleted_one(bob_in_art, moto_tables):
    other = services.room_create(name="Music", created_by="alice")
    elsewhere = post(other, "elsewhere").message
    with pytest.raises(services.MessageNotFound):
        services.message_mark_unread(user_id="bob", room_id="art", author_id="alice", sk=elsewhere.sk)
    gone = post(bob_in_art, "gone").message
    services.message_delete(room_id="art", actor=request_user("alice"), author_id="alice", sk=gone.sk)
    with pytest.raises(services.MessageNotFound):
        services.message_mark_unread(user_id="bob", room_id="art", author_id="alice", sk=gone.sk)
    with pytest.raises(services.MessageNotFound):
        services.message_mark_unread(user_id="bob", room_id="art", author_id="alice", sk="not#a key")


def test_unread_counts_are_capped_at_99_plus(bob_in_art):
    for _ in range(120):
        services.take_room_seq(room_id="art")  # 120 posts' worth of Seq, without 120 messages
    (entry,) = selectors.with_unread(selectors.user_rooms(user_id="bob"), cached=False)
    assert entry.unread == 120 and entry.unread_label == "99+"
    assert [unread_label(n) for n in (0, 1, 99, 100)] == ["0", "1", "99", "99+"]


def test_a_membership_from_before_read_cursors_shows_no_count_until_read(bob_in_art):
    UserRoomRecord(keys.user_pk("bob"), keys.user_room_sk("art")).update(
        actions=[UserRoomRecord.read_seq.remove(), UserRoomRecord.read_pos.remove()])
    message = post(bob_in_art).message
    assert unread("bob") == {"art": 0}
    assert services.read_cursor_advance(user_id="bob", room_id="art", seq=message.seq, pos=message.sk) is True
    post(bob_in_art)
    assert unread("bob") == {"art": 1}


def test_mark_all_read_clears_every_room_with_one_write_per_unread_room(moto_tables):
    rooms = [services.room_create(name=name, created_by="alice") for name in ("Art", "Music", "Zoo")]
    for room in rooms:
        services.room_join(room=room, user=BOB)
    post(rooms[0], "a")
    post(rooms[2], "z1")
    post(rooms[2], "z2")
    assert unread("bob") == {"art": 1, "music": 0, "zoo": 2}
    sidebar = selectors.user_rooms(user_id="bob")
    with count_calls() as calls:
        assert services.mark_all_read(user_id="bob", rooms=sidebar) == 2
    assert calls == {"BatchGetItem": 1, "UpdateItem": 2, "BatchWriteItem": 1}  # the moves' activity events
    assert unread("bob") == {"art": 0, "music": 0, "zoo": 0}
    post(rooms[2], "z3")
    assert unread("bob") == {"art": 0, "music": 0, "zoo": 1}
