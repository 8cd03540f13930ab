"""Unread state in Chromium: Bob posts in two rooms while Alice has a third open; after a reload her
sidebar says how many are unread in each, and the title the total. Opening one shows the New
messages line above the first unread message, scrolled into view, and once that has been seen in
her focused tab the count is gone on the next page; Mark as unread brings it back (and the tab
does not read past it at once); Mark all as read clears every room.

Not in this slice: the counts change without a reload (the per-user live channel)."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from tests.support.browser import create_room, sign_up

DESKTOP = {"width": 1000, "height": 720}


def say(page, text: str) -> None:
    """Send and wait for the message to show: the composer drops a send while one is in flight."""
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_label("Message", exact=True).press("Enter")
    expect(page.locator("#messages")).to_contain_text(text)
    expect(page.locator("#composer")).not_to_have_class(re.compile("is-sending"))


def sidebar_link(page, name: str):
    return page.get_by_role("navigation", name="Your rooms").get_by_role("link", name=re.compile(rf"^{name}\b"))


def reload_until(page, expected: dict[str, str], seconds: float = 8) -> None:
    """A room's Seq is cached per process for CHAT_ROOM_SEQ_CACHE_SECONDS (2 s): a count may miss
    posts of the last moment made through another worker. Reload, as a person would, until every
    room's entry shows its text."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(text in sidebar_link(page, room).inner_text() for room, text in expected.items()):
            break
        time.sleep(0.5)
        page.reload()
    for room, text in expected.items():
        expect(sidebar_link(page, room)).to_contain_text(text)


def is_read_write(response) -> bool:
    return response.request.method == "POST" and response.url.endswith("/read")


def test_unread_counts_new_messages_line_mark_unread_and_mark_all_read(site, new_context, page_errors):
    alice = page_errors(new_context(viewport=DESKTOP).new_page())
    bob = page_errors(new_context(viewport=DESKTOP).new_page())
    sign_up(alice, site.url, "alice", "Alice")
    sign_up(bob, site.url, "bob", "Bob")
    design = create_room(alice, site.url, "Design")
    with alice.expect_response(is_read_write):  # her own message, in view: read
        say(alice, "design: the read part")
    ops = create_room(alice, site.url, "Ops")
    with alice.expect_response(is_read_write):
        say(alice, "ops: the read part")
    lobby = create_room(alice, site.url, "Lobby")

    # Bob posts in Design and Ops (his first post joins each) while Alice watches the Lobby.
    for room, texts in ((design, ["design one", "design two", "design three"]), (ops, ["ops one", "ops two"])):
        bob.goto(room)
        for text in texts:
            say(bob, text)

    alice.reload()
    reload_until(alice, {"Design": "3 unread", "Ops": "2 unread"})
    expect(sidebar_link(alice, "Lobby")).not_to_contain_text("unread")
    expect(alice).to_have_title(re.compile(r"^\(5\) "))

    # Opening Design: the line above Bob's first message, in view; reading it writes the cursor.
    with alice.expect_response(is_read_write, timeout=10_000) as written:
        sidebar_link(alice, "Design").click()
        line = alice.get_by_role("heading", name="New messages", exact=True)
        expect(line).to_be_visible()
    assert written.value.status == 204
    expect(line).to_be_in_viewport()
    first_unread = alice.locator("#messages li.message").filter(has=line)
    expect(first_unread.locator(".comment")).to_have_text("design one")
    expect(alice.locator("#messages .new-messages")).to_have_count(1)

    alice.goto(lobby)
    expect(sidebar_link(alice, "Design")).not_to_contain_text("unread")
    expect(sidebar_link(alice, "Ops")).to_contain_text("2 unread")
    expect(alice).to_have_title(re.compile(r"^\(2\) "))

    # Mark as unread on "design two": the line moves above it, and this tab does not read past it.
    alice.goto(design)
    expect(alice.locator("#new-messages")).to_have_count(0)  # everything was read
    writes = []
    alice.on("response", lambda r: writes.append(r.url) if is_read_write(r) else None)
    two = alice.locator("#messages li.message").filter(has_text="design two")
    two.hover()
    with alice.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/unread")) as marked:
        two.get_by_role("button", name="Mark as unread", exact=True).click()
    assert marked.value.status in (200, 204)
    expect(two.get_by_role("heading", name="New messages", exact=True)).to_be_visible()
    expect(alice.locator("#messages .new-messages")).to_have_count(1)
    time.sleep(4)  # more than read.js's interval between writes, with the newest message in view
    assert writes == []
    alice.goto(lobby)
    expect(sidebar_link(alice, "Design")).to_contain_text("2 unread")
    expect(alice).to_have_title(re.compile(r"^\(4\) "))

    # Mark all as read clears every room.
    alice.get_by_role("button", name="Mark all as read", exact=True).click()
    expect(sidebar_link(alice, "Design")).not_to_contain_text("unread")
    expect(sidebar_link(alice, "Ops")).not_to_contain_text("unread")
    expect(alice).not_to_have_title(re.compile(r"^\(\d+\+?\) "))
    alice.reload()
    expect(alice.get_by_role("navigation", name="Your rooms")).not_to_contain_text("unread")
    assert not page_errors.errors, page_errors.errors


def test_many_pages_back_the_room_opens_at_the_line_and_reads_only_what_came_into_view(site, new_context,
                                                                                       page_errors):
    from chatsite import keys
    from rooms import selectors, services, validators
    from rooms.models import MessageRecord, RoomRecord
    from rooms.timestamps import iso_from_ms, now_ms

    alice = page_errors(new_context(viewport=DESKTOP).new_page())
    sign_up(alice, site.url, "alice", "Alice")
    room = services.room_create(name="Archive", created_by="alice")
    # 80 messages a second apart, ending minutes ago (older than the live overlap window, which
    # would otherwise bring the ones the page left out), numbered as message_post numbers them.
    start = now_ms() - 400_000
    with MessageRecord.batch_write() as batch:
        for n in range(80):
            created = iso_from_ms(start + n * 1000)
            batch.save(MessageRecord(keys.user_pk(f"poster{n % 4}"), keys.message_sk(created, validators.new_token()),
                                     room_id=room.room_id, created_at=created, comment=f"message {n:03d}",
                                     author_name=f"Poster {n % 4}", seq=n + 1))
    RoomRecord(keys.room_pk(room.room_id), keys.META).update(actions=[RoomRecord.seq.add(80)])
    history = selectors.room_history(room_id=room.room_id, limit=100).items
    assert services.read_cursor_advance(user_id="alice", room_id=room.room_id, seq=history[10].seq,
                                        pos=history[10].sk)

    writes = []
    alice.on("response", lambda r: writes.append(r) if is_read_write(r) else None)
    alice.goto(f"{site.url}/rooms/{room.room_id}/")
    expect(sidebar_link(alice, "Archive")).to_contain_text("69 unread")
    line = alice.get_by_role("heading", name="New messages", exact=True)
    expect(line).to_be_in_viewport()
    first_unread = alice.locator("#messages li.message").filter(has=line)
    expect(first_unread.locator(".comment")).to_have_text("message 011")
    messages = alice.locator("#messages li.message")
    expect(messages.first.locator(".comment")).to_have_text("message 005")  # a few read ones above
    expect(messages.last.locator(".comment")).to_have_text("message 059")  # 50 from the cursor on
    expect(messages.last).not_to_be_in_viewport()
    time.sleep(4)  # loaded, focused, but the newest loaded message never came into view: no write
    assert writes == []

    newer = alice.get_by_role("link", name="Load newer messages", exact=True)
    with alice.expect_response(is_read_write):  # message 059 comes into view: read up to it
        newer.scroll_into_view_if_needed()
    newer.click()
    expect(messages.last.locator(".comment")).to_have_text("message 079")
    expect(messages).to_have_count(75)  # 005..079, no gap, no duplicate
    expect(alice.locator("#load-newer")).to_be_empty()  # the newest reached
    with alice.expect_response(is_read_write) as written:
        messages.last.scroll_into_view_if_needed()
    assert written.value.status == 204
    alice.reload()
    expect(sidebar_link(alice, "Archive")).not_to_contain_text("unread")
    expect(alice.locator("#new-messages")).to_have_count(0)
    assert not page_errors.errors, page_errors.errors
