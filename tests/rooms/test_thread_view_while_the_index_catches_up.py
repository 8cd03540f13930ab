"""The thread view just after a first reply, on an index that has not caught up yet.

`thread_messages` is a GSI: eventually consistent. Right after the first reply the root's
"1 reply" link (and every Reply link) is on the room page, but the index may hold neither the
root nor the reply. The links name the root (``author``, ``sk``), so the view falls back to the
root's GetItem and shows it, saying its replies are on their way, rather than a 404."""

from __future__ import annotations

import re
from urllib.parse import parse_qs

import pytest

from chatsite.dynamodb import count_calls
from rooms import services, validators
from rooms.models import MessageRecord
from tests.support.sessions import request_user, sign_in


@pytest.fixture(autouse=True)
def many_posts(settings):
    settings.CHAT_POST_RATE_LIMIT = 1000
    settings.CHAT_ROOM_SEQ_CACHE_SECONDS = 3600  # the warm-up's unread counts stay cached on a slow host


def say(room, text: str, author: str = "alice", reply_to=None):
    return services.message_post(room=room, author=request_user(author), comment=text,
                                 idempotency_key=validators.new_token(), reply_to=reply_to).message


@pytest.fixture
def members(room):
    for name in ("bob", "carol"):
        services.room_join(room=room, user=request_user(name))
    return room


def index_lags(monkeypatch, keep=lambda record: False):
    """The thread index as just after a write: only the items ``keep`` says it has caught up with."""
    real = MessageRecord.thread_index.query
    monkeypatch.setattr(MessageRecord.thread_index, "query",
                        lambda *args, **kwargs: iter([r for r in real(*args, **kwargs) if keep(r)]))


def links(page: str, css_class: str) -> list[str]:
    return [href.replace("&amp;", "&") for href in re.findall(rf'<a class="{css_class}" href="([^"]+)"', page)]


def reply_count_link(page: str, root) -> str:
    return re.search(rf'<p class="reply-count"><a href="(/rooms/art/threads/{root.message_id}/[^"]*)">',
                     page).group(1).replace("&amp;", "&")


def test_the_reply_count_and_every_reply_link_name_the_threads_root(client, members):
    root = say(members, "Lunch at noon?")
    reply = say(members, "Yes", author="bob", reply_to=(root.author_id, root.sk))
    say(members, "Me too", author="carol", reply_to=(reply.author_id, reply.sk))  # quotes the reply
    sign_in(client, "alice")
    page = client.get("/rooms/art/").content.decode()
    for url in [reply_count_link(page, root), *links(page, "reply-link")[:2]]:  # the root's, the reply's
        path, _, query = url.partition("?")
        assert path == f"/rooms/art/threads/{root.message_id}/", url
        assert parse_qs(query) == {"author": ["alice"], "sk": [root.sk]}, url


def test_just_after_the_first_reply_the_thread_view_shows_the_root_and_says_replies_are_coming(
        client, members, monkeypatch):
    root = say(members, "Lunch at noon?")
    say(members, "Yes", author="bob", reply_to=(root.author_id, root.sk))
    sign_in(client, "alice")
    url = reply_count_link(client.get("/rooms/art/").content.decode(), root)
    index_lags(monkeypatch)  # neither the root's ThreadID nor the reply has reached the index
    with count_calls() as calls:
        response = client.get(url)
    assert response.status_code == 200
    assert calls == {"Query": 3, "GetItem": 1}, calls  # the session, the sidebar, the empty thread; the root
    body = response.content.decode()
    assert f'id="m-{root.message_id}"' in body and "Lunch at noon?" in body
    assert "may take a moment" in body
    assert "was deleted" not in body
    assert f'name="reply_to" value="alice/{root.sk}"' in body  # members can reply at once


def test_a_reply_in_the_index_before_its_root_shows_under_the_root(client, members, monkeypatch):
    root = say(members, "Lunch at noon?")
    reply = say(members, "Yes", author="bob", reply_to=(root.author_id, root.sk))
    sign_in(client, "carol")
    url = reply_count_link(client.get("/rooms/art/").content.decode(), root)
    index_lags(monkeypatch, keep=lambda record: record.SK == reply.sk)
    response = client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.index(f'id="m-{root.message_id}"') < body.index(f'id="m-{reply.message_id}"')
    assert "was deleted" not in body and "may take a moment" not in body


def test_a_thread_the_index_has_caught_up_with_costs_no_getitem(client, members):
    root = say(members, "Lunch at noon?")
    say(members, "Yes", author="bob", reply_to=(root.author_id, root.sk))
    sign_in(client, "alice")
    url = reply_count_link(client.get("/rooms/art/").content.decode(), root)
    with count_calls() as calls:
        response = client.get(url)
    assert response.status_code == 200
    assert calls == {"Query": 3}, calls
    assert "may take a moment" not in response.content.decode()


def test_a_named_root_of_another_room_or_that_is_gone_is_still_a_404(client, members, monkeypatch):
    music = services.room_create(name="Music", created_by="alice")
    elsewhere = say(music, "in music")
    say(music, "reply", author="alice", reply_to=(elsewhere.author_id, elsewhere.sk))
    gone = say(members, "gone soon")
    services.message_delete(room_id="art", actor=request_user("alice"), author_id="alice", sk=gone.sk)
    index_lags(monkeypatch)
    sign_in(client, "alice")
    missing = client.get("/rooms/nowhere/threads/aaaaaaaaaaaaaaaaaaaa/")
    for message in (elsewhere, gone):
        response = client.get(f"/rooms/art/threads/{message.message_id}/", {"author": "alice", "sk": message.sk})
        assert response.status_code == 404
        assert response.content == missing.content
