"""The room page builds its per-message and per-room links with chatsite.urls_fast (a plan per URL
name, not a reverse() per link): the same page byte for byte as with reverse() for every link, and
a few dozen reverse() calls a page instead of ~400 (7 {% url %} per message, its thread link twice,
its permanent link, its mentions)."""

from __future__ import annotations

import re
from unittest import mock

import pytest
from django.urls import resolvers, set_script_prefix

from chatsite import urls_fast
from rooms import services, validators
from tests.support.seeding import messages_posted, rooms_created
from tests.support.sessions import request_user, sign_in
from tests.support.users import ensure_user_item

NON_ASCII = "zo\u00eb"  # a user id the URL quotes: /u/zo%C3%AB/


@pytest.fixture
def busy_page(moto_tables, settings):
    """A staff member in 60 rooms viewing one with 55 messages: replies, reactions, an edit, mentions,
    a non-ASCII author. Staff see every message's Edit, History (where edited) and Delete links."""
    settings.CHAT_POST_RATE_LIMIT = 1000
    settings.CHAT_LIVE_REFRESH_SECONDS = 600
    for user_id in ("alice", "bob", NON_ASCII):
        ensure_user_item(user_id, display_name=user_id.title())
    room = services.room_create(name="Art", created_by="alice", created_by_name="Alice")
    for user_id in ("bob", NON_ASCII):
        services.room_join(room=room, user=request_user(user_id))
    rooms_created([f"Side {n:02d}" for n in range(59)], created_by="alice")
    posted = messages_posted(room, [f"note {n}" for n in range(30)],
                             author=request_user(NON_ASCII))
    posted += messages_posted(room, [f"note {n}" for n in range(30, 45)], author=request_user("bob"))
    for message in posted[::5]:
        services.reaction_set(room=room, user=request_user("alice"), author_id=message.author_id,
                              sk=message.sk, emoji="\U0001f44d", on=True)
    for message in posted[:10]:
        services.message_post(room=room, author=request_user("alice"), comment=f"re @{NON_ASCII} and @bob",
                              idempotency_key=validators.new_token(), reply_to=(message.author_id, message.sk))
    services.message_edit(room=room, actor=request_user("bob"), author_id="bob", sk=posted[-1].sk,
                          comment="note, edited", seen_version=0)
    return room


def page(client) -> str:
    response = client.get("/rooms/art/")
    assert response.status_code == 200
    html = response.content.decode()
    # What differs between any two requests: the masked CSRF token, the composer's idempotency key
    # and what is signed with the time: the live path's watermark and the history's page cursors.
    token = re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)
    html = re.sub(r'name="idempotency_key" value="[^"]+"', 'name="idempotency_key" value="KEY"', html)
    html = re.sub(r'([?&](?:before|after)=)[^"&#]+', r'\1CURSOR', html)
    return re.sub(r'data-watermark="[^"]+"', 'data-watermark="MARK"', html.replace(token, "CSRF"))


def reverses(client) -> int:
    real = resolvers.URLResolver._reverse_with_prefix
    calls = []

    def counted(self, *args, **kwargs):
        calls.append(args[0])
        return real(self, *args, **kwargs)

    with mock.patch.object(resolvers.URLResolver, "_reverse_with_prefix", counted):
        page(client)
    return len(calls)


@pytest.fixture
def reverse_for_every_link(monkeypatch):
    """The fast path off: no plans, so every fast_reverse is a reverse()."""
    monkeypatch.setattr(urls_fast, "_plans", {})
    monkeypatch.setattr(urls_fast, "_plan", lambda *args: None)


@pytest.fixture
def script_prefix():
    yield set_script_prefix
    set_script_prefix("/")


@pytest.mark.parametrize("script_name", ["", "/chat"])
def test_the_page_is_the_same_as_with_reverse_for_every_link(client, busy_page, monkeypatch, script_prefix,
                                                              script_name):
    sign_in(client, "alice", display_name="Alice", is_staff=True)
    script_prefix(script_name + "/")  # what the WSGI handler sets from SCRIPT_NAME (the test client doesn't)
    fast = page(client)
    assert fast.count('<li class="message"') == 50
    assert fast.count('class="history-link"') == 1 and fast.count('class="reaction-form"') >= 5
    assert f'href="{script_name}/u/zo%C3%AB/"' in fast and f'href="{script_name}/rooms/art/messages/delete' not in fast
    assert f'action="{script_name}/rooms/art/messages/delete"' in fast
    assert f'class="mention" href="{script_name}/u/zo%C3%AB/"' in fast
    monkeypatch.setattr(urls_fast, "_plans", {})
    monkeypatch.setattr(urls_fast, "_plan", lambda *args: None)
    assert page(client) == fast


def test_a_room_page_of_50_messages_makes_a_few_dozen_reverse_calls(client, busy_page):
    sign_in(client, "alice", display_name="Alice", is_staff=True)
    page(client)
    fast = reverses(client)
    assert fast < 60, fast  # the page's one-off links (header, composer, live endpoints, sidebar's forms)


def test_with_the_fast_path_off_the_same_page_made_hundreds(client, busy_page, reverse_for_every_link):
    # What the bound above is measured against: every per-message link a reverse() again.
    sign_in(client, "alice", display_name="Alice", is_staff=True)
    assert reverses(client) > 400
