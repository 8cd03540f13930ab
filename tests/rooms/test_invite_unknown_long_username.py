"""Inviting a username longer than any username can be says there is no such user, as for any
unknown name, and writes nothing."""

from __future__ import annotations

from rooms import selectors
from tests.rooms.test_private_rooms import den  # noqa: F401 (a fixture)
from tests.support.sessions import sign_in


def test_a_too_long_username_is_an_unknown_user(client, den):
    sign_in(client, "alice")
    name = "x" * 300
    body = client.post("/rooms/den/invite", {"username": name}, follow=True).content.decode()
    assert "There is no user named “" in body and "Check the spelling" in body
    assert "Type the username of the person to invite." not in body
    assert [m.user_id for m in selectors.all_room_members(room_id="den")] == ["alice"]


def test_an_empty_username_still_asks_for_one(client, den):
    sign_in(client, "alice")
    body = client.post("/rooms/den/invite", {"username": "  "}, follow=True).content.decode()
    assert "Type the username of the person to invite." in body
