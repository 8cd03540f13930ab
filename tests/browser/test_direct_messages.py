"""Direct messages in Chromium: bob follows alice's name on her message to her page and presses
**Message**; the conversation opens at its own address, shows in both sidebars under the other
person's name, and both talk live (no reload) both ways; a third person gets the 404 of a room
that does not exist."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.support.browser import create_room, sign_up


def say(page, text: str) -> None:
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_label("Message", exact=True).press("Enter")
    expect(page.locator("#messages")).to_contain_text(text)
    # the post answered (its own stream can show the message first): Enter while one is on its way is dropped
    expect(page.locator("#composer")).not_to_have_class(re.compile("is-sending"))


def test_two_people_start_a_direct_conversation_and_talk_live(site, new_context, page_errors):
    alice, bob, carol = (page_errors(new_context().new_page()) for _ in range(3))
    for page, name, display in ((alice, "alice", "Alice Moreau"), (bob, "bob", "Bob Okafor"), (carol, "carol", "Carol")):
        sign_up(page, site.url, name, display)

    lobby = create_room(alice, site.url, "Lobby")
    say(alice, "anyone around?")

    bob.goto(lobby)
    bob.locator("#messages").get_by_role("link", name="Alice Moreau", exact=True).click()
    bob.wait_for_url("**/u/alice/")
    expect(bob.get_by_role("heading", name="Alice Moreau")).to_be_visible()
    bob.get_by_role("button", name="Message", exact=True).click()
    bob.wait_for_url(re.compile(r".*/rooms/dm-[0-9a-f]{32}/$"))
    conversation = bob.url
    expect(bob.get_by_role("heading", level=1)).to_have_text("Alice Moreau")
    bob_sidebar = bob.get_by_role("navigation", name="Your rooms")
    expect(bob_sidebar.get_by_role("link", name=re.compile(r"^Alice Moreau\s*, direct message"))).to_have_attribute(
        "aria-current", "page")
    say(bob, "hi alice, bob here")

    alice.goto(lobby)  # the new conversation shows on her next page load
    alice.get_by_role("navigation", name="Your rooms").get_by_role(
        "link", name=re.compile(r"^Bob Okafor\s*, direct message")).click()
    alice.wait_for_url(conversation)
    expect(alice.locator("#messages")).to_contain_text("hi alice, bob here")

    say(alice, "hello bob, live from alice")
    expect(bob.locator("#messages")).to_contain_text("hello bob, live from alice", timeout=8_000)
    say(bob, "and back to alice")
    expect(alice.locator("#messages")).to_contain_text("and back to alice", timeout=8_000)

    assert carol.goto(conversation).status == 404
    expect(carol.get_by_role("heading", name="Not found")).to_be_visible()
    assert carol.goto(conversation + "updates").status == 404
    carol.goto(site.url + "/")
    assert "/rooms/dm-" not in carol.content()
    assert not [e for e in page_errors.errors if "404" not in e], page_errors.errors
