"""The edit page and its HTMX fragment, the edit POST's answers (200/302, 400, 403, 404, 409), the
Edit and History links and "(edited)" on the room page, and staff's History page, on moto."""

from __future__ import annotations

import re

import pytest

from rooms import services, validators
from tests.support.sessions import request_user, sign_in

HX = {"HTTP_HX_REQUEST": "true"}
ALICE = request_user("alice")
T0 = 1_800_000_000_000


@pytest.fixture
def clock(monkeypatch):
    now = [T0]
    monkeypatch.setattr(services, "now_ms", lambda: now[0])
    return now


def post(room, text="first words", author=ALICE):
    return services.message_post(room=room, author=author, comment=text,
                                 idempotency_key=validators.new_token()).message


def save(client, message, text, version=0, room_id="art", **extra):
    return client.post(f"/rooms/{room_id}/messages/edit",
                       {"author": message.author_id, "sk": message.sk, "comment": text, "version": version}, **extra)


def open_form(client, message, room_id="art", **extra):
    return client.get(f"/rooms/{room_id}/messages/edit", {"author": message.author_id, "sk": message.sk}, **extra)


def test_the_edit_page_without_javascript_holds_the_raw_text_and_the_version_seen(client, room):
    message = post(room, "line one\n@bob *raw*")
    sign_in(client, "alice")
    page = open_form(client, message)
    body = page.content.decode()
    assert page.status_code == 200 and "<h1 id=\"edit-heading\">Edit message</h1>" in body
    assert ">\nline one\n@bob *raw*</textarea>" in body
    assert 'name="version" value="0"' in body and f'value="{message.sk}"' in body
    fragment = open_form(client, message, **HX).content.decode()
    assert "{#" not in fragment and "<html" not in fragment
    assert 'class="edit-form"' in fragment and "Enter saves; Shift+Enter starts a new line; Esc cancels." in fragment


def test_a_plain_save_goes_back_to_the_message_and_it_shows_edited(client, room):
    message = post(room)
    sign_in(client, "alice")
    response = save(client, message, "better words")
    assert response.status_code == 302 and response["Location"] == message.permalink
    body = client.get("/rooms/art/").content.decode()
    assert "better words" in body and 'class="edited"' in body and ">(edited)</span>" in body
    assert 'data-version="1"' in body


def test_an_htmx_save_answers_the_message_as_an_update(client, room):
    message = post(room)
    sign_in(client, "alice")
    response = save(client, message, "better words", **HX)
    html = response.content.decode()
    assert response.status_code == 200
    (li,) = re.findall(r'<li class="message"[^>]*>', html)
    assert f'id="m-{message.message_id}"' in li and 'data-version="1"' in li and "data-update=" in li
    assert "better words" in html and "(edited)" in html


def test_changed_meanwhile_is_409_with_the_current_text_and_the_users_text_kept(client, room):
    message = post(room)
    services.message_edit(room=room, actor=ALICE, author_id="alice", sk=message.sk, comment="from another tab",
                          seen_version=0)
    sign_in(client, "alice")
    response = save(client, message, "my own words", version=0, **HX)
    html = response.content.decode()
    assert response.status_code == 409
    assert "changed meanwhile" in html and "from another tab" in html
    assert ">\nmy own words</textarea>" in html and 'name="version" value="1"' in html
    # Saving again from that form replaces it on purpose.
    assert save(client, message, "my own words", version=1, **HX).status_code == 200


def test_someone_elses_message_is_403_with_a_clear_answer_and_no_edit_link(client, room):
    message = post(room)
    sign_in(client, "bob")
    for response in (open_form(client, message), save(client, message, "bob's now", **HX)):
        assert response.status_code == 403 and "You can edit only your own messages." in response.content.decode()
    assert 'class="edit-link"' not in client.get("/rooms/art/").content.decode()


def test_a_deleted_message_is_404_with_a_clear_answer(client, room):
    message = post(room)
    services.message_delete(room_id="art", actor=ALICE, author_id="alice", sk=message.sk)
    sign_in(client, "alice")
    for response in (open_form(client, message), save(client, message, "too late")):
        assert response.status_code == 404 and "That message was deleted." in response.content.decode()


def test_an_expired_edit_is_403_and_the_author_has_no_edit_link(client, room, clock, monkeypatch):
    from rooms.templatetags import chat_permissions
    from rooms import views

    message = post(room)
    clock[0] = T0 + 86_400_001
    monkeypatch.setattr(chat_permissions, "now_ms", lambda: clock[0])
    monkeypatch.setattr(views, "now_ms", lambda: clock[0])
    sign_in(client, "alice")
    assert 'class="edit-link"' not in client.get("/rooms/art/").content.decode()
    for response in (open_form(client, message), save(client, message, "late")):
        body = response.content.decode()
        assert response.status_code == 403 and "only in the first 24 hours after posting it" in body
    sign_in(client, "sam", is_staff=True)  # staff: any time
    assert 'class="edit-link"' in client.get("/rooms/art/").content.decode()
    assert save(client, message, "moderated").status_code == 302


@pytest.mark.parametrize("text, words", [("", "Write something"), ("x" * 4001, "at most 4,000 characters")])
def test_an_empty_or_too_long_edit_is_400_with_the_text_kept(client, room, text, words):
    message = post(room)
    sign_in(client, "alice")
    for extra in ({}, HX):
        response = save(client, message, text, **extra)
        body = response.content.decode()
        assert response.status_code == 400 and words in body and 'aria-invalid="true"' in body
        assert f">\n{text}</textarea>" in body


@pytest.mark.parametrize("data", [{}, {"author": "alice"}, {"author": "alice", "sk": "x", "comment": "hi"},
                                  {"author": "alice", "sk": "x", "comment": "hi", "version": "many"}])
def test_an_incomplete_or_forged_form_is_400_or_404_never_500(client, room, data):
    sign_in(client, "alice")
    response = client.post("/rooms/art/messages/edit", data)
    assert response.status_code in (400, 404)
    assert client.get("/rooms/art/messages/edit", {"author": "alice", "sk": "no#such"}).status_code == 404


def test_signed_out_goes_to_sign_in_and_a_private_room_is_the_missing_rooms_404(client, room):
    message = post(room)
    assert open_form(client, message).status_code == 302
    secret = services.room_create(name="Secret", created_by="carol", kind="private")
    hidden = post(secret, author=request_user("carol"))
    sign_in(client, "alice")
    missing = client.get("/rooms/nowhere/messages/edit", {"author": "carol", "sk": hidden.sk})
    private = open_form(client, hidden, room_id="secret")
    assert private.status_code == missing.status_code == 404 and private.content == missing.content


def test_staff_see_history_links_and_the_earlier_versions_others_get_the_same_404(client, room):
    message = post(room, "as posted")
    services.message_edit(room=room, actor=ALICE, author_id="alice", sk=message.sk, comment="second", seen_version=0)
    services.message_edit(room=room, actor=ALICE, author_id="alice", sk=message.sk, comment="third", seen_version=1)
    url, which = "/rooms/art/messages/history", {"author": "alice", "sk": message.sk}
    sign_in(client, "alice")
    assert 'class="history-link"' not in client.get("/rooms/art/").content.decode()
    assert client.get(url, which).status_code == 404
    sign_in(client, "sam", is_staff=True)
    assert 'class="history-link"' in client.get("/rooms/art/").content.decode()
    body = client.get(url, which).content.decode()
    assert body.index("third") < body.index("second") < body.index("as posted")
    assert "As posted" in body and "Edit 1" in body
    assert client.get(url, {"author": "alice", "sk": "nothing#here"}).status_code == 404
    assert client.get(url, {"author": "alice"}).status_code == 400


def test_an_edit_through_the_page_costs_the_session_read_and_the_services_five_calls(client, room):
    from chatsite.dynamodb import count_calls

    message = post(room)
    sign_in(client, "alice")
    client.get("/rooms/art/")  # alice's user record cached, as for anyone on the page
    with count_calls() as cold:
        assert save(client, message, "better words", **HX).status_code == 200
    # A member's page takes the room from their sidebar: the first request without it reads the room
    # once (as a post does); from then on the process's room cache holds it.
    assert dict(cold) == {"Query": 1, "GetItem": 2, "PutItem": 2, "UpdateItem": 2}, cold
    with count_calls() as calls:
        assert save(client, message, "best words", version=1, **HX).status_code == 200
    # The session Query, then message_edit: GetItem, UpdateItem (the change limit), PutItem (history),
    # UpdateItem, PutItem (u- event).
    assert dict(calls) == {"Query": 1, "GetItem": 1, "PutItem": 2, "UpdateItem": 2}, calls


def test_the_edit_reaches_a_live_poll_once(client, room, settings):
    from rooms import live

    settings.CHAT_LIVE_REFRESH_SECONDS = 0
    live.clear_feeds()
    message = post(room)
    page = client.get("/rooms/art/").content.decode()
    token = re.search(r'data-watermark="([^"]+)"', page).group(1)
    sign_in(client, "alice")
    assert save(client, message, "better words", **HX).status_code == 200
    client.cookies.clear()  # the poll reads no session anyway
    seen = f"m-{message.message_id}"
    answer = client.get("/rooms/art/updates", {"w": token, "seen": seen}, **HX)
    html = answer.content.decode()
    assert html.count('<li class="message"') == 1 and "better words" in html and "(edited)" in html
    assert 'data-version="1"' in html and "data-update=" in html and 'class="edit-link" href=' in html
    again = client.get("/rooms/art/updates", {"w": answer["Chat-Watermark"],
                                              "seen": f"{seen},{live.update_ref(message.message_id, 1)}"}, **HX)
    assert again.status_code == 204


def test_a_private_room_costs_a_non_member_the_same_reads_as_a_missing_room(client, room):
    from collections import Counter

    from chatsite.dynamodb import count_calls

    secret = services.room_create(name="Secret", created_by="carol", kind="private")
    hidden = post(secret, author=request_user("carol"))
    sign_in(client, "bob")
    client.get("/rooms/secret/")  # cached: the room, bob's user record
    which = {"author": "carol", "sk": hidden.sk}
    for method, path, data in (("get", "messages/edit", which), ("post", "messages/edit", {**which, "comment": "x",
                                                                                            "version": 0}),
                               ("get", "messages/history", which)):
        costs = []
        for room_id in ("secret", "nowhere"):
            with count_calls() as calls:
                response = getattr(client, method)(f"/rooms/{room_id}/{path}", data)
            assert response.status_code == 404, (method, path, room_id)
            costs.append(Counter(dict(calls)))
        assert costs[0] == costs[1] and costs[0]["Query"] == 1, (method, path, costs)
