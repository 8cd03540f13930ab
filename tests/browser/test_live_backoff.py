"""The room page and a refused poll, in Chromium: a 429 pauses live updates for the Retry-After the
server asked for (the catch-up limit), a 400 (a cursor the server no longer accepts) stops them
with a note to reload; and the signed watermark round-trips through the browser. The server here
serves no streams (its 204 sends the page to polls at once), as these are the polls' rules."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from rooms import services

TOKEN = re.compile(r"^\d+\.[A-Za-z0-9_-]{16}$")


def _watch_polls(page, answer):
    """Record every live-update poll's w and time; ``answer(route)`` decides its fate."""
    polls: list[tuple[float, str]] = []

    def handle(route):
        w = re.search(r"[?&]w=([^&]+)", route.request.url)
        polls.append((time.monotonic(), w.group(1) if w else ""))
        answer(route)

    page.route(re.compile(r".*/rooms/art/updates\?.*"), handle)
    return polls


@pytest.fixture
def site(gunicorn_server):
    return gunicorn_server(CHAT_LIVE_STREAMS="off")


def test_a_429_pauses_polling_for_retry_after_then_resumes(site, new_context):
    services.room_create(name="Art", created_by="alice")
    page = new_context().new_page()
    mode = {"refuse": True}

    def answer(route):
        if mode["refuse"]:
            route.fulfill(status=429, headers={"Retry-After": "6", "Content-Type": "text/plain"},
                          body="Too many catch-ups from your network.")
        else:
            route.continue_()

    polls = _watch_polls(page, answer)
    page.goto(site.url + "/rooms/art/")
    status = page.locator("#live-status")
    expect(status).to_contain_text("Live updates paused", timeout=5_000)
    refused_at, count = polls[0][0], len(polls)
    mode["refuse"] = False
    page.wait_for_timeout(4_000)
    assert len(polls) == count, "polled again before Retry-After"
    expect(status).to_have_text("", timeout=10_000)  # resumed, and the next poll worked
    assert polls[count][0] - refused_at >= 5.5
    assert all(TOKEN.match(w.replace("%2E", ".")) for _, w in polls), polls  # the signed watermark, as given


def test_a_400_stops_polling_and_asks_for_a_reload(site, new_context):
    services.room_create(name="Art", created_by="alice")
    page = new_context().new_page()
    polls = _watch_polls(page, lambda route: route.fulfill(status=400, body="Reload the page."))
    page.goto(site.url + "/rooms/art/")
    expect(page.locator("#live-status")).to_contain_text("Reload the page", timeout=5_000)
    count = len(polls)
    page.wait_for_timeout(3_000)
    assert len(polls) == count == 1
