"""Desktop notifications in Chromium: Alice has a room on **All messages** and two tabs of it in the
background; Bob posts and exactly one Notification is shown across her tabs (both tabs got the
stream's `notify` event: static/js/chat/notify.js lets one of them show it), with the message id as
its tag and the message's address as its data; clicking it opens the message. In a room left on
**Mentions only** a plain post shows nothing and a mention of her one. The button **Turn on desktop
notifications** asks for the permission only when clicked.

Headless Chromium shows no real notification and Playwright reports every page focused, so each of
Alice's tabs is made a background tab by its document.hasFocus() answering false, and the
Notification constructor is wrapped (add_init_script) to report every call to the test
(expose_binding) before calling the real one. The click is the notification's own click event."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from tests.support.browser import create_room, sign_up

DESKTOP = {"width": 1000, "height": 720}
LIVE = 15_000  # ms: the activity feed is read every second per process; loose for a loaded host
QUIET_SECONDS = 3  # after the first notification: long enough for a second tab's to show up

IN_BACKGROUND = "document.hasFocus = () => false;"  # a background tab (Playwright's pages all claim focus)

COUNT_NOTIFICATIONS = """
(() => {
  window.__events = { sidebar: 0, notify: 0 };
  document.addEventListener("chat:live", (event) => {
    if (event.detail && event.detail.name in window.__events) window.__events[event.detail.name] += 1;
  });
  const Real = window.Notification;
  if (!Real) return;
  function Counted(title, options) {
    const shown = new Real(title, options);
    window.__lastNotification = shown;
    window.recordNotification({ title, body: options && options.body, tag: options && options.tag,
                                data: options && options.data });
    return shown;
  }
  Counted.prototype = Real.prototype;
  Object.defineProperty(Counted, "permission", { get: () => Real.permission });
  window.__permissionRequests = 0;
  Counted.requestPermission = (...args) => {
    window.__permissionRequests += 1;
    return Real.requestPermission(...args);
  };
  window.Notification = Counted;
})();
"""


def say(page, text: str) -> None:
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_label("Message", exact=True).press("Enter")
    expect(page.locator("#messages")).to_contain_text(text)
    expect(page.locator("#composer")).not_to_have_class(re.compile("is-sending"))


def choose(page, words: str) -> None:
    page.locator("#notifications summary").click()
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/notifications")) as saved:
        page.get_by_label(words, exact=True).check()
    assert saved.value.status == 200
    expect(page.locator("#notifications-form [role=status]")).to_have_text(f"Saved: {words}.")
    expect(page.locator("#notifications summary")).to_have_text(f"Notifications: {words}")


def until(page, expression: str, timeout_ms: int = LIVE) -> None:
    """Wait until ``expression`` is true in ``page``, by evaluating it (wait_for_function polls with
    eval, which the site's CSP refuses)."""
    deadline = time.monotonic() + timeout_ms / 1000
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {timeout_ms} ms: {expression}"
        time.sleep(0.1)


def wait_for_user_side(page) -> None:
    """The tab's stream is open and carries her side: its first `sidebar` event arrived."""
    until(page, "Boolean(window.__events && window.__events.sidebar > 0)")


def settle(tabs, seconds: float = 0.1) -> None:
    """Let the tabs' binding calls reach the test: Playwright answers them during its own calls."""
    time.sleep(seconds)
    for tab in tabs:
        tab.evaluate("1")


def wait_for_count(shown: list, count: int, tabs) -> None:
    deadline = time.monotonic() + LIVE / 1000
    while len(shown) < count and time.monotonic() < deadline:
        settle(tabs)
    assert len(shown) >= count, shown


def notify_events(page) -> int:
    return page.evaluate("window.__events.notify")


def test_one_notification_for_two_background_tabs_and_its_click_opens_the_message(site, new_context, page_errors):
    context = new_context(viewport=DESKTOP, permissions=["notifications"])
    shown: list = []
    context.expose_binding("recordNotification", lambda source, note: shown.append((source["page"], note)))
    context.add_init_script(COUNT_NOTIFICATIONS)
    context.add_init_script(IN_BACKGROUND)
    alice = page_errors(context.new_page())
    bob = page_errors(new_context(viewport=DESKTOP).new_page())
    sign_up(alice, site.url, "alice", "Alice")
    sign_up(bob, site.url, "bob", "Bob")
    ops = create_room(alice, site.url, "Ops")  # left on Mentions only
    design = create_room(alice, site.url, "Design")
    choose(alice, "All messages")
    # Permission granted: no button, a word on how things stand.
    expect(alice.get_by_role("button", name="Turn on desktop notifications")).to_be_hidden()
    expect(alice.locator("#desktop-notifications-note")).to_have_text("Desktop notifications are on in this browser.")

    second = page_errors(context.new_page())
    second.goto(design)
    tabs = [alice, second]
    for tab in tabs:
        wait_for_user_side(tab)

    bob.goto(design)
    say(bob, "the build is green")
    wait_for_count(shown, 1, tabs)
    for tab in tabs:  # both tabs were told: one of them showed it
        until(tab, "window.__events.notify >= 1")
    settle(tabs, QUIET_SECONDS)
    assert len(shown) == 1, shown
    page, note = shown[0]
    assert note["title"] == "Bob in Design" and note["body"] == "the build is green"
    message_id = note["tag"]
    assert re.fullmatch(r"/rooms/design/\?at=[^#]+#m-" + re.escape(message_id), note["data"]["url"]), note
    assert note["data"]["id"] == message_id
    assert bob.locator(f"#m-{message_id}").count() == 1  # the tag is the message's id

    # In Ops, on Mentions only: a plain post notifies nobody, a mention of her once.
    bob.goto(ops)
    say(bob, "just chatting")
    say(bob, "@alice can you look?")
    wait_for_count(shown, 2, tabs)
    for tab in tabs:
        until(tab, "window.__events.notify >= 2")
    settle(tabs, QUIET_SECONDS)
    assert [n["body"] for _, n in shown] == ["the build is green", "@alice can you look?"], shown
    assert shown[1][1]["title"] == "Bob mentioned you in Ops"
    assert all(notify_events(tab) == 2 for tab in tabs)  # the plain post was never sent as a notify event

    # Clicking the mention's notification opens its message, in the tab that showed it.
    page, note = shown[-1]
    assert page.evaluate("window.__lastNotification.tag") == note["tag"]
    page.evaluate("window.__lastNotification.dispatchEvent(new Event('click'))")
    expect(page).to_have_url(site.url + note["data"]["url"], timeout=LIVE)
    expect(page.locator(f"#m-{note['tag']}")).to_contain_text("can you look?")
    assert not page_errors.errors, page_errors.errors


def test_the_permission_is_asked_for_only_when_the_button_is_clicked(site, new_context, page_errors):
    context = new_context(viewport=DESKTOP)  # nothing granted: the browser may still ask
    context.expose_binding("recordNotification", lambda source, note: None)
    context.add_init_script(COUNT_NOTIFICATIONS)
    alice = page_errors(context.new_page())
    sign_up(alice, site.url, "alice", "Alice")
    create_room(alice, site.url, "Design")
    alice.locator("#notifications summary").click()
    button = alice.get_by_role("button", name="Turn on desktop notifications")
    expect(button).to_be_visible()
    assert alice.evaluate("window.__permissionRequests") == 0
    button.click()
    until(alice, "window.__permissionRequests === 1")
    # Headless Chromium answers at once (no one to ask): whatever it says, the button follows it.
    permission = alice.evaluate("Notification.permission")
    if permission == "default":
        expect(button).to_be_visible()
    else:
        expect(button).to_be_hidden()
        expect(alice.locator("#desktop-notifications-note")).to_contain_text("blocked" if permission == "denied" else "on")
    assert not page_errors.errors, page_errors.errors


def test_no_notification_while_another_tab_of_the_site_is_focused(site, new_context, page_errors):
    """A focused tab (on another room) claims the message without showing it: the background tab on
    the room posted in, told the same, shows nothing either."""
    context = new_context(viewport=DESKTOP, permissions=["notifications"])
    shown: list = []
    context.expose_binding("recordNotification", lambda source, note: shown.append((source["page"], note)))
    context.add_init_script(COUNT_NOTIFICATIONS)
    alice = page_errors(context.new_page())
    bob = page_errors(new_context(viewport=DESKTOP).new_page())
    sign_up(alice, site.url, "alice", "Alice")
    sign_up(bob, site.url, "bob", "Bob")
    ops = create_room(alice, site.url, "Ops")
    design = create_room(alice, site.url, "Design")
    choose(alice, "All messages")
    background = page_errors(context.new_page())
    background.add_init_script(IN_BACKGROUND)
    background.goto(design)
    alice.goto(ops)  # in focus, reading another room
    alice.bring_to_front()
    assert alice.evaluate("document.hasFocus()") and not background.evaluate("document.hasFocus()")
    tabs = [alice, background]
    for tab in tabs:
        wait_for_user_side(tab)

    bob.goto(design)
    say(bob, "while you are here")
    for tab in tabs:  # both tabs were told
        until(tab, "window.__events.notify >= 1")
    settle(tabs, QUIET_SECONDS)
    assert shown == [], shown
    assert not page_errors.errors, page_errors.errors
