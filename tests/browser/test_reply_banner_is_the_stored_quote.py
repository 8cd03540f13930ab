"""Reply mode's banner in Chromium says what the reply's quote will store: static/js/chat/reply.js
shows the Reply link's data-excerpt (rendered by the server with services.reply_excerpt, marks
removed), not the message's rendered text, so "```python" or "**b**" never show in either."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.support.browser import create_room, sign_up

DESKTOP = {"width": 1000, "height": 720}


def composer(page):
    return page.get_by_label("Message", exact=True)


def say(page, text: str, shown: str) -> None:
    composer(page).fill(text)
    composer(page).press("Enter")
    expect(page.locator("#messages")).to_contain_text(shown)
    expect(page.locator("#composer")).not_to_have_class(re.compile("is-sending"))


def test_the_banner_shows_the_servers_excerpt_and_the_quote_matches_it(site, new_context, page_errors):
    alice = page_errors(new_context(viewport=DESKTOP).new_page())
    sign_up(alice, site.url, "alice", "Alice")
    create_room(alice, site.url, "Design")
    say(alice, "**Lunch** at _noon_?\nAt the usual place.", "Lunch at noon?")
    # By its id: the reply will quote its text too.
    original = alice.locator("#" + alice.locator("li.message", has_text="Lunch at noon?").get_attribute("id"))
    link = original.get_by_role("link", name="Reply to this message by Alice")
    expect(link).to_have_attribute("data-excerpt", "Lunch at noon?")

    banner = alice.locator("#composer-reply")
    original.hover()
    link.click()
    expect(banner.locator(".composer-reply-excerpt")).to_have_text("Lunch at noon?")
    say(alice, "Yes", "Yes")
    quote = alice.locator("li.message", has_text="Yes").locator(".reply-quote-text")
    expect(quote).to_have_text("Lunch at noon?")

    # The banner takes the server's words, whatever the page shows of the message.
    link.evaluate("a => { a.dataset.excerpt = 'from the server' }")
    original.hover()
    link.click()
    expect(banner.locator(".composer-reply-excerpt")).to_have_text("from the server")
