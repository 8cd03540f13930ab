"""Rooms over HTTP with Django's test client against dynalite: pages, posting, bad input, budgets."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from chatsite import dynamodb
from chatsite.dynamodb import count_calls
from rooms import selectors, services
from rooms.models import MessageRecord
from rooms.timestamps import iso_from_ms, now_ms
from tests.support.sessions import request_user, sign_in

pytestmark = pytest.mark.integration
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def room(dynalite_tables):
    return services.room_create(name="Art", description="pictures", created_by="alice")


def composer_key(response) -> str:
    return re.search(r'name="idempotency_key" value="([^"]+)"', response.content.decode()).group(1)


def room_comments(room_id="art"):
    return [m.comment for m in selectors.room_history(room_id=room_id, limit=500).items]


def seed_messages(room_id: str, count: int, *, start_ms: int | None = None) -> None:
    start = start_ms or now_ms() - count * 1000
    with MessageRecord.batch_write() as batch:
        for n in range(count):
            created = iso_from_ms(start + n * 1000)
            batch.save(MessageRecord(f"User:u{n % 3}", f"{created}#{n:020d}", room_id=room_id, created_at=created,
                                     comment=f"message {n}", author_name=f"U{n % 3}"))


# --- room list and creation ------------------------------------------------------------------------


def test_room_list_links_rooms_and_asks_anonymous_to_sign_in(client, room):
    response = client.get("/")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'href="/rooms/art/"' in body and "Sign in</a> to create a room" in body


def test_creating_a_room_needs_sign_in(client, dynalite_tables):
    response = client.post("/", {"name": "Jazz"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=/")


def test_create_room_redirects_to_it(client, dynalite_tables):
    sign_in(client, "alice")
    response = client.post("/", {"name": "Jazz Club", "description": "cool"})
    assert response.status_code == 302 and response["Location"] == "/rooms/jazz-club/"
    assert client.get("/rooms/jazz-club/").status_code == 200


def test_create_room_errors_are_inline_and_keep_the_input(client, room):
    sign_in(client, "bob")
    response = client.post("/", {"name": "ART", "description": "mine"})
    body = response.content.decode()
    assert response.status_code == 400
    assert "There is already a room at /rooms/art/" in body and 'value="ART"' in body and 'value="mine"' in body
    response = client.post("/", {"name": "a#b"})
    assert response.status_code == 400 and "can&#x27;t contain #" in response.content.decode()
    assert '<label for="id_name">Room name</label>' in response.content.decode()


def test_room_list_is_paginated_with_a_signed_cursor(client, dynalite_tables, settings):
    settings.CHAT_ROOM_LIST_PAGE_SIZE = 2
    for name in ("Alpha", "Beta", "Gamma"):
        services.room_create(name=name, created_by="alice")
    first = client.get("/").content.decode()
    assert "Alpha" in first and "Beta" in first and "Gamma" not in first
    cursor = re.search(r'href="\?after=([^"]+)"', first).group(1)
    second = client.get(f"/?after={cursor}").content.decode()
    assert "Gamma" in second and "Alpha" not in second
    assert client.get(f"/?after={cursor[:-3]}xyz").status_code == 400


def test_room_list_is_a_query_not_a_scan(client, room):
    with count_calls() as calls:
        client.get("/")
    assert "Scan" not in calls and calls["Query"] >= 1


# --- room page and history -------------------------------------------------------------------------


def test_unknown_room_is_404(client, dynalite_tables):
    assert client.get("/rooms/nowhere/").status_code == 404
    assert client.get("/rooms/nowhere/updates?w=0").status_code == 404
    assert client.get("/rooms/Not-A-Slug/").status_code == 404


def test_room_page_is_readable_signed_out_with_newest_at_the_bottom(client, room):
    seed_messages("art", 3)
    body = client.get("/rooms/art/").content.decode()
    assert body.index("message 0") < body.index("message 1") < body.index("message 2")
    assert "Sign in</a> to post in this room" in body and 'id="composer"' not in body
    assert 'hx-trigger="every 1.0s"' in body or 'hx-trigger="every 1s"' in body


def test_history_pages_of_fifty_with_load_older(client, room):
    seed_messages("art", 120)
    body = client.get("/rooms/art/").content.decode()
    assert body.count('class="message"') == 50
    assert "message 119" in body and "message 70" in body and "message 69" not in body
    older = re.search(r'<a href="/rooms/art/\?before=([^"]+)"', body).group(1)
    page2 = client.get(f"/rooms/art/?before={older}").content.decode()
    assert page2.count('class="message"') == 50 and "message 69" in page2 and "message 70" not in page2
    assert "Back to the latest messages" in page2 and 'id="live"' not in page2  # no polling on old pages
    fragment = client.get(f"/rooms/art/?before={older}", **HX)
    # a fragment, with the next "load older" link out of band
    assert fragment.content.decode().lstrip().startswith("<ol>")
    assert '<p class="load-older" id="load-older" hx-swap-oob="true">' in fragment.content.decode()


@pytest.mark.parametrize("cursor", ["garbage", "eyJrIjp7fX0:1abc:xyz", "a" * 3000])
def test_tampered_history_cursor_is_400(client, room, cursor):
    assert client.get(f"/rooms/art/?before={cursor}").status_code == 400


def test_history_cursor_from_another_room_is_400(client, room):
    services.room_create(name="Other", created_by="alice")
    seed_messages("other", 60)
    body = client.get("/rooms/other/").content.decode()
    cursor = re.search(r'\?before=([^"]+)"', body).group(1)
    assert client.get(f"/rooms/art/?before={cursor}").status_code == 400


def test_room_page_budget_is_three_calls(client, room):
    sign_in(client, "alice")
    client.get("/rooms/art/")  # room meta now cached in this process
    with count_calls() as calls:
        assert client.get("/rooms/art/").status_code == 200
    # the session (with the DynamoDB engine), the sidebar (the user's rooms), one history Query
    assert sum(calls.values()) <= 3, calls


# --- posting ------------------------------------------------------------------------------------


def test_post_signed_out_redirects_to_sign_in(client, room):
    response = client.post("/rooms/art/messages", {"comment": "hi"})
    assert response.status_code == 302 and response["Location"] == "/accounts/login/?next=/rooms/art/"
    response = client.post("/rooms/art/messages", {"comment": "hi"}, **HX)
    assert response["HX-Redirect"].startswith("/accounts/login/")


def test_post_without_csrf_is_403(room):
    client = Client(enforce_csrf_checks=True)
    sign_in(client, "alice")
    response = client.post("/rooms/art/messages", {"comment": "hi", "idempotency_key": "k" * 20})
    assert response.status_code == 403
    assert room_comments() == []


def test_plain_post_redirects_back_to_the_room(client, room):
    sign_in(client, "alice")
    key = composer_key(client.get("/rooms/art/"))
    response = client.post("/rooms/art/messages", {"comment": "hello", "idempotency_key": key})
    assert response.status_code == 302 and re.fullmatch(r"/rooms/art/\?sent=\d+#latest", response["Location"])
    assert "hello" in client.get("/rooms/art/").content.decode()


def test_htmx_post_returns_the_message_at_once_with_a_fresh_key(client, room):
    sign_in(client, "alice", display_name="Alice <A>")
    key = composer_key(client.get("/rooms/art/"))
    response = client.post("/rooms/art/messages", {"comment": "<script>alert(1)</script>", "idempotency_key": key}, **HX)
    body = response.content.decode()
    assert response.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script>" not in body
    assert "Alice &lt;A&gt;" in body
    next_key = re.search(r'name="idempotency_key" value="([^"]+)"[^>]*hx-swap-oob', body).group(1)  # out of band
    assert next_key != key and 'class="delete-form"' in body


def test_double_submit_with_one_key_makes_one_message(client, room):
    sign_in(client, "alice")
    key = composer_key(client.get("/rooms/art/"))
    for _ in range(3):
        response = client.post("/rooms/art/messages", {"comment": "once", "idempotency_key": key}, **HX)
        assert response.status_code == 200 and "once" in response.content.decode()
    assert room_comments() == ["once"]


def test_post_budget_is_four_calls_with_the_counter_and_the_rooms_seq(client, room):
    sign_in(client, "alice")
    key = composer_key(client.get("/rooms/art/"))
    # A member's page takes the room from their sidebar entry and leaves this process's room cache
    # alone; a serving process holds the room (posting reads it through the cache, which is the
    # closing check delete_room relies on). The cold case is the next test.
    selectors.room_get(room_id="art")
    with count_calls() as calls:
        assert client.post("/rooms/art/messages", {"comment": "hi", "idempotency_key": key}, **HX).status_code == 200
    # the post guard and the room's Seq; the message and its live event in one batch
    assert calls["UpdateItem"] == 2 and calls["BatchWriteItem"] == 1
    assert sum(calls.values()) <= 4, calls


def test_a_post_with_the_room_not_cached_adds_one_read_of_the_room(client, room):
    sign_in(client, "alice")
    key = composer_key(client.get("/rooms/art/"))
    selectors.clear_room_cache()
    with count_calls() as calls:
        assert client.post("/rooms/art/messages", {"comment": "hi", "idempotency_key": key}, **HX).status_code == 200
    assert calls == {"Query": 1, "GetItem": 1, "UpdateItem": 2, "BatchWriteItem": 1}, calls


@pytest.mark.parametrize("text, error", [
    ("", "Write something before sending."),
    ("   \n  ", "Write something before sending."),
    ("x" * 4001, "at most 4,000 characters"),
    ("beep\x07", "control characters (U+0007)"),
])
def test_bad_messages_get_a_clear_error_and_keep_the_text(client, room, text, error):
    sign_in(client, "alice")
    key = composer_key(client.get("/rooms/art/"))
    response = client.post("/rooms/art/messages", {"comment": text, "idempotency_key": key})
    body = response.content.decode()
    assert response.status_code == 400 and error in body
    assert 'aria-invalid="true"' in body
    if text.strip():
        assert text.replace("\x07", "&#x07;")[:50] in body or text[:50] in body
    htmx = client.post("/rooms/art/messages", {"comment": text, "idempotency_key": key}, **HX)
    assert htmx.status_code == 400 and error in htmx.content.decode()
    assert room_comments() == []


def test_an_out_of_date_form_keeps_the_text_and_gets_a_new_key(client, room):
    sign_in(client, "alice")
    response = client.post("/rooms/art/messages", {"comment": "keep me", "idempotency_key": "bad"})
    body = response.content.decode()
    assert response.status_code == 400 and "keep me" in body and "out of date" in body
    assert composer_key(response) != "bad"


def test_rate_limit_gives_429_with_the_text_kept(client, room, settings):
    settings.CHAT_POST_RATE_LIMIT = 2
    sign_in(client, "alice")
    for n in range(2):
        key = composer_key(client.get("/rooms/art/"))
        assert client.post("/rooms/art/messages", {"comment": f"m{n}", "idempotency_key": key}).status_code == 302
    key = composer_key(client.get("/rooms/art/"))
    response = client.post("/rooms/art/messages", {"comment": "one too many", "idempotency_key": key})
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    body = response.content.decode()
    assert "sending messages too fast" in body and "one too many" in body
    htmx = client.post("/rooms/art/messages", {"comment": "one too many", "idempotency_key": key}, **HX)
    assert htmx.status_code == 429 and htmx["HX-Retarget"] == "#composer-errors"  # just the errors, for the composer
    assert "sending messages too fast" in htmx.content.decode() and "<html" not in htmx.content.decode()
    assert sorted(room_comments()) == ["m0", "m1"]


def test_dynamodb_down_while_posting_is_503_for_the_composer(client, room, dynalite, dynalite_tables):
    sign_in(client, "alice")
    key = composer_key(client.get("/rooms/art/"))
    dynamodb.configure(endpoint_url="http://127.0.0.1:9", prefix="x_")
    try:
        response = client.post("/rooms/art/messages", {"comment": "kept", "idempotency_key": key}, **HX)
    finally:
        dynamodb.configure(endpoint_url=dynalite.url, prefix=dynalite_tables)
    assert response.status_code == 503
    assert b"Nothing you sent has been lost" in response.content and b"<html" not in response.content
    assert room_comments() == []


# --- deleting --------------------------------------------------------------------------------------


def test_author_and_staff_can_delete_others_cannot(client, room):
    alice = request_user("alice")
    first = services.message_post(room=room, author=alice, comment="one", idempotency_key="a" * 20).message
    second = services.message_post(room=room, author=alice, comment="two", idempotency_key="b" * 20).message
    sign_in(client, "bob")
    body = client.get("/rooms/art/").content.decode()
    assert 'class="delete-form"' not in body
    assert client.post("/rooms/art/messages/delete", {"author": "alice", "sk": first.sk}).status_code == 403
    sign_in(client, "alice")
    response = client.post("/rooms/art/messages/delete", {"author": "alice", "sk": first.sk})
    assert response.status_code == 302
    sign_in(client, "sam", is_staff=True)
    assert client.post("/rooms/art/messages/delete", {"author": "alice", "sk": second.sk}, **HX).status_code == 200
    assert room_comments() == []
    events = selectors.live_events_since(room_id="art", since="2000-01-01T00:00:00.000Z")
    assert sorted(e.SK.rsplit("#", 1)[1] for e in events if "#d-" in e.SK) == sorted(
        f"d-{m.message_id}" for m in (first, second))
