"""The composer never loses what a person typed (found while writing the browser scenarios)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.support.browser import create_room, sign_up


def test_text_typed_while_a_message_is_sending_is_kept(site, new_context, page_errors):
    page = page_errors(new_context().new_page())
    sign_up(page, site.url, "alice", "Alice")
    create_room(page, site.url, "Typing")
    held = []
    hold = [True]
    # A slow network: the first post is held until the test lets it go.
    page.route("**/messages", lambda route: held.append(route) if hold[0] else route.continue_())

    composer = page.locator("#id_comment")
    composer.fill("first message")
    composer.press("Enter")
    page.wait_for_function("document.getElementById('composer').classList.contains('is-sending')")
    composer.press("End")
    composer.press_sequentially(" and the next thought")  # typed while the first is on its way
    composer.press("Enter")  # ignored while sending: nothing is sent twice or lost
    assert len(held) == 1

    hold[0] = False
    held[0].continue_()
    expect(page.locator("#messages li.message")).to_have_count(1)
    expect(page.locator("#messages li.message .comment")).to_have_text("first message")
    expect(composer).to_have_value(" and the next thought")

    composer.press("Enter")
    expect(page.locator("#messages li.message")).to_have_count(2)
    expect(page.locator("#messages li.message .comment").last).to_have_text("and the next thought")
    expect(composer).to_have_value("")
    assert page_errors.errors == []


def test_lost_answer_resend_is_exactly_once_but_an_edited_resend_is_a_new_message(site, new_context, page_errors):
    page = new_context().new_page()
    sign_up(page, site.url, "bob", "Bob")
    create_room(page, site.url, "Lossy")
    lose = [True]

    def lose_answer(route):
        if not lose[0]:
            return route.continue_()
        route.fetch()  # the server stores the message...
        route.abort()  # ...but the browser never hears back

    page.route("**/messages", lose_answer)
    composer = page.locator("#id_comment")
    comments = page.locator("#messages li.message .comment")

    composer.fill("helo wrld")
    composer.press("Enter")
    expect(page.locator("#composer-errors")).not_to_be_empty()
    expect(composer).to_have_value("helo wrld")  # kept for a retry
    lose[0] = False
    composer.press("Enter")  # the same text again: the server recognises it, no second copy
    expect(comments).to_have_text(["helo wrld"])
    expect(composer).to_have_value("")

    lose[0] = True
    composer.fill("second try")
    composer.press("Enter")
    expect(page.locator("#composer-errors")).to_contain_text("Couldn't reach the server")
    expect(composer).to_have_value("second try")
    lose[0] = False
    composer.fill("second try, edited")  # an edit after a failure is a different message
    composer.press("Enter")
    expect(composer).to_have_value("")
    page.reload()
    expect(comments).to_have_text(["helo wrld", "second try", "second try, edited"])
