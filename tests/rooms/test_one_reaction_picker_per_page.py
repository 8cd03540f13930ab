"""Add reaction's picker is rendered once per page (templates/rooms/room.html, thread.html), not inside
every message: a message carries only its small **Add reaction** link, which without JavaScript opens
GET /rooms/<id>/messages/react?author=&sk= (the message and the picker's forms, posting to the same
view) and with JavaScript opens the page's one picker at that message (static/js/chat/reactions.js).
So the room page stays small, and live fragments carry no picker either."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from chatsite import keys
from chatsite.dynamodb import count_calls
from rooms import services, validators
from rooms.models import MessageRecord
from tests.rooms.test_views import HX
from tests.support.sessions import request_user, sign_in
from tests.support.users import ensure_user_item

QUICK_FORM = 'class="reaction-form reaction-quick"'
TYPED_FORM = 'class="reaction-form reaction-typed"'


@pytest.fixture
def members(room, settings):
    settings.CHAT_POST_RATE_LIMIT = 1000
    ensure_user_item("alice", display_name="Alice")
    ensure_user_item("bob", display_name="Bob")
    services.room_join(room=room, user=request_user("bob"))
    return room


def post(room, text="hello", author="alice", reply_to=None):
    return services.message_post(room=room, author=request_user(author), comment=text,
                                 idempotency_key=validators.new_token(), reply_to=reply_to).message


def message_lis(page: str) -> list[str]:
    return re.findall(r'<li class="message".*?\n</li>', page, re.S)


def react_page_url(message, room_id="art", **extra) -> str:
    return f"/rooms/{room_id}/messages/react?" + urlencode({"author": message.author_id, "sk": message.sk, **extra})


def stored_reactions(message) -> str | None:
    return MessageRecord.get(keys.user_pk(message.author_id), message.sk, consistent_read=True).reactions


# --- the room page and the thread view: one picker -------------------------------------------------------------


def test_the_room_page_has_one_picker_and_small_messages(client, members):
    for i in range(60):
        post(members, f"message number {i} about the plan", author="bob" if i % 3 == 0 else "alice")
    sign_in(client, "bob", display_name="Bob")
    page = client.get("/rooms/art/").content.decode()
    lis = message_lis(page)
    assert len(lis) == 50  # a page of history
    # Measured on this page: 210,411 bytes with the picker in every message, 114,589 with one.
    assert len(page.encode()) < 120_000, len(page.encode())
    assert page.count(QUICK_FORM) == 1 and page.count(TYPED_FORM) == 1
    assert page.count('id="reaction-picker"') == 1
    for li in lis:
        assert "reaction-picker" not in li and "reaction-quick" not in li and 'name="emoji"' not in li
        # Delete (Bob's own) and Mark as unread keep theirs; none for the picker.
        assert li.count("csrfmiddlewaretoken") <= 2
        assert len(li.encode()) < 3_000, len(li.encode())  # 3,995 on average with the picker in each
        (add,) = re.findall(r'<a class="reaction-add" href="[^"]+">Add reaction<span class="visually-hidden"> '
                            r'to this message by (?:Alice|Bob)</span></a>', li)
        assert len(add.encode()) < 300
        author, sk = re.search(r'data-author="([^"]+)".*?data-pos="([^"]+)"', li).groups()
        href = html.unescape(re.search(r'class="reaction-add" href="([^"]+)"', add).group(1))
        assert href == "/rooms/art/messages/react?" + urlencode({"author": author, "sk": sk})


def test_the_pickers_forms_post_reactions_with_empty_message_fields_for_the_script_to_fill(client, members):
    post(members)
    sign_in(client, "bob", display_name="Bob")
    page = client.get("/rooms/art/").content.decode()
    picker = page.split('id="reaction-picker"', 1)[1].split("</div>", 1)[0]
    assert 'popover role="dialog" aria-label="Add reaction"' in page
    assert picker.count('hx-post="/rooms/art/messages/react"') == 2
    assert picker.count('<input type="hidden" name="author" value="">') == 2
    assert picker.count('<input type="hidden" name="sk" value="">') == 2
    assert picker.count('<input type="hidden" name="on" value="1">') == 2
    assert picker.count('name="emoji" value=') == 8 and '<label>Any emoji <input type="text" name="emoji"' in picker
    assert 'name="next"' not in picker  # the room page: a reaction comes back to the message


def test_signed_out_people_get_no_picker(client, members):
    post(members)
    page = client.get("/rooms/art/").content.decode()
    assert "reaction-picker" not in page and "Add reaction" not in page


def test_the_thread_views_picker_and_links_come_back_to_it(client, members):
    root = post(members, "Lunch at noon?")
    post(members, "Yes", author="bob", reply_to=(root.author_id, root.sk))
    url = f"/rooms/art/threads/{root.message_id}/"
    sign_in(client, "alice")
    page = client.get(url).content.decode()
    assert page.count(QUICK_FORM) == 1 and page.count(TYPED_FORM) == 1
    picker = page.split('id="reaction-picker"', 1)[1].split("</div>", 1)[0]
    assert picker.count(f'<input type="hidden" name="next" value="{url}">') == 2
    adds = [html.unescape(a) for a in re.findall(r'<a class="reaction-add" href="([^"]+)"', page)]
    assert len(adds) == 2 and all(parse_qs(urlsplit(a).query)["next"] == [url] for a in adds)


def test_a_reactions_answer_and_live_fragments_carry_no_picker(client, members):
    message = post(members)
    sign_in(client, "bob", display_name="Bob")
    answer = client.post("/rooms/art/messages/react", {"author": "alice", "sk": message.sk, "emoji": "👍", "on": "1"},
                         **HX).content.decode()
    assert "reaction-picker" not in answer and "csrfmiddlewaretoken" in answer  # the 👍 button's form
    assert re.search(r'<a class="reaction-add" href="[^"]+" hidden>Add reaction<span', answer)


# --- without JavaScript: the react page ---------------------------------------------------------------------------


def test_the_react_page_shows_the_message_and_the_pickers_forms(client, members):
    message = post(members, "Lunch at noon?")
    sign_in(client, "bob", display_name="Bob")
    client.get(react_page_url(message))  # warm: the session's first save, the room and user caches
    with count_calls() as calls:
        response = client.get(react_page_url(message))
    assert response.status_code == 200
    # The session, the sidebar, the message's GetItem (a public room: no membership read).
    assert dict(calls) == {"Query": 2, "GetItem": 1}, calls
    page = response.content.decode()
    assert "Lunch at noon?" in page and "<h1" in page and "Add reaction" in page
    assert page.count(QUICK_FORM) == 1 and page.count(TYPED_FORM) == 1
    assert page.count(f'<input type="hidden" name="sk" value="{message.sk}">') == 2
    assert page.count('<input type="hidden" name="author" value="alice">') == 2
    assert "hx-post" not in page.split("<main", 1)[-1] and "popover" not in page  # a plain page, plain forms
    assert f'href="{html.escape(message.permalink)}"' in page  # back to the message


def test_posting_from_the_react_page_reacts_and_goes_back_to_the_message(client, members):
    message = post(members, "Lunch at noon?")
    sign_in(client, "bob", display_name="Bob")
    page = client.get(react_page_url(message)).content.decode()
    form = page.split(TYPED_FORM, 1)[1].split("</form>", 1)[0]
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form))
    fields = {name: html.unescape(value) for name, value in fields.items()}
    assert page.split(TYPED_FORM, 1)[1].startswith(' method="post" action="/rooms/art/messages/react">')
    response = client.post("/rooms/art/messages/react", {**fields, "emoji": "🎉"})
    assert response.status_code == 302 and response["Location"] == message.permalink
    assert stored_reactions(message) == '[["🎉",[["bob","Bob"]]]]'
    shown = client.get(message.permalink).content.decode()
    assert 'aria-label="🎉 1: Bob"' in shown


def test_the_react_page_from_a_thread_comes_back_to_it(client, members):
    root = post(members, "Lunch at noon?")
    url = f"/rooms/art/threads/{root.message_id}/"
    sign_in(client, "bob", display_name="Bob")
    page = client.get(react_page_url(root, next=url)).content.decode()
    assert page.count(f'<input type="hidden" name="next" value="{url}">') == 2
    elsewhere = client.get(react_page_url(root, next="https://evil.example/")).content.decode()
    assert 'name="next"' not in elsewhere.split('id="reaction-picker"', 1)[1]  # only a page of this room
    response = client.post("/rooms/art/messages/react", {"author": "alice", "sk": root.sk, "emoji": "👍",
                                                         "on": "1", "next": url})
    assert response.status_code == 302 and response["Location"] == f"{url}#{root.dom_id}"


def test_signed_out_the_react_page_sends_to_sign_in_and_back(client, members):
    message = post(members)
    response = client.get(react_page_url(message))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")
    assert "messages/react" in response["Location"]


def test_a_private_rooms_non_member_gets_the_missing_rooms_404(client, moto_tables):
    secret = services.room_create(name="Secret", created_by="alice", kind="private")
    message = post(secret)
    sign_in(client, "mallory")
    hidden = client.get(react_page_url(message, room_id="secret"))
    missing = client.get(react_page_url(message, room_id="nosuch"))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.content == missing.content
    sign_in(client, "alice")
    assert client.get(react_page_url(message, room_id="secret")).status_code == 200


@pytest.mark.parametrize("query", [
    {},
    {"author": "alice"},
    {"sk": "2026-01-01T00:00:00.000Z#abcdefghijklmnop"},
    {"author": "alice", "sk": "nonsense"},
    {"author": "alice", "sk": "#" * 150},
    {"author": "al ice", "sk": "2026-01-01T00:00:00.000Z#abcdefghijklmnop"},
    {"author": "User:alice", "sk": "2026-01-01T00:00:00.000Z#abcdefghijklmnop"},
])
def test_a_malformed_link_is_a_400(client, members, query):
    sign_in(client, "bob")
    response = client.get("/rooms/art/messages/react?" + urlencode(query))
    assert response.status_code == 400 and b"Traceback" not in response.content


def test_a_deleted_message_or_one_of_another_room_is_a_404(client, members):
    message = post(members)
    services.message_delete(room_id="art", actor=request_user("alice"), author_id="alice", sk=message.sk)
    sign_in(client, "bob")
    assert client.get(react_page_url(message)).status_code == 404
    other = services.room_create(name="Other", created_by="alice")
    elsewhere = post(other)
    assert client.get(react_page_url(elsewhere)).status_code == 404  # asked of art, it is in other
    assert client.get(react_page_url(elsewhere, room_id="other")).status_code == 200
