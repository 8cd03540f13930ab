"""Room URLs: an id longer than any room can have is a plain 404 from the URL resolver, before any
DynamoDB call (a key over DynamoDB's 2 KB limit used to surface as a 500)."""

from __future__ import annotations

import pytest
from django.urls import Resolver404, resolve, reverse

from chatsite.dynamodb import count_calls
from rooms import services
from rooms.validators import ROOM_ID_MAX_LENGTH

SUFFIXES = ["/", "/messages", "/messages/delete", "/updates"]


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("length", [ROOM_ID_MAX_LENGTH + 1, 2100, 5000])
def test_an_over_long_room_id_is_a_404_without_touching_dynamodb(moto_tables, client, suffix, length):
    path = "/rooms/" + "a" * length + suffix
    with pytest.raises(Resolver404):
        resolve(path)
    with count_calls() as calls:
        response = client.post(path) if "messages" in suffix else client.get(path, {"w": "1"})
    assert response.status_code == 404
    assert sum(calls.values()) == 0, calls


def test_the_longest_room_id_still_resolves(moto_tables, client):
    room = services.room_create(name="r" * ROOM_ID_MAX_LENGTH, created_by="alice")
    assert len(room.room_id) == ROOM_ID_MAX_LENGTH
    url = reverse("rooms:room", args=[room.room_id])
    assert resolve(url).kwargs["room_id"] == room.room_id
    assert client.get(url).status_code == 200


@pytest.mark.integration
def test_a_two_kilobyte_room_id_is_a_404_on_dynalite(dynalite_tables, client):
    # DynamoDB rejects a key over 2 KB with a ValidationException: before the bound, a 500.
    assert client.get("/rooms/" + "a" * 2100 + "/").status_code == 404
    assert client.get("/rooms/" + "a" * 2100 + "/updates", {"w": "1"}).status_code == 404
