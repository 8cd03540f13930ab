"""Unread counts, live, in Chromium: Bob posts in two rooms while Alice watches a third; her
sidebar and title show both rooms unread without a reload (the stream's `sidebar` events, fed by
the activity feed). She reads one in a second tab and the first tab's count clears; she marks a
message unread there and the count comes back."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.support.browser import create_room, sign_up

DESKTOP = {"width": 1000, "height": 720}
LIVE = 15_000  # ms: the activity feed is read every second per process; loose for a loaded host


def say(page, text: str) -> None:
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_label("Message", exact=True).press("Enter")
    expect(page.locator("#messages")).to_contain_text(text)
    expect(page.locator("#composer")).not_to_have_class(re.compile("is-sending"))


def sidebar_link(page, name: str):
    return page.get_by_role("navigation", name="Your rooms").get_by_role("link", name=re.compile(rf"^{name}\b"))


def test_the_sidebar_follows_posts_reads_in_another_tab_and_mark_as_unread(site, new_context, page_errors):
    context = new_context(viewport=DESKTOP)
    alice = page_errors(context.new_page())
    bob = page_errors(new_context(viewport=DESKTOP).new_page())
    sign_up(alice, site.url, "alice", "Alice")
    sign_up(bob, site.url, "bob", "Bob")
    design = create_room(alice, site.url, "Design")
    ops = create_room(alice, site.url, "Ops")
    lobby = create_room(alice, site.url, "Lobby")  # she stays here: its stream carries her sidebar
    reloads = []
    alice.on("framenavigated", lambda frame: reloads.append(frame.url) if frame == alice.main_frame else None)
    expect(sidebar_link(alice, "Design")).not_to_contain_text("unread")

    for room, texts in ((design, ["design one", "design two", "design three"]), (ops, ["ops one", "ops two"])):
        bob.goto(room)
        for text in texts:
            say(bob, text)

    expect(sidebar_link(alice, "Design")).to_contain_text("3 unread", timeout=LIVE)
    expect(sidebar_link(alice, "Ops")).to_contain_text("2 unread", timeout=LIVE)
    expect(sidebar_link(alice, "Lobby")).not_to_contain_text("unread")
    expect(alice).to_have_title(re.compile(r"^\(5\) Lobby"), timeout=LIVE)
    assert reloads == [], reloads  # no page load: the stream did it

    # A second tab reads Design: the first tab's count clears.
    second = page_errors(context.new_page())
    second.goto(design)
    second.bring_to_front()
    expect(second.get_by_role("heading", name="New messages", exact=True)).to_be_visible()
    expect(sidebar_link(alice, "Design")).not_to_contain_text("unread", timeout=LIVE)
    expect(sidebar_link(alice, "Ops")).to_contain_text("2 unread")
    expect(alice).to_have_title(re.compile(r"^\(2\) Lobby"), timeout=LIVE)

    # She marks "design two" unread there: the count comes back in the first tab.
    two = second.locator("#messages li.message").filter(has_text="design two")
    two.hover()
    with second.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/unread")) as marked:
        two.get_by_role("button", name="Mark as unread", exact=True).click()
    assert marked.value.status in (200, 204)
    expect(sidebar_link(alice, "Design")).to_contain_text("2 unread", timeout=LIVE)
    expect(alice).to_have_title(re.compile(r"^\(4\) Lobby"), timeout=LIVE)
    assert reloads == [], reloads
    assert not page_errors.errors, page_errors.errors


def test_the_open_rooms_own_count_stays_hidden_while_its_newest_message_is_read(site, new_context, page_errors):
    alice = page_errors(new_context(viewport=DESKTOP).new_page())
    bob = page_errors(new_context(viewport=DESKTOP).new_page())
    sign_up(alice, site.url, "alice", "Alice")
    sign_up(bob, site.url, "bob", "Bob")
    design = create_room(alice, site.url, "Design")
    lobby = create_room(alice, site.url, "Lobby")
    with alice.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/read")):
        say(alice, "hello")  # her own message, in view: read
    # From here her reads never reach the server, so only this tab's own rule can hide the count.
    alice.route("**/rooms/lobby/read", lambda route: route.abort())

    bob.goto(lobby)
    say(bob, "lobby news")
    bob.goto(design)
    say(bob, "design news")  # written after the lobby post: once it shows, the lobby post was seen too
    alice.bring_to_front()
    expect(alice.locator("#messages")).to_contain_text("lobby news")
    expect(sidebar_link(alice, "Design")).to_contain_text("1 unread", timeout=LIVE)
    lobby_count = sidebar_link(alice, "Lobby").locator(".unread")
    expect(lobby_count).to_have_count(1)  # the server counts it: she has not reported reading it
    expect(lobby_count).to_be_hidden()  # but she is reading it here
    expect(alice).to_have_title(re.compile(r"^\(1\) Lobby"))

    # Mark as unread: she is no longer reading it, and the count shows.
    news = alice.locator("#messages li.message").filter(has_text="lobby news")
    news.hover()
    news.get_by_role("button", name="Mark as unread", exact=True).click()
    expect(lobby_count).to_be_visible(timeout=LIVE)
    expect(lobby_count).to_have_text("1 unread")
    expect(alice).to_have_title(re.compile(r"^\(2\) Lobby"), timeout=LIVE)
    assert not [e for e in page_errors.errors if "/read" not in e and "Failed to load resource" not in e], \
        page_errors.errors
