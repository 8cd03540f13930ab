"""The room page's steady state as production runs it, with the session cache on: a member's page
of a room viewed a moment ago on this process costs one DynamoDB call, the sidebar Query (also the
membership check); with the session not yet held by this process, one more (the session Query).
tests/rooms/test_room_page_call_budget.py counts the same pages with the session read every time."""

from __future__ import annotations

import pytest

from accounts.session_cache import session_cache
from chatsite.dynamodb import count_calls
from tests.rooms.test_room_page_call_budget import room_with_history  # noqa: F401 (a fixture)
from tests.support.sessions import sign_in


@pytest.fixture(autouse=True)
def steady_settings(settings):
    settings.CHAT_LIVE_REFRESH_SECONDS = 30  # "a moment ago", however slow the host
    settings.CHAT_ROOM_SEQ_CACHE_SECONDS = 600  # the sidebar's Seqs: cached, as on a busy process
    settings.ACCOUNTS_SESSION_CACHE_SECONDS = 30  # production's 3 s, stretched for a slow host


def test_steady_state_a_members_page_costs_the_sidebar_query_only(client, room_with_history):  # noqa: F811
    sign_in(client, "alice")
    assert client.get("/rooms/art/").status_code == 200
    with count_calls() as calls:
        page = client.get("/rooms/art/")
    assert page.status_code == 200 and page.content.decode().count('<li class="message"') == 50
    assert dict(calls) == {"Query": 1}, calls  # the sidebar: no session read, no history


def test_a_session_this_process_does_not_hold_adds_its_one_query(client, room_with_history):  # noqa: F811
    sign_in(client, "alice")
    assert client.get("/rooms/art/").status_code == 200
    session_cache.clear()  # e.g. the user's previous page was served by another process
    with count_calls() as calls:
        assert client.get("/rooms/art/").status_code == 200
    assert dict(calls) == {"Query": 2}, calls  # the session and the sidebar
