"""tests/support/seeding.py builds big scenes in a few BatchWriteItems instead of the services'
conditional writes. Tests that use it are only as honest as its items: here, the services and the
seeding helpers build the same scene and the chat table ends up with the same items, attribute by
attribute, once the values that differ by nature (the clock, random message ids, the post guard
that seeding leaves out on purpose) are set aside."""

from __future__ import annotations

import json
import re
import time

from django.conf import settings

from chatsite import dynamodb, keys
from chatsite.batch import batch_delete_keys
from rooms import selectors, services, validators
from tests.support import seeding
from tests.support.sessions import request_user

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
KINDS = ["public", "private", "public", "private"]


def table_items() -> list[dict]:
    client, table = dynamodb.client(), dynamodb.table_name(dynamodb.CHAT)
    items, start = [], {}
    while True:
        page = client.scan(TableName=table, ConsistentRead=True, **start)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}


def emptied() -> list[dict]:
    """The table's items, then the table emptied."""
    items = table_items()
    batch_delete_keys((item["PK"]["S"], item["SK"]["S"]) for item in items)
    assert table_items() == []
    selectors.clear_seq_cache()
    return items


def normalised(items: list[dict]) -> list[str]:
    """Each item as JSON with timestamps as <T>, message ids as <id n> (n: the message's Seq) and
    live events' expiry as its distance from now + the TTL, rounded away; the post guard dropped."""
    ids = {}
    for item in items:
        if item["SK"]["S"][:1].isdigit() and "Seq" in item:  # a message: `User:<uid>` / `<CreatedAt>#<id>`
            ids[keys.message_sk_parts(item["SK"]["S"])[1]] = f"<id {item['Seq']['N']}>"
    expected_expiry = time.time() + settings.CHAT_LIVE_EVENT_TTL_SECONDS
    out = []
    for item in items:
        if item["PK"]["S"].startswith(keys.post_guard_pk("")):
            continue
        if dynamodb.CHAT_TTL_ATTRIBUTE in item:
            assert abs(int(item[dynamodb.CHAT_TTL_ATTRIBUTE]["N"]) - expected_expiry) < 120
            item = {**item, dynamodb.CHAT_TTL_ATTRIBUTE: "<now + TTL>"}
        text = TIMESTAMP.sub("<T>", json.dumps(item, sort_keys=True))
        for message_id, name in ids.items():
            text = text.replace(message_id, name)
        out.append(text)
    return sorted(out)


def test_rooms_created_writes_what_room_create_writes(moto_tables):
    names = [f"Room {n:03d}" for n in range(len(KINDS))]
    for name, kind in zip(names, KINDS):
        services.room_create(name=name, created_by="alice", kind=kind, description="about it",
                             created_by_name="Alice A")
    by_services = emptied()
    seeding.rooms_created(names, created_by="alice", kinds=KINDS, description="about it", created_by_name="Alice A")
    by_seeding = table_items()
    assert len(by_services) == 14  # meta, member, user's room; + the directory entry for public rooms
    assert normalised(by_seeding) == normalised(by_services)


def test_messages_posted_writes_what_message_post_writes_but_the_post_guard(moto_tables, settings):
    settings.CHAT_POST_RATE_LIMIT = 1000
    bob = request_user("bob")
    comments = [f"message {n:03d}" for n in range(30)]  # more than one batch

    def scene(post):
        room = services.room_create(name="Art", created_by="alice")
        services.message_post(room=room, author=bob, comment="before", idempotency_key=validators.new_token())
        return post(room)

    posted = scene(lambda room: [services.message_post(room=room, author=bob, comment=comment,
                                                       idempotency_key=validators.new_token()).message
                                 for comment in comments])
    by_services = emptied()
    seeded = scene(lambda room: seeding.messages_posted(room, comments, author=bob))
    by_seeding = table_items()
    assert any(item["PK"]["S"] == keys.post_guard_pk("bob") for item in by_services)
    # the room's 4 items, 31 messages with their live and activity events, the guard
    assert len(by_services) == 4 + 3 * 31 + 1
    assert normalised(by_seeding) == normalised(by_services)
    # What the test sees next is the same too: the messages, in Seq order, and the room's Seq.
    assert [(m.seq, m.comment, m.author_id, m.author_name) for m in seeded] == \
        [(m.seq, m.comment, m.author_id, m.author_name) for m in posted]
    history = selectors.room_history(room_id="art", limit=100).items
    assert [m.message_id for m in history][-30:] == [m.message_id for m in seeded]
    assert selectors.room_seq(room_id="art") == 31
    later = services.message_post(room=selectors.room_get(room_id="art"), author=bob, comment="after",
                                  idempotency_key=validators.new_token()).message
    assert later.seq == 32 and later.sk > seeded[-1].sk
