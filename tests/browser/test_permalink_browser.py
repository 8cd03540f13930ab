"""Jump to a message in Chromium: a room with 5,200 messages (seeded straight into dynalite), the
permanent link of the message 5,000 back opens the room at that message, in view and highlighted;
"load newer" and "load older" bring its neighbours; Copy link puts the absolute link on the
clipboard and says so (where the clipboard is refused, the link is shown selected); a link to a
deleted message opens at its time with a note."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from chatsite.batch import batch_put_items
from rooms import services
from rooms.models import ChatMessage, MessageRecord
from rooms.timestamps import iso_from_ms, now_ms
from rooms.validators import new_token
from tests.support.browser import create_room, sign_up

DESKTOP = {"width": 1000, "height": 720}
COUNT = 5_200
BACK = 5_000


@pytest.fixture
def site(gunicorn_server):
    return gunicorn_server()


def seed(room_id: str, count: int) -> list[ChatMessage]:
    """``count`` messages a second apart ending a minute ago, oldest first, as message_post stores
    them (services.message_item), 25 to a BatchWriteItem."""
    end = now_ms() - 60_000
    items = []
    for n in range(count):
        author = ("u-ann", "u-ben")[n % 2]
        items.append(services.message_item(room_id=room_id, author_id=author, author_name=author[2:].title(),
                                           created_at=iso_from_ms(end - (count - 1 - n) * 1000),
                                           message_id=new_token(), comment=f"message {n:05d}"))
    batch_put_items(items)
    # As import_room does: the server's room tail, if warm, loads the room again; after the
    # refresh interval no page comes from the tail as it was (docs/live-updates.md, "Bulk writers").
    services.room_history_changed(room_id=room_id)
    time.sleep(0.5 + 0.2)
    return [ChatMessage.from_record(MessageRecord.from_raw_data(item)) for item in items]


def messages(page):
    return page.locator("#messages li.message")


def test_the_link_to_a_message_5000_back_opens_at_it_with_older_and_newer(site, new_context, page_errors):
    context = new_context(viewport=DESKTOP)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
    page = page_errors(context.new_page())
    sign_up(page, site.url, "alice", "Alice")
    room_url = create_room(page, site.url, "Archive")
    room_id = room_url.rstrip("/").rsplit("/", 1)[1]
    history = seed(room_id, COUNT)
    index = COUNT - 1 - BACK
    target = history[index]

    page.goto(site.url + target.permalink)
    linked = page.locator(f"#m-{target.message_id}")
    expect(linked).to_contain_text(f"message {index:05d}")
    expect(linked).to_be_in_viewport()
    expect(linked).to_have_attribute("aria-current", "true")
    expect(linked).to_have_attribute("data-linked", "")
    highlight = linked.evaluate("li => getComputedStyle(li).backgroundColor")
    plain = page.locator(f"#m-{history[index + 1].message_id}").evaluate("li => getComputedStyle(li).backgroundColor")
    assert highlight != plain, (highlight, plain)
    # The page around it: 10 before, it, 49 after; neither the start nor the newest.
    expect(messages(page)).to_have_count(60)
    expect(messages(page).first).to_contain_text(f"message {index - 10:05d}")
    expect(messages(page).last).to_contain_text(f"message {index + 49:05d}")

    # Load newer: the next 50 below.
    page.locator("#load-newer-link").click()
    expect(messages(page)).to_have_count(110)
    expect(page.locator(f"#m-{history[index + 50].message_id}")).to_contain_text(f"message {index + 50:05d}")
    expect(messages(page).last).to_contain_text(f"message {index + 99:05d}")
    # Load older: the 50 above, in order, the reader's place kept.
    page.evaluate("document.getElementById('timeline').scrollTop = 0")
    page.locator("#load-older-link").click()
    expect(messages(page)).to_have_count(160)
    expect(messages(page).first).to_contain_text(f"message {index - 60:05d}")
    expect(page.locator(f"#m-{history[index - 11].message_id}")).to_contain_text(f"message {index - 11:05d}")

    # Copy link: the absolute permanent link on the clipboard, and "Link copied" said.
    linked.scroll_into_view_if_needed()
    linked.hover()
    copy = linked.locator("a.copy-link")
    expect(copy).to_have_attribute("href", target.permalink)
    copy.click()
    expect(copy).to_contain_text("Link copied")
    expect(page.locator("#announcer")).to_have_text("Link copied")
    assert page.evaluate("navigator.clipboard.readText()") == site.url + target.permalink
    assert page.url == site.url + target.permalink  # copied, not followed
    expect(copy).to_contain_text("Copy link", timeout=5000)  # back after a moment

    # The copied link opens the same place in a fresh tab.
    other = page_errors(context.new_page())
    other.goto(page.evaluate("navigator.clipboard.readText()"))
    expect(other.locator(f"#m-{target.message_id}")).to_be_in_viewport()
    assert page_errors.errors == []


def test_a_link_to_a_deleted_message_opens_at_its_time_and_says_so(site, new_context, page_errors):
    page = page_errors(new_context(viewport=DESKTOP).new_page())
    sign_up(page, site.url, "alice", "Alice")
    room_url = create_room(page, site.url, "Tidy")
    room_id = room_url.rstrip("/").rsplit("/", 1)[1]
    history = seed(room_id, 300)
    gone = history[100]
    MessageRecord.from_raw_data(services.message_item(
        room_id=room_id, author_id=gone.author_id, author_name=gone.author_name, created_at=gone.created_at,
        message_id=gone.message_id, comment=gone.comment)).delete()

    page.goto(site.url + gone.permalink)
    expect(page.get_by_role("status").filter(has_text="no longer here")).to_have_text(
        re.compile(r"^That message is no longer here: it may have been deleted\."))
    expect(page.locator(f"#m-{gone.message_id}")).to_have_count(0)
    expect(page.locator(f"#m-{history[101].message_id}")).to_be_in_viewport()  # where it was
    expect(page.locator("li.message[data-linked]")).to_have_count(0)
    assert page_errors.errors == []


def test_where_the_clipboard_is_refused_the_link_is_shown_selected(site, new_context, page_errors):
    page = page_errors(new_context(viewport=DESKTOP).new_page())
    # A browser without the Clipboard API (or one that refuses it): copy-link.js's fallback.
    page.add_init_script("Object.defineProperty(Navigator.prototype, 'clipboard', { get: () => undefined })")
    sign_up(page, site.url, "alice", "Alice")
    room_url = create_room(page, site.url, "Plain")
    room_id = room_url.rstrip("/").rsplit("/", 1)[1]
    message = seed(room_id, 3)[1]
    page.goto(room_url)
    item = page.locator(f"#m-{message.message_id}")
    item.hover()
    item.locator("a.copy-link").click()
    field = item.get_by_role("textbox", name="Link to this message")
    expect(field).to_be_focused()
    expect(field).to_have_value(site.url + message.permalink)
    assert field.evaluate("f => f.selectionStart === 0 && f.selectionEnd === f.value.length")
    assert page.url == room_url  # not followed
    assert page_errors.errors == []
