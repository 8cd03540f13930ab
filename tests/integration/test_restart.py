"""Restart gunicorn mid-session: people stay signed in, and a room keeps working (sessions and
posts live in DynamoDB, not in the worker)."""

from __future__ import annotations

import pytest

from tests.support.servers import GunicornServer
from tests.support.web import Person, comments, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def restartable(gunicorn_server):
    """The first server from the fixture; ``restart()`` stops it and starts a fresh one on the
    same port with the same environment."""
    started: list[GunicornServer] = [gunicorn_server()]

    def restart() -> GunicornServer:
        old = started[-1]
        old.stop()
        new = GunicornServer(port=old.port, env=old.env)
        new.start()
        started.append(new)
        return new

    restart.first = started[0]
    yield restart
    started[-1].stop()


def test_people_stay_signed_in_across_a_gunicorn_restart(restartable):
    server = restartable.first
    alice = Person(server.url)
    alice.sign_up("alice", "Alice Liddell")
    room = alice.create_room("Restart Room")
    assert alice.post_message(room, "before the restart").status_code == 200
    cookie_before = alice.session_cookie
    first_pid = server.proc.pid

    server = restartable()
    assert server.proc.pid != first_pid

    # The same cookie, untouched, against the new processes.
    assert alice.session_cookie == cookie_before
    assert alice.is_signed_in_as("Alice Liddell")
    assert alice.post_message(room, "after the restart").status_code == 200
    assert comments(alice.get(room).text) == ["before the restart", "after the restart"]
    sessions = alice.get("/accounts/sessions/")
    assert sessions.status_code == 200 and "This device" in sessions.text


def test_an_open_tab_keeps_polling_across_a_restart(restartable):
    server = restartable.first
    alice = Person(server.url)
    alice.sign_up("alice", "Alice")
    room = alice.create_room("Poll Room")
    watermark = alice.watermark(room)  # signed by the first processes: the key, not the process, checks it
    assert alice.poll(room, watermark).status_code == 204
    restartable()  # the new process has an empty feed: the old cursor still works
    assert alice.post_message(room, "fresh feed").status_code == 200
    wait_until(lambda: "fresh feed" in comments(alice.poll(room, watermark).text), timeout=10,
               message="the post to reach the old cursor on the new server")
