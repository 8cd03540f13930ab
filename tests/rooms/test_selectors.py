import pytest

from chatsite.dynamodb import count_calls
from chatsite.pagination import InvalidCursor
from rooms import selectors, services, validators
from tests.support.sessions import request_user


def post(room, text, author=request_user("alice")):
    return services.message_post(room=room, author=author, comment=text, idempotency_key=validators.new_token())


def test_room_get_is_cached_per_process_and_clearable(room):
    from chatsite import caches

    caches.clear_all()
    with count_calls() as calls:
        selectors.room_get(room_id="art")
        selectors.room_get(room_id="art")
    assert calls == {"GetItem": 1}
    with pytest.raises(selectors.RoomNotFound):
        selectors.room_get(room_id="nope")


def test_history_is_newest_first_paged_and_shown_oldest_first(room, monkeypatch, settings):
    settings.CHAT_POST_RATE_LIMIT = 100
    for n in range(7):
        monkeypatch.setattr(services, "now_ms", lambda n=n: 1_700_000_000_000 + n * 1000)
        post(room, f"m{n}")
    first = selectors.room_history(room_id="art", limit=3)
    assert [m.comment for m in first.items] == ["m4", "m5", "m6"]
    second = selectors.room_history(room_id="art", cursor=first.next_cursor, limit=3)
    assert [m.comment for m in second.items] == ["m1", "m2", "m3"]
    third = selectors.room_history(room_id="art", cursor=second.next_cursor, limit=3)
    assert [m.comment for m in third.items] == ["m0"] and third.next_cursor is None


def test_same_millisecond_messages_sort_by_id_everywhere(room, monkeypatch):
    monkeypatch.setattr(services, "now_ms", lambda: 1_700_000_000_000)
    ids = [post(room, f"m{n}").message.message_id for n in range(4)]
    history = selectors.room_history(room_id="art").items
    assert [m.message_id for m in history] == sorted(ids)
    since = selectors.messages_since(room_id="art", since="2000-01-01T00:00:00.000Z")
    assert [m.message_id for m in since] == sorted(ids)


def test_history_cursor_is_bound_to_its_room(room, monkeypatch):
    for n in range(3):
        post(room, f"m{n}")
    page = selectors.room_history(room_id="art", limit=1)
    with pytest.raises(InvalidCursor):
        selectors.room_history(room_id="other", cursor=page.next_cursor)
    with pytest.raises(InvalidCursor):
        selectors.room_list(cursor=page.next_cursor)  # another purpose
    with pytest.raises(InvalidCursor):
        selectors.room_history(room_id="art", cursor=page.next_cursor[:-2] + "xx")


def test_messages_since_is_strictly_after(room, monkeypatch):
    monkeypatch.setattr(services, "now_ms", lambda: 1_700_000_000_000)
    message = post(room, "x").message
    assert selectors.messages_since(room_id="art", since=message.created_at) == []
    assert [m.comment for m in selectors.messages_since(room_id="art", since="2023-11-14T22:13:19.999Z")] == ["x"]


def test_user_messages_newest_first_across_rooms(room, monkeypatch):
    other = services.room_create(name="Other", created_by="alice")
    for n, (where, text, author) in enumerate([(room, "first", "alice"), (other, "second", "alice"),
                                               (room, "by bob", "bob")]):
        monkeypatch.setattr(services, "now_ms", lambda n=n: 1_700_000_000_000 + n)
        post(where, text, author=request_user(author))
    assert [r.comment for r in selectors.user_messages(user_id="alice", limit=5)] == ["second", "first"]
    assert [r.room_id for r in selectors.user_messages(user_id="alice", limit=1)] == ["other"]


def test_history_offers_no_older_page_when_the_room_holds_exactly_one_page(moto_tables):
    from chatsite import keys
    from rooms.models import MessageRecord

    room = services.room_create(name="Exact", description="", created_by="u1")
    for n in range(3):
        MessageRecord(keys.user_pk("u1"), keys.message_sk(f"2026-01-01T00:00:0{n}.000Z", f"id{n}"),
                      room_id=room.room_id, created_at=f"2026-01-01T00:00:0{n}.000Z", comment=f"m{n}",
                      author_name="U").save()
    page = selectors.room_history(room_id=room.room_id, limit=3)
    assert [m.comment for m in page.items] == ["m0", "m1", "m2"]
    assert page.next_cursor is None
    first = selectors.room_history(room_id=room.room_id, limit=2)
    assert [m.comment for m in first.items] == ["m1", "m2"] and first.next_cursor
    rest = selectors.room_history(room_id=room.room_id, cursor=first.next_cursor, limit=2)
    assert [m.comment for m in rest.items] == ["m0"] and rest.next_cursor is None
