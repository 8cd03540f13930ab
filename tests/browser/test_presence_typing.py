"""Presence and typing in Chromium, through the tabs' streams: two people see each other in the
list labelled "Here now", each sees "<name> is typing…" while the other types (in a polite live
region), gone when the message arrives or a few seconds after the last keystroke, and a closed
tab drops off Here now while a reloaded one stays."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from tests.support.browser import create_room, sign_up


def here_now(page):
    return page.get_by_role("list", name="Here now", exact=True)


def test_two_people_see_each_other_here_and_typing_live(site, new_context, page_errors):
    alice = page_errors(new_context().new_page())
    bob = page_errors(new_context().new_page())
    sign_up(alice, site.url, "alice", "Alice")
    room_url = create_room(alice, site.url, "Porch")
    sign_up(bob, site.url, "bob", "Bob")
    bob.goto(room_url)
    bob.get_by_role("button", name="Join room").click()
    expect(bob.get_by_role("button", name="Leave room")).to_be_visible()

    for page in (alice, bob):
        expect(here_now(page).get_by_role("listitem")).to_have_text(["Alice", "Bob"], timeout=10_000)

    line = alice.locator("#typing")
    expect(line).to_have_attribute("aria-live", "polite")
    bob.locator("#id_comment").press_sequentially("on my way", delay=60)
    expect(line).to_have_text("Bob is typing…", timeout=5_000)
    expect(bob.locator("#typing")).to_have_text("")  # not your own
    bob.locator("#id_comment").press("Enter")
    expect(alice.locator("#messages li.message .comment", has_text="on my way")).to_have_count(1)
    expect(line).to_have_text("", timeout=2_000)  # with the message, not seconds later

    alice.locator("#id_comment").press_sequentially("see you", delay=60)
    expect(bob.locator("#typing")).to_have_text("Alice is typing…", timeout=5_000)
    stopped = time.monotonic()
    expect(bob.locator("#typing")).to_have_text("", timeout=8_000)
    assert time.monotonic() - stopped < 6.5  # gone within 6 s of the last keystroke (loose: shared host)

    alice.reload()  # her old page says "away" on its way out, the new one "here" at once
    time.sleep(3)
    expect(here_now(bob).get_by_role("listitem")).to_have_text(["Alice", "Bob"], timeout=3_000)

    bob.close(run_before_unload=True)  # pagehide: the tab says "away" on its way out
    expect(here_now(alice).get_by_role("listitem")).to_have_text(["Alice"], timeout=10_000)
    assert page_errors.errors == [], page_errors.errors
