"""Room views on moto with Django's test client: pages, posting (plain and HTMX), deleting, older
pages and live polls. The HTMX answers say where they go: out-of-band swaps for the composer's
next key and the next "load older" link, HX-Retarget/HX-Reswap for the composer's errors."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied

from rooms import permissions, selectors, services, validators
from tests.support.sessions import request_user, sign_in

HX = {"HTTP_HX_REQUEST": "true"}
OOB_KEY = re.compile(r'<input type="hidden" name="idempotency_key" value="([^"]+)" id="id_idempotency_key" '
                     r'hx-swap-oob="true">')


def composer_key(response) -> str:
    return re.search(r'name="idempotency_key" value="([^"]+)"', response.content.decode()).group(1)


def post(client, text: str, key: str, **extra):
    return client.post("/rooms/art/messages", {"comment": text, "idempotency_key": key}, **extra)


def comments(room_id: str = "art") -> list[str]:
    return [m.comment for m in selectors.room_history(room_id=room_id, limit=500).items]


def seed(room, count: int, *, author="alice") -> list:
    user = request_user(author)
    return [services.message_post(room=room, author=user, comment=f"message {n:03d}",
                                  idempotency_key=validators.new_token()).message for n in range(count)]


# --- the room list and creating rooms -----------------------------------------------------------


def test_room_list_links_rooms_and_asks_signed_out_people_to_sign_in(client, room):
    body = client.get("/").content.decode()
    assert 'href="/rooms/art/"' in body and "Sign in</a> to create a room" in body


def test_creating_a_room_signed_out_goes_to_sign_in(client, room):
    response = client.post("/", {"name": "Jazz"})
    assert response.status_code == 302 and response["Location"].endswith("?next=/")
    response = client.post("/", {"name": "Jazz"}, **HX)
    assert response["HX-Redirect"].endswith("?next=/")
    assert [r.room_id for r in selectors.room_list().items] == ["art"]


def test_creating_a_room_redirects_to_it_and_a_taken_name_is_an_inline_400(client, room):
    sign_in(client, "bob")
    response = client.post("/", {"name": "Jazz Club", "description": "cool"})
    assert response.status_code == 302 and response["Location"] == "/rooms/jazz-club/"
    response = client.post("/", {"name": "ART", "description": "mine"})
    body = response.content.decode()
    assert response.status_code == 400
    assert "There is already a room at /rooms/art/" in body and 'value="ART"' in body and 'value="mine"' in body


def test_creating_too_many_rooms_is_429_with_the_form_kept(client, room, settings):
    settings.CHAT_ROOM_CREATE_LIMIT = 1
    sign_in(client, "bob")
    assert client.post("/", {"name": "One"}).status_code == 302
    response = client.post("/", {"name": "Two", "description": "kept"})
    assert response.status_code == 429 and 'value="kept"' in response.content.decode()


# --- the room page --------------------------------------------------------------------------------


def test_room_page_signed_out_reads_without_composer_or_delete_buttons(client, room):
    seed(room, 2)
    body = client.get("/rooms/art/").content.decode()
    assert body.index("message 000") < body.index("message 001")
    assert 'id="composer"' not in body and 'class="delete-form"' not in body
    assert 'data-delete-scope=""' in body
    assert '<script type="module" src="/static/js/chat/main.js"></script>' in body
    assert "site.js" not in body and "{#" not in body and "{% comment" not in body  # no template text leaks


def test_room_page_shows_delete_buttons_by_the_one_rule(client, room):
    services.message_post(room=room, author=request_user("bob"), comment="bob's", idempotency_key=validators.new_token())
    seed(room, 1)
    sign_in(client, "bob")
    body = client.get("/rooms/art/").content.decode()
    assert body.count('class="delete-form"') == 1 and 'data-delete-scope="bob"' in body
    assert 'value="bob"' in body.split('class="delete-form"')[1].split("</form>")[0]  # his own only
    sign_in(client, "sam", is_staff=True)
    body = client.get("/rooms/art/").content.decode()
    assert body.count('class="delete-form"') == 2 and f'data-delete-scope="{permissions.ANY_AUTHOR}"' in body


def test_head_answers_like_get_without_a_body(client, room):
    seed(room, 1)
    get, head = client.get("/rooms/art/"), client.head("/rooms/art/")
    assert head.status_code == get.status_code == 200
    assert head.content == b"" and head["Content-Type"] == get["Content-Type"]
    assert client.head("/rooms/nowhere/").status_code == 404


# --- posting --------------------------------------------------------------------------------------


def test_plain_post_redirects_back_to_the_latest_messages(client, room):
    sign_in(client, "alice")
    response = post(client, "hello", composer_key(client.get("/rooms/art/")))
    assert response.status_code == 302 and re.fullmatch(r"/rooms/art/\?sent=\d+#latest", response["Location"])
    assert comments() == ["hello"]


def test_htmx_post_answers_the_message_with_a_fresh_key_and_cleared_errors_out_of_band(client, room):
    sign_in(client, "alice")
    key = composer_key(client.get("/rooms/art/"))
    response = post(client, "hello <b>", key, **HX)
    body = response.content.decode()
    assert response.status_code == 200 and "HX-Retarget" not in response
    assert "hello &lt;b&gt;" in body and 'class="delete-form"' in body  # the poster may delete it
    fresh = OOB_KEY.search(body).group(1)
    assert fresh != key and validators.is_token(fresh)
    assert '<div id="composer-errors" hx-swap-oob="innerHTML"></div>' in body
    assert "<html" not in body


def test_htmx_post_errors_are_retargeted_into_the_composer_errors(client, room):
    sign_in(client, "alice")
    key = composer_key(client.get("/rooms/art/"))
    response = post(client, "   ", key, **HX)
    body = response.content.decode()
    assert response.status_code == 400
    assert response["HX-Retarget"] == "#composer-errors" and response["HX-Reswap"] == "innerHTML"
    assert body == "<p>Write something before sending.</p>"  # the key is still good: none out of band
    assert comments() == []


def test_htmx_post_with_an_out_of_date_key_gets_the_error_and_a_fresh_key_out_of_band(client, room):
    sign_in(client, "alice")
    response = post(client, "keep me", "bad", **HX)
    body = response.content.decode()
    assert response.status_code == 400 and response["HX-Retarget"] == "#composer-errors"
    assert "out of date" in body
    fresh = OOB_KEY.search(body).group(1)
    assert validators.is_token(fresh)
    assert post(client, "keep me", fresh, **HX).status_code == 200 and comments() == ["keep me"]


def test_htmx_post_over_the_rate_limit_is_a_retargeted_429_with_retry_after(client, room, settings):
    settings.CHAT_POST_RATE_LIMIT = 1
    # A day-long window: the posts below can't straddle a window's end (a minute's window did, now
    # and then, and the second post was then let through).
    settings.CHAT_POST_RATE_WINDOW_SECONDS = 86_400
    sign_in(client, "alice")
    assert post(client, "one", validators.new_token(), **HX).status_code == 200
    response = post(client, "two", validators.new_token(), **HX)
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    assert response["HX-Retarget"] == "#composer-errors" and response["HX-Reswap"] == "innerHTML"
    assert "sending messages too fast" in response.content.decode()
    assert OOB_KEY.search(response.content.decode()) is None  # the same key works once the wait is over
    plain = post(client, "two", validators.new_token())
    assert plain.status_code == 429 and "HX-Retarget" not in plain and "<html" in plain.content.decode()
    assert comments() == ["one"]


def test_post_signed_out_goes_to_sign_in(client, room):
    response = post(client, "hi", validators.new_token())
    assert response.status_code == 302 and response["Location"].endswith("?next=/rooms/art/")
    assert post(client, "hi", validators.new_token(), **HX)["HX-Redirect"].endswith("?next=/rooms/art/")


# --- deleting -------------------------------------------------------------------------------------


def test_the_author_deletes_plainly_and_staff_through_htmx_others_get_403(client, room):
    first, second = seed(room, 2)
    sign_in(client, "bob")
    assert client.post("/rooms/art/messages/delete", {"author": "alice", "sk": first.sk}).status_code == 403
    sign_in(client, "alice")
    response = client.post("/rooms/art/messages/delete", {"author": "alice", "sk": first.sk})
    assert response.status_code == 302 and re.fullmatch(r"/rooms/art/\?sent=\d+#latest", response["Location"])
    sign_in(client, "sam", is_staff=True)
    response = client.post("/rooms/art/messages/delete", {"author": "alice", "sk": second.sk}, **HX)
    assert response.status_code == 200 and response.content == b"Message deleted."
    again = client.post("/rooms/art/messages/delete", {"author": "alice", "sk": second.sk}, **HX)
    assert again.content == b"That message was already deleted."
    assert comments() == []


def test_the_delete_service_follows_the_same_rule(room):
    (message,) = seed(room, 1)
    with pytest.raises(PermissionDenied):
        services.message_delete(room_id="art", actor=request_user("bob"), author_id="alice", sk=message.sk)
    services.message_delete(room_id="art", actor=request_user("sam", is_staff=True), author_id="alice", sk=message.sk)
    assert comments() == []


def test_delete_scope_and_may_delete(room):
    from accounts.auth import AnonymousUser

    alice, staff = request_user("alice"), request_user("sam", is_staff=True)
    assert [permissions.delete_scope(u) for u in (AnonymousUser(), alice, staff)] == ["", "alice", "*"]
    assert permissions.may_delete_message(alice, author_id="alice")
    assert permissions.may_delete_message(staff, author_id="alice")
    assert not permissions.may_delete_message(alice, author_id="bob")
    assert not permissions.may_delete_message(AnonymousUser(), author_id="")


# --- older pages ----------------------------------------------------------------------------------


def test_load_older_answers_the_messages_and_the_next_link_out_of_band(client, room, settings):
    settings.CHAT_HISTORY_PAGE_SIZE = 2
    seed(room, 5)
    page = client.get("/rooms/art/").content.decode()
    assert page.count('class="message"') == 2 and 'id="load-older"' in page
    link = re.search(r'<a href="(/rooms/art/\?before=[^"]+)" id="load-older-link"', page).group(1)

    older = client.get(link, **HX)
    body = older.content.decode()
    assert older.status_code == 200 and "<html" not in body
    assert "message 001" in body and "message 002" in body and "message 003" not in body
    oob = re.search(r'<p class="load-older" id="load-older" hx-swap-oob="true">(.*?)</p>', body, re.S).group(1)
    next_link = re.search(r'<a href="(/rooms/art/\?before=[^"]+)" id="load-older-link"', oob).group(1)
    assert next_link != link and f'hx-get="{next_link}"' in oob

    last = client.get(next_link, **HX).content.decode()
    assert "message 000" in last
    assert '<p class="load-older" id="load-older" hx-swap-oob="true">This is the start of the room.</p>' in last

    plain = client.get(link).content.decode()  # without JavaScript: a page of its own
    assert "Back to the latest messages" in plain and "hx-swap-oob" not in plain


def test_a_broken_older_link_is_400(client, room):
    assert client.get("/rooms/art/?before=garbage", **HX).status_code == 400


# --- live updates ---------------------------------------------------------------------------------


def test_polls_answer_204_then_200_with_new_messages_and_400_for_a_bad_cursor(client, room, settings):
    settings.CHAT_LIVE_REFRESH_SECONDS = 0  # every poll refreshes the feed
    page = client.get("/rooms/art/").content.decode()
    watermark = re.search(r'data-watermark="([^"]+)"', page).group(1)
    quiet = client.get("/rooms/art/updates", {"w": watermark}, **HX)
    assert quiet.status_code == 204 and quiet["Chat-Watermark"]
    assert quiet["Cache-Control"].startswith("max-age=0")
    (message,) = seed(room, 1)
    news = client.get("/rooms/art/updates", {"w": watermark}, **HX)
    assert news.status_code == 200 and "message 000" in news.content.decode()
    assert f'id="m-{message.message_id}"' in news.content.decode()
    assert 'class="delete-form"' in news.content.decode() and " hidden>" in news.content.decode()  # for static/js/chat/permissions.js
    seen = client.get("/rooms/art/updates", {"w": watermark, "seen": f"m-{message.message_id}"}, **HX)
    assert seen.status_code == 204
    assert client.get("/rooms/art/updates", {"w": "123"}, **HX).status_code == 400
    assert client.get("/rooms/art/updates", {"w": watermark, "seen": "x-1"}, **HX).status_code == 400
    assert client.get("/rooms/nowhere/updates", {"w": watermark}, **HX).status_code == 404


# --- where django-htmx sits -----------------------------------------------------------------------


def test_htmx_details_are_set_before_any_middleware_that_may_answer_503():
    order = settings.MIDDLEWARE
    htmx = order.index("django_htmx.middleware.HtmxMiddleware")
    assert htmx < order.index("chatsite.middleware.BulkheadMiddleware")
    assert htmx < order.index("chatsite.middleware.DynamoDBUnavailableMiddleware")
