"""The room page keeps its call budget with everything a message can carry on it at once: an edited
message, reactions, a reply with its quote, a root with its reply count, formatting and permanent
links. All of it is on the message items the history Query already returns, so the page is still the
session, the user with the sidebar, the history, and the unread counts' BatchGetItem."""

from __future__ import annotations

import re

import pytest

from chatsite import caches
from chatsite.dynamodb import count_calls
from rooms import services, validators
from tests.support.sessions import request_user, sign_in
from tests.support.users import ensure_user_item


@pytest.fixture
def busy_room(moto_tables, settings):
    settings.CHAT_POST_RATE_LIMIT = 1000
    for name in ("alice", "bob"):
        ensure_user_item(name, display_name=name.title())
    room = services.room_create(name="Art", created_by="alice", created_by_name="Alice")
    services.room_join(room=room, user=request_user("bob"))
    return room


def say(room, author, text, reply_to=None):
    return services.message_post(room=room, author=request_user(author), comment=text,
                                 idempotency_key=validators.new_token(), reply_to=reply_to).message


def test_the_room_page_with_edits_reactions_replies_and_formatting_is_still_its_budget(client, busy_room):
    root = say(busy_room, "alice", "first *plan*\nsecond line")
    services.message_edit(room=busy_room, actor=request_user("alice"), author_id="alice", sk=root.sk,
                          comment="first **plan**, `v2`\nsecond line", seen_version=0)
    services.reaction_set(room=busy_room, user=request_user("bob"), author_id="alice",
                          sk=root.sk, emoji="👍", on=True)
    reply = say(busy_room, "bob", "> agreed\nship it", reply_to=("alice", root.sk))
    # Alice has read it all: the page is the newest one (an unread room opens around the read cursor,
    # one history Query more: tests/rooms/test_unread_budgets.py).
    services.read_cursor_advance(user_id="alice", room_id="art", seq=reply.seq, pos=reply.sk)
    sign_in(client, "alice", display_name="Alice")
    client.get("/rooms/art/")
    caches.clear_all()
    with count_calls() as calls:
        response = client.get("/rooms/art/")
    assert response.status_code == 200
    assert dict(calls) == {"Query": 3, "BatchGetItem": 1}, calls

    html = response.content.decode()
    root_li = re.search(rf'<li class="message" id="m-{root.message_id}".*?</li>\s*(?=<li|</ol>)', html, re.S).group()
    reply_li = re.search(rf'<li class="message" id="m-{reply.message_id}".*?</li>\s*(?=<li|</ol>)', html, re.S).group()
    assert "(edited)" in root_li and "<strong>plan</strong>" in root_li and "<code>v2</code>" in root_li
    assert 'aria-label="👍 1: Bob"' in root_li
    assert "1 reply" in root_li
    assert "<blockquote>" in reply_li  # its own text's block quote
    assert "Alice" in reply_li and root.permalink.replace("&", "&amp;") in reply_li  # the quote links to it
    assert html.count("Copy link") >= 2
