"""DynamoDB goes away while two people are in a room (a fault the site must survive), in Chromium against
gunicorn + dynalite.

While dynalite is down: pages answer with the 503 page (no traceback), the composer keeps the
unsent text and says why, and live updates pause. After dynalite restarts on the same data folder:
live updates resume, the kept text sends, and every message that was acknowledged (2xx) — by the
browsers or by a third person posting flat out across the outage — is still there, on reload and
in a direct query.
"""

from __future__ import annotations

import threading
import time

import requests
from playwright.sync_api import expect

from rooms import selectors, validators
from tests.support.browser import create_room, sign_up
from tests.support.web import Person, composer_key, csrf_from

DESKTOP = {"width": 960, "height": 720}
DB_DOWN = "We can't reach our database right now"


def comments(page) -> list[str]:
    return page.eval_on_selector_all("#messages li.message .comment", "els => els.map(e => e.textContent.trim())")


class FlatOutPoster(threading.Thread):
    """A third person posting as fast as the server answers, recording which posts were acknowledged."""

    def __init__(self, base_url: str, room_path: str):
        super().__init__(daemon=True)
        self.person = Person(base_url)
        self.person.sign_up("carol", "Carol")
        page = self.person.get(room_path).text
        self.csrf, self.room_path = csrf_from(page), room_path
        assert composer_key(page)
        self.acked: list[str] = []
        self.refused: list[int] = []
        self.halt = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.halt.is_set():
            n += 1
            comment = f"carol {n:04d}"
            try:
                response = self.person.http.post(
                    self.person.base_url + self.room_path + "messages", timeout=10, allow_redirects=False,
                    data={"csrfmiddlewaretoken": self.csrf, "comment": comment,
                          "idempotency_key": validators.new_token()},
                    headers={"HX-Request": "true"})
            except requests.RequestException:
                self.refused.append(0)
            else:
                if 200 <= response.status_code < 300:
                    self.acked.append(comment)
                else:
                    self.refused.append(response.status_code)
            time.sleep(0.03)


def test_dynalite_outage_pauses_then_everything_resumes_and_nothing_acknowledged_is_lost(
        gunicorn_server, dynalite, new_context, page_errors):
    # The polls' outage behaviour (the page's fallback): an open stream does not yet tell the page
    # that the server's live refresh is failing, so "Live updates paused" would not show.
    site = gunicorn_server(CHAT_POST_RATE_LIMIT="100000", CHAT_LIVE_STREAMS="off")
    alice = page_errors(new_context(viewport=DESKTOP).new_page())
    bob = page_errors(new_context(viewport=DESKTOP).new_page())
    sign_up(alice, site.url, "alice", "Alice")
    sign_up(bob, site.url, "bob", "Bob")
    room_url = create_room(alice, site.url, "Outage")
    room_path = room_url.removeprefix(site.url)
    bob.goto(room_url)

    composer = alice.locator("#id_comment")
    composer.fill("before the outage")
    composer.press("Enter")
    expect(composer).to_have_value("")
    expect(bob.locator("#messages li.message")).to_have_count(1)  # live, before anything breaks

    poster = FlatOutPoster(site.url, room_path)
    poster.start()
    deadline = time.monotonic() + 10
    while len(poster.acked) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(poster.acked) >= 5, poster.refused

    dynalite.stop()
    try:
        acked_before_kill = len(poster.acked)
        # Live updates pause, on both pages.
        for page in (alice, bob):
            expect(page.locator("#live-status")).to_contain_text("Live updates paused", timeout=15_000)

        # The composer keeps the text and says why.
        composer.fill("typed during the outage")
        composer.press("Enter")
        expect(alice.locator("#composer-errors")).to_contain_text(DB_DOWN)
        expect(composer).to_have_value("typed during the outage")

        # Pages are the 503 page, without a traceback: a reload, and another page of the site.
        response = bob.reload()
        assert response.status == 503
        expect(bob.locator("h1")).to_have_text("Chat is temporarily unavailable")
        body = bob.content()
        assert DB_DOWN in body and "Traceback" not in body and "botocore" not in body
        other = alice.context.new_page()
        response = other.goto(site.url + "/accounts/profile/")
        assert response.status == 503 and "Traceback" not in other.content()
        other.close()
        refused_during = len(poster.refused)
        time.sleep(0.3)
        assert len(poster.refused) > refused_during  # the poster really is being refused now
    finally:
        dynalite.start()

    # Live updates resume by themselves (after static/js/chat/backoff.js's backoff) ...
    expect(alice.locator("#live-status")).to_have_text("", timeout=40_000)
    # ... the kept text sends with the same key ...
    composer.press("Enter")
    expect(composer).to_have_value("", timeout=15_000)
    expect(alice.locator("#composer-errors")).to_be_empty()
    # ... and the poster's new messages arrive live on Alice's page again.
    acked_after_restart = len(poster.acked)
    deadline = time.monotonic() + 15
    while len(poster.acked) < acked_after_restart + 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    poster.halt.set()
    poster.join(timeout=15)
    assert len(poster.acked) >= acked_after_restart + 3, "posting did not recover after the restart"
    last = poster.acked[-1]
    expect(alice.locator("#messages li.message .comment", has_text=last)).to_have_count(1, timeout=15_000)
    assert acked_before_kill >= 5

    # Nothing acknowledged is lost: on a reload in both browsers, and in a direct query.
    acknowledged = ["before the outage", "typed during the outage", *poster.acked]
    stored = [m.comment for m in selectors.room_history(room_id=room_path.strip("/").split("/")[-1],
                                                        limit=1000).items]
    missing = [c for c in acknowledged if c not in stored]
    assert missing == [], f"{len(missing)} acknowledged messages lost, e.g. {missing[:5]}"
    assert len(stored) == len(set(stored)), "a message was stored twice"
    assert stored[0] == "before the outage"
    # The page shows the newest 50: everything acknowledged among them, in the stored order.
    for page in (alice, bob):
        response = page.reload()
        assert response.status == 200
        shown = comments(page)
        assert shown == stored[-len(shown):]
        assert "typed during the outage" in shown or len(stored) > 50
    assert [e for e in page_errors.errors if "503" not in e and "Failed to load resource" not in e] == []
