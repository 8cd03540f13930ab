"""The room page's newest messages come from this process's tail of the room when it is fresh:
0 DynamoDB calls for the history; a stale tail costs the feed's one consistent Query of recent
events, a cold one room history's Query. The page is the one DynamoDB would give, with the tail's
own watermark; the access check is the same as ever; memory is bounded (docs/live-updates.md,
"The room page from memory")."""

from __future__ import annotations

import re
import threading
import time

import pytest
from django.test import Client

from chatsite.dynamodb import count_calls
from rooms import live, room_tail, selectors, services, validators
from rooms.models import PRIVATE
from tests.support.seeding import messages_posted
from tests.support.sessions import request_user, sign_in

MESSAGES = re.compile(r'<ol class="messages" id="messages"[^>]*>(.*?)</ol>', re.S)
WATERMARK = re.compile(r'data-watermark="(\d+)\.')


@pytest.fixture(autouse=True)
def lenient(settings):
    settings.CHAT_POST_RATE_LIMIT = 1000
    settings.CHAT_LIVE_REFRESH_SECONDS = 30  # "fresh" for the whole test: a slow host can't make it stale


@pytest.fixture
def history_reads(monkeypatch):
    """How often room history's Query ran, by the page or by a tail's load (the real functions)."""
    counts = {"index": 0}
    for name in ("room_history", "room_tail_messages"):
        real = getattr(selectors, name)

        def counted(*args, _real=real, **kwargs):
            counts["index"] += 1
            return _real(*args, **kwargs)
        monkeypatch.setattr(selectors, name, counted)
    return counts


def listing(body: str) -> str:
    """The page's message list, without the per-request CSRF tokens of its forms."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", MESSAGES.search(body).group(1))


def shown(body: str) -> list[str]:
    return re.findall(r'<li class="message" id="m-([^"]+)"', body)


def post(room, text, author="bob"):
    return services.message_post(room=room, author=request_user(author), comment=text,
                                 idempotency_key=validators.new_token()).message


def test_a_room_viewed_a_moment_ago_costs_no_call_for_its_history(client, room, history_reads):
    messages_posted(room, [f"message {n:03d}" for n in range(60)], author=request_user("bob"))
    with count_calls() as cold:
        first = client.get("/rooms/art/")
    assert first.status_code == 200 and history_reads["index"] == 1
    assert sum(cold.values()) <= 3, cold  # signed out: the room (cached by the posts) and the history
    with count_calls() as warm:
        second = client.get("/rooms/art/")
    assert dict(warm) == {}, warm  # signed out, warm: nothing at all
    assert history_reads["index"] == 1
    assert shown(second.content.decode()) == shown(first.content.decode())
    assert len(shown(second.content.decode())) == 50 and 'id="load-older-link"' in second.content.decode()


def test_a_signed_in_reader_warm_costs_only_what_the_rest_of_the_page_reads(client, room, history_reads):
    messages_posted(room, ["hello"], author=request_user("bob"))
    sign_in(client, "carol")  # not a member: the newest page (a member with unread: below)
    assert client.get("/rooms/art/").status_code == 200
    reads = history_reads["index"]
    with count_calls() as warm:
        page = client.get("/rooms/art/")
    assert page.status_code == 200 and "hello" in page.content.decode()
    assert history_reads["index"] == reads  # the history from memory
    # What is left is the session (unless this process has it) and the sidebar Query: at most 2.
    assert set(warm) <= {"Query"} and warm["Query"] <= 2, warm


def test_posts_deletions_and_changes_show_on_the_page_from_memory_as_from_dynamodb(client, room, history_reads):
    messages_posted(room, [f"message {n:03d}" for n in range(40)], author=request_user("bob"))
    assert client.get("/rooms/art/").status_code == 200  # the tail is loaded
    # This process's writes reach the tail at once (as they reach its streams).
    new = post(room, "a new one")
    services.reaction_set(room=room, user=request_user("alice"), author_id=new.author_id, sk=new.sk, emoji="👍",
                          on=True)
    services.message_edit(room=room, actor=request_user("bob"), author_id=new.author_id, sk=new.sk,
                          comment="edited", seen_version=0)
    reply = services.message_post(room=room, author=request_user("alice"), comment="a reply",
                                  idempotency_key=validators.new_token(),
                                  reply_to=services.parse_reply_to(f"{new.author_id}/{new.sk}")).message
    newest = selectors.room_history(room_id="art").items
    services.message_delete(room_id="art", actor=request_user("bob"), author_id="bob", sk=newest[-5].sk)
    reads = history_reads["index"]
    with count_calls() as calls:
        from_memory = client.get("/rooms/art/").content.decode()
    assert history_reads["index"] == reads and not calls
    room_tail.clear_tails()
    live.clear_feeds()
    from_dynamodb = client.get("/rooms/art/").content.decode()
    assert history_reads["index"] == reads + 1
    assert listing(from_memory) == listing(from_dynamodb)
    body = listing(from_memory)
    assert "edited" in body and "👍" in body and reply.message_id in body and newest[-5].message_id not in body


def test_the_page_carries_the_tails_watermark_not_the_time_of_the_request(client, room, settings):
    post(room, "hello")
    client.get("/rooms/art/")
    tail = room_tail.tail_for(selectors.room_get(room_id="art"))[0]
    page = client.get("/rooms/art/").content.decode()
    assert int(WATERMARK.search(page).group(1)) == tail.view().watermark_ms


def test_a_stale_tail_is_brought_up_to_date_by_the_feeds_one_query(client, room, history_reads, settings):
    settings.CHAT_LIVE_REFRESH_SECONDS = 0.2
    post(room, "first")
    client.get("/rooms/art/")
    time.sleep(0.3)  # the tail and the feed are stale now
    services_post_elsewhere(room, "from another process")
    reads = history_reads["index"]
    with count_calls() as calls:
        page = client.get("/rooms/art/").content.decode()
    assert history_reads["index"] == reads  # not the index: the feed's consistent Query of recent events
    assert dict(calls) == {"Query": 1}, calls
    assert "from another process" in page and "first" in page


def services_post_elsewhere(room, text):
    """A post by another process: this process's feed and tail are not told (no publish)."""
    feed = live.existing_feed(room.room_id)
    follower, feed.follower = feed.follower, None
    saved_events = dict(feed.events)
    try:
        post(room, text)
    finally:
        feed.follower = follower
        feed.events = saved_events


def test_a_private_room_is_checked_as_before_whatever_the_tail_holds(client, room, history_reads):
    den = services.room_create(name="Den", description="", created_by="alice", kind=PRIVATE)
    services.message_post(room=den, author=request_user("alice"), comment="secret", idempotency_key=validators.new_token())
    sign_in(client, "alice")
    assert "secret" in client.get("/rooms/den/").content.decode()  # the tail is warm
    sign_in(client, "bob")
    assert client.get("/rooms/den/").status_code == 404
    assert Client().get("/rooms/den/").status_code == 404  # signed out


def test_the_coldest_tails_are_dropped_past_the_bound(client, moto_tables, history_reads, settings):
    settings.CHAT_ROOM_TAILS_MAX = 2
    rooms = [services.room_create(name=name, description="", created_by="alice") for name in ("One", "Two", "Three")]
    for r in rooms:
        post(r, f"in {r.room_id}")
    for r in rooms:
        assert client.get(f"/rooms/{r.room_id}/").status_code == 200
    assert room_tail.tails_held() == 2 and history_reads["index"] == 3
    client.get("/rooms/three/")
    client.get("/rooms/two/")
    assert history_reads["index"] == 3  # both still held
    assert live.existing_feed("one").follower is None  # the evicted tail follows nothing
    client.get("/rooms/one/")  # the coldest was dropped: loaded again, and "three" goes
    assert history_reads["index"] == 4 and room_tail.tails_held() == 2
    client.get("/rooms/three/")
    assert history_reads["index"] == 5


def test_a_room_created_again_under_the_same_id_starts_a_new_tail(client, room):
    post(room, "old room's message")
    client.get("/rooms/art/")
    tail, _ = room_tail.tail_for(room)
    again = room.__class__(**{**room.__dict__, "created_at": "2099-01-01T00:00:00.000Z"})
    new_tail, _ = room_tail.tail_for(again)
    assert new_tail is not tail and new_tail.view() is None


def test_a_deletion_that_leaves_a_full_tail_short_loads_it_again(client, room, history_reads):
    messages_posted(room, [f"message {n:03d}" for n in range(60)], author=request_user("bob"))
    client.get("/rooms/art/")
    newest = selectors.room_history(room_id="art").items
    services.message_delete(room_id="art", actor=request_user("bob"), author_id="bob", sk=newest[-3].sk)
    reads = history_reads["index"]
    page = client.get("/rooms/art/").content.decode()
    assert history_reads["index"] == reads + 1  # the tail gave up: a page and "load older" need 51
    assert shown(page) == [m.message_id for m in selectors.room_history(room_id="art").items]


def test_a_member_with_a_few_unread_opens_at_them_from_memory(client, room, history_reads):
    messages_posted(room, [f"message {n:03d}" for n in range(60)], author=request_user("bob"))
    messages = selectors.room_history(room_id="art", limit=100).items
    assert services.read_cursor_advance(user_id="alice", room_id="art", seq=messages[55].seq, pos=messages[55].sk)
    sign_in(client, "alice")
    before = history_reads["index"]
    first = client.get("/rooms/art/").content.decode()  # 4 unread: loads the tail, which holds the page
    reads = history_reads["index"]
    assert reads == before + 1
    second = client.get("/rooms/art/").content.decode()
    assert history_reads["index"] == reads
    room_tail.clear_tails()
    live.clear_feeds()
    assert selectors.room_history_around(room_id="art", read_pos=messages[55].sk).items == messages[50:60]
    from_dynamodb = client.get("/rooms/art/").content.decode()
    assert listing(first) == listing(second) == listing(from_dynamodb)
    assert shown(second) == [m.message_id for m in messages[50:60]]


def test_a_crowd_opening_a_cold_room_loads_its_tail_once(room, history_reads):
    post(room, "hello")
    tail, feed = room_tail.tail_for(room)
    real_loader, started = tail.loader, threading.Event()

    def slow_loader(**kwargs):
        started.set()
        time.sleep(0.3)  # the others arrive while this load runs
        return real_loader(**kwargs)
    tail.loader = slow_loader
    views = []
    first = threading.Thread(target=lambda: views.append(tail.fresh_view(feed)))
    first.start()
    started.wait(5)
    others = [threading.Thread(target=lambda: views.append(tail.fresh_view(feed))) for _ in range(5)]
    for thread in others:
        thread.start()
    for thread in [first, *others]:
        thread.join(10)
    assert len(views) == 6 and all(v is not None and [m.comment for m in v.items] == ["hello"] for v in views)
    assert history_reads["index"] == 1


def test_no_tails_at_all_reads_every_page_from_dynamodb(client, room, history_reads, settings):
    settings.CHAT_ROOM_TAILS_MAX = 0
    post(room, "hello")
    for _ in range(2):
        assert "hello" in client.get("/rooms/art/").content.decode()
    assert history_reads["index"] == 2 and room_tail.tails_held() == 0
