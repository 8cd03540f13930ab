"""selectors.room_sequences: the rooms' Seq for unread counts, 100 keys a BatchGetItem,
UnprocessedKeys retried, and a short per-process cache whose staleness is bounded."""

from __future__ import annotations

import pytest

from chatsite import caches, dynamodb, keys
from chatsite.dynamodb import count_calls
from rooms import selectors, services
from rooms.models import RoomRecord
from tests.support.seeding import rooms_created


def make_rooms(count: int) -> list[str]:
    return [room.room_id for room in rooms_created([f"Room {n:03d}" for n in range(count)], created_by="alice")]


def seq_elsewhere(room_id: str, seq: int) -> None:
    """Another process's posts: the stored Seq changes, this process's cache is not told."""
    RoomRecord(keys.room_pk(room_id), keys.META).update(actions=[RoomRecord.seq.set(seq)])


class Clock:
    def __init__(self):
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(selectors.time, "monotonic", fake.monotonic)
    return fake


@pytest.mark.parametrize("count, calls", [(1, 1), (100, 1), (101, 2), (200, 2), (250, 3)])
def test_at_most_100_rooms_a_call(moto_tables, count, calls):
    room_ids = make_rooms(count)
    seq_elsewhere(room_ids[-1], 7)
    with count_calls() as counted:
        seqs = selectors.room_sequences(room_ids=room_ids, cached=False)
    assert counted == {"BatchGetItem": calls}
    assert len(seqs) == count and seqs[room_ids[-1]] == 7 and sum(seqs.values()) == 7


def test_a_room_with_no_record_or_no_post_counts_zero(moto_tables):
    (room_id,) = make_rooms(1)
    assert selectors.room_sequences(room_ids=[room_id, "ghost"], cached=False) == {room_id: 0, "ghost": 0}


def test_unprocessed_keys_are_asked_for_again(moto_tables, monkeypatch):
    room_ids = make_rooms(30)
    for n, room_id in enumerate(room_ids):
        seq_elsewhere(room_id, n + 1)
    real = dynamodb.client()
    table = dynamodb.table_name(dynamodb.CHAT)
    answered = []

    class Throttling:
        """The real client, except that the first call's last 20 keys come back unprocessed, as
        DynamoDB does when throttled or over 16 MB."""

        def batch_get_item(self, RequestItems):
            request = RequestItems[table]
            if answered:
                answer = real.batch_get_item(RequestItems=RequestItems)
            else:
                served, held = request["Keys"][:10], request["Keys"][10:]
                answer = real.batch_get_item(RequestItems={table: {**request, "Keys": served}})
                answer["UnprocessedKeys"] = {table: {**request, "Keys": held}}
            answered.append(len(request["Keys"]))
            return answer

    monkeypatch.setattr(dynamodb, "client", lambda: Throttling())
    waits = []
    seqs = selectors.room_sequences(room_ids=room_ids, cached=False, sleep=waits.append)
    assert answered == [30, 20] and len(waits) == 1
    assert seqs == {room_id: n + 1 for n, room_id in enumerate(room_ids)}


def test_keys_still_unprocessed_after_the_attempts_raise(moto_tables, monkeypatch):
    room_ids = make_rooms(3)
    table = dynamodb.table_name(dynamodb.CHAT)

    class AlwaysThrottled:
        def batch_get_item(self, RequestItems):
            return {"Responses": {table: []}, "UnprocessedKeys": RequestItems}

    monkeypatch.setattr(dynamodb, "client", lambda: AlwaysThrottled())
    with pytest.raises(selectors.UnprocessedKeysRemain):
        selectors.room_sequences(room_ids=room_ids, cached=False, sleep=lambda s: None, max_attempts=3)


def test_the_cache_serves_for_its_lifetime_then_reads_again(moto_tables, clock, settings):
    settings.CHAT_ROOM_SEQ_CACHE_SECONDS = 2
    room_ids = make_rooms(3)
    assert selectors.room_sequences(room_ids=room_ids) == dict.fromkeys(room_ids, 0)
    seq_elsewhere(room_ids[0], 5)
    clock.now += 1.9
    with count_calls() as calls:
        assert selectors.room_sequences(room_ids=room_ids)[room_ids[0]] == 0  # stale, within the bound
    assert calls == {}
    clock.now += 0.2  # 2.1 s after the read: past the bound
    with count_calls() as calls:
        assert selectors.room_sequences(room_ids=room_ids)[room_ids[0]] == 5
    assert calls == {"BatchGetItem": 1}


def test_only_the_rooms_not_cached_are_read(moto_tables, clock):
    room_ids = make_rooms(150)
    selectors.room_sequences(room_ids=room_ids[:100])
    with count_calls() as calls:
        assert len(selectors.room_sequences(room_ids=room_ids)) == 150
    assert calls == {"BatchGetItem": 1}  # the 50 others


def test_a_post_on_this_process_refreshes_the_cache(room, clock):
    from tests.support.sessions import request_user
    from rooms import validators

    assert selectors.room_sequences(room_ids=["art"]) == {"art": 0}
    services.message_post(room=room, author=request_user("alice"), comment="hi", idempotency_key=validators.new_token())
    with count_calls() as calls:
        assert selectors.room_sequences(room_ids=["art"]) == {"art": 1}
    assert calls == {}


def test_the_cache_is_registered_and_can_be_turned_off(moto_tables, clock, settings):
    room_ids = make_rooms(2)
    selectors.room_sequences(room_ids=room_ids)
    caches.clear_all()
    with count_calls() as calls:
        selectors.room_sequences(room_ids=room_ids)
    assert calls == {"BatchGetItem": 1}
    settings.CHAT_ROOM_SEQ_CACHE_SECONDS = 0
    selectors.clear_seq_cache()
    for _ in range(2):
        with count_calls() as calls:
            selectors.room_sequences(room_ids=room_ids)
        assert calls == {"BatchGetItem": 1}
