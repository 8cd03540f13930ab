"""The activity hub's thread refreshes the session feed once it is half an interval old, waking for it
during its pause, so a page never finds the feed due in the steady state, even when the thread
wakes late (a busy worker): the room page of a member whose session this process holds costs the
sidebar Query alone, page after page, for several feed intervals. (The feed's rule is unchanged:
a page that does find it due refreshes it itself: tests/rooms/test_room_page_unread_counts_kept_by_the_activity_feed.py.)"""

from __future__ import annotations

import time

import pytest

from rooms import activity
from tests.rooms.test_room_page_unread_counts_kept_by_the_activity_feed import page
from tests.support.sessions import one_session_feed_bucket, sign_in

FEED = 2.0  # ACCOUNTS_SESSION_FEED_SECONDS, stretched for a slow host
LATE = 0.6  # every sleep of the hub's thread overruns by this much


@pytest.fixture(autouse=True)
def _one_feed_bucket(monkeypatch):
    one_session_feed_bucket(monkeypatch)


@pytest.fixture
def late_hub(settings, monkeypatch):
    settings.ACCOUNTS_SESSION_CACHE_SECONDS = 0.05  # the short bound: past it, the feed decides
    settings.ACCOUNTS_SESSION_CACHE_WITH_FEED_SECONDS = 600
    settings.ACCOUNTS_SESSION_FEED_SECONDS = FEED
    settings.CHAT_ACTIVITY_REFRESH_SECONDS = 1
    settings.CHAT_ROOM_SEQ_CACHE_SECONDS = 600  # the Seqs out of the picture
    settings.CHAT_ROOM_SEQ_FEED_SECONDS = 600  # signed-in pages keep the hub running
    settings.CHAT_LIVE_REFRESH_SECONDS = 30  # the room's history from memory
    hub = activity.ActivityHub(sleep=lambda seconds: time.sleep(seconds + LATE))
    monkeypatch.setattr(activity, "_hub", hub)
    yield hub
    hub.close()


def test_pages_pay_no_session_feed_query_while_the_hub_runs_late(client, room, late_hub):
    sign_in(client, "alice")
    deadline = time.monotonic() + 10
    # Warm: the page starts the hub; the session is read again once the feed's coverage began.
    while page(client, room.room_id)[0] != {"Query": 1} and time.monotonic() < deadline:
        time.sleep(0.1)
    assert late_hub.queries > 0
    costs = []
    until = time.monotonic() + 3 * FEED
    while time.monotonic() < until:
        costs.append(page(client, room.room_id)[0])
        time.sleep(0.05)
    assert len(costs) > 10
    assert [c for c in costs if c != {"Query": 1}] == [], costs  # the sidebar alone: never the feed
