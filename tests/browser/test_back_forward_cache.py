"""After signing out, the browser's Back button must not show the signed-in pages (the user's name,
the composer) from the back/forward cache: on a shared computer the next person would see them.
Pages rendered for a signed-in user are `Cache-Control: no-store`, which keeps them out of it.

Playwright turns the back/forward cache off by default (--disable-back-forward-cache); this test
launches its own Chromium with it on, and first shows the cache really is on.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, create_room, expect_signed_out, sign_up

DESKTOP = {"width": 960, "height": 720}


@pytest.fixture
def bfcache_browser(playwright_instance):
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        ignore_default_args=["--disable-back-forward-cache"])
    yield browser
    browser.close()


def _mark(page) -> None:
    """A flag that survives only if Back restores this very document (the back/forward cache)."""
    page.evaluate("window.__still_here = true")


def _restored(page) -> bool:
    return bool(page.evaluate("window.__still_here === true"))


def test_back_after_sign_out_does_not_show_signed_in_pages(site, bfcache_browser):
    page = bfcache_browser.new_context(viewport=DESKTOP).new_page()
    page.set_default_timeout(10_000)

    # The cache is on: an anonymous page comes back as the same document.
    page.goto(site.url + "/")
    _mark(page)
    page.goto(site.url + "/accounts/login/")
    page.go_back(wait_until="commit")  # a restored page fires no "load"
    expect(page).to_have_url(site.url + "/")
    assert _restored(page), "the back/forward cache is off in this browser: the test would prove nothing"

    sign_up(page, site.url, "dora", "Dora Shared-Computer")
    room_url = create_room(page, site.url, "Library Terminal")
    composer = page.locator("#id_comment")
    composer.fill("my private draft")
    expect(page.locator(".site-header")).to_contain_text("Dora Shared-Computer")
    _mark(page)

    page.get_by_role("button", name="Sign out").click()
    expect_signed_out(page)

    page.go_back(wait_until="commit")  # a restored page fires no "load"
    expect(page).to_have_url(room_url)
    assert not _restored(page)  # reloaded from the server, not restored
    expect_signed_out(page)
    expect(page.locator("#id_comment")).to_have_count(0)
    assert "Dora Shared-Computer" not in page.locator(".site-header").inner_text()

    # The profile page too.
    page.goto(site.url + "/accounts/login/")
    page.get_by_label("Username").fill("dora")
    page.get_by_label("Password").fill("plum-Orchard-47-kettle")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.goto(site.url + "/accounts/profile/")
    expect(page.locator("body")).to_contain_text("Dora Shared-Computer")
    _mark(page)
    page.get_by_role("button", name="Sign out").click()
    expect_signed_out(page)
    page.go_back(wait_until="commit")  # a restored page fires no "load"
    assert not _restored(page)
    assert "Dora Shared-Computer" not in page.content()
