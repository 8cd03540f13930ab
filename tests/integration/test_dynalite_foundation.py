"""The foundation against real servers: dynalite, gunicorn, ensure_tables."""

from __future__ import annotations

import urllib.request

import pytest

from chatsite import dynamodb, keys
from rooms.models import RoomDirectoryEntry

pytestmark = pytest.mark.integration


def test_ensure_tables_on_dynalite_is_idempotent_and_reports_ttl(dynalite_tables):
    lines: list[str] = []
    outcome = dynamodb.ensure_tables(log=lines.append)
    assert set(outcome.values()) == {"exists"}
    assert any("TTL" in line for line in lines)


def test_home_page_through_gunicorn_lists_rooms(gunicorn_server):
    server = gunicorn_server()
    with urllib.request.urlopen(server.url + "/") as response:
        assert response.status == 200
        assert b"No rooms yet" in response.read()
    RoomDirectoryEntry(SK=keys.room_directory_sk("jazz"), name="Jazz", created_by="bob",
                       created_at="2026-01-01T00:00:00.000Z").save()
    with urllib.request.urlopen(server.url + "/") as response:
        body = response.read()
    assert b"Jazz" in body and b"No rooms yet" not in body


def test_data_survives_dynalite_restart(dynalite, dynalite_tables):
    RoomDirectoryEntry(SK=keys.room_directory_sk("kept"), name="Kept", created_by="c",
                       created_at="2026-01-01T00:00:00.000Z").save()
    dynalite.stop()
    dynalite.start()
    dynamodb.configure(endpoint_url=dynalite.url, prefix=dynalite_tables)
    assert RoomDirectoryEntry.get(keys.ROOM_DIRECTORY_PK, keys.room_directory_sk("kept")).name == "Kept"
