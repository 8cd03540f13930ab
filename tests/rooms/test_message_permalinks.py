"""Jump to a message: every message has a permanent link (ChatMessage.permalink, the Copy link on
each message), the room page around it, highlighted, with load older and load newer from there.
Opening it is a key lookup on the `room_messages` index, never a scan: the same calls, and Queries
bounded by a Limit on RoomID and CreatedAt, at 100 messages and at 3,000. A link into a room the
reader cannot read is the missing room's 404; a link to a message that is gone opens the room at
its time and says so."""

from __future__ import annotations

import html
import re
from urllib.parse import quote

import pytest

from chatsite import dynamodb
from chatsite.batch import batch_put_items
from chatsite.dynamodb import count_calls
from rooms import services
from rooms.models import ChatMessage, Mention, MessageRecord
from rooms.timestamps import iso_from_ms
from rooms.validators import new_token
from tests.rooms.test_views import HX
from tests.support.sessions import request_user, sign_in
from tests.support.users import ensure_user_item

AUTHORS = ("alice", "bob")
START_MS = 1_780_000_000_000  # all of it history: nothing is live


def fill(room_id: str, count: int, *, start_ms: int = START_MS) -> list[ChatMessage]:
    """``count`` messages in the room, 1 ms apart, oldest first, written as message_post stores
    them (services.message_item) 25 to a BatchWriteItem."""
    items = []
    for n in range(count):
        author = AUTHORS[n % 2]
        items.append(services.message_item(room_id=room_id, author_id=author, author_name=author.title(),
                                           created_at=iso_from_ms(start_ms + n), message_id=new_token(),
                                           comment=f"{room_id} message {n:04d}"))
    batch_put_items(items)
    return [ChatMessage.from_record(MessageRecord.from_raw_data(item)) for item in items]


def ids(page: str) -> list[str]:
    return re.findall(r'<li class="message" id="m-([^"]+)"', page)


def open_link(client, link: str, **extra):
    path = link.split("#")[0]  # the fragment stays in the browser
    return client.get(path, **extra)


@pytest.fixture
def art(room, settings):
    settings.CHAT_ROOM_SEQ_CACHE_SECONDS = 0  # every page reads the rooms' Seq: the same calls each time
    return room, fill("art", 120)


# --- the link -----------------------------------------------------------------------------------


def test_the_permalink_is_the_room_page_at_the_message_with_its_id_as_fragment(art):
    _, messages = art
    message = messages[60]
    assert message.permalink == f"/rooms/art/?at={quote(message.sk, safe='')}#m-{message.message_id}"
    mention = Mention(room_id="art", room_name="Art", room_kind="public", author_id=message.author_id,
                      author_name=message.author_name, excerpt="hi", message_sk=message.sk,
                      created_at=message.created_at, message_id=message.message_id)
    assert mention.url == message.permalink  # the Mentions page links the same way


def test_every_message_has_a_copy_link_to_its_permalink(client, art):
    _, messages = art
    page = client.get("/rooms/art/").content.decode()
    links = [html.unescape(h) for h in re.findall(r'<a class="copy-link" href="([^"]+)">Copy link', page)]
    shown = ids(page)
    assert len(links) == len(shown) == 50
    by_id = {m.message_id: m for m in messages}
    assert links == [by_id[i].permalink for i in shown]


# --- the page -----------------------------------------------------------------------------------


def test_a_permalink_opens_around_the_message_highlighted_with_older_and_newer(client, art):
    _, messages = art
    target = messages[60]
    sign_in(client, "bob")
    response = open_link(client, target.permalink)
    assert response.status_code == 200
    page = response.content.decode()
    assert f'data-target="m-{target.message_id}"' in page  # static/js/chat/main.js scrolls to it
    # Highlighted, and said so to assistive technology; only that one.
    li = re.search(rf'<li class="message" id="m-{target.message_id}"[^>]*>', page).group()
    assert "data-linked" in li and 'aria-current="true"' in li
    assert page.count("data-linked") == 1 and page.count('aria-current="true"') == 1
    # 10 before it, it, 49 after: neither end of the room.
    assert ids(page) == [m.message_id for m in messages[50:110]]
    assert 'id="load-older-link"' in page and 'id="load-newer-link"' in page
    assert "no longer here" not in page


def test_load_older_and_load_newer_continue_from_the_linked_message(client, art):
    _, messages = art
    page = open_link(client, messages[60].permalink).content.decode()
    older_url = html.unescape(re.search(r'id="load-older"[^>]*><a href="([^"]+)"', page).group(1))
    newer_url = html.unescape(re.search(r'id="load-newer"[^>]*><a href="([^"]+)"', page).group(1))
    older = client.get(older_url, **HX).content.decode()
    assert ids(older) == [m.message_id for m in messages[0:50]]
    newer = client.get(newer_url, **HX).content.decode()
    assert ids(newer) == [m.message_id for m in messages[110:120]]
    assert 'id="load-newer-link"' not in newer  # the newest reached
    # Without JavaScript the same links are whole pages.
    assert ids(client.get(older_url).content.decode()) == [m.message_id for m in messages[0:50]]


def test_a_permalink_to_a_deleted_message_shows_its_time_and_says_it_is_gone(client, art):
    room, messages = art
    target = messages[60]
    services.message_delete(room_id="art", actor=request_user(target.author_id), author_id=target.author_id,
                            sk=target.sk)
    response = open_link(client, target.permalink)
    assert response.status_code == 200
    page = response.content.decode()
    assert "That message is no longer here: it may have been deleted." in page
    assert target.message_id not in ids(page) and "data-linked" not in page
    # Opened where it was: at the next message, its neighbours around.
    assert f'data-target="m-{messages[61].message_id}"' in page
    assert ids(page)[:11] == [m.message_id for m in messages[50:60] + [messages[61]]]


def test_a_permalink_of_another_rooms_message_opens_this_room_at_that_time_not_that_message(client, art):
    services.room_create(name="Other", created_by="alice")
    elsewhere = fill("other", 3, start_ms=START_MS + 60)[1]
    page = client.get("/rooms/art/", {"at": elsewhere.sk}).content.decode()
    assert "no longer here" in page and elsewhere.message_id not in page


def test_a_permalink_into_a_room_you_cannot_read_is_the_missing_rooms_404(client, moto_tables):
    services.room_create(name="Den", created_by="alice", kind="private")
    secret = fill("den", 3)[1]
    ensure_user_item("bob")
    for who in ("anonymous", "bob"):
        client.cookies.clear()
        if who == "bob":
            sign_in(client, "bob")  # signed in, not a member
        private = client.get("/rooms/den/", {"at": secret.sk})
        missing = client.get("/rooms/nowhere/", {"at": secret.sk})
        assert private.status_code == missing.status_code == 404, who
        assert private.content == missing.content, who
        assert secret.comment not in private.content.decode()


def test_a_malformed_at_is_a_clear_400(client, art):
    response = client.get("/rooms/art/", {"at": "2026-01-01T00:00:00.000Z#not a token"})
    assert response.status_code == 400 and "That link to a message is broken" in response.content.decode()


# --- a key lookup, not a scan ----------------------------------------------------------------------


class QueryLog:
    """Each Query's parameters and what DynamoDB read for it (botocore events on the shared client)."""

    def __init__(self):
        self.queries: list[dict] = []

    def params(self, params, **kwargs):
        self.queries.append({"params": dict(params)})

    def answer(self, parsed, **kwargs):
        self.queries[-1]["scanned"] = parsed.get("ScannedCount")

    def __enter__(self):
        events = dynamodb.client().meta.events
        events.register("provide-client-params.dynamodb.Query", self.params, unique_id="permalink-test-params")
        events.register("after-call.dynamodb.Query", self.answer, unique_id="permalink-test-answer")
        return self

    def __exit__(self, *exc):
        events = dynamodb.client().meta.events
        events.unregister("provide-client-params.dynamodb.Query", unique_id="permalink-test-params")
        events.unregister("after-call.dynamodb.Query", unique_id="permalink-test-answer")

    def history(self) -> list[dict]:
        return [q for q in self.queries if q["params"].get("IndexName") == "room_messages"]


def test_a_permalink_costs_the_same_bounded_key_lookups_at_100_and_3000_messages(client, moto_tables, settings):
    settings.CHAT_ROOM_SEQ_CACHE_SECONDS = 0
    services.room_create(name="Small", created_by="alice")
    services.room_create(name="Big", created_by="alice")
    small = fill("small", 100)
    big = fill("big", 3000)
    sign_in(client, "alice")
    client.get("/rooms/small/")  # warm: the session's first save, the user cache
    calls, logs = {}, {}
    for name, target in (("small", small[30]), ("big", big[1500])):  # 70 back, and 1,500 back
        with count_calls() as counted, QueryLog() as log:
            response = open_link(client, target.permalink)
        assert response.status_code == 200 and f'id="m-{target.message_id}" ' in response.content.decode()
        calls[name], logs[name] = dict(counted), log
    # The same calls at either size: the session, the sidebar, the two history Queries; the rooms' Seq.
    assert calls["small"] == calls["big"] == {"Query": 4, "BatchGetItem": 1}, calls
    assert sum(calls["big"].values()) <= 6  # the room page's budget (bench/report.py BUDGETS)
    for name, log in logs.items():
        history = log.history()
        assert len(history) == 2, (name, log.queries)
        for query in history:
            params = query["params"]
            # Keyed on the room and the message's time, bounded: never the whole partition.
            assert "FilterExpression" not in params
            condition = params["KeyConditionExpression"]
            names = params.get("ExpressionAttributeNames", {})
            named = {names.get(token, token) for token in re.findall(r"#?\w+", condition)}
            assert {"RoomID", "CreatedAt"} <= named, (name, condition, names)
            assert 0 < params["Limit"] <= settings.CHAT_HISTORY_PAGE_SIZE + 1, params
            assert query["scanned"] <= params["Limit"], query
        assert all("KeyConditionExpression" in q["params"] for q in log.queries)  # the session's, the sidebar's too
    read_small = sum(q["scanned"] for q in logs["small"].history())
    read_big = sum(q["scanned"] for q in logs["big"].history())
    assert read_small == read_big == 10 + 1 + 50 + 1  # 11 before (is there older?), 51 from it (newer?)


def test_the_page_a_permalink_opens_is_no_bigger_in_a_bigger_room(client, moto_tables, settings):
    settings.CHAT_ROOM_SEQ_CACHE_SECONDS = 0
    services.room_create(name="Small", created_by="alice")
    services.room_create(name="Big", created_by="alice")
    small, big = fill("small", 100), fill("big", 3000)
    small_page = open_link(client, small[30].permalink).content.decode()
    big_page = open_link(client, big[1500].permalink).content.decode()
    assert len(ids(small_page)) == len(ids(big_page)) == 60
    # Load newer from each: one bounded Query either way.
    for page in (small_page, big_page):
        newer_url = html.unescape(re.search(r'id="load-newer"[^>]*><a href="([^"]+)"', page).group(1))
        with count_calls() as calls:
            assert client.get(newer_url, **HX).status_code == 200
        assert dict(calls) == {"Query": 1}, calls
