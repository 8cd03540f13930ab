"""Editing a message in Chromium (static/js/chat/edit.js): Alice edits in place and saves with
Enter; Bob's open tab shows the new text and "(edited)" without a reload, delivered once; Esc
cancels an edit and leaves the message as it was; a second tab's stale edit is told "changed
meanwhile" with the current text, the user's text kept."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.support.browser import create_room, sign_up
from tests.support.stream_page import Watched


def _send(page, text: str) -> None:
    page.locator("#id_comment").fill(text)
    page.locator("#id_comment").press("Enter")
    expect(page.locator("#messages li.message .comment", has_text=text)).to_have_count(1)
    expect(page.locator("#composer")).not_to_have_class("is-sending")


def test_alice_edits_with_enter_and_bob_sees_it_live_and_esc_cancels(site, new_context, page_errors):
    alice = Watched(page_errors(new_context().new_page()))
    bob = Watched(page_errors(new_context().new_page()))
    sign_up(alice.page, site.url, "alice", "Alice")
    room_url = create_room(alice.page, site.url, "Edits")
    sign_up(bob.page, site.url, "bob", "Bob")
    bob.page.goto(room_url)
    for person in (alice, bob):
        person.wait_for_event("open")

    _send(alice.page, "first words")
    message = bob.page.locator("#messages li.message", has_text="first words")
    expect(message).to_have_count(1)
    message_id = message.get_attribute("id")
    # Bob's copy came live: it has no Edit (not his), Alice's has one.
    expect(bob.page.locator(f"#{message_id} .edit-link")).to_have_count(0)

    mine = alice.page.locator(f"#{message_id}")
    mine.hover()
    mine.locator(".edit-link").click()
    box = mine.locator("textarea[name=comment]")
    expect(box).to_be_focused()
    expect(box).to_have_value("first words")
    expect(mine).to_have_attribute("data-editing", "")
    box.press("End")
    box.press("Shift+Enter")  # a new line, not a save
    box.type("and more")
    expect(box).to_have_value("first words\nand more")
    box.press("Enter")

    for page in (alice.page, bob.page):
        li = page.locator(f"#{message_id}")
        expect(li.locator(".comment")).to_have_text("first words\nand more")
        expect(li.locator(".edited")).to_have_text("(edited)")
        expect(li).to_have_attribute("data-version", "1")
        expect(page.locator("li.message")).to_have_count(1)
    expect(alice.page.locator(f"#{message_id} .edit-form")).to_have_count(0)
    expect(alice.page.locator(f"#{message_id}")).not_to_have_attribute("data-editing", re.compile(".*"))
    # Bob's tab got the change from its stream, once (one u- event of version 1).
    updates = [e["data"] for e in bob.events("updates") if 'data-update=' in e["data"]]
    assert len(updates) == 1 and 'data-version="1"' in updates[0], updates

    # Esc cancels: the text is as it was, nothing is saved.
    mine = alice.page.locator(f"#{message_id}")
    mine.hover()
    mine.locator(".edit-link").click()
    box = mine.locator("textarea[name=comment]")
    expect(box).to_be_focused()
    box.fill("never saved")
    box.press("Escape")
    expect(mine.locator(".edit-form")).to_have_count(0)
    expect(mine.locator(".comment")).to_be_visible()
    expect(mine.locator(".comment")).to_have_text("first words\nand more")
    expect(mine.locator(".edit-link")).to_be_focused()
    alice.page.reload()
    expect(alice.page.locator(f"#{message_id} .comment")).to_have_text("first words\nand more")
    assert page_errors.errors == []


def test_a_stale_tab_is_told_changed_meanwhile_and_keeps_its_text(site, new_context, page_errors):
    context = new_context()
    first = page_errors(context.new_page())
    sign_up(first, site.url, "alice", "Alice")
    room_url = create_room(first, site.url, "Races")
    _send(first, "original")
    message_id = first.locator("#messages li.message").first.get_attribute("id")
    second = page_errors(context.new_page())
    second.goto(room_url)

    # Both tabs open the editor on version 0; the first saves.
    for page in (first, second):
        page.locator(f"#{message_id}").hover()
        page.locator(f"#{message_id} .edit-link").click()
        expect(page.locator(f"#{message_id} textarea[name=comment]")).to_have_value("original")
    first.locator(f"#{message_id} textarea[name=comment]").fill("from the first tab")
    first.locator(f"#{message_id} textarea[name=comment]").press("Enter")
    expect(first.locator(f"#{message_id} .comment")).to_have_text("from the first tab")

    # The second tab's save is refused: changed meanwhile, the current text shown, its own text kept.
    box = second.locator(f"#{message_id} textarea[name=comment]")
    box.fill("from the second tab")
    box.press("Enter")
    form = second.locator(f"#{message_id} .edit-form")
    expect(form.locator(".edit-errors")).to_contain_text("changed meanwhile")
    expect(form.locator(".edit-current-text")).to_have_text("from the first tab")
    expect(form.locator("textarea[name=comment]")).to_have_value("from the second tab")
    # Esc: the live change that waited while editing is shown now.
    form.locator("textarea[name=comment]").press("Escape")
    expect(second.locator(f"#{message_id} .comment")).to_have_text("from the first tab")
    expect(second.locator(f"#{message_id} .edited")).to_have_count(1)
    # Chromium logs every 4xx answer; the 409 is the one this test asked for.
    assert [e for e in page_errors.errors if "status of 409 (Conflict)" not in e] == []


def test_staff_get_edit_and_history_on_live_messages_and_edit_anyones(site, new_context, page_errors):
    from tests.support.users import ensure_user_item

    alice = page_errors(new_context().new_page())
    sam = Watched(page_errors(new_context().new_page()))
    sign_up(alice, site.url, "alice", "Alice")
    room_url = create_room(alice, site.url, "Moderated")
    sign_up(sam.page, site.url, "sam", "Sam")
    ensure_user_item("sam", display_name="Sam", is_staff=True)
    sam.page.wait_for_timeout(3500)  # ACCOUNTS_USER_RECHECK_SECONDS: the server's copy of sam follows
    sam.page.goto(room_url)
    expect(sam.page.locator("#room")).to_have_attribute("data-delete-scope", "*")
    sam.wait_for_event("open")

    _send(alice, "as posted")
    message_id = sam.page.locator("#messages li.message", has_text="as posted").get_attribute("id")
    live_copy = sam.page.locator(f"#{message_id}")
    expect(live_copy.locator(".edit-link")).to_be_visible()  # revealed by edit.js: staff edit anyone's
    expect(live_copy.locator(".history-link")).to_have_count(0)  # nothing to show yet

    mine = alice.locator(f"#{message_id}")
    mine.hover()
    mine.locator(".edit-link").click()
    mine.locator("textarea[name=comment]").fill("as edited")
    mine.locator("textarea[name=comment]").press("Enter")
    expect(live_copy.locator(".comment")).to_have_text("as edited")
    expect(live_copy.locator(".history-link")).to_be_visible()

    live_copy.hover()
    live_copy.locator(".edit-link").click()
    live_copy.locator("textarea[name=comment]").fill("moderated")
    live_copy.locator("textarea[name=comment]").press("Enter")
    expect(alice.locator(f"#{message_id} .comment")).to_have_text("moderated")

    live_copy.locator(".history-link").click()
    expect(sam.page.locator(".edit-history .edit-version")).to_have_count(3)
    expect(sam.page.locator(".edit-history")).to_contain_text("as posted")
    expect(sam.page.locator(".edit-history")).to_contain_text("as edited")
    assert page_errors.errors == []


def test_the_authors_edit_button_goes_when_the_window_closes_and_the_server_refuses(gunicorn_server, new_context,
                                                                                    page_errors):
    site = gunicorn_server(CHAT_MESSAGE_EDIT_SECONDS="6")
    page = page_errors(new_context().new_page())
    sign_up(page, site.url, "alice", "Alice")
    create_room(page, site.url, "Short window")
    _send(page, "quick")
    li = page.locator("#messages li.message", has_text="quick")
    expect(li).to_have_count(1)
    assert li.locator(".edit-link").count() == 1  # rendered with the post's answer (6 s to spare)
    edit_url = li.locator(".edit-link").get_attribute("href")
    expect(li.locator(".edit-link")).to_have_count(0, timeout=20_000)  # gone once the 6 s are over
    page.goto(site.url + edit_url)  # the edit page itself refuses
    expect(page.locator(".edit-refused")).to_contain_text("You can edit a message only in the first 6 seconds")
    assert [e for e in page_errors.errors if "status of 403" not in e] == []
