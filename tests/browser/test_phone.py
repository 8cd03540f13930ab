"""The layout works on a phone-width screen: nothing scrolls sideways, the composer fits."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.support.browser import create_room, save_screenshot, sign_up

PHONE = {"width": 360, "height": 740}
LONG_WORD = "x" * 300  # a long word must wrap, not widen the page


def _no_sideways_scroll(page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"page is {overflow}px wider than a {PHONE['width']}px phone"


def test_pages_fit_a_phone_screen(site, new_context, page_errors):
    page = page_errors(new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page())
    page.goto(site.url + "/accounts/signup/")
    _no_sideways_scroll(page)
    sign_up(page, site.url, "phoebe", "Phoebe Phone")
    room_url = create_room(page, site.url, "Pocket room", "small screens")
    _no_sideways_scroll(page)

    page.goto(room_url)
    composer = page.locator("#id_comment")
    composer.fill(f"see https://example.com/{LONG_WORD}")
    composer.press("Enter")
    expect(page.locator(".message")).to_have_count(1)
    _no_sideways_scroll(page)
    box = composer.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    for path in ("/", "/accounts/profile/", "/accounts/sessions/"):
        page.goto(site.url + path)
        _no_sideways_scroll(page)
    page.goto(room_url)
    save_screenshot(page, "room-phone")
    assert page_errors.errors == []
