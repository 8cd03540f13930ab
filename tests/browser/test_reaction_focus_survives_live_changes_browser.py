"""Keyboard focus on a message's reactions survives the message changing under it: a reaction
sent from the picker leaves focus on the new reaction's button even when the live stream brought
the change before the answer came; and someone else's reaction, arriving live while the reader's
focus is on a reaction button of that message, keeps the focus on the same emoji's button."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.test_one_reaction_picker_browser import DESKTOP, LIVE, message, say
from tests.support.browser import create_room, sign_up


def test_reacting_keeps_focus_when_the_live_change_comes_before_the_answer(site, new_context, page_errors):
    alice = page_errors(new_context(viewport=DESKTOP).new_page())
    sign_up(alice, site.url, "alice", "Alice")
    create_room(alice, site.url, "Lounge")
    say(alice, "first one")
    first = message(alice, "first one")

    # The answer to the react POST is held until the live stream has shown the reaction.
    held = []
    alice.route(re.compile(r".*/messages/react$"), lambda route: held.append((route, route.fetch())))
    add = first.get_by_role("button", name="Add reaction")
    add.focus()
    alice.keyboard.press("Enter")
    picker = alice.get_by_role("dialog", name="Add reaction")
    expect(picker).to_be_visible()
    alice.keyboard.press("Tab")
    expect(picker.get_by_role("button", name="👍", exact=True)).to_be_focused()
    alice.keyboard.press("Enter")
    mine = first.get_by_role("button", name="👍 1: Alice", exact=True)
    expect(mine).to_be_visible(timeout=LIVE)  # from the live stream: the answer is still held
    assert len(held) == 1
    route, answer = held[0]
    route.fulfill(response=answer)
    expect(picker).to_be_hidden()
    expect(mine).to_be_focused()
    assert page_errors.errors == [], page_errors.errors


def test_someone_elses_reaction_arriving_live_keeps_the_readers_focus(site, new_context, page_errors):
    alice = page_errors(new_context(viewport=DESKTOP).new_page())
    sign_up(alice, site.url, "alice", "Alice")
    room = create_room(alice, site.url, "Lounge")
    say(alice, "first one")
    first = message(alice, "first one")
    add = first.get_by_role("button", name="Add reaction")
    add.focus()
    alice.keyboard.press("Enter")
    alice.keyboard.press("Tab")
    alice.keyboard.press("Enter")
    mine = first.get_by_role("button", name="👍 1: Alice", exact=True)
    expect(mine).to_be_focused()

    bob = page_errors(new_context(viewport=DESKTOP).new_page())
    sign_up(bob, site.url, "bob", "Bob")
    bob.goto(room)
    message(bob, "first one").get_by_role("button", name="👍 1: Alice", exact=True).click()
    both = first.get_by_role("button", name=re.compile(r"^👍 2: "))
    expect(both).to_be_visible(timeout=LIVE)
    expect(both).to_be_focused()
    assert page_errors.errors == [], page_errors.errors
