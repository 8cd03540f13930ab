"""The room page's live updates (static/js/chat/) in a real browser: Chromium → gunicorn (2 workers) → dynalite, two people in one room.

Playwright runs in a thread of its own, so its event loop never meets the browser harness's
session-wide one (tests/browser), and this file needs none of that harness's fixtures.
"""

from __future__ import annotations

import os
import threading

import pytest

from rooms import services
from tests.support.sessions import signed_in_session

pytestmark = [pytest.mark.integration, pytest.mark.browser]
CHROMIUM = "/usr/bin/chromium"
GUNICORN_SECRET_KEY = "integration-tests-only-" + "x" * 40  # tests/support/servers.py


def in_thread(scenario):
    failure: list[BaseException] = []

    def run():
        try:
            scenario()
        except BaseException as exc:  # re-raised in the test's thread
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), "browser scenario hung"
    if failure:
        raise failure[0]


@pytest.fixture
def site(gunicorn_server):
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is missing: `make test` installs it (apt-get install -y chromium).")
    return gunicorn_server()


def test_two_people_chat_live(site, settings):
    settings.SECRET_KEY = site.env.get("DJANGO_SECRET_KEY") or GUNICORN_SECRET_KEY  # sessions are signed
    services.room_create(name="Art", created_by="alice")
    _, alice_cookie = signed_in_session("alice", display_name="Alice")
    _, bob_cookie = signed_in_session("bob", display_name="Bob")
    room_url = site.url + "/rooms/art/"

    def scenario():
        os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        from playwright.sync_api import expect, sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=["--no-sandbox", "--disable-gpu"])
            errors: list[str] = []
            pages = {}
            for name, cookie in (("alice", alice_cookie), ("bob", bob_cookie)):
                context = browser.new_context(viewport={"width": 380, "height": 700}, timezone_id="Asia/Tokyo")
                context.set_default_timeout(8000)
                context.add_cookies([{"name": "sessionid", "value": cookie, "url": site.url}])
                page = context.new_page()
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
                page.on("dialog", lambda dialog: dialog.accept())
                page.goto(room_url)
                pages[name] = page
            alice, bob = pages["alice"], pages["bob"]
            composer = alice.locator("#id_comment")

            # Enter sends; the message shows at once from the POST; the composer clears and keeps focus.
            composer.fill("hello <b>bob</b> https://example.com/x")
            composer.press("Enter")
            mine = alice.locator("#messages li.message")
            expect(mine).to_have_count(1)
            expect(composer).to_have_value("")
            expect(composer).to_be_focused()
            expect(mine.locator(".comment a")).to_have_attribute("rel", "nofollow noopener noreferrer")

            # Bob gets it live, as text, announced, in his local time (Tokyo, not UTC).
            theirs = bob.locator("#messages li.message")
            expect(theirs).to_have_count(1)
            expect(theirs.locator(".comment")).to_contain_text("hello <b>bob</b>")
            expect(bob.locator("#announcer")).to_contain_text("Alice: hello <b>bob</b>")
            assert "UTC" not in theirs.locator("time").inner_text()
            expect(theirs.locator(".delete-form")).to_have_count(0)  # not his to delete

            # Shift+Enter is a new line; Enter sends both lines as one message.
            composer.type("line one")
            composer.press("Shift+Enter")
            composer.type("line two")
            composer.press("Enter")
            expect(theirs).to_have_count(2)
            assert theirs.nth(1).locator(".comment").inner_text() == "line one\nline two"

            # Bad input: a clear error, the text stays.
            composer.fill("   ")
            composer.press("Enter")
            expect(alice.locator("#composer-errors")).to_contain_text("Write something before sending.")
            expect(composer).to_have_value("   ")

            # Deleting removes the message for everyone.
            alice.locator("#messages li.message").first.locator(".delete-form button").click()
            expect(mine).to_have_count(1)
            expect(theirs).to_have_count(1)
            expect(theirs.locator(".comment")).to_contain_text("line one")
            unexpected = [e for e in errors if "400" not in e]  # the blank message's 400 is logged by design
            assert unexpected == [], errors
            browser.close()

    in_thread(scenario)
