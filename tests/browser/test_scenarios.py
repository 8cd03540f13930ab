"""What a person does on the site, in Chromium, against gunicorn + dynalite.

Every step goes through the real UI (fill, press, click). Only the 250-message history of scenario 2
(and the history behind scenario 6) is seeded directly into the same dynalite tables.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from chatsite import keys
from rooms import services, validators
from rooms.models import MessageRecord
from rooms.timestamps import iso_from_ms, now_ms
from tests.support.browser import (PASSWORD, create_room, expect_signed_in, field, expect_signed_out, fill_sign_up,
                                    save_screenshot, sign_in, sign_up)

DESKTOP = {"width": 960, "height": 720}
# Distinct browsers, so the sessions page tells the devices apart as it would for a real person.
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
                 "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")

# How Chromium and htmx log an expected 400/429 answer (a refused post): not a page error.
HTTP_ERROR_LOGS = re.compile(r"Failed to load resource: the server responded with a status of (400|429)"
                             r"|Response Status Error Code (400|429) from ")


def messages(page):
    return page.locator("#messages li.message")


def transcript(page) -> list[tuple[str, str, str]]:
    """(message id, author, text) of every message on the page, top to bottom."""
    return page.eval_on_selector_all(
        "#messages li.message",
        "els => els.map(li => [li.id, li.querySelector('.author').textContent,"
        " li.querySelector('.comment').textContent])",
    )


def comments(page) -> list[str]:
    return [text for _, _, text in transcript(page)]


def send(page, text: str) -> None:
    """Type into the composer and press Enter, as a person does."""
    composer = page.locator("#id_comment")
    composer.fill(text)
    composer.press("Enter")
    # answered, sent or refused: Enter while a post is on its way is dropped, so the next send waits
    expect(page.locator("#composer")).not_to_have_class(re.compile("is-sending"))


def reload_until(page, locator, count: int, attempts: int = 10) -> None:
    """The sessions list reads an eventually consistent index: reload, as a person would, until
    ``locator`` matches ``count`` elements (then assert it with expect's own waiting)."""
    for _ in range(attempts):
        if locator.count() == count:
            break
        page.wait_for_timeout(200)
        page.reload()
    expect(locator).to_have_count(count)


def seed_history(room_id: str, count: int, *, authors=(("u-ann", "Ann"), ("u-ben", "Ben"))) -> None:
    """``count`` messages, one second apart, ending a few minutes ago: "message 000" is the oldest."""
    start = now_ms() - (count + 300) * 1000
    with MessageRecord.batch_write() as batch:
        for n in range(count):
            author_id, author_name = authors[n % len(authors)]
            created = iso_from_ms(start + n * 1000)
            batch.save(MessageRecord(keys.user_pk(author_id), keys.message_sk(created, validators.new_token()),
                                     room_id=room_id, created_at=created, comment=f"message {n:03d}",
                                     author_name=author_name))


def clean(errors: list[str]) -> list[str]:
    """Console errors except the browser's own log line for an expected 400/429 answer."""
    return [e for e in errors if not HTTP_ERROR_LOGS.search(e)]


# --- 1. two people, live --------------------------------------------------------------------------


def test_two_people_chat_live_and_history_matches_after_reload(site, new_context, page_errors):
    alice = page_errors(new_context(viewport=DESKTOP).new_page())
    bob = page_errors(new_context(viewport=DESKTOP, user_agent=FIREFOX_WINDOWS).new_page())
    sign_up(alice, site.url, "alice", "Alice Moreau")
    sign_up(bob, site.url, "bob", "Bob Okafor")

    room_url = create_room(alice, site.url, "Weekend Hike", "Planning Saturday's walk up Helvellyn")
    bob.goto(site.url + "/")
    bob.get_by_role("link", name="Weekend Hike").click()
    bob.wait_for_url(room_url)
    expect(bob.locator("#no-messages")).to_be_visible()
    bob.evaluate("window.__noReload = 'still the same page'")
    alice.evaluate("window.__noReload = 'still the same page'")

    conversation = [
        (alice, bob, "Morning! Still on for Saturday?"),
        (bob, alice, "Yes! Meet at the car park at 8?"),
        (alice, bob, "8 works. I'll bring the map and a flask of tea ☕"),
        (bob, alice, "Forecast says clear until 3pm, so let's aim to be down by then.\nI'll check again Friday."),
        (alice, bob, "Perfect, see you there!"),
    ]
    for number, (writer, reader, text) in enumerate(conversation, start=1):
        send(writer, text)
        expect(messages(writer)).to_have_count(number)  # acknowledged: shown from the POST's answer
        expect(writer.locator("#id_comment")).to_have_value("")
        expect(messages(reader)).to_have_count(number, timeout=15_000)  # live, by polling
        expect(messages(reader).last.locator(".comment")).to_have_text(text)

    # Nobody reloaded: the same documents received everything.
    assert bob.evaluate("window.__noReload") == "still the same page"
    assert alice.evaluate("window.__noReload") == "still the same page"
    live_alice, live_bob = transcript(alice), transcript(bob)
    assert live_alice == live_bob
    assert [text for _, _, text in live_alice] == [text for _, _, text in conversation]

    alice.reload()
    bob.reload()
    expect(messages(alice)).to_have_count(len(conversation))
    expect(messages(bob)).to_have_count(len(conversation))
    assert transcript(alice) == transcript(bob) == live_alice
    assert [author for _, author, _ in transcript(bob)] == ["Alice Moreau", "Bob Okafor"] * 2 + ["Alice Moreau"]

    expect(alice.locator("#id_comment")).to_be_visible()
    save_screenshot(alice, "room")
    assert page_errors.errors == []


# --- 2. history ------------------------------------------------------------------------------------


def test_load_older_reaches_the_first_of_250_messages_without_gaps_or_duplicates(site, new_context, page_errors):
    room = services.room_create(name="Archive", description="250 messages", created_by="u-ann")
    seed_history(room.room_id, 250)

    page = page_errors(new_context(viewport=DESKTOP).new_page())
    page.goto(f"{site.url}/rooms/{room.room_id}/")
    expect(messages(page)).to_have_count(50)
    assert comments(page) == [f"message {n:03d}" for n in range(200, 250)]

    for shown in (100, 150, 200, 250):
        page.locator(".load-older a").click()
        expect(messages(page)).to_have_count(shown)
    assert comments(page)[0] == "message 000"
    # The last page knows it is the last: no empty extra "load older" click.
    expect(page.locator(".load-older")).to_have_text("This is the start of the room.")
    expect(messages(page)).to_have_count(250)
    expect(page.locator(".load-older a")).to_have_count(0)

    ids = [message_id for message_id, _, _ in transcript(page)]
    assert len(set(ids)) == 250
    assert comments(page) == [f"message {n:03d}" for n in range(250)]
    assert page_errors.errors == []


# --- 3. markup is text -------------------------------------------------------------------------------


def test_markup_in_messages_shows_as_text_and_runs_nothing(site, new_context, page_errors):
    dialogs: list[str] = []
    alice = page_errors(new_context().new_page())
    bob = page_errors(new_context().new_page())
    for page in (alice, bob):
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_up(alice, site.url, "alice", "Alice")
    room_url = create_room(alice, site.url, "Sandbox")
    bob.goto(room_url)  # a reader, not signed in: gets them live

    attacks = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>"]
    for number, text in enumerate(attacks, start=1):
        send(alice, text)
        expect(messages(alice)).to_have_count(number)
    for page in (alice, bob):
        expect(messages(page)).to_have_count(2, timeout=15_000)
        assert comments(page) == attacks
        assert page.locator("#messages script, #messages img").count() == 0
    alice.reload()
    bob.reload()
    for page in (alice, bob):
        expect(messages(page)).to_have_count(2)
        assert comments(page) == attacks
        assert page.locator("#messages script, #messages img").count() == 0
    alice.wait_for_timeout(300)  # give a would-be handler a moment to fire
    assert dialogs == []
    assert page_errors.errors == []  # an <img src=x> would also have logged a failed load


# --- 4. sessions ---------------------------------------------------------------------------------------


def test_sessions_page_lists_both_sessions_and_revoking_one_signs_it_out(site, new_context, page_errors):
    first = page_errors(new_context().new_page())
    second = page_errors(new_context(user_agent=FIREFOX_WINDOWS).new_page())
    sign_up(first, site.url, "alice", "Alice")
    sign_in(second, site.url, "alice")

    first.goto(site.url + "/accounts/sessions/")
    sessions = first.locator(".session-list > li.session")
    reload_until(first, sessions, 2)
    expect(first.locator(".session-current")).to_have_count(1)
    other = first.locator(".session-list > li.session:not(.session-current)")
    expect(other.locator(".session-device")).to_contain_text("Firefox")

    other.get_by_role("button").click()
    expect(first.locator(".flash")).to_contain_text("Signed out that device.")
    expect(sessions).to_have_count(1)
    expect_signed_in(first)

    # The revoked browser finds out on its next request.
    second.goto(site.url + "/accounts/sessions/")
    expect(second).to_have_url(re.compile(r"/accounts/login/\?next="))
    expect_signed_out(second)
    second.goto(site.url + "/")
    expect_signed_out(second)
    assert page_errors.errors == []


# --- 5. linked devices ------------------------------------------------------------------------------------


def test_linked_device_is_signed_out_with_its_parent(site, new_context, page_errors):
    parent = page_errors(new_context(viewport=DESKTOP).new_page())
    elsewhere = page_errors(new_context(viewport=DESKTOP, user_agent=FIREFOX_WINDOWS).new_page())
    phone = page_errors(new_context(viewport={"width": 390, "height": 800}, user_agent=SAFARI_IPHONE).new_page())
    sign_up(parent, site.url, "alice", "Alice Moreau")
    sign_in(elsewhere, site.url, "alice")  # an unrelated second session: it must survive

    parent.goto(site.url + "/accounts/sessions/")
    parent.get_by_role("link", name="Link a device").click()
    parent.get_by_role("button", name="Create a code").click()
    code = parent.locator(".link-code").inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", code), code

    phone.goto(site.url + "/accounts/login/")
    phone.get_by_role("link", name="Use a link code").click()
    field(phone, "Code").fill(code)
    phone.get_by_role("button", name="Sign in this device").click()
    expect(phone.locator(".flash")).to_contain_text("This device is now signed in.")
    expect_signed_in(phone)

    parent.goto(site.url + "/accounts/sessions/")
    current = parent.locator(".session-list > li.session-current")
    reload_until(parent, parent.locator(".session-list > li.session"), 2)
    reload_until(parent, current.locator(".linked-devices > li.session"), 1)
    expect(current.locator(".linked-devices .session-device")).to_contain_text("iPhone")
    expect(parent.locator(".session-list > li.session")).to_have_count(2)
    save_screenshot(parent, "sessions")

    parent.locator(".site-header .nav-form button").click()
    expect_signed_out(parent)

    phone.reload()
    expect_signed_out(phone)
    phone.goto(site.url + "/accounts/sessions/")
    expect(phone).to_have_url(re.compile(r"/accounts/login/\?next="))
    elsewhere.reload()
    expect_signed_in(elsewhere)
    assert page_errors.errors == []


# --- 6. no JavaScript ----------------------------------------------------------------------------------------


def test_without_javascript_sign_in_post_and_page_back_through_history(site, new_context):
    setup = new_context().new_page()
    sign_up(setup, site.url, "alice", "Alice")
    room = services.room_create(name="Quiet Room", created_by="u-ann")
    seed_history(room.room_id, 120)
    room_url = f"{site.url}/rooms/{room.room_id}/"

    page = new_context(java_script_enabled=False, viewport=DESKTOP).new_page()
    page.goto(room_url)
    page.get_by_role("link", name="Sign in", exact=True).last.click()  # "Sign in to post in this room"
    field(page, "Username").fill("alice")
    field(page, "Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(room_url)  # back where the person was
    expect_signed_in(page)

    page.get_by_role("textbox", name="Message").fill("Posted without JavaScript")
    page.get_by_role("button", name="Send").click()
    expect(page).to_have_url(re.compile(re.escape(room_url) + r"\?sent=\d+#latest$"))
    expect(messages(page)).to_have_count(50)
    assert comments(page) == [f"message {n:03d}" for n in range(71, 120)] + ["Posted without JavaScript"]

    # An empty post without JavaScript: the page again, with the error inline.
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#composer-errors")).to_contain_text("Write something before sending.")

    seen = comments(page)
    page.get_by_role("link", name="Load older messages").click()
    expect(page).to_have_url(re.compile(r"\?before="))
    expect(messages(page)).to_have_count(50)
    seen = comments(page) + seen
    page.get_by_role("link", name="Load older messages").click()
    expect(messages(page)).to_have_count(21)
    seen = comments(page) + seen
    expect(page.get_by_role("link", name="Load older messages")).to_have_count(0)
    assert seen == [f"message {n:03d}" for n in range(120)] + ["Posted without JavaScript"]

    page.get_by_role("link", name="Back to the latest messages").click()
    expect(messages(page).last.locator(".comment")).to_have_text("Posted without JavaScript")


# --- 7. bad input -------------------------------------------------------------------------------------------


def test_bad_input_shows_inline_errors_and_keeps_the_text(site, new_context, page_errors):
    page = page_errors(new_context(viewport=DESKTOP).new_page())
    sign_up(page, site.url, "alice", "Alice")
    create_room(page, site.url, "Errors")
    composer = page.locator("#id_comment")
    errors = page.locator("#composer-errors")

    page.get_by_role("button", name="Send").click()  # nothing typed
    expect(errors).to_have_text("Write something before sending.")
    expect(composer).to_have_value("")
    expect(composer).to_have_attribute("aria-invalid", "true")

    overlong = ("All work and no play. " * 200)[:4001]
    send(page, overlong)
    expect(errors).to_contain_text("at most 4,000 characters; this one has 4,001")
    expect(composer).to_have_value(overlong)
    expect(messages(page)).to_have_count(0)

    send(page, overlong[:4000])  # trimmed to the limit, it goes
    expect(messages(page)).to_have_count(1)
    expect(errors).to_be_empty()
    expect(composer).to_have_value("")
    assert clean(page_errors.errors) == []

    other = page_errors(new_context(viewport=DESKTOP).new_page())
    other.goto(site.url + "/accounts/signup/")
    for taken in ("alice", "ALICE"):
        fill_sign_up(other, taken, "Another Alice")
        other.get_by_role("button", name="Create account").click()
        expect(other.locator(".errorlist")).to_contain_text("That username is taken.")
        expect(field(other, "Username")).to_have_value(taken)
        expect(field(other, "Username")).to_have_attribute("aria-invalid", "true")
        expect(field(other, "Display name")).to_have_value("Another Alice")
        expect_signed_out(other)
        if taken == "alice":
            save_screenshot(other, "signup-errors")
    assert clean(page_errors.errors) == []
