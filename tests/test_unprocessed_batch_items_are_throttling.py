"""A batch whose items DynamoDB keeps refusing (UnprocessedItems after every retry) is throttling in
all but name: the user gets the 503 "try again" page, never a 500; and an edit already saved when its
follow-up batch is refused still answers with the edit and still tells every open tab."""

from __future__ import annotations

import pytest

from chatsite import dynamodb
from chatsite.batch import UnprocessedItemsRemain
from rooms import live, services, validators
from tests.support.sessions import request_user, sign_in

ALICE = request_user("alice")


def test_unprocessed_items_count_as_throttling():
    assert dynamodb.unavailable_cause(UnprocessedItemsRemain("3 items left")).startswith("throttled")


def test_a_post_whose_batch_is_refused_gets_the_503_page(client, moto_tables, monkeypatch):
    services.room_create(name="Art", created_by="alice")
    sign_in(client, "alice")
    page = client.get("/rooms/art/").content.decode()
    key = page.split('name="idempotency_key" value="')[1].split('"')[0]

    def refused(*args, **kwargs):
        raise UnprocessedItemsRemain("DynamoDB kept 3 items unprocessed")

    monkeypatch.setattr(services, "batch_put_items", refused)
    response = client.post("/rooms/art/messages", {"comment": "hello", "idempotency_key": key})
    assert response.status_code == 503 and response.has_header("Retry-After")


@pytest.fixture
def mentioned(moto_tables, settings):
    settings.CHAT_POST_RATE_LIMIT = 100
    room = services.room_create(name="Art", created_by="alice")
    services.room_join(room=room, user=request_user("bob"))
    return room


def test_an_edit_saved_before_its_batch_is_refused_still_answers_and_reaches_open_tabs(mentioned, monkeypatch, settings):
    message = services.message_post(room=mentioned, author=ALICE, comment="hi @bob",
                                    idempotency_key=validators.new_token()).message
    settings.CHAT_LIVE_REFRESH_SECONDS = 0
    live.clear_feeds()

    def refused(*args, **kwargs):
        raise UnprocessedItemsRemain("DynamoDB kept 2 items unprocessed")

    monkeypatch.setattr(services, "batch_write", refused)
    edited = services.message_edit(room=mentioned, actor=ALICE, author_id="alice", sk=message.sk,
                                   comment="hi @bob, edited", seen_version=0)
    assert edited.comment == "hi @bob, edited" and edited.edit_version == 1
    _, _, _, changes = live.query_room_events("art", message.created_ms - 1)
    assert [m.comment for _, m in changes] == ["hi @bob, edited"]  # the u- event went out on its own
