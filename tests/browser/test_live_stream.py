"""Pushed live delivery in Chromium (static/js/chat/stream.js): two people see each other's messages
through their tabs' streams, with no polls; and a tab whose connections are cut for a few seconds
reconnects by itself with Last-Event-ID and ends with every message exactly once, in order."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from tests.support.browser import create_room, sign_up
from tests.support.proxy import Proxy
from tests.support.stream_page import Watched
from tests.support.web import Person, wait_until


def _send(page, text: str) -> None:
    """Type and send; returns once the sender's own page shows it (the composer drops a send
    while one is in flight, so the next send waits for this one)."""
    page.locator("#id_comment").fill(text)
    page.locator("#id_comment").press("Enter")
    expect(page.locator("#messages li.message .comment", has_text=text)).to_have_count(1)
    expect(page.locator("#composer")).not_to_have_class("is-sending")


def test_two_people_see_each_others_messages_through_their_streams(site, new_context, page_errors):
    alice = Watched(page_errors(new_context().new_page()))
    bob = Watched(page_errors(new_context().new_page()))
    sign_up(alice.page, site.url, "alice", "Alice")
    room_url = create_room(alice.page, site.url, "Streamed")
    sign_up(bob.page, site.url, "bob", "Bob")
    bob.page.goto(room_url)
    for person in (alice, bob):
        person.wait_for_event("open")

    said = []
    for n in range(3):
        for sender, reader in ((alice, bob), (bob, alice)):
            text = f"{'alice' if sender is alice else 'bob'} says {n}"
            _send(sender.page, text)
            said.append(text)
            expect(reader.page.locator("#messages li.message .comment", has_text=text)).to_have_count(1)

    for person in (alice, bob):
        expect(person.page.locator("#messages li.message .comment")).to_have_text(said)
    # Each reader got the other's messages from the stream; its own come back too (already shown
    # from the POST's answer), the last of them possibly a moment after this point.
    wait_until(lambda: set(said) <= set(alice.streamed_comments()) and set(said) <= set(bob.streamed_comments()),
               timeout=5, message="every message on both streams")
    assert alice.streams() == bob.streams() == 1  # one stream per tab, never reopened
    assert alice.polls() == bob.polls() == 0  # and no polls while it was open
    assert page_errors.errors == []


def test_a_tab_cut_off_for_a_few_seconds_resumes_with_nothing_lost_or_doubled(site, new_context, page_errors):
    proxy = Proxy(site.port)
    try:
        alice = Person(site.url)  # the other person posts straight to the server
        alice.sign_up("alice", "Alice")
        room = alice.create_room("Cut off")
        bob = Watched(page_errors(new_context().new_page()))
        sign_up(bob.page, proxy.url, "bob", "Bob")
        bob.page.goto(proxy.url + room)
        bob.wait_for_event("open")

        said = []

        def post(text):
            assert alice.post_message(room, text).status_code == 200
            said.append(text)

        post("before the cut")
        expect(bob.page.locator("#messages li.message .comment")).to_have_text(said)

        proxy.refuse_for(4)  # every connection cut, and new ones dropped for 4 s
        for n in range(3):
            post(f"while cut off {n}")
            time.sleep(0.5)
        expect(bob.page.locator("#live-status")).to_contain_text("Live updates paused")
        expect(bob.page.locator("#messages li.message .comment")).to_have_text(said, timeout=15_000)
        expect(bob.page.locator("#live-status")).to_have_text("")
        post("after the cut")
        expect(bob.page.locator("#messages li.message .comment")).to_have_text(said)

        # Nothing doubled on the page or by the stream; the stream resumed from its last event.
        assert bob.shown() == said
        assert sorted(bob.streamed_comments()) == sorted(said)
        resumed = [head for head in proxy.heads if "/stream?" in head.split("\r\n", 1)[0]][1:]
        assert resumed and all("last-event-id:" in head.lower() for head in resumed)
        assert bob.polls() == 0  # the stream reconnected by itself
    finally:
        proxy.close()
    assert not [e for e in page_errors.errors if "ERR_" not in e]  # a cut connection logs a network error
