"""The page's one Add reaction picker in Chromium: it opens at the message whose Add reaction was
clicked (next to it) and reacts to that message; opened from another message it moves there and
reacts to that one; the keyboard gets in with Tab, Escape closes it and gives focus back to the
button; a message that arrived live opens it too. Without JavaScript, Add reaction is a link to the
react page, whose forms react and come back to the message."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.support.browser import create_room, sign_up

DESKTOP = {"width": 1000, "height": 720}
LIVE = 15_000  # ms: loose for a loaded host


def say(page, text: str) -> None:
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_label("Message", exact=True).press("Enter")
    expect(page.locator("#messages")).to_contain_text(text)
    expect(page.locator("#composer")).not_to_have_class(re.compile("is-sending"))


def message(page, text: str):
    return page.locator("#messages li.message").filter(has_text=text)


def reacted(response) -> bool:
    return response.request.method == "POST" and response.url.endswith("/messages/react")


def open_picker(page, li):
    li.hover()
    li.get_by_role("button", name="Add reaction").click()
    picker = page.get_by_role("dialog", name="Add reaction")
    expect(picker).to_be_visible()
    return picker


def near(picker, button) -> bool:
    """The picker's box just below (or above) the button, inside the viewport."""
    box, at = picker.bounding_box(), button.bounding_box()
    vertical = min(abs(box["y"] - (at["y"] + at["height"])), abs(box["y"] + box["height"] - at["y"]))
    return (vertical < 40 and abs(box["x"] - at["x"]) < 400 and box["y"] >= 0
            and box["y"] + box["height"] <= DESKTOP["height"])


def test_the_one_picker_opens_at_each_message_and_reacts_to_it(site, new_context, page_errors):
    alice = page_errors(new_context(viewport=DESKTOP).new_page())
    sign_up(alice, site.url, "alice", "Alice")
    room = create_room(alice, site.url, "Lounge")
    for text in ("first one", "second one", "third one"):
        say(alice, text)
    first, third = message(alice, "first one"), message(alice, "third one")
    assert alice.locator("#reaction-picker").count() == 1
    expect(alice.locator("#messages .reaction-picker")).to_have_count(0)

    # Opened at the first message, next to its button; then from the third (by the keyboard: the
    # open picker covers the messages below the first), it moves there.
    picker = open_picker(alice, first)
    assert near(picker, first.get_by_role("button", name="Add reaction"))
    third.get_by_role("button", name="Add reaction").focus()
    alice.keyboard.press("Enter")
    expect(picker).to_be_visible()
    assert near(picker, third.get_by_role("button", name="Add reaction"))
    with alice.expect_response(reacted):
        picker.get_by_role("button", name="🎉", exact=True).click()
    expect(picker).to_be_hidden()
    expect(third.get_by_role("button", name="🎉 1: Alice", exact=True)).to_have_attribute("aria-pressed", "true")
    expect(first.locator(".reactions")).to_have_count(0)

    # The keyboard: Enter opens it, Tab goes in, Escape closes it and focus is back on the button.
    add = first.get_by_role("button", name="Add reaction")
    add.focus()
    alice.keyboard.press("Enter")
    expect(picker).to_be_visible()
    alice.keyboard.press("Tab")
    expect(picker.get_by_role("button", name="👍", exact=True)).to_be_focused()
    alice.keyboard.press("Escape")
    expect(picker).to_be_hidden()
    expect(add).to_be_focused()
    # ... and reacting from it leaves focus on the new reaction's button, at the right message.
    alice.keyboard.press("Enter")
    alice.keyboard.press("Tab")
    with alice.expect_response(reacted):
        alice.keyboard.press("Enter")
    mine = first.get_by_role("button", name="👍 1: Alice", exact=True)
    expect(mine).to_be_focused()
    expect(third.get_by_role("button", name=re.compile("^👍"))).to_have_count(0)

    # A message that arrives live opens the same picker.
    bob = page_errors(new_context(viewport=DESKTOP).new_page())
    sign_up(bob, site.url, "bob", "Bob")
    bob.goto(room)
    say(bob, "bob was here")
    live = message(alice, "bob was here")
    expect(live).to_be_visible(timeout=LIVE)
    picker = open_picker(alice, live)
    with alice.expect_response(reacted):
        picker.get_by_role("button", name="👀", exact=True).click()
    expect(live.get_by_role("button", name="👀 1: Alice", exact=True)).to_be_visible()
    expect(message(bob, "bob was here").get_by_role("button", name="👀 1: Alice", exact=True)).to_be_visible(
        timeout=LIVE)
    assert page_errors.errors == [], page_errors.errors


def test_without_javascript_add_reaction_is_the_react_page(site, new_context, page_errors):
    alice = page_errors(new_context(viewport=DESKTOP).new_page())
    sign_up(alice, site.url, "alice", "Alice")
    room = create_room(alice, site.url, "Lounge")
    say(alice, "no script here")
    plain = new_context(viewport=DESKTOP, java_script_enabled=False).new_page()
    sign_up(plain, site.url, "bob", "Bob")
    plain.goto(room)
    li = message(plain, "no script here")
    li.get_by_role("link", name="Add reaction to this message by Alice").click()
    expect(plain.get_by_role("heading", name="Add reaction")).to_be_visible()
    expect(plain.get_by_text("no script here")).to_be_visible()
    plain.get_by_role("button", name="🙏", exact=True).click()
    plain.wait_for_url(re.compile(r"/rooms/lounge/\?at="))
    expect(li.get_by_role("button", name="🙏 1: Bob", exact=True)).to_have_attribute("aria-pressed", "true")
    # The typed field too.
    li.get_by_role("link", name="Add reaction to this message by Alice").click()
    plain.get_by_label("Any emoji").fill("🚀")
    plain.get_by_role("button", name="React", exact=True).click()
    expect(li.get_by_role("button", name="🚀 1: Bob", exact=True)).to_be_visible()
    expect(message(alice, "no script here").get_by_role("button", name="🚀 1: Bob", exact=True)).to_be_visible(
        timeout=LIVE)
    assert page_errors.errors == [], page_errors.errors
