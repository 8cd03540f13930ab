"""Two gunicorn servers on one dynalite, each with a warm tail of a room (its page from memory):
purge_messages and import_room, run elsewhere (here: the test process, as on an admin host), show
on both servers' room pages within the stated bound, CHAT_LIVE_REFRESH_SECONDS (0.5 s) after the
command returns, although neither server was told (docs/live-updates.md, "Bulk writers")."""

from __future__ import annotations

import io
import time

import pytest
from django.core.management import call_command

from rooms import selectors
from tests.support.web import Person, comments

pytestmark = pytest.mark.integration

# One worker each, so each server holds one tail of the room; the default refresh interval.
ENV = {"GUNICORN_WORKERS": "1", "CHAT_POST_RATE_LIMIT": "1000", "CHAT_LIVE_REFRESH_SECONDS": "0.5"}
BOUND_SECONDS = 0.5 + 1.0  # the refresh interval, loosely: a busy host


def test_a_purge_and_an_import_show_on_both_servers_pages_from_memory(gunicorn_server, tmp_path):
    one, two = gunicorn_server(**ENV), gunicorn_server(**ENV)
    alice = Person(one.url)
    alice.sign_up("alice", "Alice")
    room = alice.create_room("Tails Everywhere")
    source = alice.create_room("Source Room")
    for n in range(6):
        assert alice.post_message(room, f"message {n}").status_code == 200
    for n in range(2):
        assert alice.post_message(source, f"imported {n}").status_code == 200
    readers = []
    for server in (one, two):
        reader = Person(server.url)
        reader.http.cookies.update(alice.http.cookies)
        for _ in range(2):  # loads the server's tail, then is served from it
            assert comments(reader.get(room).text) == [f"message {n}" for n in range(6)]
        readers.append(reader)

    history = selectors.room_history(room_id="tails-everywhere").items
    call_command("purge_messages", "--room", "tails-everywhere", "--before", history[4].created_at, "--yes",
                 stdout=io.StringIO(), stderr=io.StringIO())
    time.sleep(BOUND_SECONDS)
    for reader in readers:
        assert comments(reader.get(room).text) == ["message 4", "message 5"]

    export = tmp_path / "source.jsonl"
    call_command("export_room", "source-room", "--output", str(export), stdout=io.StringIO())
    call_command("import_room", str(export), "--room", "tails-everywhere", stdout=io.StringIO(),
                 stderr=io.StringIO())
    time.sleep(BOUND_SECONDS)
    for reader in readers:
        assert comments(reader.get(room).text) == ["message 4", "message 5", "imported 0", "imported 1"]
