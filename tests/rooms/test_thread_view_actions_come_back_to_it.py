"""Without JavaScript, reacting, editing and deleting from the thread view come back to the thread
(a checked ``next``: only a path of this room's page or one of its thread views), not the room page."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from rooms import services, validators
from tests.support.sessions import request_user, sign_in


@pytest.fixture(autouse=True)
def many_posts(settings):
    settings.CHAT_POST_RATE_LIMIT = 1000


def say(room, text: str, author: str = "alice", reply_to=None):
    return services.message_post(room=room, author=request_user(author), comment=text,
                                 idempotency_key=validators.new_token(), reply_to=reply_to).message


@pytest.fixture
def thread(room):
    services.room_join(room=room, user=request_user("bob"))
    root = say(room, "Lunch at noon?")
    reply = say(room, "Yes", author="bob", reply_to=(root.author_id, root.sk))
    services.reaction_set(room=room, user=request_user("bob"), author_id="alice", sk=root.sk, emoji="👍", on=True)
    return root, reply, f"/rooms/art/threads/{root.message_id}/"


def react(client, message, next_url, on="1"):
    return client.post("/rooms/art/messages/react", {"author": message.author_id, "sk": message.sk, "emoji": "👍",
                                                     "on": on, "next": next_url})


def edit(client, message, next_url, text="Lunch at one?"):
    return client.post("/rooms/art/messages/edit", {"author": message.author_id, "sk": message.sk, "version": "0",
                                                    "comment": text, "next": next_url})


def test_the_thread_views_forms_and_edit_links_name_the_thread(client, thread):
    root, reply, url = thread
    sign_in(client, "alice")
    body = client.get(url).content.decode()
    hidden = f'<input type="hidden" name="next" value="{url}">'
    # her root: its 👍 and Delete (Bob's reply: not hers to delete); the page's one picker: its two forms
    assert body.count(hidden) == 2 + 2, body.count(hidden)
    edit_link = html.unescape(re.search(r'<a class="edit-link" href="([^"]+)"', body).group(1))
    assert parse_qs(urlsplit(edit_link).query)["next"] == [url]
    room_page = client.get("/rooms/art/").content.decode()
    assert 'name="next"' not in room_page.split('id="messages"', 1)[1]  # the room page: as before


def test_reacting_without_javascript_from_the_thread_comes_back_to_it(client, thread):
    root, reply, url = thread
    sign_in(client, "alice")
    response = react(client, reply, url)
    assert response.status_code == 302
    assert response["Location"] == f"{url}#m-{reply.message_id}"
    page = client.get(url).content.decode()
    assert page.count('aria-pressed="true"') == 1  # hers, on the reply


def test_a_refused_reaction_from_the_thread_comes_back_to_it(client, thread):
    root, reply, url = thread
    services.message_delete(room_id="art", actor=request_user("bob"), author_id="bob", sk=reply.sk)
    sign_in(client, "alice")
    response = react(client, reply, url)
    assert response.status_code == 302 and response["Location"] == url


def test_editing_without_javascript_from_the_thread_comes_back_to_it(client, thread):
    root, reply, url = thread
    sign_in(client, "alice")
    page = client.get("/rooms/art/messages/edit", {"author": "alice", "sk": root.sk, "next": url})
    assert page.status_code == 200
    body = page.content.decode()
    assert f'<input type="hidden" name="next" value="{url}">' in body
    assert f'class="edit-cancel" href="{url}#m-{root.message_id}"' in body
    response = edit(client, root, url)
    assert response.status_code == 302
    assert response["Location"] == f"{url}#m-{root.message_id}"
    assert "Lunch at one?" in client.get(url).content.decode()


def test_deleting_without_javascript_from_the_thread_comes_back_to_it(client, thread):
    root, reply, url = thread
    sign_in(client, "bob")
    response = client.post("/rooms/art/messages/delete", {"author": "bob", "sk": reply.sk, "next": url})
    assert response.status_code == 302 and response["Location"] == url


@pytest.mark.parametrize("elsewhere", [
    "https://evil.example/rooms/art/", "//evil.example/rooms/art/", "/\\evil.example/rooms/art/",
    "javascript:alert(1)", "/rooms/music/", "/rooms/art-2/threads/aaaaaaaaaaaaaaaaaaaa/", "/accounts/sign-out/",
    "/rooms/art/threads/../../../accounts/", "/rooms/art/messages/delete", "/rooms/art/\r\nSet-Cookie: x=1",
])
def test_a_next_outside_this_rooms_pages_is_ignored(client, thread, elsewhere):
    root, reply, url = thread
    sign_in(client, "alice")
    reacted = react(client, reply, elsewhere)
    assert reacted.status_code == 302 and reacted["Location"] == reply.permalink
    edited = edit(client, root, elsewhere)
    assert edited.status_code == 302 and edited["Location"] == root.permalink
    page = client.get("/rooms/art/messages/edit", {"author": "alice", "sk": root.sk, "next": elsewhere})
    form = re.search(r'<form class="edit-form".*?</form>', page.content.decode(), re.S).group(0)
    assert 'name="next"' not in form and f'class="edit-cancel" href="{html.escape(root.permalink)}"' in form


def test_reacting_from_a_later_page_of_the_thread_comes_back_to_that_page(client, thread, settings):
    settings.CHAT_THREAD_PAGE_SIZE = 1
    root, reply, url = thread
    sign_in(client, "alice")
    later = html.unescape(re.search(r'<a href="(\?after=[^"]+)">Later replies</a>', client.get(url).content.decode())
                          .group(1))
    page = client.get(url + later).content.decode()
    assert f'id="m-{reply.message_id}"' in page
    listed = page.split('id="thread-messages"', 1)[1]
    next_url = html.unescape(re.search(r'<input type="hidden" name="next" value="([^"]+)">', listed).group(1))
    assert next_url == url + later
    response = react(client, reply, next_url)
    assert response.status_code == 302 and response["Location"] == f"{url}{later}#m-{reply.message_id}"
