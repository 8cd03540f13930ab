"""Every open tab with the sidebar stays live, not only room tabs: Alice has only her Mentions page
open (no room stream); Bob posts in a room of hers, and her sidebar and title show it unread
without a reload, through the user's own stream (/live/)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.test_unread_live import DESKTOP, LIVE, say, sidebar_link
from tests.support.browser import create_room, sign_up


def test_the_mentions_page_keeps_the_sidebar_and_title_live(site, new_context, page_errors):
    alice = page_errors(new_context(viewport=DESKTOP).new_page())
    bob = page_errors(new_context(viewport=DESKTOP).new_page())
    sign_up(alice, site.url, "alice", "Alice")
    sign_up(bob, site.url, "bob", "Bob")
    design = create_room(alice, site.url, "Design")
    alice.get_by_role("link", name="Mentions", exact=True).click()
    expect(alice.get_by_role("heading", level=1)).to_contain_text("Mentions")
    reloads = []
    alice.on("framenavigated", lambda frame: reloads.append(frame.url) if frame == alice.main_frame else None)
    expect(sidebar_link(alice, "Design")).not_to_contain_text("unread")

    bob.goto(design)
    say(bob, "design one")
    say(bob, "design two")

    expect(sidebar_link(alice, "Design")).to_contain_text("2 unread", timeout=LIVE)
    expect(alice).to_have_title(re.compile(r"^\(2\) "), timeout=LIVE)
    assert reloads == [], reloads
