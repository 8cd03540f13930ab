"""The thread view's message actions in Chromium: reacting updates the count where it was clicked,
deleting a reply takes it off the page, Mark as unread says so, and the page never reloads for any of
them (their answers are applied in place, as on the room page). Edit stays on the message after it
changes, for its author."""

from __future__ import annotations

import html
import re

from playwright.sync_api import expect

from tests.support.browser import create_room, sign_up

DESKTOP = {"width": 1000, "height": 720}


def answered(path: str):
    return lambda response: response.request.method == "POST" and response.url.endswith(path)


def test_reacting_and_deleting_in_the_thread_view_show_at_once(site, new_context, page_errors):
    alice = page_errors(new_context(viewport=DESKTOP).new_page())
    sign_up(alice, site.url, "alice", "Alice")
    room = create_room(alice, site.url, "Lounge")
    alice.get_by_label("Message", exact=True).fill("Lunch at noon?")
    alice.get_by_label("Message", exact=True).press("Enter")
    root_li = alice.locator("#messages li.message", has_text="Lunch at noon?")
    expect(root_li).to_be_visible()
    thread_url = html.unescape(root_li.locator("a.reply-link").get_attribute("href"))
    alice.goto(site.url + thread_url)
    alice.get_by_label("Reply", exact=True).fill("Or one?")
    alice.get_by_role("button", name="Send reply").click()
    thread = alice.locator("#thread-messages > li.message")
    expect(thread).to_have_count(2)
    root, reply = thread.nth(0), thread.nth(1)
    navigations = []
    alice.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == alice.main_frame else None)

    # A reaction from the picker shows at once, pressed; pressing it again takes it off.
    root.hover()
    root.get_by_role("button", name="Add reaction").click()
    picker = alice.get_by_role("dialog", name="Add reaction")
    with alice.expect_response(answered("/messages/react")):
        picker.get_by_role("button", name="👍", exact=True).click()
    mine = root.get_by_role("button", name="👍 1: Alice", exact=True)
    expect(mine).to_have_attribute("aria-pressed", "true")
    expect(picker).to_be_hidden()
    expect(root.get_by_role("link", name="Edit this message by Alice")).to_be_visible()  # still hers to edit
    with alice.expect_response(answered("/messages/react")):
        mine.click()
    expect(root.locator(".reactions")).to_have_count(0)

    # Deleting the reply (after the confirmation) takes it off the page.
    alice.once("dialog", lambda dialog: dialog.accept())
    reply.hover()
    with alice.expect_response(answered("/messages/delete")):
        reply.get_by_role("button", name="Delete this message by Alice").click()
    expect(thread).to_have_count(1)
    expect(alice.locator("#thread-messages")).not_to_contain_text("Or one?")

    # Mark as unread says what it did.
    root.hover()
    with alice.expect_response(answered("/unread")):
        root.get_by_role("button", name="Mark as unread").click()
    expect(alice.get_by_role("status").filter(has_text="Marked as unread")).to_be_visible()

    assert navigations == [], navigations  # all in place: no reload, no trip to the room page
    assert alice.url.startswith(site.url + thread_url.split("?")[0])
    assert page_errors.errors == [], page_errors.errors
