"""An idempotency key already used in one room is refused in another, with a clear error, the text
kept and a fresh key: before, the post guard called it a duplicate and the new text was dropped."""

from __future__ import annotations

import re

import pytest

from chatsite.dynamodb import count_calls
from rooms import selectors, services, validators
from tests.support.sessions import request_user, sign_in

ALICE = request_user("alice")
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def rooms(moto_tables):
    return (services.room_create(name="Art", created_by="alice"),
            services.room_create(name="Music", created_by="alice"))


def comments(room_id):
    return [m.comment for m in selectors.room_history(room_id=room_id).items]


def test_service_refuses_a_key_used_in_another_room(rooms):
    art, music = rooms
    key = validators.new_token()
    services.message_post(room=art, author=ALICE, comment="for art", idempotency_key=key)
    with count_calls() as calls, pytest.raises(services.IdempotencyKeyUsedElsewhere) as refused:
        services.message_post(room=music, author=ALICE, comment="for music", idempotency_key=key)
    assert "another room" in str(refused.value.message)
    assert comments("art") == ["for art"] and comments("music") == []
    # no more than a duplicate costs: the refused claim, one read of the stored message (read before
    # any put, so a retry takes no second Seq)
    assert calls == {"UpdateItem": 1, "GetItem": 2}, calls
    # the same key in its own room is still an ordinary duplicate
    again = services.message_post(room=art, author=ALICE, comment="for art", idempotency_key=key)
    assert again.duplicate and comments("art") == ["for art"]


def _form(client, room_id):
    page = client.get(f"/rooms/{room_id}/").content.decode()
    return re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)


def test_htmx_post_with_a_key_from_another_room_is_400_with_a_fresh_key(client, rooms):
    sign_in(client, "alice")
    key = _form(client, "art")
    assert client.post("/rooms/art/messages", {"comment": "for art", "idempotency_key": key}, **HX).status_code == 200
    response = client.post("/rooms/music/messages", {"comment": "for music", "idempotency_key": key}, **HX)
    body = response.content.decode()
    assert response.status_code == 400
    assert "already used to send a message in another room" in body
    fresh = re.search(r'name="idempotency_key" value="([^"]+)"[^>]*hx-swap-oob', body).group(1)  # out of band
    assert fresh != key and validators.is_token(fresh)
    assert comments("music") == []
    retry = client.post("/rooms/music/messages", {"comment": "for music", "idempotency_key": fresh}, **HX)
    assert retry.status_code == 200 and comments("music") == ["for music"]


def test_plain_post_with_a_key_from_another_room_keeps_the_text(client, rooms):
    sign_in(client, "alice")
    key = _form(client, "art")
    assert client.post("/rooms/art/messages", {"comment": "for art", "idempotency_key": key}).status_code == 302
    response = client.post("/rooms/music/messages", {"comment": "for music", "idempotency_key": key})
    body = response.content.decode()
    assert response.status_code == 400
    assert "already used to send a message in another room" in body
    assert re.search(r"<textarea[^>]*>\s*for music</textarea>", body)
    fresh = re.search(r'name="idempotency_key" value="([^"]+)"', body).group(1)
    assert fresh != key and comments("music") == []
