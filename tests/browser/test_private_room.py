"""A private room in Chromium: the owner creates it with the "Private (invite only)" checkbox and
invites a third person, who then finds it in their sidebar, reads its history and keeps receiving
live; a fourth person gets a 404 on every URL of it; once removed, the member's open tab stops and
reloads into the 404 within the stream's access recheck (2 s here; polls: within the grant, 2 s)."""

from __future__ import annotations

import re

import time

import pytest
from playwright.sync_api import expect

from tests.integration.test_private_rooms_http import urls
from tests.support.browser import sign_up

GRANT_SECONDS = 2


@pytest.fixture
def site(gunicorn_server):
    return gunicorn_server(CHAT_LIVE_GRANT_SECONDS=str(GRANT_SECONDS),
                           CHAT_LIVE_STREAM_RECHECK_SECONDS=str(GRANT_SECONDS))


def say(page, text: str) -> None:
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_label("Message", exact=True).press("Enter")
    expect(page.locator("#messages")).to_contain_text(text)
    # the post answered (its own stream can show the message first): Enter while one is on its way is dropped
    expect(page.locator("#composer")).not_to_have_class(re.compile("is-sending"))


def test_owner_invites_a_member_who_reads_live_until_removed(site, new_context, page_errors):
    alice, bob, carol = (page_errors(new_context().new_page()) for _ in range(3))
    for page, name in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
        sign_up(page, site.url, name, name.title())

    alice.goto(site.url + "/")
    alice.get_by_label("Room name").fill("Den")
    alice.get_by_label("Private (invite only)").check()
    alice.get_by_role("button", name="Create room").click()
    alice.wait_for_url("**/rooms/den/")
    say(alice, "history for bob")
    alice.get_by_label("Invite by username").fill("bob")
    alice.get_by_role("button", name="Invite", exact=True).click()
    expect(alice.locator("body")).to_contain_text("Bob can now read and post in Den.")

    bob.goto(site.url + "/rooms/den/")
    expect(bob.locator("#messages")).to_contain_text("history for bob")
    expect(bob.get_by_role("navigation", name="Your rooms")).to_contain_text("Den")
    assert carol.goto(site.url + "/rooms/den/").status == 404
    carol.goto(site.url + "/")
    assert "/rooms/den/" not in carol.content()
    # Every other URL of the room too, from carol's browser (her cookies, her CSRF token), with
    # alice's live grant in carol's hands: each is the 404 of a room that does not exist.
    w = alice.locator("[data-watermark]").first.get_attribute("data-watermark")
    token = next(c["value"] for c in carol.context.cookies() if c["name"] == "csrftoken")
    for method, path, data, headers in urls("den", w, "not-checked-before-the-room"):
        if method == "POST":
            answer = carol.request.post(site.url + path, form={"csrfmiddlewaretoken": token, **data},
                                        headers={"Referer": site.url + "/", **headers}, max_redirects=0)
        else:
            answer = carol.request.fetch(site.url + path, method=method, headers=headers, max_redirects=0)
        assert answer.status == 404, (method, path, answer.status)

    time.sleep(GRANT_SECONDS + 1)  # bob's first grant has run out: the tab renews it and goes on
    say(alice, "after a renewal")
    expect(bob.locator("#messages")).to_contain_text("after a renewal", timeout=8_000)

    alice.goto(site.url + "/rooms/den/members/")
    alice.get_by_role("button", name="Remove Bob").click()
    expect(alice.locator("body")).to_contain_text("bob was removed from Den.")
    removed_at = time.monotonic()
    expect(bob.get_by_role("heading", name="Not found")).to_be_visible(timeout=(GRANT_SECONDS + 4) * 1000)
    assert time.monotonic() - removed_at <= GRANT_SECONDS + 4
    assert not [e for e in page_errors.errors if "404" not in e and "403" not in e], page_errors.errors
