"""Replies: a reply is a message of the room's timeline that quotes the message it answers and
joins that message's thread; the root counts its replies ("N replies"), and the thread view is one
Query of the sparse `thread_messages` index. Costs are stated and asserted with count_calls()."""

from __future__ import annotations

import re

import pytest

from chatsite import keys
from chatsite.dynamodb import count_calls
from rooms import room_tail, selectors, services, validators
from rooms.models import LiveEventRecord, MessageRecord, PRIVATE
from tests.rooms.test_views import HX
from tests.support.sessions import request_user, sign_in


@pytest.fixture(autouse=True)
def many_posts(settings):
    settings.CHAT_POST_RATE_LIMIT = 1000


def say(room, text: str, author: str = "alice", reply_to=None, key: str | None = None):
    return services.message_post(room=room, author=request_user(author), comment=text,
                                 idempotency_key=key or validators.new_token(), reply_to=reply_to)


def to(message) -> tuple[str, str]:
    return message.author_id, message.sk


def stored(message) -> MessageRecord:
    return MessageRecord.get(keys.user_pk(message.author_id), message.sk, consistent_read=True)


def update_events(room_id: str, message_id: str) -> list[str]:
    """The refs of the room's `u-` live events of ``message_id``."""
    refs = [keys.live_event_sk_parts(r.SK)[1] for r in LiveEventRecord.query(keys.room_pk(room_id))
            if r.SK.startswith(keys.LIVE_EVENT_PREFIX)]
    return [ref for ref in refs if ref.startswith(f"u-{message_id}.")]


def root_named(root) -> str:
    """The query of a link to the thread of ``root`` (it names the root: the index may lag)."""
    return f"author={root.author_id}&amp;sk={root.sk.replace(':', '%3A').replace('#', '%23')}"


@pytest.fixture
def members(room):
    for name in ("bob", "carol"):
        services.room_join(room=room, user=request_user(name))
    return room


# --- posting a reply -------------------------------------------------------------------------------


def test_a_plain_post_keeps_its_cost(members):
    with count_calls() as calls:
        say(members, "hello")
    assert calls == {"UpdateItem": 2, "BatchWriteItem": 1}, calls  # guard, Seq; the batch


def test_a_reply_costs_one_update_of_its_root_more_and_carries_the_quote(members):
    root = say(members, "Lunch at noon?\nAt the usual place.").message
    with count_calls() as calls:
        result = say(members, "Yes!", author="bob", reply_to=to(root))
    # the post's 3 calls + 1 conditional UpdateItem on the root (ALL_NEW: the quote); the root's
    # u- event rides in the post's one BatchWriteItem
    assert calls == {"UpdateItem": 3, "BatchWriteItem": 1}, calls
    reply = result.message
    assert reply.thread_id == root.message_id
    assert (reply.reply_to.sk, reply.reply_to.author_id, reply.reply_to.author_name, reply.reply_to.excerpt) == (
        root.sk, "alice", "Alice", "Lunch at noon?")
    record = stored(reply)
    assert (record.thread_id, record.reply_to, record.reply_to_author, record.reply_name, record.reply_excerpt) == (
        root.message_id, root.sk, "alice", "Alice", "Lunch at noon?")
    root_record = stored(root)
    assert (int(root_record.reply_count), root_record.thread_id, int(root_record.version)) == (1, root.message_id, 1)
    assert result.thread_root.reply_count == 1 and result.thread_root.version == 1
    assert update_events("art", root.message_id) == [f"u-{root.message_id}.1"]


def test_a_long_first_line_is_shortened_in_the_quote(members):
    root = say(members, "x" * 300).message
    reply = say(members, "ok", author="bob", reply_to=to(root)).message
    assert len(reply.reply_to.excerpt) == services.REPLY_EXCERPT_LENGTH and reply.reply_to.excerpt.endswith("…")


def test_replies_are_counted_on_the_root(members):
    root = say(members, "question").message
    for author in ("bob", "carol", "bob"):
        say(members, "answer", author=author, reply_to=to(root))
    assert int(stored(root).reply_count) == 3 and int(stored(root).version) == 3
    assert len(update_events("art", root.message_id)) == 3


def test_a_reply_to_a_reply_joins_the_roots_thread_and_quotes_the_reply(members):
    root = say(members, "root").message
    first = say(members, "first reply", author="bob", reply_to=to(root)).message
    with count_calls() as calls:
        second = say(members, "to bob", author="carol", reply_to=to(first)).message
    # + the refused UpdateItem on the reply, the GetItem of it (its thread, and its ReplyTo is the
    # root's key), the root's UpdateItem: 3 calls more than a plain post
    assert calls == {"UpdateItem": 4, "GetItem": 1, "BatchWriteItem": 1}, calls
    assert second.thread_id == root.message_id
    assert second.reply_to.sk == first.sk and second.reply_to.author_name == "Bob"
    with count_calls() as calls:
        third = say(members, "deeper", reply_to=to(second)).message
    # second answers a reply, so the root's key is not on it: + 1 Query (the thread's oldest item)
    assert calls == {"UpdateItem": 4, "GetItem": 1, "Query": 1, "BatchWriteItem": 1}, calls
    assert third.thread_id == root.message_id
    assert int(stored(root).reply_count) == 3
    assert stored(first).reply_count is None and stored(second).reply_count is None


def test_a_retried_reply_is_counted_once(members):
    root = say(members, "root").message
    key = validators.new_token()
    first = say(members, "yes", author="bob", reply_to=to(root), key=key)
    with count_calls() as calls:
        again = say(members, "yes", author="bob", reply_to=to(root), key=key)
    assert again.duplicate and again.message.sk == first.message.sk
    assert "BatchWriteItem" not in calls and calls["UpdateItem"] == 1  # the guard's claim only
    assert int(stored(root).reply_count) == 1


def test_a_retry_of_a_reply_whose_first_attempt_died_before_its_put_is_not_counted_again(members, monkeypatch):
    root = say(members, "root").message
    key = validators.new_token()

    def dies(*args, **kwargs):
        raise ConnectionError("the worker died")

    monkeypatch.setattr(services, "batch_put_items", dies)
    with pytest.raises(ConnectionError):
        say(members, "yes", author="bob", reply_to=to(root), key=key)
    monkeypatch.undo()
    assert int(stored(root).reply_count) == 1  # the first attempt counted it
    result = say(members, "yes", author="bob", reply_to=to(root), key=key)
    assert result.duplicate and result.message.thread_id == root.message_id
    assert result.message.reply_to.sk == root.sk
    assert int(stored(root).reply_count) == 1


def test_a_reply_to_a_message_of_another_room_is_refused_and_nothing_is_posted(members):
    music = services.room_create(name="Music", created_by="bob")
    elsewhere = say(music, "in music", author="bob").message
    with count_calls() as calls:
        with pytest.raises(services.ReplyTargetNotFound):
            say(members, "sneaky", reply_to=to(elsewhere))
    # the guard, the refused UpdateItem, the GetItem that tells why: no Seq, no write
    assert calls == {"UpdateItem": 2, "GetItem": 1}, calls
    assert stored(elsewhere).reply_count is None and stored(elsewhere).thread_id is None
    assert [m.comment for m in selectors.room_history(room_id="art").items] == []


def test_a_reply_to_a_deleted_or_malformed_target_is_refused(members):
    root = say(members, "gone soon").message
    services.message_delete(room_id="art", actor=request_user("alice"), author_id="alice", sk=root.sk)
    with pytest.raises(services.ReplyTargetNotFound):
        say(members, "too late", author="bob", reply_to=to(root))
    for bad in ("alice", "alice/", "alice/not-a-sk", "Al#ce/2026-01-01T00:00:00.000Z#aaaaaaaaaaaaaaaaaaaa",
                "alice/2026-01-01T00:00:00.000Z#short"):
        with count_calls() as calls, pytest.raises(services.ReplyTargetNotFound):
            services.parse_reply_to(bad)
        assert not calls


# --- deleting a reply ------------------------------------------------------------------------------


def test_deleting_a_reply_takes_it_off_its_roots_count(members):
    root = say(members, "root").message
    reply = say(members, "reply", author="bob", reply_to=to(root)).message
    with count_calls() as calls:
        services.message_delete(room_id="art", actor=request_user("bob"), author_id="bob", sk=reply.sk)
    # DeleteItem (ALL_OLD: its thread and root), its d- event, the root's UpdateItem, its u- event
    assert calls == {"DeleteItem": 1, "PutItem": 2, "UpdateItem": 1}, calls
    record = stored(root)
    assert int(record.reply_count) == 0 and int(record.version) == 2
    assert sorted(update_events("art", root.message_id)) == [f"u-{root.message_id}.1", f"u-{root.message_id}.2"]


def test_deleting_a_reply_to_a_reply_finds_the_root_with_one_query(members):
    root = say(members, "root").message
    first = say(members, "first", author="bob", reply_to=to(root)).message
    second = say(members, "second", author="carol", reply_to=to(first)).message
    with count_calls() as calls:
        services.message_delete(room_id="art", actor=request_user("carol"), author_id="carol", sk=second.sk)
    assert calls == {"DeleteItem": 1, "PutItem": 2, "UpdateItem": 1, "Query": 1}, calls
    assert int(stored(root).reply_count) == 1


def test_deleting_a_plain_message_costs_what_it_did(members):
    plain = say(members, "plain").message
    with count_calls() as calls:
        services.message_delete(room_id="art", actor=request_user("alice"), author_id="alice", sk=plain.sk)
    assert calls == {"DeleteItem": 1, "PutItem": 1}, calls


# --- the room page -----------------------------------------------------------------------------------


def test_the_room_page_shows_quotes_and_reply_counts_within_its_budget(client, members, settings):
    settings.CHAT_ROOM_SEQ_CACHE_SECONDS = 3600  # the warm-up's unread counts stay cached on a slow host
    root = say(members, "Lunch at noon?\nsecond line").message
    say(members, "Yes", author="bob", reply_to=to(root))
    last = say(members, "Me too", author="carol", reply_to=to(root)).message
    services.read_cursor_advance(user_id="alice", room_id="art", seq=last.seq, pos=last.sk)  # nothing unread
    sign_in(client, "alice")
    client.get("/rooms/art/")  # a warm process: the user and the room's Seq cached
    room_tail.clear_tails()  # the history from DynamoDB, not a fresh tail (test_room_page_call_budget.py)
    with count_calls() as calls:
        response = client.get("/rooms/art/")
    assert response.status_code == 200
    # the session, the user with the sidebar, the history, as without replies (the budget: 6):
    # counts and quotes are on the message items the history Query reads anyway
    assert calls == {"Query": 3}, calls
    page = response.content.decode()
    assert f'<a href="/rooms/art/threads/{root.message_id}/?{root_named(root)}">2 replies</a>' in page
    quote = (f'<p class="reply-quote"><a href="/rooms/art/?at={root.sk.replace(":", "%3A").replace("#", "%23")}'
             f'#m-{root.message_id}"><span class="visually-hidden">In reply to </span>'
             f'<span class="reply-quote-author">Alice</span>: <span class="reply-quote-text">Lunch at noon?</span>')
    assert page.count(quote) == 2
    assert page.count('class="reply-link"') == 3


def test_one_reply_says_1_reply(client, members):
    root = say(members, "root").message
    say(members, "Yes", author="bob", reply_to=to(root))
    sign_in(client, "alice")
    assert f'/threads/{root.message_id}/?{root_named(root)}">1 reply</a>' in client.get("/rooms/art/").content.decode()


def test_the_reply_link_without_javascript_opens_the_thread_view(client, members):
    root = say(members, "root").message
    sign_in(client, "bob")
    page = client.get("/rooms/art/").content.decode()
    link = re.search(r'<a class="reply-link" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    response = client.get(link)
    assert response.status_code == 200
    body = response.content.decode()
    assert f'id="m-{root.message_id}"' in body
    assert f'name="reply_to" value="alice/{root.sk}"' in body


def test_posting_a_reply_through_the_page_merges_the_roots_new_count(client, members):
    root = say(members, "root").message
    sign_in(client, "bob")
    response = client.post("/rooms/art/messages", {"comment": "Yes", "idempotency_key": validators.new_token(),
                                                   "reply_to": f"alice/{root.sk}"}, **HX)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'class="reply-quote"' in body
    assert re.search(rf'<li class="message" id="m-{root.message_id}"[^>]* data-version="1" data-update="\d+"', body)
    assert f'/threads/{root.message_id}/?{root_named(root)}">1 reply</a>' in body


def test_a_reply_refused_through_the_page_keeps_the_text_and_leaves_reply_mode(client, members):
    music = services.room_create(name="Music", created_by="bob")
    elsewhere = say(music, "in music", author="bob").message
    sign_in(client, "alice")
    form = {"comment": "my words", "idempotency_key": validators.new_token(), "reply_to": f"bob/{elsewhere.sk}"}
    response = client.post("/rooms/art/messages", form, **HX)
    assert response.status_code == 400
    body = response.content.decode()
    assert "The message you replied to is not in this room" in body
    assert '<input type="hidden" name="reply_to" value="" id="id_reply_to" hx-swap-oob="true">' in body
    plain = client.post("/rooms/art/messages", form)  # without JavaScript: the page again, text kept
    assert plain.status_code == 400
    assert "my words" in plain.content.decode() and "The message you replied to" in plain.content.decode()
    assert 'name="reply_to" value="bob/' not in plain.content.decode()
    malformed = client.post("/rooms/art/messages", {**form, "reply_to": "nonsense"}, **HX)
    assert malformed.status_code == 400


def test_a_reply_in_a_room_the_user_cannot_read_is_the_missing_rooms_404(client, moto_tables):
    secret = services.room_create(name="Secret", created_by="alice", kind=PRIVATE)
    root = say(secret, "hidden").message
    sign_in(client, "mallory")
    response = client.post(f"/rooms/{secret.room_id}/messages",
                           {"comment": "hi", "idempotency_key": validators.new_token(),
                            "reply_to": f"alice/{root.sk}"})
    missing = client.post("/rooms/nowhere/messages", {"comment": "hi", "idempotency_key": validators.new_token()})
    assert response.status_code == missing.status_code == 404
    assert response.content == missing.content
    assert stored(root).reply_count is None


def test_posting_a_reply_without_javascript_goes_back_to_the_thread(client, members):
    root = say(members, "root").message
    sign_in(client, "bob")
    response = client.post("/rooms/art/messages", {"comment": "Yes", "idempotency_key": validators.new_token(),
                                                   "reply_to": f"alice/{root.sk}"})
    assert response.status_code == 302
    assert response["Location"].startswith(f"/rooms/art/threads/{root.message_id}/#m-")


# --- the thread view ---------------------------------------------------------------------------------


def test_the_thread_view_is_one_query_showing_the_root_then_its_replies(client, members, settings):
    settings.CHAT_ROOM_SEQ_CACHE_SECONDS = 3600  # as above
    root = say(members, "root").message
    replies = [say(members, f"reply {n}", author=("bob", "carol")[n % 2], reply_to=to(root)).message
               for n in range(3)]
    say(members, "unrelated")
    sign_in(client, "alice")
    client.get("/rooms/art/")  # warm
    with count_calls() as calls:
        response = client.get(f"/rooms/art/threads/{root.message_id}/")
    assert response.status_code == 200
    assert calls == {"Query": 3}, calls  # the session, the sidebar, the thread
    body = response.content.decode()
    order = [body.index(f'id="m-{m.message_id}"') for m in [root, *replies]]
    assert order == sorted(order)
    assert "unrelated" not in body
    for m in [root, *replies]:
        assert f'href="{m.permalink.replace("&", "&amp;")}"' in body  # each with its permanent link
    assert f'name="reply_to" value="alice/{root.sk}"' in body
    assert 'id="thread-composer"' in body


def test_the_thread_view_pages_with_a_signed_cursor(client, members, settings):
    settings.CHAT_THREAD_PAGE_SIZE = 2
    root = say(members, "root").message
    replies = [say(members, f"reply {n}", author="bob", reply_to=to(root)).message for n in range(4)]
    sign_in(client, "alice")
    seen = []
    url = f"/rooms/art/threads/{root.message_id}/"
    while url:
        response = client.get(url)
        assert response.status_code == 200
        body = response.content.decode()
        seen += re.findall(r'<li class="message" id="m-([^"]+)"', body)
        assert f'name="reply_to" value="alice/{root.sk}"' in body  # every page replies to the root
        more = re.search(r'<a href="(\?after=[^"]+)">Later replies</a>', body)
        url = f"/rooms/art/threads/{root.message_id}/" + more.group(1).replace("&amp;", "&") if more else None
    assert seen == [m.message_id for m in [root, *replies]]
    assert client.get(f"/rooms/art/threads/{root.message_id}/?after=forged").status_code == 400


def test_the_thread_view_is_404_where_the_thread_is_not(client, members):
    root = say(members, "root").message
    say(members, "reply", author="bob", reply_to=to(root))
    music = services.room_create(name="Music", created_by="bob")
    sign_in(client, "alice")
    missing = client.get("/rooms/nowhere/threads/aaaaaaaaaaaaaaaaaaaa/")
    assert missing.status_code == 404
    for url in (f"/rooms/{music.room_id}/threads/{root.message_id}/",  # another room's thread
                "/rooms/art/threads/aaaaaaaaaaaaaaaaaaaa/",  # no such thread
                "/rooms/art/threads/not-a-token/",
                f"/rooms/art/threads/{root.message_id[::-1]}/?author=alice&sk={root.sk}"):  # key of another id
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.content == missing.content


def test_the_thread_view_of_a_private_room_is_404_to_non_members(client, moto_tables):
    secret = services.room_create(name="Secret", created_by="alice", kind=PRIVATE)
    root = say(secret, "hidden").message
    say(secret, "reply", reply_to=to(root))
    sign_in(client, "mallory")
    response = client.get(f"/rooms/{secret.room_id}/threads/{root.message_id}/")
    assert response.status_code == 404
    assert response.content == client.get(f"/rooms/nowhere/threads/{root.message_id}/").content
    sign_in(client, "alice")
    assert client.get(f"/rooms/{secret.room_id}/threads/{root.message_id}/").status_code == 200


def test_a_message_without_replies_opens_alone_in_its_thread_view(client, members):
    root = say(members, "lonely").message
    sign_in(client, "bob")
    with count_calls() as calls:
        response = client.get(f"/rooms/art/threads/{root.message_id}/", {"author": "alice", "sk": root.sk})
    assert response.status_code == 200
    assert calls["Query"] == 3 and calls["GetItem"] == 1  # the empty thread, then the message itself
    body = response.content.decode()
    assert "lonely" in body and f'name="reply_to" value="alice/{root.sk}"' in body
    assert client.get(f"/rooms/art/threads/{root.message_id}/").status_code == 404  # not named: no thread


def test_signed_out_readers_see_a_public_thread_without_a_composer(client, members):
    root = say(members, "root").message
    say(members, "reply", author="bob", reply_to=to(root))
    response = client.get(f"/rooms/art/threads/{root.message_id}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Sign in</a> to reply" in body and 'id="thread-composer"' not in body


def test_a_thread_whose_root_was_deleted_still_lists_its_replies(client, members):
    root = say(members, "root").message
    reply = say(members, "still here", author="bob", reply_to=to(root)).message
    services.message_delete(room_id="art", actor=request_user("alice"), author_id="alice", sk=root.sk)
    sign_in(client, "carol")
    response = client.get(f"/rooms/art/threads/{root.message_id}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert f'id="m-{reply.message_id}"' in body and "The message this thread answers was deleted" in body
    assert 'id="thread-composer"' not in body  # nothing left to reply to


def test_a_private_rooms_thread_costs_a_non_member_what_a_missing_rooms_does(client, moto_tables):
    """The private-room timing rule (tests/rooms/test_private_room_read_costs.py) holds for the
    thread view: the sidebar Query decides, before any thread is read; the room comes from the
    process's cache, which never holds a missing id (its one GetItem more)."""
    secret = services.room_create(name="Secret", created_by="alice", kind=PRIVATE)
    root = say(secret, "hidden").message
    say(secret, "reply", reply_to=to(root))
    sign_in(client, "mallory")
    client.get(f"/rooms/{secret.room_id}/")  # the room cached, mallory's user too
    counts = []
    for room_id in (secret.room_id, "nowhere"):
        with count_calls() as calls:
            assert client.get(f"/rooms/{room_id}/threads/{root.message_id}/").status_code == 404
        counts.append(dict(calls))
    assert "Query" in counts[0] and counts[0].get("Query") == counts[1].get("Query") == 2  # session, sidebar
    assert counts[1].get("GetItem", 0) == counts[0].get("GetItem", 0) + 1
