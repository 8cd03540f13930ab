"""Deleting a thread's root from its thread view without JavaScript (say, a message with no reply yet,
opened through its Reply link) ends on the room page with the note, not on the 404 the thread view of
a message that is gone now is (tests/rooms/test_thread_view_while_the_index_catches_up.py)."""

from __future__ import annotations

import re
from urllib.parse import quote

from rooms import services, validators
from tests.support.sessions import request_user, sign_in


def test_deleting_the_root_from_its_thread_view_ends_on_the_room_page(client, room):
    message = services.message_post(room=room, author=request_user("alice"), comment="Lunch at noon?",
                                    idempotency_key=validators.new_token()).message
    url = f"/rooms/art/threads/{message.message_id}/?author=alice&sk={quote(message.sk)}"
    sign_in(client, "alice")
    assert client.get(url).status_code == 200
    deleted = client.post("/rooms/art/messages/delete", {"author": "alice", "sk": message.sk, "next": url})
    assert deleted.status_code == 302 and re.fullmatch(r"/rooms/art/\?sent=\d+#latest", deleted["Location"])
    page = client.get(deleted["Location"])
    assert page.status_code == 200 and "Message deleted." in page.content.decode()


def test_deleting_a_reply_from_its_thread_view_still_comes_back_to_the_thread(client, room):
    services.room_join(room=room, user=request_user("bob"))
    root = services.message_post(room=room, author=request_user("alice"), comment="Lunch at noon?",
                                 idempotency_key=validators.new_token()).message
    reply = services.message_post(room=room, author=request_user("bob"), comment="Yes",
                                  idempotency_key=validators.new_token(), reply_to=("alice", root.sk)).message
    url = f"/rooms/art/threads/{root.message_id}/"
    sign_in(client, "bob")
    deleted = client.post("/rooms/art/messages/delete", {"author": "bob", "sk": reply.sk, "next": url})
    assert deleted.status_code == 302 and deleted["Location"] == url
