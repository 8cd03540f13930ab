"""The header's search with JavaScript, in Chromium against gunicorn and dynalite: from a page with
no room, Enter asks htmx for the results alone and swaps them into <main> (no reload: the sidebar
and the page stay), the address becomes /search/?q=…, the title follows, a refused query says why
in place; Back returns to the page it came from and Forward to the whole search page. From a room
page the field navigates (the room's live machinery ends with its page) and Back returns to the
room. Without JavaScript the plain GET form still works."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from tests.support.browser import create_room, sign_up

WAIT_SECONDS = 15  # the indexer is a thread in the server: a post is found a moment later


def say(page, text: str) -> None:
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_label("Message", exact=True).press("Enter")
    expect(page.locator("#messages")).to_contain_text(text)
    # the post answered (its own stream can show the message first): Enter while one is on its way is dropped
    expect(page.locator("#composer")).not_to_have_class(re.compile("is-sending"))


def search_box(page):
    return page.get_by_role("search").get_by_label("Search messages", exact=True)


def search_in_place(page, q: str, count: int) -> None:
    """Type ``q`` in the header's field and press Enter, again until ``count`` results show (the
    index catches up within moments), each time waiting for htmx's answer."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        search_box(page).fill(q)
        with page.expect_response(lambda r: "/search/?q=" in r.url) as answer:
            search_box(page).press("Enter")
        assert answer.value.request.headers.get("hx-request") == "true"
        page.wait_for_function("() => !document.querySelector('.htmx-request')")
        if page.locator(".search-result").count() == count or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    expect(page.locator(".search-result")).to_have_count(count)


def test_the_header_search_swaps_in_the_results_and_back_returns(site, new_context, page_errors):
    alice = page_errors(new_context().new_page())
    sign_up(alice, site.url, "alice", "Alice")
    create_room(alice, site.url, "General")
    say(alice, "The deployment finished at noon")

    alice.goto(site.url + "/mentions/")
    alice.evaluate("window.notReloaded = true")
    search_in_place(alice, "deplo", 1)
    expect(alice).to_have_url(re.compile(r"/search/\?q=deplo$"))
    expect(alice.locator("main .search-result").first).to_contain_text("The deployment finished at noon")
    expect(alice.locator("main .search-result mark").first).to_have_text("deployment")
    expect(alice.locator("main h1")).to_have_text("Results for “deplo”")
    expect(alice).to_have_title(re.compile(r"deplo · Search · Chatsite$"))
    expect(alice.locator("#sidebar")).to_have_count(1)  # the page's sidebar stayed, not drawn again
    assert alice.evaluate("window.notReloaded") is True

    # A refused query says why in place, at its own address.
    search_box(alice).fill("deployment colour:red")
    search_box(alice).press("Enter")
    expect(alice.get_by_role("alert")).to_contain_text("“colour:” is not a filter.")
    expect(alice).to_have_url(re.compile(r"/search/\?q=deployment(\+|%20)colour%3Ared$"))
    assert alice.evaluate("window.notReloaded") is True

    # Back: the earlier search, then the page searched from, each loaded whole.
    alice.go_back()
    expect(alice).to_have_url(re.compile(r"/search/\?q=deplo$"))
    expect(alice.locator("main .search-result")).to_have_count(1)
    alice.go_back()
    expect(alice).to_have_url(re.compile(r"/mentions/$"))
    expect(alice.locator("main h1")).to_have_text("Mentions")
    alice.go_forward()
    expect(alice).to_have_url(re.compile(r"/search/\?q=deplo$"))
    expect(alice.locator("main .search-result")).to_have_count(1)
    expect(alice.locator("#sidebar")).to_have_count(1)
    # The refused query's 400 is logged by the browser and by htmx; nothing else went wrong.
    assert [e for e in page_errors.errors if "400" not in e] == [], page_errors.errors
    assert len(page_errors.errors) <= 2, page_errors.errors


def test_from_a_room_page_the_search_opens_and_back_returns_to_the_room(site, new_context, page_errors):
    alice = page_errors(new_context().new_page())
    sign_up(alice, site.url, "alice", "Alice")
    general = create_room(alice, site.url, "General")
    say(alice, "Pineapple for lunch")

    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        alice.goto(general)
        search_box(alice).fill("pineapple")
        search_box(alice).press("Enter")
        alice.wait_for_url("**/search/?q=pineapple")
        if alice.locator(".search-result").count() == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    expect(alice.locator(".search-result")).to_have_count(1)
    expect(alice.locator(".search-result")).to_contain_text("Pineapple for lunch")
    alice.go_back()
    expect(alice).to_have_url(general)
    expect(alice.locator("#room-heading")).to_have_text("General")
    expect(alice.locator("#messages")).to_contain_text("Pineapple for lunch")
    assert not page_errors.errors, page_errors.errors


def test_without_javascript_the_header_search_is_a_plain_form(site, new_context):
    alice = new_context().new_page()
    sign_up(alice, site.url, "alice", "Alice")
    create_room(alice, site.url, "General")
    say(alice, "Coconut water arrived")
    reader = new_context(java_script_enabled=False).new_page()
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        reader.goto(site.url + "/")
        search_box(reader).fill("coconut")
        search_box(reader).press("Enter")
        reader.wait_for_url("**/search/?q=coconut")
        if reader.locator(".search-result").count() == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    expect(reader.locator(".search-result")).to_contain_text("Coconut water arrived")
    expect(reader).to_have_title(re.compile(r"coconut · Search · Chatsite$"))


def test_when_htmx_cannot_show_an_answer_the_search_page_opens(site, new_context):
    """A server error (which htmx does not swap) or no connection: static/js/search.js opens the
    search page itself, so the user sees the answer (here the page works again) instead of nothing."""
    alice = new_context().new_page()
    sign_up(alice, site.url, "alice", "Alice")
    create_room(alice, site.url, "General")
    say(alice, "Mango season starts")
    failed = []

    def fail_htmx(route):
        if route.request.headers.get("hx-request") == "true":
            failed.append(route.request.url)
            route.fulfill(status=500, body="<p>boom</p>")
        else:
            route.continue_()

    alice.goto(site.url + "/mentions/")
    alice.route("**/search/**", fail_htmx)
    search_box(alice).fill("mango")
    search_box(alice).press("Enter")
    alice.wait_for_url("**/search/?q=mango")
    expect(alice.locator("main h1")).to_have_text(re.compile("Results for “mango”|Search messages"))
    expect(alice.locator("#sidebar")).to_have_count(1)  # the whole page, loaded by the browser
    assert len(failed) == 1
    expect(alice.locator("main")).not_to_contain_text("boom")


def test_the_titles_unread_count_stays_on_the_results_title(site, new_context, page_errors):
    alice = page_errors(new_context().new_page())
    bob = page_errors(new_context().new_page())
    sign_up(alice, site.url, "alice", "Alice")
    sign_up(bob, site.url, "bob", "Bob")
    general = create_room(alice, site.url, "General")
    alice.goto(site.url + "/mentions/")  # away from the room: what bob says stays unread
    bob.goto(general)
    bob.get_by_role("button", name="Join room").click()
    say(bob, "Papaya for everyone")

    expect(alice).to_have_title(re.compile(r"^\(1\) Mentions · Chatsite$"))
    search_in_place(alice, "papaya", 1)
    expect(alice).to_have_title(re.compile(r"^\(1\) papaya · Search · Chatsite$"))
    assert not page_errors.errors, page_errors.errors
