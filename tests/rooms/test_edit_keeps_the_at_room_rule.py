"""An edit cannot get around @room's rule: in a room of more than 20 members only the owner's
messages may mention the whole room, whether @room is posted or edited in (services.message_edit
calls room_mention_check when the new text has @room and the old one did not). On moto."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from chatsite.dynamodb import count_calls
from rooms import selectors, services, validators
from tests.support.sessions import request_user, sign_in

HX = {"HTTP_HX_REQUEST": "true"}
REFUSAL = "Only the room&#x27;s owner can use @room in a room of more than 20 members"


@pytest.fixture(autouse=True)
def many_posts(settings):
    settings.CHAT_POST_RATE_LIMIT = 1000


def fill(room, count: int):
    for n in range(count):
        services.membership_add(room=room, user_id=f"member{n:02d}", display_name=f"M {n}", read_seq=0)


def post(room, text: str, author: str):
    return services.message_post(room=room, author=request_user(author), comment=text,
                                 idempotency_key=validators.new_token()).message


def edit(room, message, text: str, actor):
    return services.message_edit(room=room, actor=actor, author_id=message.author_id, sk=message.sk,
                                 comment=text, seen_version=message.edit_version)


def test_a_member_cannot_edit_at_room_into_a_message_of_a_big_room_and_nothing_is_written(room):
    fill(room, 20)  # + alice, the owner: 21 members
    message = post(room, "lunch?", "member00")
    with count_calls() as calls, pytest.raises(ValidationError) as caught:
        edit(room, message, "@room lunch?", request_user("member00"))
    assert caught.value.code == "room_mention"
    # The message's GetItem and the counting Query; no write at all (no history item either).
    assert dict(calls) == {"GetItem": 1, "Query": 1}, calls
    stored = selectors.message_get(author_id="member00", sk=message.sk)
    assert stored.comment == "lunch?" and stored.edit_version == 0 and not stored.mentions_room
    assert selectors.message_edits(author_id="member00", sk=message.sk) == []


def test_staff_cannot_edit_at_room_into_a_members_message_of_a_big_room(room):
    fill(room, 20)
    message = post(room, "lunch?", "member00")
    with pytest.raises(ValidationError):
        edit(room, message, "lunch? @room", request_user("sam", is_staff=True))
    assert selectors.message_get(author_id="member00", sk=message.sk).comment == "lunch?"


def test_the_owners_message_may_gain_at_room_with_no_count_read(room):
    fill(room, 20)
    message = post(room, "lunch?", "alice")
    with count_calls() as calls:
        edited = edit(room, message, "@room lunch?", request_user("alice"))
    assert "Query" not in calls and edited.mentions_room


def test_a_message_that_already_had_at_room_is_not_counted_again(room):
    fill(room, 19)  # + alice: 20, so member03 may use @room
    message = post(room, "@room lunch?", "member03")
    fill(room, 21)  # the room grew past 20 since: the message keeps the @room it was posted with
    with count_calls() as calls:
        edited = edit(room, message, "@room lunch at noon?", request_user("member03"))
    assert "Query" not in calls and edited.comment == "@room lunch at noon?"


def test_up_to_twenty_members_a_member_may_edit_at_room_in_for_one_counting_query(room):
    fill(room, 19)
    message = post(room, "lunch?", "member03")
    with count_calls() as calls:
        edited = edit(room, message, "@room lunch?", request_user("member03"))
    assert calls["Query"] == 1 and edited.mentions_room


def test_the_edit_form_refuses_at_room_with_a_400_and_keeps_the_text(client, room):
    fill(room, 20)
    message = post(room, "lunch?", "member00")
    sign_in(client, "member00")
    for extra in ({}, HX):
        form = {"author": "member00", "sk": message.sk, "comment": "@room lunch at one?", "version": 0}
        response = client.post("/rooms/art/messages/edit", form, **extra)
        body = response.content.decode()
        assert response.status_code == 400 and REFUSAL in body, extra
        assert "@room lunch at one?</textarea>" in body, extra  # the user's text is kept
    assert selectors.message_get(author_id="member00", sk=message.sk).comment == "lunch?"
