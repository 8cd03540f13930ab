"""Mentions in Chromium: Bob types "@" in the composer and picks Alice from the suggestions with
the keyboard (a listbox the textarea points into with aria-activedescendant; arrows move, Escape
closes, Enter picks without sending); his message links her name; Alice, who has the room open,
sees it arrive highlighted as hers, finds it on her Mentions page (the header's **Mentions** link),
and the link opens the room at that message, highlighted for her and not for Bob."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.support.browser import create_room, sign_up

DESKTOP = {"width": 1000, "height": 720}


def composer(page):
    return page.get_by_label("Message", exact=True)


def say(page, text: str) -> None:
    composer(page).fill(text)
    composer(page).press("Enter")
    expect(page.locator("#messages")).to_contain_text(text)
    expect(page.locator("#composer")).not_to_have_class(re.compile("is-sending"))


def test_pick_a_member_with_the_keyboard_and_she_sees_the_mention(site, new_context, page_errors):
    alice = page_errors(new_context(viewport=DESKTOP).new_page())
    bob = page_errors(new_context(viewport=DESKTOP).new_page())
    sign_up(alice, site.url, "alice", "Alice Liddell")
    sign_up(bob, site.url, "bob", "Bob")
    design = create_room(alice, site.url, "Design")
    bob.goto(design)
    say(bob, "hi all")  # his first post joins the room

    # Typing "@" offers the members (user-id order); the arrows move, Escape closes.
    box = composer(bob)
    listbox = bob.get_by_role("listbox", name="People to mention")
    box.fill("")
    box.press_sequentially("thanks @")
    expect(listbox).to_be_visible()
    options = listbox.get_by_role("option")
    expect(options).to_have_count(2)
    expect(box).to_have_attribute("aria-expanded", "true")
    expect(box).to_have_attribute("aria-controls", "mention-suggestions")
    first_id = options.nth(0).get_attribute("id")
    expect(box).to_have_attribute("aria-activedescendant", first_id)
    expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    box.press("ArrowDown")
    expect(box).to_have_attribute("aria-activedescendant", options.nth(1).get_attribute("id"))
    box.press("Escape")
    expect(listbox).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")

    # Narrowed by the display name's start ("Liddell"), Enter picks instead of sending.
    box.press_sequentially("lid")
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("Alice Liddell")
    box.press("Enter")
    expect(listbox).to_be_hidden()
    expect(box).to_have_value("thanks @alice ")
    expect(bob.locator("#messages")).not_to_contain_text("thanks @")  # nothing was sent

    # Alice has the room open when it arrives live: highlighted as hers.
    alice.goto(design)
    box.press_sequentially("for the sketches")
    box.press("Enter")
    sent = bob.locator("li.message", has_text="for the sketches")
    expect(sent.locator("a.mention")).to_have_attribute("href", "/u/alice/")
    expect(sent).not_to_have_class(re.compile(r"\bmention-me\b"))  # not Bob's mention
    arrived = alice.locator("li.message", has_text="for the sketches")
    expect(arrived).to_have_class(re.compile(r"\bmention-me\b"), timeout=15_000)
    expect(arrived.locator("a.mention")).to_have_class(re.compile(r"\bmention-me\b"))

    # Her Mentions page lists it; its link opens the room at that message, highlighted for her.
    alice.get_by_role("navigation", name="Main").get_by_role("link", name="Mentions", exact=True).click()
    expect(alice.get_by_role("heading", name="Mentions", exact=True)).to_be_visible()
    alice.get_by_role("link", name="thanks @alice for the sketches").click()
    expect(alice).to_have_url(re.compile(r"/rooms/design/\?at=.*#m-"))
    target = alice.locator("li.message", has_text="for the sketches")
    expect(target).to_have_class(re.compile(r"\bmention-me\b"))
    expect(target).to_be_in_viewport()
    assert not page_errors.errors, page_errors.errors
