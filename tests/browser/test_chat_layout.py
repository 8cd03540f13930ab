"""The chat layout in Chromium (gunicorn + dynalite): the message list is the page's only scroller
with the composer always in view, "Jump to latest", day dividers and author groups in the
reader's time zone, the "Your rooms" sidebar (on a phone behind a "Rooms" button), the dark
scheme, and Alt+ArrowUp/Down between rooms. Histories are seeded straight into the tables."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from chatsite import keys
from rooms import services, validators
from rooms.models import MessageRecord
from rooms.timestamps import iso_from_ms, now_ms
from tests.support.browser import create_room, save_screenshot, sign_up

DESKTOP = {"width": 960, "height": 720}
PHONE = {"width": 360, "height": 740}
GROUP_WITHIN_MS = 5 * 60 * 1000


def sent(page) -> None:
    """The composer's post has been answered: its text cleared and no send in flight. Enter while
    a post is on its way is dropped (hx-sync), so the next message must wait for this; seeing the
    message on another page (through its live stream) can come first."""
    expect(page.locator("#id_comment")).to_have_value("", timeout=15_000)
    expect(page.locator("#composer")).not_to_have_class(re.compile("is-sending"), timeout=15_000)


@pytest.fixture
def site(gunicorn_server):
    return gunicorn_server()


def seed(room_id: str, messages: list[tuple[int, str, str]]) -> None:
    """(epoch ms, author id, text) → stored messages, as the post service would store them."""
    with MessageRecord.batch_write() as batch:
        for at, author_id, text in messages:
            created = iso_from_ms(at)
            batch.save(MessageRecord(keys.user_pk(author_id), keys.message_sk(created, validators.new_token()),
                                     room_id=room_id, created_at=created, comment=text,
                                     author_name=author_id.removeprefix("u-").title()))
    # As import_room does: the server's room tail, if warm, loads the room again; after the
    # refresh interval no page comes from the tail as it was (docs/live-updates.md, "Bulk writers").
    services.room_history_changed(room_id=room_id)
    time.sleep(0.5 + 0.2)


def history(count: int, *, end_ms: int | None = None, step_ms: int = 1000, authors=("u-ann", "u-ben")):
    end = end_ms if end_ms is not None else now_ms() - 60_000
    return [(end - (count - 1 - n) * step_ms, authors[n % len(authors)], f"message {n:03d}") for n in range(count)]


def messages(page):
    return page.locator("#messages li.message")


def document_scrolls(page) -> bool:
    return page.evaluate("""() => {
        window.scrollTo(0, 100000);
        const moved = window.scrollY;
        return moved > 0 || document.scrollingElement.scrollHeight > window.innerHeight;
    }""")


def timeline_scrolls(page) -> bool:
    return page.evaluate("(el => el.scrollHeight > el.clientHeight + 100)(document.getElementById('timeline'))")


def fully_in_window(page, locator) -> bool:
    box = locator.bounding_box()
    size = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= size["height"] and box["x"] >= 0 \
        and box["x"] + box["width"] <= size["width"]


def test_the_composer_stays_in_view_after_200_messages_and_only_the_list_scrolls(site, new_context, page_errors):
    page = page_errors(new_context(viewport=DESKTOP).new_page())
    sign_up(page, site.url, "alice", "Alice Moreau")
    room_url = create_room(page, site.url, "Long history")
    room_id = room_url.rstrip("/").rsplit("/", 1)[1]
    seed(room_id, history(200))

    page.goto(room_url)
    expect(messages(page)).to_have_count(50)
    composer = page.locator("#id_comment")
    expect(composer).to_be_focused()  # arriving, the reader can type at once
    assert fully_in_window(page, composer) and fully_in_window(page, page.get_by_role("button", name="Send"))
    expect(messages(page).last).to_be_in_viewport()  # the newest message is in view on load
    expect(messages(page).first).not_to_be_in_viewport()
    assert timeline_scrolls(page)
    assert not document_scrolls(page)

    for shown in (100, 150, 200):  # "load older" keeps the reader's place and the composer in view
        page.evaluate("document.getElementById('timeline').scrollTop = 0")
        top = messages(page).first
        top_id = top.get_attribute("id")
        before = top.bounding_box()["y"]
        page.locator("#load-older-link").click()
        expect(messages(page)).to_have_count(shown)
        assert abs(page.locator(f"#{top_id}").bounding_box()["y"] - before) < 60
        assert fully_in_window(page, composer)
        assert not document_scrolls(page)
    expect(page.locator(".load-older")).to_have_text("This is the start of the room.")
    page.get_by_role("textbox", name="Message").fill("after 200")
    page.keyboard.press("Enter")
    expect(messages(page)).to_have_count(201)
    expect(messages(page).last).to_be_in_viewport()
    assert fully_in_window(page, composer)
    assert page_errors.errors == []


def test_scrolled_up_new_messages_do_not_move_the_view_and_jump_to_latest_counts_them(site, new_context, page_errors):
    alice = page_errors(new_context(viewport=DESKTOP).new_page())
    bob = page_errors(new_context(viewport=DESKTOP).new_page())
    sign_up(alice, site.url, "alice", "Alice")
    sign_up(bob, site.url, "bob", "Bob")
    room_url = create_room(alice, site.url, "Busy room")
    seed(room_url.rstrip("/").rsplit("/", 1)[1], history(60))
    alice.goto(room_url)
    bob.goto(room_url)
    expect(messages(alice)).to_have_count(50)
    jump = alice.get_by_role("button", name=re.compile(r"^Jump to latest"))
    expect(jump).to_be_hidden()

    alice.evaluate("document.getElementById('timeline').scrollTop = 200")
    first_visible = messages(alice).nth(5)
    y_before = first_visible.bounding_box()["y"]
    for number, text in enumerate(("one new", "two new", "three new"), start=1):
        bob.locator("#id_comment").fill(text)
        bob.locator("#id_comment").press("Enter")
        sent(bob)
        expect(messages(alice)).to_have_count(50 + number, timeout=15_000)
    expect(jump).to_have_text("Jump to latest (3 new)")
    expect(jump).to_be_visible()
    assert fully_in_window(alice, jump)
    assert alice.evaluate("document.getElementById('timeline').scrollTop") == 200  # no jump
    assert first_visible.bounding_box()["y"] == y_before
    expect(messages(alice).last).not_to_be_in_viewport()

    jump.click()
    expect(messages(alice).last).to_be_in_viewport()
    expect(messages(alice).last.locator(".comment")).to_have_text("three new")
    expect(jump).to_be_hidden()

    # At the bottom, new messages simply show: no button.
    bob.locator("#id_comment").fill("four")
    bob.locator("#id_comment").press("Enter")
    expect(messages(alice)).to_have_count(54, timeout=15_000)
    expect(messages(alice).last).to_be_in_viewport()
    expect(jump).to_be_hidden()
    assert page_errors.errors == []


def _expected_layout(items: list[tuple[int, str, str]], zone: ZoneInfo, today) -> list[tuple[str | None, bool]]:
    """(divider label or None, grouped) per message, in ``zone``: what the page must show."""
    out, previous = [], None
    for at, author, _ in items:
        day = datetime.fromtimestamp(at / 1000, zone).date()
        new_day = previous is None or datetime.fromtimestamp(previous[0] / 1000, zone).date() != day
        grouped = not new_day and previous[1] == author and at - previous[0] <= GROUP_WITHIN_MS
        if not new_day:
            label = None
        elif day == today:
            label = "Today"
        elif day == today - timedelta(days=1):
            label = "Yesterday"
        else:
            label = f"{day:%A}, {day:%B} {day.day}" + ("" if day.year == today.year else f", {day.year}")
        out.append((label, grouped))
        previous = (at, author)
    return out


def _shown_layout(page) -> list[tuple[str | None, bool]]:
    return [tuple(row) for row in page.eval_on_selector_all(
        "#messages li.message",
        "els => els.map(li => [li.querySelector(':scope > .day-divider')?.textContent ?? null,"
        " li.hasAttribute('data-continued')])")]


def test_day_dividers_and_author_groups_in_the_readers_zone_also_for_live_and_older_messages(
        site, new_context, page_errors):
    zone = ZoneInfo("America/New_York")
    page = page_errors(new_context(viewport=DESKTOP, timezone_id=str(zone), locale="en-US").new_page())
    sign_up(page, site.url, "alice", "Alice")
    room_url = create_room(page, site.url, "Days")
    now = now_ms()
    utc_midnight = int(datetime.fromtimestamp(now / 1000, timezone.utc).replace(
        hour=0, minute=0, second=0, microsecond=0).timestamp() * 1000) - 3 * 86_400_000
    items = [
        (utc_midnight - 120_000, "u-ann", "two UTC days"),  # 23:58 and 00:02 UTC: one evening in New York,
        (utc_midnight + 120_000, "u-ann", "one New York evening"),  # so one group under one divider
        (utc_midnight + 86_400_000, "u-ben", "a day later"),
        (now - 86_400_000, "u-ben", "this time yesterday"),
    ] + history(52, end_ms=now - 120_000, authors=("u-ann",))  # one author, a second apart: one group
    seed(room_url.rstrip("/").rsplit("/", 1)[1], items)

    page.goto(room_url)
    expect(messages(page)).to_have_count(50)
    today = datetime.fromtimestamp(now_ms() / 1000, zone).date()
    expected = _expected_layout(items, zone, today)
    first_page = [(expected[6][0] or _expected_layout(items[6:7], zone, today)[0][0], False)] + expected[7:]
    assert _shown_layout(page) == first_page
    # The server's dividers are UTC days; the page's are New York days.
    assert page.locator("#messages .day-divider[data-day]").count() == len([x for x in first_page if x[0]])

    page.locator("#load-older-link").click()  # the old top message now continues the one above it
    expect(messages(page)).to_have_count(56)
    assert _shown_layout(page) == expected
    assert [label for label, _ in expected if label][-1] == "Today"
    assert len([1 for label, _ in expected if label]) >= 3

    # A grouped message keeps its author for screen readers, visually hidden.
    grouped = page.locator("#messages li.message[data-continued]").first
    expect(grouped.locator(".author")).to_have_text("Ann")
    assert grouped.locator(".author").bounding_box()["width"] <= 1
    expect(grouped.locator(".avatar")).to_be_hidden()
    avatar = messages(page).first.locator(".avatar")
    expect(avatar).to_have_text("A")
    expect(avatar).to_have_attribute("aria-hidden", "true")
    assert re.fullmatch(r"avatar avatar-hue-\d+", avatar.get_attribute("class"))

    # Live: Alice's two quick messages are one group under her name, after Ann's.
    for count, text in ((57, "live one"), (58, "live two")):
        page.locator("#id_comment").fill(text)
        page.locator("#id_comment").press("Enter")
        # The composer drops a send while the previous one is in flight (hx-sync): wait for each.
        sent(page)
        expect(messages(page)).to_have_count(count)
    assert _shown_layout(page)[-2:] == [(None, False), (None, True)]
    expect(messages(page).nth(-2).locator(".author")).to_have_text("Alice")
    # Deleting the first of the two: the second leads the group again, its name shown.
    page.on("dialog", lambda dialog: dialog.accept())
    messages(page).nth(-2).get_by_role("button", name=re.compile("^Delete")).click()
    expect(messages(page)).to_have_count(57)
    assert _shown_layout(page)[-1] == (None, False)
    assert messages(page).last.locator(".author").bounding_box()["width"] > 1
    assert page_errors.errors == []


def _no_sideways_scroll(page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"page is {overflow}px wider than the window"


def test_phone_has_no_sideways_scroll_and_the_rooms_button_folds_the_sidebar(site, new_context, page_errors):
    page = page_errors(new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page())
    sign_up(page, site.url, "phoebe", "Phoebe Phone")
    first_url = create_room(page, site.url, "Pocket room", "small screens")
    create_room(page, site.url, "Another room with a rather long name that must not widen the page")
    seed(first_url.rstrip("/").rsplit("/", 1)[1], history(120))
    page.goto(first_url)
    expect(messages(page)).to_have_count(50)
    _no_sideways_scroll(page)
    assert not document_scrolls(page)
    assert fully_in_window(page, page.locator("#id_comment"))
    expect(messages(page).last).to_be_in_viewport()

    nav = page.get_by_role("navigation", name="Your rooms")
    rooms = page.get_by_role("button", name="Rooms")
    expect(rooms).to_have_attribute("aria-expanded", "false")
    expect(nav).to_be_hidden()
    rooms.click()
    expect(rooms).to_have_attribute("aria-expanded", "true")
    expect(nav).to_be_visible()
    expect(nav.get_by_role("link", name=re.compile(r"^Pocket room"))).to_have_attribute("aria-current", "page")
    _no_sideways_scroll(page)
    save_screenshot(page, "room-phone-rooms")
    nav.get_by_role("link", name=re.compile(r"^Another room")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("^Another room"))
    expect(nav).to_be_hidden()  # a new page starts folded
    _no_sideways_scroll(page)
    rooms.click()
    rooms.click()
    expect(nav).to_be_hidden()
    expect(rooms).to_have_attribute("aria-expanded", "false")
    assert page_errors.errors == []

    # Without JavaScript: no button; the list is there, after the conversation.
    nojs = new_context(viewport=PHONE, java_script_enabled=False)
    nojs.add_cookies(page.context.cookies())
    plain = nojs.new_page()
    plain.goto(first_url)
    expect(plain.get_by_role("button", name="Rooms")).to_have_count(0)
    nav = plain.get_by_role("navigation", name="Your rooms")
    expect(nav.get_by_role("link", name=re.compile(r"^Another room"))).to_be_visible()
    assert nav.bounding_box()["y"] > plain.locator("#id_comment").bounding_box()["y"]
    _no_sideways_scroll(plain)


def test_dark_scheme_is_honoured(site, new_context, page_errors):
    page = page_errors(new_context(viewport=DESKTOP, color_scheme="dark").new_page())
    sign_up(page, site.url, "dana", "Dana Dark")
    room_url = create_room(page, site.url, "Night shift", "after hours")
    seed(room_url.rstrip("/").rsplit("/", 1)[1], history(12))
    page.goto(room_url)
    expect(messages(page)).to_have_count(12)

    def luminance(selector: str, prop: str) -> float:
        rgb = page.eval_on_selector(selector, f"el => getComputedStyle(el).{prop}")
        r, g, b = (int(x) for x in re.findall(r"\d+", rgb)[:3])
        return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255

    assert luminance("body", "backgroundColor") < 0.2 and luminance("body", "color") > 0.8
    assert luminance("#id_comment", "backgroundColor") < 0.25
    assert luminance(".sidebar", "backgroundColor") < 0.25
    save_screenshot(page, "room-dark")
    page.emulate_media(color_scheme="light")
    assert luminance("body", "backgroundColor") > 0.9 and luminance("body", "color") < 0.3
    assert page_errors.errors == []


def test_alt_arrows_move_between_the_sidebars_rooms_and_announce_the_room(site, new_context, page_errors):
    page = page_errors(new_context(viewport=DESKTOP).new_page())
    sign_up(page, site.url, "kim", "Kim Keys")
    urls = {name: create_room(page, site.url, name) for name in ("Alpha", "Bravo", "Charlie")}
    page.goto(urls["Bravo"])
    nav = page.get_by_role("navigation", name="Your rooms")
    names = nav.locator(".sidebar-name").all_inner_texts()
    assert names[:3] == ["Alpha", "Bravo", "Charlie"], names
    expect(nav.get_by_role("link", name="Bravo", exact=True)).to_have_attribute("aria-current", "page")
    expect(page.locator("#id_comment")).to_be_focused()

    page.keyboard.press("Alt+ArrowDown")  # from the composer, too
    page.wait_for_url(urls["Charlie"])
    expect(page.get_by_role("heading", level=1)).to_have_text("Charlie")
    expect(nav.get_by_role("link", name="Charlie", exact=True)).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("status").filter(has_text="Now in")).to_have_text("Now in Charlie")
    expect(page.locator("#id_comment")).to_be_focused()

    page.keyboard.press("Alt+ArrowUp")
    page.wait_for_url(urls["Bravo"])
    page.keyboard.press("Alt+ArrowUp")
    page.wait_for_url(urls["Alpha"])
    expect(page.locator("#room-change")).to_have_text("Now in Alpha")
    page.reload()  # arriving any other way says nothing
    page.wait_for_timeout(400)
    expect(page.locator("#room-change")).to_have_text("")
    assert page_errors.errors == []
