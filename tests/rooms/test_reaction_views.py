"""POST /rooms/<id>/messages/react on moto with Django's test client: with htmx the answer is the
message's li (rendered as live fragments are, merged by its version); without JavaScript a redirect
back to the room at that message. Refusals are clear answers (400, 404, 409; a note without
JavaScript), never a 500. Reactions render with the history at no extra DynamoDB call, and reach
open tabs through the live poll."""

from __future__ import annotations

import html
import json
import re

import pytest

from chatsite import caches, keys
from chatsite.dynamodb import count_calls
from rooms import live, services, validators
from rooms.models import MessageRecord
from tests.rooms.test_views import HX
from tests.support.sessions import request_user, sign_in
from tests.support.users import ensure_user_item

ALICE = request_user("alice")


def post(room, text="hello", author=ALICE):
    return services.message_post(room=room, author=author, comment=text,
                                 idempotency_key=validators.new_token()).message


def react(client, message, emoji="👍", on="1", room_id="art", **extra):
    return client.post(f"/rooms/{room_id}/messages/react",
                       {"author": message.author_id, "sk": message.sk, "emoji": emoji, "on": on}, **extra)


def reactions_of(message) -> list:
    record = MessageRecord.get(keys.user_pk(message.author_id), message.sk, consistent_read=True)
    return json.loads(record.reactions or "[]")


def reaction_buttons(page: str) -> list[str]:
    return re.findall(r'<button type="submit" class="reaction"[^>]*>.*?</button>', page, re.S)


def visible_name(button: str) -> str:
    """The button's text as its accessible name reads (tags dropped, the visually hidden part kept)."""
    return html.unescape(re.sub(r"<[^>]+>", "", button)).strip()


@pytest.fixture
def members(room):
    ensure_user_item("alice", display_name="Alice")
    ensure_user_item("bob", display_name="Bob")
    services.room_join(room=room, user=request_user("bob"))
    return room


def test_htmx_reaction_answers_the_message_li_at_its_new_version(client, members):
    message = post(members)
    sign_in(client, "bob", display_name="Bob")
    response = react(client, message, **HX)
    assert response.status_code == 200
    body = response.content.decode()
    assert f'id="m-{message.message_id}"' in body and 'data-version="1"' in body and "data-update" not in body
    (button,) = reaction_buttons(body)
    assert visible_name(button) == "👍 1: Bob"
    # The same HTML for every viewer (static/js/chat/reactions.js presses the viewer's own).
    assert 'data-reactors="bob"' in button and 'aria-pressed="false"' in button
    assert reactions_of(message) == [["👍", [["bob", "Bob"]]]]


def test_the_view_adds_only_the_reactions_four_calls_to_the_session(client, members):
    message = post(members)
    sign_in(client, "bob", display_name="Bob")
    react(client, message, "🎉", **HX)  # warm: the session's first save, the room and user caches
    with count_calls() as calls:
        assert react(client, message, **HX).status_code == 200
    # The session (1 Query), then GetItem + UpdateItem (the change limit) + UpdateItem + the u- PutItem.
    assert dict(calls) == {"Query": 1, "GetItem": 1, "UpdateItem": 2, "PutItem": 1}, calls
    with count_calls() as calls:
        assert react(client, message, **HX).status_code == 200  # a double click: nothing to write
    assert dict(calls) == {"Query": 1, "GetItem": 1}, calls
    assert [r[0] for r in reactions_of(message)] == ["🎉", "👍"]


def test_without_javascript_it_redirects_to_the_message_and_the_page_shows_it_pressed(client, members):
    message = post(members)
    sign_in(client, "bob", display_name="Bob")
    response = react(client, message)
    assert response.status_code == 302 and response["Location"] == message.permalink
    page = client.get(message.permalink).content.decode()
    (button,) = reaction_buttons(page)
    assert visible_name(button) == "👍 1: Bob" and 'aria-pressed="true"' in button
    assert '<input type="hidden" name="on" value="0">' in page  # the plain form takes it back
    assert react(client, message, on="0").status_code == 302
    assert reactions_of(message) == [] and reaction_buttons(client.get(message.permalink).content.decode()) == []


def test_someone_elses_reaction_is_not_pressed_for_the_viewer(client, members):
    message = post(members)
    services.reaction_set(room=members, user=request_user("bob"), author_id="alice", sk=message.sk, emoji="👍", on=True)
    sign_in(client, "alice", display_name="Alice")
    page = client.get("/rooms/art/").content.decode()
    (button,) = reaction_buttons(page)
    assert 'aria-pressed="false"' in button and visible_name(button) == "👍 1: Bob"


def test_signed_out_people_see_counts_not_forms_and_are_sent_to_sign_in(client, members):
    message = post(members)
    services.reaction_set(room=members, user=request_user("bob"), author_id="alice", sk=message.sk, emoji="👍", on=True)
    page = client.get("/rooms/art/").content.decode()
    assert reaction_buttons(page) == [] and "Add reaction" not in page
    (shown,) = re.findall(r'<span class="reaction"[^>]*>.*?</span></span>', page, re.S)
    assert visible_name(shown) == "👍 1: Bob"
    response = react(client, message, "🎉")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/?next=/rooms/art/"
    assert [r[0] for r in reactions_of(message)] == ["👍"]


def test_a_signed_in_non_member_of_a_public_room_may_react_as_they_may_post(client, members):
    message = post(members)
    sign_in(client, "chen", display_name="Chen")
    assert react(client, message, **HX).status_code == 200
    assert reactions_of(message) == [["👍", [["chen", "Chen"]]]]


def test_a_private_rooms_non_member_gets_the_missing_rooms_404(client, moto_tables):
    secret = services.room_create(name="Secret", created_by="alice", kind="private")
    message = post(secret)
    sign_in(client, "mallory")
    assert react(client, message, room_id="secret", **HX).status_code == 404
    assert react(client, message, room_id="secret").status_code == 404
    assert reactions_of(message) == []


def test_a_deleted_message_is_a_clear_404_or_a_note(client, members):
    message = post(members)
    services.message_delete(room_id="art", actor=ALICE, author_id="alice", sk=message.sk)
    sign_in(client, "bob")
    response = react(client, message, **HX)
    assert response.status_code == 404
    assert response.content.decode() == "That message is no longer here: it may have been deleted."
    response = react(client, message, follow=True)
    assert response.redirect_chain == [("/rooms/art/", 302)]
    assert "That message is no longer here: it may have been deleted." in response.content.decode()


def test_a_message_of_another_room_answers_as_a_deleted_one(client, members):
    other = services.room_create(name="Other", created_by="alice")
    message = post(other)
    sign_in(client, "bob")
    assert react(client, message, **HX).status_code == 404  # asked of art, the message is in other
    assert reactions_of(message) == []


@pytest.mark.parametrize("emoji, words", [
    ("ok", "“ok” is not an emoji. React with one emoji, such as 👍."),
    ("👍👍", "React with one emoji at a time: “👍👍” is 2."),
    ("", "Choose an emoji to react with."),
])
def test_not_one_emoji_is_a_400_that_says_why(client, members, emoji, words):
    message = post(members)
    sign_in(client, "bob")
    response = react(client, message, emoji, **HX)
    assert response.status_code == 400 and response.content.decode() == words
    response = react(client, message, emoji, follow=True)
    assert response.redirect_chain == [(message.permalink, 302)]
    assert html.escape(words) in response.content.decode()
    assert reactions_of(message) == []


def test_a_full_message_is_a_409_that_says_why(client, members):
    message = post(members)
    emoji = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "👀", "🔥", "🚀", "🌟", "✅", "💯", "🤔", "😍", "👏", "🙌", "🥳",
             "😎", "🤝"]
    MessageRecord(keys.user_pk("alice"), message.sk).update(actions=[MessageRecord.reactions.set(
        json.dumps([[e, [["alice", "Alice"]]] for e in emoji], ensure_ascii=False))])
    sign_in(client, "bob")
    response = react(client, message, "🍕", **HX)
    assert response.status_code == 409 and "20 different reactions already" in response.content.decode()


@pytest.mark.parametrize("fields", [
    {"sk": "x", "emoji": "👍", "on": "1"},  # no author
    {"author": "alice", "emoji": "👍", "on": "1"},  # no sk
    {"author": "alice", "sk": "x", "emoji": "👍", "on": "yes"},  # on is 1 or 0
])
def test_an_incomplete_form_is_a_400(client, members, fields):
    sign_in(client, "bob")
    assert client.post("/rooms/art/messages/react", fields, **HX).status_code == 400


def test_a_malformed_key_is_a_404_not_a_500(client, members):
    sign_in(client, "bob")
    response = client.post("/rooms/art/messages/react", {"author": "alice", "sk": "#" * 150, "emoji": "👍", "on": "1"})
    assert response.status_code == 302 and response["Location"] == "/rooms/art/"


# --- the room page and live tabs ----------------------------------------------------------------------


def test_reactions_render_with_the_history_at_no_extra_call(client, members):
    """A member's room page stays at its budget (3 Queries and the unread counts' BatchGetItem, as
    tests/rooms/test_member_room_page_cold_cache.py) with reactions on every message: they are on
    the message items the history Query already returns."""
    messages = [post(members, f"message {n}") for n in range(12)]
    for n, message in enumerate(messages):
        for user in ("alice", "bob", "chen", "dan")[: n % 4 + 1]:
            services.reaction_set(room=members, user=request_user(user), author_id="alice", sk=message.sk,
                                  emoji="👍🎉"[n % 2], on=True)
    last = messages[-1]
    services.read_cursor_advance(user_id="bob", room_id="art", seq=last.seq, pos=last.sk)  # opens at the newest
    sign_in(client, "bob", display_name="Bob")
    client.get("/rooms/art/")
    caches.clear_all()
    with count_calls() as calls:
        response = client.get("/rooms/art/")
    assert dict(calls) == {"Query": 3, "BatchGetItem": 1}, calls
    names = [visible_name(b) for b in reaction_buttons(response.content.decode())]
    assert names[:4] == ["👍 1: Alice", "🎉 2: Alice and Bob", "👍 3: Alice, Bob and Chen",
                         "🎉 4: Alice, Bob, Chen and Dan"]
    assert len(names) == 12
    pressed = re.findall(r'aria-pressed="(true|false)"', response.content.decode())
    assert pressed[:4] == ["false", "true", "true", "true"]  # Bob's own, from the second message on


def test_a_reaction_reaches_an_open_tab_through_the_live_poll(client, members, settings):
    settings.CHAT_LIVE_REFRESH_SECONDS = 0
    live.clear_feeds()
    message = post(members)
    page = client.get("/rooms/art/").content.decode()  # someone signed out, watching
    token = html.unescape(re.search(r'data-watermark="([^"]+)"', page).group(1))
    seen = f"m-{message.message_id}"
    services.reaction_set(room=members, user=request_user("bob"), author_id="alice", sk=message.sk, emoji="👍", on=True)
    answer = client.get("/rooms/art/updates", {"w": token, "seen": seen}, **HX)
    body = answer.content.decode()
    assert answer.status_code == 200 and 'data-version="1"' in body and "data-update=" in body
    (button,) = reaction_buttons(body)
    assert visible_name(button) == "👍 1: Bob" and 'data-reactors="bob"' in button
