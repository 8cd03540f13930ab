""""@room" in a message mentions every member of the room, so "room" can't be taken as a username
(a person named so could never be mentioned): sign-up, the service and create_user all refuse it
with words that say why. Looking up or signing in with any name is unchanged."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from accounts import selectors, services
from accounts.validators import validate_username

PASSWORD = "a long enough password 1"


def test_sign_up_refuses_room_and_creates_nothing(moto_tables, client):
    for name in ("room", "ROOM", "Room"):
        response = client.post("/accounts/signup/", {"username": name, "display_name": "Roomy",
                                                     "password1": PASSWORD, "password2": PASSWORD})
        assert response.status_code == 200
        assert "mentions everyone in the room" in response.content.decode()
    assert selectors.user_get(user_id="room") is None
    assert validate_username("room") == "room"  # lookups are not affected


def test_the_service_and_the_command_refuse_it(moto_tables):
    with pytest.raises(ValidationError, match="reserved"):
        services.user_create(username="room", display_name="Roomy", password=PASSWORD)
    with pytest.raises(CommandError, match="mentions everyone"):
        call_command("create_user", "room", "--password-stdin")  # refused before any password is read
    assert selectors.user_get(user_id="room") is None
    assert services.user_create(username="roomy", display_name="Roomy", password=PASSWORD).user_id == "roomy"
