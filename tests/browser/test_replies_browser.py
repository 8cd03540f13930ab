"""Replies in Chromium: Bob clicks **Reply** on Alice's message; the composer says "Replying to Alice:
<first line>" (Cancel reply leaves reply mode); his reply shows in the room's timeline with its quote
linking to her message, reply mode ends, her message says "1 reply" (on Alice's open tab too, live),
and that link opens the thread view listing her message then his reply."""

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


def test_a_reply_shows_its_quote_and_the_thread_view_lists_it(site, new_context, page_errors):
    alice = page_errors(new_context(viewport=DESKTOP).new_page())
    bob = page_errors(new_context(viewport=DESKTOP).new_page())
    sign_up(alice, site.url, "alice", "Alice")
    sign_up(bob, site.url, "bob", "Bob")
    design = create_room(alice, site.url, "Design")
    say(alice, "Lunch at noon?\nAt the usual place.")
    bob.goto(design)
    say(bob, "hi all")  # his first post joins the room

    original = bob.locator("li.message", has_text="Lunch at noon?")
    banner = bob.locator("#composer-reply")
    expect(banner).to_be_hidden()
    original.hover()
    original.get_by_role("link", name="Reply to this message by Alice").click()
    expect(banner).to_be_visible()
    expect(banner).to_have_text(re.compile(r"Replying to Alice: Lunch at noon\?\s*Cancel reply"))
    expect(bob).to_have_url(design)  # reply mode, not the thread view
    expect(composer(bob)).to_be_focused()
    expect(composer(bob)).to_have_accessible_description(re.compile(r"^Replying to Alice: Lunch at noon\?"))

    # Cancel reply leaves reply mode: the next post is a plain message.
    banner.get_by_role("button", name="Cancel reply").click()
    expect(banner).to_be_hidden()
    expect(composer(bob)).not_to_have_attribute("aria-describedby", re.compile("composer-reply-text"))
    original.hover()
    original.get_by_role("link", name="Reply to this message by Alice").click()
    say(bob, "Yes, see you there")
    expect(banner).to_be_hidden()  # posted: reply mode ends
    reply = bob.locator("li.message", has_text="Yes, see you there")
    quote = reply.locator(".reply-quote")
    expect(quote).to_have_text("In reply to Alice: Lunch at noon?")
    expect(quote.get_by_role("link")).to_have_attribute("href", re.compile(r"/rooms/design/\?at=.*#m-"))
    expect(bob.locator("#composer input[name=reply_to]")).to_have_value("")
    # The root counts it at once for Bob (from the post's answer) and live on Alice's open tab.
    expect(original.locator(".reply-count")).to_have_text("1 reply")
    alice_original = alice.locator("li.message", has_text="Lunch at noon?")
    expect(alice.locator("li.message", has_text="Yes, see you there").locator(".reply-quote")).to_contain_text(
        "Lunch at noon?", timeout=15_000)
    expect(alice_original.locator(".reply-count")).to_have_text("1 reply", timeout=15_000)

    # The next post is not a reply.
    say(bob, "plain again")
    expect(bob.locator("li.message", has_text="plain again").locator(".reply-quote")).to_have_count(0)

    # "1 reply" opens the thread view: Alice's message, then Bob's reply, with a composer.
    alice_original.get_by_role("link", name="1 reply").click()
    expect(alice.get_by_role("heading", name=re.compile("Thread"))).to_be_visible()
    thread = alice.locator("#thread-messages > li.message")
    expect(thread).to_have_count(2)
    expect(thread.nth(0)).to_contain_text("Lunch at noon?")
    expect(thread.nth(1)).to_contain_text("Yes, see you there")
    expect(thread.nth(1).locator(".reply-quote")).to_contain_text("Alice: Lunch at noon?")
    expect(alice.locator("#messages")).to_have_count(0)  # not the room page

    # Replying from the thread view (a plain form) comes back to it with the reply listed.
    alice.get_by_label("Reply", exact=True).fill("Great")
    alice.get_by_role("button", name="Send reply").click()
    expect(thread).to_have_count(3)
    expect(thread.nth(2)).to_contain_text("Great")
    expect(alice.get_by_role("heading", name=re.compile("Thread"))).to_contain_text("2 replies")
