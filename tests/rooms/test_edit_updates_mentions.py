"""An edit reaches the copies of a message's mentions (services.message_edit): the message's
Mentions keeps only the people the new text still mentions (nobody new is notified by an edit),
the mention items (the Mentions page) of those still mentioned get the new excerpt, and those of
people no longer mentioned are deleted, in one BatchWriteItem with the `u-` live event, so an edit
costs the same number of calls with or without mentions. On moto."""

from __future__ import annotations

import re

import pytest

from chatsite import keys
from chatsite.dynamodb import count_calls
from rooms import live, selectors, services, validators
from rooms.models import MessageRecord
from tests.support.sessions import request_user, sign_in
from tests.support.users import ensure_user_item

ALICE = request_user("alice")


@pytest.fixture(autouse=True)
def many_posts(settings):
    settings.CHAT_POST_RATE_LIMIT = 1000


@pytest.fixture
def members(room):
    """Art (alice owns it) with bob, carol and dave as members."""
    for name in ("bob", "carol", "dave"):
        services.room_join(room=room, user=request_user(name))
    return room


def post(room, text: str):
    return services.message_post(room=room, author=ALICE, comment=text,
                                 idempotency_key=validators.new_token()).message


def edit(room, message, text: str, actor=ALICE):
    return services.message_edit(room=room, actor=actor, author_id=message.author_id, sk=message.sk,
                                 comment=text, seen_version=message.edit_version)


def excerpts(user_id: str) -> list[str]:
    return [m.excerpt for m in selectors.user_mentions(user_id=user_id).items]


def test_an_edit_keeps_only_the_mentions_still_in_the_text_and_their_excerpts_follow(members):
    message = post(members, "hi @bob and @carol")
    assert message.mentions == ("bob", "carol") and excerpts("bob") == ["hi @bob and @carol"]
    edited = edit(members, message, "hi @carol, and @dave who was not mentioned before")
    # bob is mentioned no more; dave is new to the text but an edit notifies nobody.
    assert edited.mentions == ("carol",)
    stored = MessageRecord.get(keys.user_pk("alice"), message.sk, consistent_read=True)
    assert list(stored.mentions) == ["carol"]
    assert excerpts("carol") == ["hi @carol, and @dave who was not mentioned before"]
    assert excerpts("bob") == [] and excerpts("dave") == []
    # The live update carries the new list: open tabs stop highlighting the message for bob.
    *_, updates = live.query_room_events("art", message.created_ms - 1)
    assert [changed.mentions for _, changed in updates] == [("carol",)]


def test_the_room_page_stops_marking_the_message_for_someone_the_edit_removed(client, members):
    message = post(members, "hi @bob and @carol")
    edit(members, message, "hi @carol")
    sign_in(client, "bob")
    page = client.get("/rooms/art/").content.decode()
    li = re.search(rf'<li class="message" id="m-{message.message_id}"[^>]*>', page).group(0)
    assert 'data-mentions="carol"' in li  # mentions.js marks it for carol only


def test_removing_every_mention_removes_the_list_and_every_mention_item(members):
    message = post(members, "hi @bob and @carol")
    edited = edit(members, message, "hi all")
    assert edited.mentions == ()
    assert MessageRecord.get(keys.user_pk("alice"), message.sk, consistent_read=True).mentions is None
    assert excerpts("bob") == [] and excerpts("carol") == []


def test_an_edit_costs_as_many_calls_with_mentions_as_without(members):
    plain = post(members, "no one in particular")
    with count_calls() as without:
        edit(members, plain, "still no one")
    mentioning = post(members, "hi @bob and @carol")
    with count_calls() as with_mentions:
        edit(members, mentioning, "hi @carol")
    # The u- event goes into the mention items' BatchWriteItem instead of its own PutItem.
    assert sum(with_mentions.values()) == sum(without.values()), (with_mentions, without)
    assert with_mentions["BatchWriteItem"] == 1 and "BatchWriteItem" not in without
    assert with_mentions["PutItem"] == without["PutItem"] - 1
    assert dict(with_mentions) == {"GetItem": 1, "UpdateItem": 2, "PutItem": 1, "BatchWriteItem": 1}, \
        with_mentions


def test_an_edit_that_changes_no_mention_item_writes_none(members):
    message = post(members, "@bob " + "x" * 200)  # the excerpt is the first 140 characters
    with count_calls() as calls:
        edit(members, message, "@bob " + "x" * 200 + " and more")
    assert "BatchWriteItem" not in calls, calls
    assert excerpts("bob") == ["@bob " + "x" * 135]


def test_a_mention_the_author_was_not_notified_of_is_not_linked_after_the_edit_either(members):
    ensure_user_item("erin")  # not a member: never notified, never stored
    message = post(members, "@erin and @bob")
    assert message.mentions == ("bob",)
    edited = edit(members, message, "@erin and @bob again")
    assert edited.mentions == ("bob",) and excerpts("erin") == []
