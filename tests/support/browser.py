"""Driving the site in Chromium as a person would (Playwright's sync API): sign up, sign in,
create a room, screenshots. The fixtures that start the browser are in tests/browser/conftest.py."""

from __future__ import annotations

from pathlib import Path

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


def save_screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


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
