"""A notification setting changed on the room page reaches the user's open streams through its `c-`
activity event: the next post is judged by the new setting, without a reconnect (moto, in-process
streams as in tests/rooms/test_stream_user_side.py)."""

from __future__ import annotations

import json
import time

from django.test import Client

from rooms import activity
from tests.rooms.test_stream_user_side import open_stream, post, rooms, wait_primed  # noqa: F401 (fixture)
from tests.rooms.test_views import HX
from tests.support.sessions import sign_in


def wait_rounds(rounds: int = 2) -> None:
    """The hub has read every shard ``rounds`` more times: a round started after a write sees it."""
    hub = activity.hub()
    target = hub.queries + rounds * hub.shards
    deadline = time.monotonic() + 5
    while hub.queries < target and time.monotonic() < deadline:
        time.sleep(0.02)
    assert hub.queries >= target


def notified(reader) -> list[str]:
    return [json.loads(data)["body"] for data in reader.events("notify")]


def test_changing_the_setting_changes_what_an_open_stream_notifies(client, rooms):  # noqa: F811
    sign_in(client, "alice")
    page = Client()
    sign_in(page, "alice")  # her other tab, where she changes the setting
    reader = open_stream(client)  # she watches cafe; art is on the default, Mentions only
    reader.wait_for("sidebar")
    wait_primed()
    post(rooms["art"], "plain one")
    post(rooms["art"], "@alice first mention")
    reader.wait_for("notify", lambda d: json.loads(d)["body"] == "@alice first mention")

    assert page.post("/rooms/art/notifications", {"notify": "all"}, **HX).status_code == 200
    wait_rounds()
    post(rooms["art"], "plain two")
    reader.wait_for("notify", lambda d: json.loads(d)["body"] == "plain two")

    assert page.post("/rooms/art/notifications", {"notify": "none"}, **HX).status_code == 200
    wait_rounds()
    post(rooms["art"], "@alice second mention")
    post(rooms["books"], "@alice elsewhere")  # books is still on Mentions only: this one is told
    reader.wait_for("notify", lambda d: json.loads(d)["body"] == "@alice elsewhere")
    wait_rounds()
    assert notified(reader) == ["@alice first mention", "plain two", "@alice elsewhere"]
    reader.close()
