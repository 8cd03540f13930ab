"""The live-update watermark is signed by the server and bound to the room, so an anonymous client
can't pick one that sends the server into the catch-up Queries; and the catch-up path (a real
resume after a sleep) is rate-limited per client across hosts. The warm poll stays free."""

from __future__ import annotations

import re

import pytest

from chatsite.dynamodb import count_calls
from rooms import live, services, validators
from rooms.timestamps import now_ms
from tests.support.sessions import request_user

TOKEN = re.compile(r"^(\d+)\.[A-Za-z0-9_-]{16}$")
ALICE = request_user("alice")


@pytest.fixture
def art(moto_tables, settings):
    settings.CHAT_LIVE_CATCHUP_LIMIT = 2
    settings.CHAT_LIVE_CATCHUP_WINDOW_SECONDS = 60
    services.room_create(name="Music", created_by="alice")
    return services.room_create(name="Art", created_by="alice")


def page_watermark(client, room_id="art") -> str:
    page = client.get(f"/rooms/{room_id}/").content.decode()
    return re.search(r'data-watermark="([^"]+)"', page).group(1)


def poll(client, token, room_id="art", ip="10.0.0.1"):
    return client.get(f"/rooms/{room_id}/updates", {"w": token}, REMOTE_ADDR=ip, HTTP_HX_REQUEST="true")


def test_page_and_polls_hand_out_signed_watermarks_and_the_warm_poll_is_free(client, art):
    token = page_watermark(client)
    assert TOKEN.match(token)
    poll(client, token)  # warm: the feed is built
    with count_calls() as calls:
        response = poll(client, token)
    assert response.status_code == 204 and sum(calls.values()) == 0, calls
    header = response["Chat-Watermark"]
    assert TOKEN.match(header) and int(TOKEN.match(header).group(1)) >= int(TOKEN.match(token).group(1))
    assert poll(client, header).status_code == 204


def test_a_forged_or_altered_watermark_is_400_without_any_query(client, art):
    real = page_watermark(client)
    ms, sig = real.split(".")
    stale = now_ms() - 60_000
    forged = [
        str(stale),  # a bare number: what any client could choose
        f"{stale}.{sig}",  # a real signature on another time
        f"{ms}.{'A' * 16}",  # a made-up signature
        f"{ms}.{sig[:-1]}",  # truncated
        f"{ms}.{sig}x",
        page_watermark(client, "music"),  # another room's watermark
        "", "abc", f"-{ms}.{sig}", "1" * 200,
    ]
    for token in forged:
        with count_calls() as calls:
            response = poll(client, token)
        assert response.status_code == 400, (token, response.status_code)
        assert "Reload the page" in response.content.decode()
        assert "Query" not in calls, (token, calls)


def test_catch_up_is_rate_limited_per_client_with_retry_after(client, art, settings):
    services.message_post(room=art, author=ALICE, comment="while you slept", idempotency_key=validators.new_token())
    slept = live.watermark_token("art", now_ms() - 60_000)  # what a tab held before its laptop slept
    poll(client, page_watermark(client))  # warm the feed: only the catch-up path is limited
    for _ in range(settings.CHAT_LIVE_CATCHUP_LIMIT):
        with count_calls() as calls:
            response = poll(client, slept)
        assert response.status_code == 200 and "while you slept" in response.content.decode()
        assert calls["Query"] == 1  # the room's live events, one consistent Query
    with count_calls() as calls:
        limited = poll(client, slept)
    assert limited.status_code == 429 and 1 <= int(limited["Retry-After"]) <= 60
    assert "Query" not in calls, calls
    with count_calls() as calls:  # this process remembers: no more counting until the window ends
        assert poll(client, slept).status_code == 429
    assert sum(calls.values()) == 0, calls
    # The warm path is not limited (answered from memory), and another client has its own allowance.
    fresh = page_watermark(client)
    with count_calls() as calls:
        assert poll(client, fresh).status_code == 200
    assert sum(calls.values()) == 0, calls
    assert poll(client, slept, ip="10.0.0.2").status_code == 200
    assert poll(client, slept, ip="2001:db8::1").status_code == 200


def test_the_catch_up_limit_holds_across_processes(client, art, settings):
    slept = live.watermark_token("art", now_ms() - 60_000)
    for _ in range(settings.CHAT_LIVE_CATCHUP_LIMIT):
        assert poll(client, slept).status_code == 204
    assert poll(client, slept).status_code == 429
    live.clear_feeds()  # another host: no memory of the refusal or the feed, the same DynamoDB counter
    live.clear_catch_up_refusals()
    poll(client, page_watermark(client))  # that host's feed, built by an open tab
    with count_calls() as calls:
        assert poll(client, slept).status_code == 429
    assert calls == {"UpdateItem": 1}, calls  # the refused reservation; no catch-up Queries


def test_a_tab_too_far_behind_reloads_without_being_counted(client, art, settings):
    ancient = live.watermark_token("art", now_ms() - int(settings.CHAT_LIVE_RESUME_MAX_SECONDS * 1000) - 5000)
    poll(client, page_watermark(client))  # warm the feed
    for _ in range(settings.CHAT_LIVE_CATCHUP_LIMIT + 2):
        with count_calls() as calls:
            response = poll(client, ancient)
        assert response.status_code == 200 and response["HX-Refresh"] == "true"
        assert "Query" not in calls and "UpdateItem" not in calls, calls
