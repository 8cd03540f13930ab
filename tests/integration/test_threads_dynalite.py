"""Replies on dynalite: the thread index answers the thread view's Query, page by page, and the
root's count follows posts and deletions."""

from __future__ import annotations

import pytest

from chatsite.dynamodb import count_calls
from rooms import selectors, services, validators
from tests.support.sessions import request_user

pytestmark = pytest.mark.integration


def test_a_thread_pages_through_the_thread_index_on_dynalite(dynalite_tables, settings):
    settings.CHAT_POST_RATE_LIMIT = 1000
    room = services.room_create(name="Art", created_by="alice")

    def say(text, author="alice", reply_to=None):
        return services.message_post(room=room, author=request_user(author), comment=text,
                                     idempotency_key=validators.new_token(), reply_to=reply_to).message

    root = say("root")
    replies = [say(f"reply {n}", author="bob", reply_to=(root.author_id, root.sk)) for n in range(5)]
    nested = say("nested", reply_to=(replies[0].author_id, replies[0].sk))
    seen, cursor = [], None
    while True:
        with count_calls() as calls:
            page = selectors.thread_messages(thread_id=root.message_id, cursor=cursor, limit=2)
        assert calls == {"Query": 1}, calls
        seen += [m.message_id for m in page.items]
        cursor = page.next_cursor
        if not cursor:
            break
    assert seen == [m.message_id for m in [root, *replies, nested]]
    assert selectors.thread_root(thread_id=root.message_id).sk == root.sk
    services.message_delete(room_id="art", actor=request_user("alice"), author_id="alice", sk=nested.sk)
    assert selectors.message_get(author_id="alice", sk=root.sk).reply_count == 5
