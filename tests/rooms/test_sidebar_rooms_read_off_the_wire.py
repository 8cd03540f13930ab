"""The sidebar's Query (selectors.user_with_rooms) reads its answer off the wire and decodes each
room with UserRoom.from_item: on every signed-in page, for hundreds of rooms, that is what
botocore's shape walk and PynamoDB's generic decoding cost. Both must give exactly what the
record path gives, for every attribute the record has, and the Query stays one call."""

from __future__ import annotations

import botocore.exceptions
import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st
from pynamodb.attributes import NumberAttribute, NumberSetAttribute, UnicodeAttribute

from chatsite import dynamodb, keys
from chatsite.dynamodb import count_calls
from rooms import selectors, services, validators
from rooms.models import UserRoom, UserRoomRecord
from tests.support.examples import examples
from tests.support.seeding import rooms_created
from tests.support.sessions import request_user
from tests.support.users import ensure_user_item

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)
_VALUES = {UnicodeAttribute: TEXT, NumberAttribute: st.integers(0, 2 ** 53),
           NumberSetAttribute: st.frozensets(st.integers(0, 2 ** 53), min_size=1, max_size=5)}


@st.composite
def user_room_items(draw) -> dict:
    """A membership item as PynamoDB writes it: every attribute the record has, each present or
    absent when it may be. A new attribute of another type fails here, on purpose: teach from_item."""
    record = UserRoomRecord(keys.user_pk("alice"), keys.user_room_sk(draw(st.from_regex(r"[a-z0-9-]{1,20}", fullmatch=True))))
    for name, attribute in UserRoomRecord.get_attributes().items():
        if attribute.is_hash_key or attribute.is_range_key:
            continue
        if attribute.null and draw(st.booleans()):
            continue
        setattr(record, name, draw(_VALUES[type(attribute)]))
    return record.serialize()


@hypothesis_settings(max_examples=examples(300), deadline=None)
@given(item=user_room_items())
def test_from_item_is_the_records_user_room(item):
    assert UserRoom.from_item(item) == UserRoom.from_record(UserRoomRecord.from_raw_data(item))


def test_the_sidebar_query_gives_what_the_record_path_gives_in_one_call(moto_tables):
    rooms = rooms_created([f"Room {n:03d}" for n in range(30)], created_by="alice",
                          kinds=["private" if n % 3 else "public" for n in range(30)])
    ensure_user_item("alice")
    # Read cursors, mentions and a notification setting on some rooms: numbers and a number set
    services.room_join(room=rooms[3], user=request_user("bob"))
    posted = services.message_post(room=rooms[3], author=request_user("bob"), comment="hi @alice",
                                   idempotency_key=validators.new_token()).message
    services.read_cursor_advance(user_id="alice", room_id=rooms[0].room_id, seq=3, pos="2030-01-01T00:00:00.000Z#m")
    services.notify_set(user_id="alice", room_id=rooms[2].room_id, level="all")
    with count_calls() as calls:
        user, read = selectors.user_with_rooms(user_id="alice")
    assert dict(calls) == {"Query": 1}
    assert read == selectors.user_rooms(user_id="alice") and len(read) == 30
    assert user is not None and user.user_id == "alice"
    entries = {entry.room_id: entry for entry in read}
    assert entries[rooms[0].room_id].read_seq == 3 and entries[rooms[0].room_id].read_version == 1
    assert entries[rooms[3].room_id].mention_seqs  # bob's @alice
    assert entries[rooms[2].room_id].notify == "all"
    assert posted.comment == "hi @alice"


def test_a_sidebar_longer_than_one_answer_page_is_read_to_its_end(moto_tables, monkeypatch):
    rooms_created([f"Room {n:03d}" for n in range(12)], created_by="alice")
    real = dynamodb.answers_off_the_wire

    class Paged:  # DynamoDB pages at 1 MB; make every answer a page of 5 items
        def __init__(self, client):
            self._client = client

        def query(self, **request):
            return self._client.query(**request, Limit=5)

    def paged():
        context = real()

        class Wrapped:
            def __enter__(self):
                return Paged(context.__enter__())

            def __exit__(self, *exc):
                return context.__exit__(*exc)
        return Wrapped()

    monkeypatch.setattr(dynamodb, "answers_off_the_wire", paged)
    with count_calls() as calls:
        _, read = selectors.user_with_rooms(user_id="alice")
    assert len(read) == 12 and calls["Query"] >= 3
    assert read == selectors.user_rooms(user_id="alice")


def test_an_error_answer_is_still_parsed_into_botocores_error(moto_tables):
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        with dynamodb.answers_off_the_wire() as client:
            client.query(TableName="no_such_table", KeyConditionExpression="PK = :pk",
                         ExpressionAttributeValues={":pk": {"S": "x"}})
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
