"""A member opening a room with unread messages gets the page around their read cursor: a few read
messages, the **New messages** line above the first unread one, and **Load newer messages** below
until the newest is reached (a signed cursor, like "load older"). Without unread messages the page
is the usual newest page. Without JavaScript the links are plain pages."""

from __future__ import annotations

import re

import pytest

from accounts.user_cache import user_cache
from chatsite.dynamodb import count_calls
from rooms import selectors, services
from tests.rooms.test_views import HX
from tests.support.seeding import messages_posted
from tests.support.sessions import request_user, sign_in

NEW_LINE = '<h2 class="new-messages" id="new-messages">New messages</h2>'
NEWER_LINK = re.compile(r'<a href="(/rooms/art/\?after=[^"]+)" id="load-newer-link"')


@pytest.fixture(autouse=True)
def many_posts(settings):
    settings.CHAT_POST_RATE_LIMIT = 1000


@pytest.fixture
def history(room):
    """120 messages by bob in alice's room; alice has read the first 31 (up to index 30)."""
    messages_posted(room, [f"message {n:03d}" for n in range(120)], author=request_user("bob"))
    messages = selectors.room_history(room_id="art", limit=500).items
    assert services.read_cursor_advance(user_id="alice", room_id="art", seq=messages[30].seq, pos=messages[30].sk)
    return messages


def shown(body: str) -> list[str]:
    return re.findall(r'<li class="message" id="m-([^"]+)"', body)


def message_with_line(body: str) -> str:
    li = body[:body.index(NEW_LINE)].rsplit('<li class="message" id="m-', 1)[1]
    return li.split('"', 1)[0]


def test_the_page_opens_around_the_read_cursor_with_the_line_and_load_newer(client, history):
    sign_in(client, "alice")
    selectors.room_get(room_id="art")  # a warm process: the room and its Seq cached
    user_cache.clear()
    with count_calls() as calls:
        response = client.get("/rooms/art/")
    body = response.content.decode()
    assert response.status_code == 200
    # The session, the user with her rooms, then the history from the cursor and the few before it
    # (one Query more than the newest page); the room's Seq is this process's (the posts noted it).
    assert dict(calls) == {"Query": 4}, calls
    assert shown(body) == [m.message_id for m in history[25:80]]
    assert body.count(NEW_LINE) == 1 and message_with_line(body) == history[31].message_id
    assert NEWER_LINK.search(body) and 'id="load-older-link"' in body
    assert 'id="composer"' in body and 'data-read-url="/rooms/art/read"' in body  # live, and reading


def test_load_newer_through_htmx_then_the_newest(client, history, settings):
    settings.CHAT_ROOM_SEQ_CACHE_SECONDS = 600  # the budget below is the warm cache's; a slow host must not expire it
    sign_in(client, "alice")
    link = NEWER_LINK.search(client.get("/rooms/art/").content.decode()).group(1)
    user_cache.clear()
    with count_calls() as calls:
        newer = client.get(link, **HX)
    body = newer.content.decode()
    assert newer.status_code == 200 and "<html" not in body
    assert dict(calls) == {"Query": 3}, calls  # the session, the user with her rooms, one page
    assert shown(body) == [m.message_id for m in history[80:]]
    assert '<p class="load-newer" id="load-newer" hx-swap-oob="true"></p>' in body  # the newest reached
    assert NEW_LINE not in body


def test_without_javascript_load_newer_is_a_page_and_the_last_one_is_live(client, history, settings):
    settings.CHAT_HISTORY_PAGE_SIZE = 40
    sign_in(client, "alice")
    first = client.get("/rooms/art/").content.decode()  # 31..70 from the cursor (40), then 71..110, 111..119
    middle = client.get(NEWER_LINK.search(first).group(1)).content.decode()
    assert shown(middle) == [m.message_id for m in history[70:110]]
    assert 'id="composer"' not in middle and "Back to the latest messages" in middle
    assert 'id="load-older-link"' in middle
    last = client.get(NEWER_LINK.search(middle).group(1)).content.decode()
    assert shown(last) == [m.message_id for m in history[110:]]
    assert not NEWER_LINK.search(last) and 'id="composer"' in last


def test_no_unread_is_the_newest_page_as_before(client, history):
    services.read_cursor_advance(user_id="alice", room_id="art", seq=history[-1].seq, pos=history[-1].sk)
    sign_in(client, "alice")
    body = client.get("/rooms/art/").content.decode()
    assert shown(body) == [m.message_id for m in history[-50:]]
    assert NEW_LINE not in body and not NEWER_LINK.search(body)


def test_broken_or_borrowed_newer_links_are_400(client, history):
    sign_in(client, "alice")
    page = client.get("/rooms/art/").content.decode()
    link = NEWER_LINK.search(page).group(1)
    older = re.search(r'href="/rooms/art/\?before=([^"]+)" id="load-older-link"', page).group(1)
    for url in (link[:-4] + "abcd", "/rooms/art/?after=garbage", f"/rooms/art/?after={older}"):
        assert client.get(url, **HX).status_code == 400, url
        assert client.get(url).status_code == 400, url
    services.room_create(name="Other", created_by="alice")
    assert client.get(link.replace("/rooms/art/", "/rooms/other/"), **HX).status_code == 400


def test_mark_as_unread_shows_to_members_only(client, history):
    sign_in(client, "alice")
    member = client.get("/rooms/art/").content.decode()
    assert member.count('class="unread-form"') == len(shown(member)) and "Mark as unread</button>" in member
    assert 'class="unread-form" method="post" action="/rooms/art/unread" hx-post="/rooms/art/unread"\n        hx-swap="none">' in member
    client.cookies.clear()  # signed out
    assert 'class="unread-form"' not in client.get("/rooms/art/").content.decode()
    sign_in(client, "carol")  # signed in, not a member: hidden (read.js shows it to members only)
    visitor = client.get("/rooms/art/").content.decode()
    assert 'hx-swap="none" hidden>' in visitor.split('class="unread-form"')[1].split("</form>")[0]


def test_without_javascript_mark_as_unread_reopens_the_room_at_that_message(client, history):
    services.read_cursor_advance(user_id="alice", room_id="art", seq=history[-1].seq, pos=history[-1].sk)
    sign_in(client, "alice")
    target = history[100]
    response = client.post("/rooms/art/unread", {"author": target.author_id, "sk": target.sk}, follow=True)
    body = response.content.decode()
    assert response.status_code == 200 and message_with_line(body) == target.message_id
    assert shown(body) == [m.message_id for m in history[95:]] and not NEWER_LINK.search(body)
