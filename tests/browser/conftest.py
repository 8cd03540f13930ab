"""Browser fixtures: Playwright driving Debian's Chromium (/usr/bin/chromium), never a download.

The site runs in real gunicorn (the checked-in gunicorn.conf.py, production-like settings) on a
free port, against the test run's dynalite.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def playwright_instance():
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is missing: `make test` installs it (apt-get install -y chromium).")
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance):
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def site(gunicorn_server):
    """A running site: gunicorn + dynalite with fresh tables. ``site.url`` is its base URL."""
    return gunicorn_server()


@pytest.fixture
def new_context(browser):
    contexts = []

    def make(**kwargs):
        context = browser.new_context(**kwargs)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page_errors():
    """Collects console errors and uncaught page errors (e.g. CSP violations) for assertions."""
    errors: list[str] = []

    def watch(page):
        page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
        page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
        return page

    watch.errors = errors
    return watch


def save_screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


# --- helpers for driving the UI as a person would ------------------------------------------------

PASSWORD = "plum-Orchard-47-kettle"


def field(page, label: str):
    """The form field labelled ``label`` (Django's field groups add a colon to the label)."""
    import re

    return page.get_by_label(re.compile(rf"^{re.escape(label)}:?$"))


def sign_up(page, base_url: str, username: str, display_name: str, password: str = PASSWORD) -> None:
    """Fill in and submit the sign-up form; returns once the site has signed the person in."""
    page.goto(base_url + "/accounts/signup/")
    fill_sign_up(page, username, display_name, password)
    page.get_by_role("button", name="Create account").click()
    expect_signed_in(page)


def fill_sign_up(page, username: str, display_name: str, password: str = PASSWORD) -> None:
    field(page, "Username").fill(username)
    field(page, "Display name").fill(display_name)
    field(page, "Password").fill(password)
    field(page, "Password again").fill(password)


def sign_in(page, base_url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(base_url + "/accounts/login/")
    field(page, "Username").fill(username)
    field(page, "Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect_signed_in(page)


def expect_signed_in(page) -> None:
    from playwright.sync_api import expect

    expect(page.locator(".site-header .nav-form button")).to_have_text("Sign out")


def expect_signed_out(page) -> None:
    from playwright.sync_api import expect

    expect(page.locator(".site-header").get_by_role("link", name="Sign in", exact=True)).to_be_visible()
    expect(page.locator(".site-header .nav-form")).to_have_count(0)


def create_room(page, base_url: str, name: str, description: str = "") -> str:
    """Create a room through the form on the room list; returns the room page's URL."""
    page.goto(base_url + "/")
    page.get_by_label("Room name").fill(name)
    if description:
        page.get_by_label("Description (optional)").fill(description)
    page.get_by_role("button", name="Create room").click()
    page.wait_for_url("**/rooms/*/")
    return page.url
