"""A change to a posted message (an edit, a reaction, a reply count) reaches open tabs through the
room's live events like posts and deletions: a `u-<id>.<Version>` event carrying the message's whole
new state, owed once per version, dropped by a later deletion, and applied by tabs only over an
older version (static/js/chat/merge.js)."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from chatsite import keys
from chatsite.dynamodb import count_calls
from rooms import live, services, validators
from rooms.models import ChatMessage, MessageRecord, Reaction, ReplyQuote
from rooms.timestamps import now_ms
from tests.support.sessions import request_user

ALICE = request_user("alice")


@pytest.fixture(autouse=True)
def fresh_feed(settings):
    settings.CHAT_LIVE_REFRESH_SECONDS = 0  # every poll reads the room's events: no waiting for a refresh
    live.clear_feeds()


def post(room, text="hello"):
    return services.message_post(room=room, author=ALICE, comment=text,
                                 idempotency_key=validators.new_token()).message


def change(message: ChatMessage, text: str) -> MessageRecord:
    """What a change does to the item: its new state, Version + 1, answered ALL_NEW."""
    record = MessageRecord(keys.user_pk(message.author_id), message.sk)
    record.update(actions=[MessageRecord.comment.set(text), MessageRecord.version.add(1),
                           MessageRecord.edited_at.set("2030-01-01T00:00:00.000Z")])
    return record


def page_watermark(client, room_id="art") -> str:
    page = client.get(f"/rooms/{room_id}/").content.decode()
    return re.search(r'data-watermark="([^"]+)"', page).group(1)


def poll(client, token, seen=(), room_id="art"):
    return client.get(f"/rooms/{room_id}/updates", {"w": token, "seen": ",".join(seen)}, HTTP_HX_REQUEST="true")


def lis(html: str) -> list[str]:
    return re.findall(r'<li class="message"[^>]*>', html)


def test_a_change_is_one_put_and_reaches_a_poll_once_per_version(client, room):
    token = page_watermark(client)
    message = post(room)
    first = poll(client, token)
    assert first.status_code == 200 and f'id="m-{message.message_id}"' in first.content.decode()
    token = first["Chat-Watermark"]
    seen = [f"m-{message.message_id}"]

    record = change(message, "hello, edited")
    with count_calls() as calls:
        changed = services.publish_message_update(record)
    assert dict(calls) == {"PutItem": 1}, calls
    assert changed.version == 1 and changed.comment == "hello, edited"

    answer = poll(client, token, seen)
    html = answer.content.decode()
    (li,) = lis(html)
    assert f'id="m-{message.message_id}"' in li and 'data-version="1"' in li and "data-update=" in li
    assert "hello, edited" in html
    # Held by the tab (its cursor lists the ref): not owed again; the same version is never sent twice.
    ref = live.update_ref(message.message_id, 1)
    again = poll(client, answer["Chat-Watermark"], [*seen, ref])
    assert again.status_code == 204
    # A second change is a new version: owed once more.
    services.publish_message_update(change(message, "third text"))
    later = poll(client, answer["Chat-Watermark"], [*seen, ref]).content.decode()
    assert 'data-version="2"' in later and "third text" in later and 'data-version="1"' not in later


def test_a_deletion_drops_the_changes_of_its_message(client, room):
    token = page_watermark(client)
    message = post(room)
    services.publish_message_update(change(message, "changed"))
    services.message_delete(room_id="art", actor=ALICE, author_id="alice", sk=message.sk)
    html = poll(client, token).content.decode()
    assert lis(html) == [] and f'data-deleted="{message.message_id}"' in html


def test_the_event_carries_the_whole_state_reactions_replies_and_quote():
    at = now_ms()
    message = ChatMessage(room_id="art", author_id="alice", sk=keys.message_sk("2030-01-01T00:00:00.000Z", "a" * 20),
                          message_id="a" * 20, created_at="2030-01-01T00:00:00.000Z", author_name="Alice", comment="hi")
    rich = replace(message, version=4, edit_version=1, edited_at="2030-01-01T00:01:00.000Z",
                   reactions=(Reaction("👍", (("bob", "Bob"), ("chen", "Chen"))),), reply_count=2, thread_id="a" * 20,
                   reply_to=ReplyQuote(keys.message_sk("2029-12-31T00:00:00.000Z", "b" * 20), "bob", "Bob", "first line"))
    assert message.with_state_json(rich.state_json) == rich
    assert message.state_json is None  # nothing changeable yet: no `Msg` on its event
    assert message.with_state_json("not json") == message  # a damaged event still shows the message
    update = live.Event(at_ms=at, message_id=message.message_id, message=rich, update=True)
    post_event = live.Event(at_ms=at, message_id=message.message_id, message=message)
    assert update.ref == f"u-{'a' * 20}.4" and post_event.ref == f"m-{'a' * 20}"
    assert sorted([update, post_event], key=lambda e: e.order) == [post_event, update]  # same ms: post first


def test_a_changed_message_read_back_from_the_room_events(room):
    message = post(room)
    record = change(message, "edited")
    record.update(actions=[MessageRecord.reactions.set('[["🎉",[["bob","Bob"]]]]')])
    services.publish_message_update(record)
    _, _, _, updates = live.query_room_events("art", message.created_ms - 1)
    ((_, read_back),) = updates
    assert read_back.comment == "edited" and read_back.version == 1
    assert read_back.reactions == (Reaction("🎉", (("bob", "Bob"),)),)
    assert read_back.edited_at == "2030-01-01T00:00:00.000Z"


@pytest.mark.parametrize("ref", ["u-" + "a" * 20, "u-" + "a" * 20 + ".x", "u-" + "a" * 20 + ".0",
                                 "u-short.3", "x-" + "a" * 20, "u-" + "a" * 20 + ".1234567890"])
def test_a_malformed_change_ref_in_the_cursor_is_400(client, room, ref):
    token = page_watermark(client)
    assert poll(client, token, [ref]).status_code == 400
    assert poll(client, token, [f"u-{'a' * 20}.12"]).status_code in (200, 204)


def test_the_feed_owes_each_version_once_and_nothing_after_a_deletion():
    clock = [1_000_000]
    base = ChatMessage(room_id="r", author_id="alice", sk=keys.message_sk("2030-01-01T00:00:00.000Z", "c" * 20),
                       message_id="c" * 20, created_at="2030-01-01T00:00:00.000Z", author_name="A", comment="x")
    changes: list[tuple[int, ChatMessage]] = []
    deletions = []

    def source(room_id, since, limit=None):
        return [], list(deletions), [], [c for c in changes if c[0] > since]

    feed = live.RoomFeed("r", source=source, clock=lambda: clock[0])
    feed.refresh_now()
    start = feed.watermark_ms
    changes.append((clock[0] + 5, replace(base, version=1)))
    clock[0] += 10
    feed.refresh_now()
    owed = feed.updates(watermark_ms=start, seen=frozenset(), refresh=False).events
    assert [e.ref for e in owed] == [f"u-{'c' * 20}.1"]
    assert feed.updates(watermark_ms=start, seen=frozenset({owed[0].ref}), refresh=False).events == []
    from rooms.models import Deletion
    deletions.append(Deletion(room_id="r", message_id="c" * 20, deleted_at="1970-01-01T00:16:40.020Z"))
    clock[0] += 20
    feed.refresh_now()
    assert [e.ref for e in feed.updates(watermark_ms=start, seen=frozenset(), refresh=False).events] == [f"d-{'c' * 20}"]
