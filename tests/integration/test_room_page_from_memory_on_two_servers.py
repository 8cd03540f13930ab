"""Two gunicorn servers on one dynalite, each serving the room page from its own memory (its tail
of the room): a post made without JavaScript on one server shows on the page its redirect opens on
the other, although the other's tail is fresh and does not hold it yet (docs/live-updates.md,
"The room page from memory")."""

from __future__ import annotations

import re

import pytest

from tests.support.web import Person, comments

pytestmark = pytest.mark.integration

# One worker each, so "this server's tail" is one tail; a refresh interval long enough that server
# two's tail stays fresh (served as it is) for the whole test.
ENV = {"GUNICORN_WORKERS": "1", "CHAT_LIVE_REFRESH_SECONDS": "60"}


def test_a_plain_post_on_one_server_shows_on_the_redirected_page_served_by_the_other(gunicorn_server):
    one, two = gunicorn_server(**ENV), gunicorn_server(**ENV)
    alice = Person(one.url)
    alice.sign_up("alice", "Alice")
    room = alice.create_room("Two Tails")
    assert alice.post_message(room, "before").status_code == 200
    on_two = Person(two.url)
    on_two.http.cookies.update(alice.http.cookies)  # the same browser, sent to the other server
    assert comments(on_two.get(room).text) == ["before"]  # server two's tail: loaded, fresh

    posted = alice.post_message(room, "after, without JavaScript", htmx=False)
    assert posted.status_code == 302
    location = posted.headers["Location"]
    assert re.fullmatch(r"/rooms/two-tails/\?sent=\d+#latest", location)

    # Server two's memory is behind (its tail is fresh by its interval and no one told it)...
    assert comments(on_two.get(room).text) == ["before"]
    # ...but the page the redirect opens there reads the room's recent events first.
    assert comments(on_two.get(location).text) == ["before", "after, without JavaScript"]
    # And the tail now holds it: the plain page shows it too.
    assert comments(on_two.get(room).text) == ["before", "after, without JavaScript"]
