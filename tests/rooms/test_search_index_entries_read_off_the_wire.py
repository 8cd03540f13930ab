"""A search's index Queries read their entries off the wire (the JSON as sent) instead of through
botocore's walk of the answer's shape, which costs ~12 µs an entry (a search reads 100 to 1,000
of them); every other call is parsed by botocore as before."""

from __future__ import annotations

import pytest
from botocore.parsers import BaseJSONParser

from chatsite import dynamodb, keys
from rooms import selectors, services
from tests.rooms.test_search_sizes_reads_by_the_matches_seen import store


@pytest.fixture
def walked(monkeypatch) -> list[str]:
    """The names of the structures botocore's JSON parser walks (one per item and attribute value)."""
    names: list[str] = []
    real = BaseJSONParser._handle_structure
    monkeypatch.setattr(BaseJSONParser, "_handle_structure",
                        lambda self, shape, value: names.append(shape.name) or real(self, shape, value))
    return names


def test_an_index_querys_entries_are_read_off_the_wire(moto_tables, walked):
    room = services.room_create(name="General", created_by="alice")
    store(room, [f"lantern {n}" for n in range(60)])
    scope = keys.search_scope(room.room_id, public=True)
    walked.clear()
    page = selectors.search_hits(scope=scope, term="lantern", lowest=keys.MESSAGE_SK_MIN, below=keys.MESSAGE_SK_MAX,
                                 limit=50)
    assert len(walked) <= 1, walked  # the (emptied) answer itself, not its 50 entries' 150 values
    assert len(page.hits) == 50
    assert [hit.sk for hit in page.hits] == sorted((hit.sk for hit in page.hits), reverse=True)
    assert {(hit.room_id, hit.author_id) for hit in page.hits} == {(room.room_id, "alice")}
    assert page.resume_below == page.hits[-1].sk
    rest = selectors.search_hits(scope=scope, term="lantern", lowest=keys.MESSAGE_SK_MIN, below=page.resume_below,
                                 limit=50)
    assert len(rest.hits) == 10 and rest.resume_below is None
    assert not {hit.sk for hit in rest.hits} & {hit.sk for hit in page.hits}


def test_other_calls_are_still_parsed_by_botocore(moto_tables, walked):
    room = services.room_create(name="General", created_by="alice")
    store(room, [f"lantern {n}" for n in range(5)])
    scope = keys.search_scope(room.room_id, public=True)
    selectors.search_hits(scope=scope, term="lantern", lowest=keys.MESSAGE_SK_MIN, below=keys.MESSAGE_SK_MAX, limit=50)
    walked.clear()
    answer = dynamodb.client().query(TableName=dynamodb.table_name(dynamodb.CHAT),
                                     KeyConditionExpression="PK = :pk",
                                     ExpressionAttributeValues={":pk": {"S": keys.search_pk(scope, "lantern")}})
    assert len(answer["Items"]) == 5
    assert walked.count("AttributeValue") >= 5 * 4, walked  # PK, SK, SRoom, SAuthor of each item
