"""DynamoDB calls per room page, counted: a member's page of a room viewed a moment ago on this
process reads no history (what is left is the session, when this process doesn't hold it, and the
sidebar Query, which is also the membership check); the first view reads room history's Query once.
docs/data-model.md ("The room page") lists these costs."""

from __future__ import annotations

import time

import pytest

from chatsite.dynamodb import count_calls
from rooms import live, room_tail, selectors, services
from tests.support.seeding import messages_posted
from tests.support.sessions import request_user, sign_in


@pytest.fixture(autouse=True)
def budget_settings(settings):
    settings.CHAT_LIVE_REFRESH_SECONDS = 30  # "a moment ago", however slow the host
    settings.CHAT_ROOM_SEQ_CACHE_SECONDS = 600  # the sidebar's Seqs: cached, as on a busy process
    settings.ACCOUNTS_SESSION_CACHE_SECONDS = 0  # the session read every time: its cost is counted


@pytest.fixture
def room_with_history(room):
    newest = messages_posted(room, [f"message {n:03d}" for n in range(80)], author=request_user("bob"))[-1]
    assert services.read_cursor_advance(user_id="alice", room_id="art", seq=newest.seq, pos=newest.sk)
    return room


def test_steady_state_a_members_page_reads_the_session_and_the_sidebar_only(client, room_with_history):
    sign_in(client, "alice")
    assert client.get("/rooms/art/").status_code == 200
    with count_calls() as calls:
        page = client.get("/rooms/art/")
    assert page.status_code == 200 and page.content.decode().count('<li class="message"') == 50
    assert dict(calls) == {"Query": 2}, calls  # the session and the sidebar: nothing for the history


def test_cold_a_members_page_adds_room_historys_one_query(client, room_with_history):
    sign_in(client, "alice")
    selectors.room_get(room_id="art")
    room_tail.clear_tails()
    live.clear_feeds()
    with count_calls() as calls:
        page = client.get("/rooms/art/")
    assert page.status_code == 200 and page.content.decode().count('<li class="message"') == 50
    assert dict(calls) == {"Query": 3}, calls  # the session, the sidebar, room history's Query


def test_a_stale_tail_costs_the_feeds_one_small_query_instead(client, room_with_history, settings):
    sign_in(client, "alice")
    client.get("/rooms/art/")
    settings.CHAT_LIVE_REFRESH_SECONDS = 0.05
    tail, _ = room_tail.tail_for(selectors.room_get(room_id="art"))
    loaded = tail.loaded_at_ms
    time.sleep(0.1)
    with count_calls() as calls:
        assert client.get("/rooms/art/").status_code == 200
    assert dict(calls) == {"Query": 3}, calls  # the session, the sidebar, the feed's refresh
    assert tail.loaded_at_ms == loaded  # not loaded again: the refresh brought it up to date


def test_signed_out_steady_state_costs_nothing(client, room_with_history):
    client.get("/rooms/art/")
    with count_calls() as calls:
        assert client.get("/rooms/art/").status_code == 200
    assert dict(calls) == {}, calls
