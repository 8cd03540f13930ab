"""`manage.py reindex --all` on dynalite (what `make run` uses): a paged Scan of the room_messages
index, every room's messages indexed in their scopes."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from chatsite import dynamodb, keys
from rooms import search_terms, services, validators
from tests.support.sessions import request_user

pytestmark = pytest.mark.integration
ALICE = request_user("alice")


def index_sks(scope: str, term: str) -> list[str]:
    answer = dynamodb.client().query(TableName=dynamodb.table_name(dynamodb.CHAT), ConsistentRead=True,
                                     KeyConditionExpression="PK = :pk",
                                     ExpressionAttributeValues={":pk": {"S": keys.search_pk(scope, term)}})
    return sorted(item["SK"]["S"] for item in answer["Items"])


def test_reindex_all_pages_through_every_room(dynalite_tables, settings):
    settings.CHAT_SEARCH_INDEXER = "off"
    settings.CHAT_POST_RATE_LIMIT = 1000
    art = services.room_create(name="Art", created_by="alice")
    den = services.room_create(name="Den", created_by="alice", kind="private")
    posted = {room.room_id: [services.message_post(room=room, author=ALICE, comment=f"guanaco sighting {n}",
                                                   idempotency_key=validators.new_token()).message for n in range(3)]
              for room in (art, den)}
    assert index_sks("pub", "guanaco") == []
    out = io.StringIO()
    call_command("reindex", "--all", "--page-size", "2", stdout=out, stderr=io.StringIO())
    assert "reindexed 6 messages" in out.getvalue()
    assert index_sks("pub", "guanaco") == sorted(m.sk for m in posted["art"])
    assert index_sks("r:den", "guanaco") == sorted(m.sk for m in posted["den"])
    assert index_sks("r:den", "sighting") == sorted(m.sk for m in posted["den"])
    assert "sig" in search_terms.index_terms("sighting") and index_sks("pub", "sig") == sorted(m.sk for m in posted["art"])
