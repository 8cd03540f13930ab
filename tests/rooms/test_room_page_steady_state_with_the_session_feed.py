"""The room page's steady state past the session cache's short bound: while this process reads the
session feed, a session it read a minute ago still costs no Query, so a member's page of a room
viewed a moment ago costs the sidebar Query alone, also for users whose last page was long ago in
request terms (many sessions in turn), and once a second the feed's refresh. The feed's bound on
revocation is tested in tests/accounts/test_session_cache_kept_by_the_feed.py."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from chatsite.dynamodb import count_calls
from tests.rooms.test_room_page_call_budget import room_with_history  # noqa: F401 (a fixture)
from tests.support.sessions import one_session_feed_bucket, sign_in

SHORT = 0.05  # the short bound, shrunk so the feed decides


@pytest.fixture(autouse=True)
def _one_feed_bucket(monkeypatch):
    one_session_feed_bucket(monkeypatch)


@pytest.fixture(autouse=True)
def steady_settings(settings):
    settings.CHAT_LIVE_REFRESH_SECONDS = 30  # "a moment ago", however slow the host
    settings.CHAT_ROOM_SEQ_CACHE_SECONDS = 600  # the sidebar's Seqs: cached, as on a busy process
    settings.ACCOUNTS_SESSION_CACHE_SECONDS = SHORT
    settings.ACCOUNTS_SESSION_CACHE_WITH_FEED_SECONDS = 600
    settings.ACCOUNTS_SESSION_FEED_SECONDS = 600  # one refresh for the whole test, counted apart


def _page(client):
    with count_calls() as calls:
        page = client.get("/rooms/art/")
    assert page.status_code == 200 and page.content.decode().count('<li class="message"') == 50
    return dict(calls)


def test_many_sessions_in_turn_each_cost_the_sidebar_query_only(room_with_history, settings):  # noqa: F811
    readers = []
    for n in range(6):
        client = Client()
        sign_in(client, f"reader{n}")  # the sign-in's write is cached, before the feed's coverage began
        readers.append(client)
    time.sleep(SHORT * 2)
    first = [_page(client) for client in readers]
    # The first page makes the feed's first refresh (coverage begins) and loads the room; every
    # session is read again, as its entry predates coverage.
    assert first[1:] == [{"Query": 2}] * 5, first  # the session, the sidebar
    for _ in range(2):
        time.sleep(SHORT * 2)
        assert [_page(client) for client in readers] == [{"Query": 1}] * 6  # the sidebar only
    settings.ACCOUNTS_SESSION_FEED_SECONDS = 0  # without the feed, only the short bound
    time.sleep(SHORT * 2)
    assert [_page(client) for client in readers] == [{"Query": 2}] * 6
