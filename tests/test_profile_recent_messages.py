"""The profile page lists the user's recent messages as plain values (rooms.selectors.user_messages
gives ChatMessage, like every other message read), with a time written for people."""

import re

from chatsite import keys
from rooms import selectors
from rooms.models import ChatMessage, MessageRecord
from tests.support.sessions import sign_in


def _stored_message(created_at: str, comment: str) -> None:
    MessageRecord(keys.user_pk("alice"), keys.message_sk(created_at, "m1xxxxxxxxxxxxxxxxxx"),
                  room_id="art", created_at=created_at, comment=comment, author_name="Alice").save()


def test_user_messages_are_chat_messages(moto_tables):
    _stored_message("2026-01-02T03:04:05.006Z", "hello")
    [message] = selectors.user_messages(user_id="alice")
    assert isinstance(message, ChatMessage)
    assert (message.room_id, message.comment, message.created_at) == ("art", "hello", "2026-01-02T03:04:05.006Z")


def test_profile_shows_a_formatted_time_not_the_stored_string(moto_tables, client):
    _stored_message("2026-01-02T03:04:05.006Z", "hello <there>")
    sign_in(client, "alice")
    body = client.get("/accounts/profile/").content.decode()
    text = re.sub(r"<[^>]+>", " ", body)  # what people read, without attribute values
    assert "2026-01-02 03:04 UTC" in text
    assert "2026-01-02T03:04:05.006Z" not in text
    assert 'datetime="2026-01-02T03:04:05.006Z"' in body
    assert "hello &lt;there&gt;" in body and 'href="/rooms/art/"' in body
