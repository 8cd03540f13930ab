"""The limit on changing messages (rooms.services.message_change_reserve), on moto: each user's
edits and reaction changes that write count against CHAT_MESSAGE_CHANGE_LIMIT per
CHAT_MESSAGE_CHANGE_WINDOW_SECONDS in one counter shared by every process; over it nothing is
written and the views answer 429 with Retry-After and when to try again (htmx and without
JavaScript). Asking for a reaction that is already so writes nothing and is not counted."""

from __future__ import annotations

import html
import json
import re
import types

import pytest

from chatsite import caches, counters, keys
from chatsite.dynamodb import count_calls
from rooms import selectors, services, validators
from rooms.models import MessageRecord
from tests.support.sessions import request_user, sign_in
from tests.support.users import ensure_user_item

HX = {"HTTP_HX_REQUEST": "true"}
ALICE, BOB = request_user("alice"), request_user("bob")
LIMIT = 3
TOO_FAST = re.compile(r"You're changing messages too fast; try again in (\d+) seconds?\.")


@pytest.fixture
def clock(monkeypatch, settings):
    """The counters' clock, fixed mid-window (so no test straddles a window's end), and the limit."""
    settings.CHAT_MESSAGE_CHANGE_LIMIT = LIMIT
    settings.CHAT_MESSAGE_CHANGE_WINDOW_SECONDS = 60
    now = [1_800_000_010.0]
    monkeypatch.setattr(counters, "time", types.SimpleNamespace(time=lambda: now[0]))
    return now


@pytest.fixture
def members(room):
    ensure_user_item("alice", display_name="Alice")
    ensure_user_item("bob", display_name="Bob")
    services.room_join(room=room, user=BOB)
    return room


def post(room, text="hello", author=ALICE):
    return services.message_post(room=room, author=author, comment=text,
                                 idempotency_key=validators.new_token()).message


def react(room, message, user=BOB, emoji="👍", on=True):
    return services.reaction_set(room=room, user=user, author_id=message.author_id, sk=message.sk, emoji=emoji,
                                 on=on)


def stored(message) -> MessageRecord:
    return MessageRecord.get(keys.user_pk(message.author_id), message.sk, consistent_read=True)


def seconds_said(text: str) -> int:
    found = TOO_FAST.search(html.unescape(text))
    assert found, text
    return int(found.group(1))


# --- the service ----------------------------------------------------------------------------------


def test_the_change_past_the_limit_is_refused_and_writes_nothing(members, clock):
    message = post(members)
    for n in range(LIMIT):
        react(members, message, emoji="👍🎉😂"[n])
    before = stored(message)
    with count_calls() as calls, pytest.raises(services.ChangingTooFast) as refused:
        react(members, message, emoji="🚀")
    # The read that found a write was needed, then the refused reservation: nothing else.
    assert dict(calls) == {"GetItem": 1, "UpdateItem": 1}, calls
    assert refused.value.retry_after == 50 and refused.value.current.sk == message.sk
    after = stored(message)
    assert (after.version, after.reactions) == (before.version, before.reactions) and after.version == LIMIT
    assert [r[0] for r in json.loads(after.reactions)] == ["👍", "🎉", "😂"]


def test_asking_for_a_reaction_already_so_is_not_counted(members, clock):
    message = post(members)
    react(members, message)
    for _ in range(10):  # a script pressing the same state again: 1 GetItem each, nothing counted
        with count_calls() as calls:
            react(members, message)
        assert dict(calls) == {"GetItem": 1}, calls
        react(members, message, emoji="🎉", on=False)  # not there: nothing to take back either
    react(members, message, on=False)
    react(members, message, emoji="🎉")  # the third change that writes: still within the limit
    with pytest.raises(services.ChangingTooFast):
        react(members, message)
    assert [r[0] for r in json.loads(stored(message).reactions)] == ["🎉"]


def test_edits_count_and_share_the_limit_with_reactions(members, clock):
    message = post(members, "one")
    react(members, message, user=ALICE)
    services.message_edit(room=members, actor=ALICE, author_id="alice", sk=message.sk, comment="two", seen_version=0)
    assert services.message_edit(room=members, actor=ALICE, author_id="alice", sk=message.sk, comment="two",
                                 seen_version=1).edit_version == 1  # the same text: nothing written, not counted
    services.message_edit(room=members, actor=ALICE, author_id="alice", sk=message.sk, comment="three",
                          seen_version=1)
    with count_calls() as calls, pytest.raises(services.ChangingTooFast) as refused:
        services.message_edit(room=members, actor=ALICE, author_id="alice", sk=message.sk, comment="four",
                              seen_version=2)
    assert dict(calls) == {"GetItem": 1, "UpdateItem": 1}, calls
    assert refused.value.current.comment == "three"
    now = selectors.message_get(author_id="alice", sk=message.sk)
    assert (now.comment, now.edit_version) == ("three", 2)
    # No history item for the refused edit: the two earlier versions only.
    assert [e.comment for e in selectors.message_edits(author_id="alice", sk=message.sk)] == ["one", "two"]
    with pytest.raises(services.ChangingTooFast):
        react(members, message, user=ALICE, emoji="🎉")
    assert react(members, message, user=BOB).reactions[0].count == 2  # someone else: their own limit


def test_the_count_is_shared_by_every_process_and_ends_with_its_window(members, clock):
    message = post(members)
    for n in range(LIMIT):
        react(members, message, emoji="👍🎉😂"[n])
    caches.clear_all()  # another process: nothing it remembers, the same counter item
    with pytest.raises(services.ChangingTooFast):
        react(members, message, emoji="🚀")
    clock[0] += 50  # the next window
    assert [r.emoji for r in react(members, message, emoji="🚀").reactions] == ["👍", "🎉", "😂", "🚀"]


# --- the views ------------------------------------------------------------------------------------


def react_view(client, message, emoji="👍", on="1", **extra):
    return client.post("/rooms/art/messages/react",
                       {"author": message.author_id, "sk": message.sk, "emoji": emoji, "on": on}, **extra)


def test_a_reaction_over_the_limit_is_429_with_when_to_try_again(client, members, clock):
    message = post(members)
    sign_in(client, "bob", display_name="Bob")
    for n in range(LIMIT):
        assert react_view(client, message, "👍🎉😂"[n], **HX).status_code == 200
    assert react_view(client, message, "👍", **HX).status_code == 200  # already so: not counted
    response = react_view(client, message, "🚀", **HX)
    assert response.status_code == 429 and response["Retry-After"] == "50"
    assert response["Content-Type"].startswith("text/plain")  # reactions.js shows it as it is
    assert seconds_said(response.content.decode()) == 50
    plain = react_view(client, message, "🚀")
    body = plain.content.decode()
    assert plain.status_code == 429 and plain["Retry-After"] == "50" and "<html" in body
    assert seconds_said(body) == 50 and f'href="{message.permalink}"' in html.unescape(body)
    assert [r[0] for r in json.loads(stored(message).reactions)] == ["👍", "🎉", "😂"]


def test_an_edit_over_the_limit_is_429_with_the_text_kept(client, members, clock):
    message = post(members, "one")
    sign_in(client, "alice", display_name="Alice")
    for n in range(LIMIT):
        assert react_view(client, message, "👍🎉😂"[n], **HX).status_code == 200
    edit = {"author": "alice", "sk": message.sk, "comment": "my careful words", "version": 0}
    response = client.post("/rooms/art/messages/edit", edit, **HX)
    body = response.content.decode()
    assert response.status_code == 429 and response["Retry-After"] == "50"
    assert 'class="edit-form"' in body and "my careful words" in body and "<html" not in body
    assert seconds_said(body) == 50 and "Your text is kept." in body
    plain = client.post("/rooms/art/messages/edit", edit)
    body = plain.content.decode()
    assert plain.status_code == 429 and "<html" in body and "my careful words" in body and seconds_said(body) == 50
    assert selectors.message_get(author_id="alice", sk=message.sk).comment == "one"
