"""Searching messages in Chromium, against gunicorn and dynalite with the production indexer (a
thread per process, off the request path: a hit shows up a moment after its post, so searches
are retried a few times, loosely): the header's "Search messages" field finds a message by part
of a word and a Japanese phrase by its words; from: and in: narrow the results; a result opens its
room at that message, highlighted; a private room's message never shows to a non-member."""

from __future__ import annotations

import re

import time
from urllib.parse import urlencode

from playwright.sync_api import expect

from tests.support.browser import create_room, save_screenshot, sign_up

WAIT_SECONDS = 15  # the indexer is a thread in the same process: normally well under a second


def say(page, text: str) -> None:
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_label("Message", exact=True).press("Enter")
    expect(page.locator("#messages")).to_contain_text(text)
    # the post answered (its own stream can show the message first): Enter while one is on its way is dropped
    expect(page.locator("#composer")).not_to_have_class(re.compile("is-sending"))


def results(page):
    return page.locator(".search-result")


def search_until(page, base_url: str, q: str, count: int):
    """Search for ``q`` until it has ``count`` results (the index catches up within moments)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        page.goto(f"{base_url}/search/?{urlencode({'q': q})}")
        if results(page).count() == count or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    expect(results(page)).to_have_count(count)
    return results(page)


def test_search_finds_narrows_and_opens_the_message_in_its_room(site, new_context, page_errors):
    alice = page_errors(new_context().new_page())
    bob = page_errors(new_context().new_page())
    sign_up(alice, site.url, "alice", "Alice")
    sign_up(bob, site.url, "bob", "Bob")
    general = create_room(alice, site.url, "General")
    say(alice, "The deployment finished at noon")
    say(alice, "東京タワーに行きました")
    bob.goto(general)
    bob.get_by_role("button", name="Join room").click()
    say(bob, "Deployment notes for friday")
    create_room(bob, site.url, "Random")
    say(bob, "deployment of the coffee machine")

    # The header's search landmark, on the room page: a part of a word finds the messages.
    search = alice.get_by_role("search")
    search.get_by_label("Search messages", exact=True).fill("deplo")
    search.get_by_label("Search messages", exact=True).press("Enter")
    alice.wait_for_url("**/search/?q=deplo")
    found = search_until(alice, site.url, "deplo", 3)
    expect(found.nth(0)).to_contain_text("deployment of the coffee machine")
    expect(found.nth(0).locator("mark")).to_have_text("deployment")
    expect(found.nth(0)).to_contain_text("Bob in Random")
    expect(alice.get_by_label("Search messages", exact=True)).to_have_value("deplo")
    save_screenshot(alice, "search")

    # A Japanese phrase finds its message.
    found = search_until(alice, site.url, "東京タワー", 1)
    expect(found.first).to_contain_text("東京タワーに行きました")
    expect(found.first.locator("mark")).to_have_text("東京タワー")

    # from: and in: narrow.
    found = search_until(alice, site.url, "deployment from:bob", 2)
    expect(found.nth(0)).to_contain_text("coffee machine")
    expect(found.nth(1)).to_contain_text("Deployment notes for friday")
    found = search_until(alice, site.url, "deployment in:general", 2)
    expect(found.nth(0)).to_contain_text("Deployment notes for friday")
    expect(found.nth(1)).to_contain_text("The deployment finished at noon")
    found = search_until(alice, site.url, "deployment in:general from:alice", 1)

    # The result opens the room at that message, highlighted.
    found.first.get_by_role("link").click()
    alice.wait_for_url("**/rooms/general/?at=*")
    linked = alice.locator("#messages li.message[aria-current='true']")
    expect(linked).to_have_count(1)
    expect(linked).to_contain_text("The deployment finished at noon")
    expect(linked).to_have_attribute("data-linked", "")
    expect(linked).to_be_in_viewport()
    assert not page_errors.errors, page_errors.errors


def test_a_private_rooms_message_never_shows_to_a_non_member(site, new_context, page_errors):
    alice = page_errors(new_context().new_page())
    carol = page_errors(new_context().new_page())
    sign_up(alice, site.url, "alice", "Alice")
    sign_up(carol, site.url, "carol", "Carol")
    alice.goto(site.url + "/")
    alice.get_by_label("Room name").fill("Den")
    alice.get_by_label("Private (invite only)").check()
    alice.get_by_role("button", name="Create room").click()
    alice.wait_for_url("**/rooms/den/")
    say(alice, "the pineapple launch is friday")
    create_room(alice, site.url, "Lobby")
    say(alice, "pineapple cake in the lobby")

    # Indexed: alice finds both.
    search_until(alice, site.url, "pineapple", 2)
    expect(alice.locator("main")).to_contain_text("Den")
    # Carol finds the public one only, and nothing says there is more.
    found = search_until(carol, site.url, "pineapple", 1)
    expect(found.first).to_contain_text("pineapple cake in the lobby")
    expect(carol.locator("main")).not_to_contain_text("Den")
    expect(carol.locator("main")).not_to_contain_text("launch")
    search_until(carol, site.url, "launch", 0)
    expect(carol.locator("main")).to_contain_text("No messages match.")
    search_until(carol, site.url, "pineapple in:den", 0)
    expect(carol.locator("main")).to_contain_text("There is no room “den” to search.")
    # Signed out: the same.
    carol.context.clear_cookies()
    found = search_until(carol, site.url, "pineapple", 1)
    expect(found.first).to_contain_text("pineapple cake in the lobby")
    assert not page_errors.errors, page_errors.errors
