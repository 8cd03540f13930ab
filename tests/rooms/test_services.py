import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from pynamodb.exceptions import PutError

from chatsite import batch, keys
from chatsite.dynamodb import count_calls
from rooms import live, post_guard, selectors, services, validators
from rooms.models import MessageRecord, RoomDirectoryEntry, RoomRecord, TombstoneRecord
from tests.support.sessions import request_user

ALICE = request_user("alice")
BOB = request_user("bob")
STAFF = request_user("sam", is_staff=True)


def post(room, text="hello", *, author=ALICE, key=None):
    return services.message_post(room=room, author=author, comment=text, idempotency_key=key or validators.new_token())


def room_messages(room_id):
    return list(MessageRecord.room_index.query(room_id))


def test_room_create_writes_room_and_directory_entry(moto_tables):
    room = services.room_create(name="Art & Design", description="pics", created_by="alice")
    assert room.room_id == "art-design"
    assert RoomRecord.get(keys.room_pk("art-design"), keys.META).name == "Art & Design"
    assert RoomDirectoryEntry.get(keys.ROOM_DIRECTORY_PK, keys.room_directory_sk("art-design")).created_by == "alice"


def test_room_names_are_unique_case_insensitively(moto_tables):
    services.room_create(name="Art", created_by="alice")
    with pytest.raises(services.RoomExists) as excinfo:
        services.room_create(name="ART!", created_by="bob")
    assert excinfo.value.room.name == "Art"
    assert RoomRecord.get(keys.room_pk("art"), keys.META).created_by == "alice"


def test_room_exists_repairs_a_missing_directory_entry(moto_tables):
    services.room_create(name="Art", created_by="alice")
    RoomDirectoryEntry(keys.ROOM_DIRECTORY_PK, keys.room_directory_sk("art")).delete()
    with pytest.raises(services.RoomExists):
        services.room_create(name="art", created_by="alice")
    assert [r.room_id for r in selectors.room_list().items] == ["art"]


def test_post_stores_message_under_author_with_room_and_time(room):
    result = post(room, "hi <b>")
    record = MessageRecord.get(keys.user_pk("alice"), result.message.sk)
    assert record.room_id == "art" and record.comment == "hi <b>" and record.author_name == "Alice"
    assert record.SK == keys.message_sk(record.created_at, result.message.message_id)
    assert not result.duplicate


def test_post_costs_two_updates_and_one_batch_write_of_the_message_and_its_live_event(room):
    # The post guard, the room's Seq (the message's number: unread counts without a write per
    # member), and one batch of the message with its live event.
    with count_calls() as calls:
        message = post(room).message
    assert calls == {"UpdateItem": 2, "BatchWriteItem": 1}
    assert message.seq == 1
    (event,) = selectors.live_events_since(room_id="art", since="2000-01-01T00:00:00.000Z")
    assert event.SK == keys.live_event_sk(message.created_at, f"m-{message.message_id}")
    assert (event.author, event.message_sk, event.comment) == ("alice", message.sk, message.comment)
    assert event.expires_at > 0 and not hasattr(event, "room_id")  # never in the room index


def test_two_messages_in_the_same_millisecond_both_survive(room, monkeypatch):
    monkeypatch.setattr(services, "now_ms", lambda: 1_700_000_000_000)
    first, second = post(room, "one"), post(room, "two")
    assert first.message.created_at == second.message.created_at
    assert {m.comment for m in room_messages("art")} == {"one", "two"}


def test_same_idempotency_key_never_makes_a_second_message(room):
    key = validators.new_token()
    first = post(room, "once", key=key)
    with count_calls() as calls:
        again = post(room, "once", key=key)
    assert again.duplicate and again.message.message_id == first.message.message_id
    assert len(room_messages("art")) == 1
    assert calls["UpdateItem"] == 1 and calls["GetItem"] == 2  # guard refusal explained, existing message read


def test_key_still_deduplicates_in_the_next_window(room, monkeypatch, settings):
    settings.CHAT_POST_RATE_WINDOW_SECONDS = 60
    key = validators.new_token()
    monkeypatch.setattr(services, "now_ms", lambda: 1_700_000_039_000)
    post(room, "once", key=key)
    monkeypatch.setattr(services, "now_ms", lambda: 1_700_000_039_000 + 60_000)
    assert post(room, "once", key=key).duplicate
    assert len(room_messages("art")) == 1


def test_retry_finishes_a_first_attempt_that_died_after_claiming_its_key(room, monkeypatch):
    key = validators.new_token()
    real_batch = services.batch_put_items

    def outage(*args, **kwargs):
        raise PutError("simulated outage")

    monkeypatch.setattr(services, "batch_put_items", outage)
    with pytest.raises(PutError):
        post(room, "lost?", key=key)
    monkeypatch.setattr(services, "batch_put_items", real_batch)
    retried = post(room, "lost?", key=key)
    assert retried.duplicate
    assert [m.comment for m in room_messages("art")] == ["lost?"]
    assert post(room, "lost?", key=key).message.sk == retried.message.sk  # and only ever one


def test_concurrent_duplicates_race_to_one_message(room, monkeypatch):
    """Attempt B sees the key claimed but the message not yet put (A is between its two calls):
    B puts under A's planned SK; A's own write then lands on that same item (its batch write is
    unconditional), so there is still one message, under one SK, and live feeds see it once."""
    key = validators.new_token()
    claimed = {}
    real_claim = post_guard.claim

    def claim_then_pause(**kwargs):
        result = real_claim(**kwargs)
        if not claimed:
            claimed["a"] = result
            claimed["b"] = post(room, "double click", key=key)  # B runs to completion in the gap
        return result

    monkeypatch.setattr(post_guard, "claim", claim_then_pause)
    a = post(room, "double click", key=key)
    assert len(room_messages("art")) == 1
    assert a.message.sk == claimed["b"].message.sk
    assert claimed["b"].duplicate
    feed = live.RoomFeed("art")
    feed.refresh_now()
    assert list(feed.events) == [a.message.dom_id]


def test_rate_limit_holds_and_resets_next_window(room, monkeypatch, settings):
    settings.CHAT_POST_RATE_LIMIT = 3
    settings.CHAT_POST_RATE_WINDOW_SECONDS = 60
    monkeypatch.setattr(services, "now_ms", lambda: 1_700_000_010_000)
    for n in range(3):
        post(room, f"m{n}")
    with pytest.raises(services.RateLimited) as excinfo:
        post(room, "too many")
    assert 1 <= excinfo.value.retry_after <= 60
    assert post(room, "other user", author=BOB)  # per user
    monkeypatch.setattr(services, "now_ms", lambda: 1_700_000_070_000)
    post(room, "next window")
    assert len(room_messages("art")) == 5


def test_a_duplicate_over_the_limit_is_still_a_duplicate(room, monkeypatch, settings):
    settings.CHAT_POST_RATE_LIMIT = 1
    key = validators.new_token()
    post(room, "one", key=key)
    assert post(room, "one", key=key).duplicate


def test_guard_forgets_old_windows(room, monkeypatch, settings):
    settings.CHAT_POST_RATE_WINDOW_SECONDS = 60
    for minute in range(6):
        monkeypatch.setattr(services, "now_ms", lambda m=minute: 1_700_000_000_000 + m * 60_000)
        post(room)
    from chatsite import dynamodb

    item = dynamodb.client().get_item(TableName="test_chat", Key={
        "PK": {"S": keys.post_guard_pk("alice")}, "SK": {"S": keys.POST_GUARD_SK}})["Item"]
    assert len([name for name in item if name.startswith("k_")]) == 2  # this window and the previous


def test_invalid_comment_and_key_are_rejected_before_any_write(room):
    with count_calls() as calls:
        with pytest.raises(ValidationError):
            post(room, "   ")
        with pytest.raises(ValidationError):
            services.message_post(room=room, author=ALICE, comment="ok", idempotency_key="bad#key")
    assert sum(calls.values()) == 0


def test_author_can_delete_and_a_deletion_event_is_written(room):
    message = post(room).message
    services.message_delete(room_id="art", actor=ALICE, author_id="alice", sk=message.sk)
    assert room_messages("art") == []
    events = selectors.live_events_since(room_id="art", since="2000-01-01T00:00:00.000Z")
    assert [keys.live_event_sk_parts(e.SK)[1] for e in events] == [f"m-{message.message_id}",
                                                                   f"d-{message.message_id}"]
    assert events[1].expires_at > 0
    feed = live.RoomFeed("art")
    feed.refresh_now()
    assert list(feed.events) == [f"d-{message.message_id}"]


def test_staff_can_delete_others_cannot(room):
    message = post(room).message
    with pytest.raises(PermissionDenied):
        services.message_delete(room_id="art", actor=BOB, author_id="alice", sk=message.sk)
    services.message_delete(room_id="art", actor=STAFF, author_id="alice", sk=message.sk)
    assert room_messages("art") == []


def test_delete_checks_the_room_and_existence(room):
    message = post(room).message
    with pytest.raises(services.MessageNotFound):
        services.message_delete(room_id="other", actor=ALICE, author_id="alice", sk=message.sk)
    services.message_delete(room_id="art", actor=ALICE, author_id="alice", sk=message.sk)
    with pytest.raises(services.MessageNotFound):
        services.message_delete(room_id="art", actor=ALICE, author_id="alice", sk=message.sk)


def test_batch_delete_retries_unprocessed_items(moto_tables, monkeypatch):
    from chatsite import dynamodb

    client = dynamodb.client()
    real = client.batch_write_item
    calls = []

    def flaky(RequestItems):
        calls.append(sum(len(v) for v in RequestItems.values()))
        if len(calls) == 1:  # DynamoDB processes only the first 5 and hands back the rest
            (table, requests), = RequestItems.items()
            real(RequestItems={table: requests[:5]})
            return {"UnprocessedItems": {table: requests[5:]}}
        return real(RequestItems=RequestItems)

    monkeypatch.setattr(client, "batch_write_item", flaky)
    keys_ = [(f"User:u{n}", f"2023-01-01T00:00:00.000Z#{n:020d}") for n in range(30)]
    for pk, sk in keys_:
        MessageRecord(pk, sk, room_id="r", created_at="2023-01-01T00:00:00.000Z", comment="x", author_name="x").save()
    progress = []
    assert batch.batch_delete_keys(keys_, progress=progress.append, sleep=lambda s: None) == 30
    assert calls == [25, 20, 5] and sum(progress) == 30
    assert room_messages("r") == []


def test_batch_delete_gives_up_with_a_clear_error(moto_tables, monkeypatch):
    from chatsite import dynamodb

    client = dynamodb.client()
    monkeypatch.setattr(client, "batch_write_item",
                        lambda RequestItems: {"UnprocessedItems": RequestItems})
    with pytest.raises(batch.UnprocessedItemsRemain, match="run the command again"):
        batch.batch_delete_keys([("User:a", "x")], sleep=lambda s: None, max_attempts=3)
