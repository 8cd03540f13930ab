"""Searching on dynalite (a real DynamoDB protocol server, not moto): the index Queries (key range,
FilterExpression, descending, Limit, LastEvaluatedKey), the consistent BatchGetItem of rooms, the
signed cursor across pages, who may read what, and the calls a search makes, never a Scan."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
from django.test import Client

from chatsite.batch import batch_put_items
from chatsite.dynamodb import count_calls
from rooms import search, services, validators
from rooms.models import PRIVATE, ChatMessage, MessageRecord
from tests.rooms.test_search import find, results, say
from tests.support.sessions import sign_in
from tests.support.users import ensure_user_item

pytestmark = pytest.mark.integration


@pytest.fixture
def scene(dynalite_tables, settings):
    settings.CHAT_SEARCH_INDEXER = "inline"
    settings.CHAT_POST_RATE_LIMIT = 1000
    general = services.room_create(name="General", created_by="alice")
    plans = services.room_create(name="Plans", created_by="alice", kind=PRIVATE)
    for n in range(3):
        services.room_create(name=f"Team {n}", created_by="alice", kind=PRIVATE)
    ensure_user_item("bob")
    say(plans, "the pineapple launch is friday")
    say(general, "pineapple cake for everyone", author="bob")
    for day, text in (("2026-03-01", "quarterly report one"), ("2026-03-02", "quarterly report two")):
        item = services.message_item(room_id="general", author_id="alice", author_name="Alice",
                                     created_at=f"{day}T23:59:59.999Z", message_id=validators.new_token(), comment=text)
        batch_put_items([item])
        search.backend.index_message(ChatMessage.from_record(MessageRecord.from_raw_data(item)), room=general)
    return general


def test_search_on_dynalite(scene):
    alice, bob = Client(), Client()
    sign_in(alice, "alice")
    sign_in(bob, "bob")
    alice.get("/search/")  # the session, the sidebar and its unread counts, warm

    with count_calls() as calls:
        assert find(alice, "pineapple") == ["pineapple cake for everyone", "the pineapple launch is friday"]
    # session + sidebar; pub + 4 private scopes (in parallel); the messages; the public room's name.
    assert dict(calls) == {"Query": 2 + 5, "BatchGetItem": 2}, calls
    assert find(bob, "pineapple") == ["pineapple cake for everyone"]
    assert find(bob, "launch") == []
    assert "There is no room “plans” to search." in bob.get("/search/", {"q": "launch in:plans"}).content.decode()
    assert find(alice, "launch in:plans") == ["the pineapple launch is friday"]
    assert find(alice, "pineapple in:general from:bob") == ["pineapple cake for everyone"]
    assert find(alice, "pineapple from:alice") == ["the pineapple launch is friday"]
    assert find(alice, "quarterly before:2026-03-02") == ["quarterly report one"]
    assert find(alice, "quarterly after:2026-03-01") == ["quarterly report two"]


def test_pages_and_the_read_budget_on_dynalite(scene, monkeypatch):
    for n in range(23):
        say(scene, f"ticket {n:02d}")
    client = Client()
    first = client.get("/search/", {"q": "ticket"})
    assert results(first) == [f"ticket {n:02d}" for n in range(22, 2, -1)]
    cursor = unquote(re.search(r'after=([^"]+)"', first.content.decode()).group(1))
    assert results(client.get("/search/", {"q": "ticket", "after": cursor})) == ["ticket 02", "ticket 01", "ticket 00"]
    assert client.get("/search/", {"q": "ticket", "after": cursor[:-2] + "xx"}).status_code == 400

    # A word whose entries fail the other word's check: the page stops at its budget.
    monkeypatch.setattr(search, "MAX_CANDIDATES", 10)
    monkeypatch.setattr(search, "HITS_PER_QUERY", 4)
    with count_calls() as calls:
        page = client.get("/search/", {"q": "ticket zzz"})  # zzz: no entries, complete: followed, nothing read
    assert results(page) == [] and dict(calls) == {"Query": 2}, calls
    with count_calls() as calls:
        page = client.get("/search/", {"q": "ticket 5"})  # 5: no term (1 character), ticket followed; no word starts with 5
    assert results(page) == [] and 'id="older-results"' in page.content.decode()
    # 4 entries, too few to fill the page; round 2 reads the 20 the page still needs and a quarter
    # more, and the budget of 10 messages is read at once.
    assert calls["Query"] == 2 and calls["BatchGetItem"] == 1 and "Scan" not in calls, calls
