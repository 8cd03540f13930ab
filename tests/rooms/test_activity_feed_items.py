"""The activity feed's items: a post writes its `s-` event in its own BatchWriteItem (no extra
call), every read cursor move an `r-` event carrying the membership's new ReadVersion (a move is
2 calls, a no-op 1), Mark all as read batches them; mention and setting events round-trip."""

from __future__ import annotations

import pytest

from chatsite import keys
from chatsite.dynamodb import CHAT_TTL_ATTRIBUTE, count_calls
from rooms import activity, selectors, services, validators
from rooms.activity import Activity
from rooms.timestamps import now_ms
from tests.support.sessions import request_user

BOB = request_user("bob")


def post(room, text="hi", *, author="alice"):
    return services.message_post(room=room, author=request_user(author), comment=text,
                                 idempotency_key=validators.new_token())


def feed() -> list[Activity]:
    """Every activity event in every shard, oldest first."""
    events = []
    for shard in range(4):
        events += [Activity.from_record(r) for r in selectors.activity_since(shard=shard, since="2000")]
    return sorted(events, key=lambda e: e.sk)


@pytest.fixture
def bob_in_art(room):
    services.room_join(room=room, user=BOB)
    return room


def test_a_post_writes_its_message_event_in_its_own_batch(room):
    with count_calls() as calls:
        message = post(room, "hello @room, see this").message
    assert dict(calls) == {"UpdateItem": 2, "BatchWriteItem": 1}, calls  # 4 with the view's session read
    [event] = feed()
    assert event.kind == activity.MESSAGE and event.ref == keys.activity_message_ref("art", message.message_id)
    assert (event.room_id, event.user_id, event.seq, event.message_id, event.message_sk) == \
        ("art", "alice", 1, message.message_id, message.sk)
    assert (event.room_name, event.room_kind, event.author_name) == ("Art", "public", "Alice")
    assert event.excerpt == "hello @room, see this" and event.room_mention is True
    assert event.at_ms == message.created_ms
    assert event.sk.startswith(f"ev#{message.created_at}#s-art#")


def test_the_message_event_is_in_the_room_shard_with_an_excerpt_and_a_ttl(room, settings):
    message = post(room, "x" * 500).message
    raw = activity.message_item(message, room)
    assert raw["PK"]["S"] == keys.activity_pk(activity.shard_of("art"))
    assert int(raw[CHAT_TTL_ATTRIBUTE]["N"]) == message.created_ms // 1000 + settings.CHAT_LIVE_EVENT_TTL_SECONDS
    assert "RoomID" not in raw and "CreatedAt" not in raw  # stays out of the messages index
    assert len(Activity.from_item(raw).excerpt) == 140
    assert Activity.from_item(raw).room_mention is False


def test_shards_are_stable_and_spread():
    assert activity.shard_of("art", 4) == activity.shard_of("art", 4)
    assert {activity.shard_of(f"room-{n}", 4) for n in range(40)} == {0, 1, 2, 3}


def test_a_read_move_is_2_calls_and_a_no_op_move_1(bob_in_art):
    messages = [post(bob_in_art, f"m{n}").message for n in range(3)]
    with count_calls() as calls:
        assert services.read_cursor_advance(user_id="bob", room_id="art", seq=3, pos=messages[-1].sk)
    assert dict(calls) == {"UpdateItem": 1, "PutItem": 1}, calls
    with count_calls() as calls:
        assert not services.read_cursor_advance(user_id="bob", room_id="art", seq=2, pos=messages[1].sk)
    assert dict(calls) == {"UpdateItem": 1}, calls
    reads = [e for e in feed() if e.kind == activity.READ]
    assert [(e.user_id, e.room_id, e.read_seq, e.read_pos, e.read_version) for e in reads] == \
        [("bob", "art", 3, messages[-1].sk, 1)]
    assert reads[0].ref == keys.activity_read_ref("bob", "art", 1)
    assert selectors.user_room_get(user_id="bob", room_id="art").read_version == 1


def test_mark_as_unread_after_an_advance_has_the_higher_version(bob_in_art):
    messages = [post(bob_in_art, f"m{n}").message for n in range(3)]
    services.read_cursor_advance(user_id="bob", room_id="art", seq=3, pos=messages[-1].sk)
    with count_calls() as calls:
        assert services.message_mark_unread(user_id="bob", room_id="art", author_id="alice", sk=messages[1].sk)
    # the message, the mentions to bring back (none), the move and its event
    assert dict(calls) == {"GetItem": 1, "Query": 1, "UpdateItem": 1, "PutItem": 1}, calls
    reads = sorted((e for e in feed() if e.kind == activity.READ), key=lambda e: e.read_version)
    assert [(e.read_seq, e.read_version) for e in reads] == [(3, 1), (1, 2)]
    assert selectors.user_room_get(user_id="bob", room_id="art").read_version == 2


def test_a_non_members_move_writes_no_event(room):
    post(room)
    message = post(room).message
    assert not services.read_cursor_set_before(user_id="bob", message=message)
    assert not services.read_cursor_advance(user_id="bob", room_id="art", seq=2, pos=message.sk)
    assert [e.kind for e in feed()] == [activity.MESSAGE, activity.MESSAGE]


def test_mark_all_read_batches_its_events_25_a_call(moto_tables, settings):
    settings.CHAT_POST_RATE_LIMIT = 1000
    rooms = [services.room_create(name=f"Room {n:02d}", created_by="alice") for n in range(30)]
    for room in rooms:
        services.room_join(room=room, user=BOB)
        post(room)
    sidebar = selectors.user_rooms(user_id="bob")
    with count_calls() as calls:
        assert services.mark_all_read(user_id="bob", rooms=sidebar) == 30
    assert dict(calls) == {"BatchGetItem": 1, "UpdateItem": 30, "BatchWriteItem": 2}, calls
    reads = [e for e in feed() if e.kind == activity.READ]
    assert sorted(e.room_id for e in reads) == sorted(r.room_id for r in rooms)
    assert {(e.read_seq, e.read_version) for e in reads} == {(1, 1)}


def test_mention_and_setting_items_round_trip_through_put_events(room):
    message = post(room, "hi @bob").message
    now = now_ms()
    items = [activity.mention_item(user_id="bob", message=message, room=room),
             activity.setting_item(user_id="bob", room_id="art", notify="all", at_ms=now)]
    with count_calls() as calls:
        assert activity.put_events(items) == 2
    assert dict(calls) == {"BatchWriteItem": 1}
    by_kind = {e.kind: e for e in feed()}
    mention, setting = by_kind[activity.MENTION], by_kind[activity.SETTING]
    assert (mention.user_id, mention.room_id, mention.seq, mention.message_id, mention.message_sk) == \
        ("bob", "art", 1, message.message_id, message.sk)
    assert mention.ref == keys.activity_mention_ref("bob", message.message_id) and mention.excerpt == "hi @bob"
    assert (setting.user_id, setting.room_id, setting.notify, setting.at_ms) == ("bob", "art", "all", now)
    assert activity.put_events([]) == 0


def test_activity_since_reads_from_a_time_on(room):
    first = post(room, "one").message
    second = post(room, "two").message
    shard = activity.shard_of("art")
    with count_calls() as calls:
        later = selectors.activity_since(shard=shard, since=second.created_at)
    assert dict(calls) == {"Query": 1}
    assert [Activity.from_record(r).message_id for r in later] == [second.message_id]
    assert len(selectors.activity_since(shard=shard, since=first.created_at)) == 2


def test_mark_as_unread_carries_the_mentions_it_brings_back(bob_in_art):
    mention = post(bob_in_art, "hey @bob").message
    later = post(bob_in_art, "later").message
    services.read_cursor_advance(user_id="bob", room_id="art", seq=later.seq, pos=later.sk)
    assert selectors.user_room_get(user_id="bob", room_id="art").mention_seqs == frozenset()  # read: pruned
    assert services.message_mark_unread(user_id="bob", room_id="art", author_id="alice", sk=mention.sk)
    newest = max((e for e in feed() if e.kind == activity.READ), key=lambda e: e.read_version)
    assert (newest.read_seq, newest.mention_seqs) == (mention.seq - 1, frozenset({mention.seq}))


def test_a_members_post_through_the_page_stays_4_calls_with_its_activity_event(client, room):
    from tests.support.sessions import sign_in

    sign_in(client, "alice")
    assert client.get("/rooms/art/").status_code == 200  # her user item cached, as on a warm process
    selectors.room_get(room_id="art")  # and the room
    with count_calls() as calls:
        response = client.post("/rooms/art/messages", {"comment": "hello", "idempotency_key": validators.new_token()},
                               HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    # the session, the post guard, the room's Seq, one BatchWriteItem (message, live and activity events)
    assert dict(calls) == {"Query": 1, "UpdateItem": 2, "BatchWriteItem": 1}, calls
    assert [e.kind for e in feed()] == [activity.MESSAGE]
