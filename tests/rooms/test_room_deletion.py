"""Deleting a room: closed on every host before its messages are swept, and a re-created room
with the same name starts empty (unit level, moto; tests/integration/test_room_deletion_across_servers.py
does the same with two real server processes)."""

import time

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from chatsite import caches, keys
from chatsite.dynamodb import count_calls
from rooms import selectors, services, validators
from rooms.models import MessageRecord, RoomRecord, TombstoneRecord
from tests.support.sessions import request_user, sign_in

ALICE = request_user("alice")


@pytest.fixture(autouse=True)
def short_waits(settings):
    settings.CHAT_ROOM_CACHE_SECONDS = 0.4
    settings.CHAT_ROOM_DELETE_GRACE_SECONDS = 0.1
    settings.CHAT_POST_RATE_LIMIT = 1000


def post(room, text):
    return services.message_post(room=room, author=ALICE, comment=text, idempotency_key=validators.new_token())


def index(room_id):
    return list(MessageRecord.room_index.query(room_id))


def test_a_closing_room_is_gone_for_a_process_that_reads_it_afresh(room):
    services.room_close(room_id="art")
    caches.clear_all()  # any other process, once its cache entry has expired
    with count_calls() as calls, pytest.raises(selectors.RoomNotFound):
        selectors.room_get(room_id="art")
    assert calls == {"GetItem": 1}
    assert selectors.room_list().items == []
    assert Client().get("/rooms/art/").status_code == 404


def test_room_get_reads_consistently_so_a_fresh_read_never_sees_it_open_after_the_close(room, monkeypatch):
    seen = []
    real_get = RoomRecord.get

    def spy(*args, **kwargs):
        seen.append(kwargs.get("consistent_read"))
        return real_get(*args, **kwargs)

    monkeypatch.setattr(RoomRecord, "get", spy)
    caches.clear_all()
    selectors.room_get(room_id="art")
    assert seen == [True]


def test_posts_a_stale_host_accepts_during_the_wait_are_swept_and_the_new_room_starts_empty(room):
    stale_room = selectors.room_get(room_id="art")  # what another process's cache holds: "open"
    cached_at = time.monotonic()
    post(stale_room, "before")
    accepted_during_wait = []
    told = []

    def wait_while_a_stale_host_posts(seconds):
        # message_post trusts the Room the view got from room_get's cache, as a stale host does.
        accepted_during_wait.append(post(stale_room, "during the wait").message)
        time.sleep(seconds)
        accepted_during_wait.append(post(stale_room, "at the end of the wait").message)

    deleted = services.room_delete(room_id="art", notify=told.append, sleep=wait_while_a_stale_host_posts)
    assert len(accepted_during_wait) == 2 and deleted == 3
    assert told and 0.2 <= told[0] <= 0.5 + 0.5  # cache + grace, less the time since the close (slow hosts)
    # Every process's cache entry from before the close has expired by now.
    assert time.monotonic() - cached_at >= 0.4
    caches.clear_all()
    with pytest.raises(selectors.RoomNotFound):
        selectors.room_get(room_id="art")
    assert index("art") == [] and RoomRecord.count(keys.room_pk("art")) == 0

    services.room_create(name="Art", created_by="bob")
    assert selectors.room_history(room_id="art").items == []


def test_room_create_refuses_while_the_room_is_closing(room):
    services.room_close(room_id="art")
    with pytest.raises(services.RoomBeingDeleted):
        services.room_create(name="ART", created_by="bob")
    assert selectors.room_list().items == []  # the closing room's directory entry is not repaired


def test_the_site_says_a_room_is_being_deleted(room):
    services.room_close(room_id="art")
    client = Client()
    sign_in(client, "bob")
    response = client.post("/", {"name": "Art", "description": ""})
    assert response.status_code == 400 and "being deleted" in response.content.decode()


def test_delete_room_tells_the_operator_it_waits(room, capsys, settings):
    settings.CHAT_ROOM_CACHE_SECONDS = 1.0  # longer than a loaded host takes from the close to the wait
    post(room, "hello")
    started = time.monotonic()
    call_command("delete_room", "art", "--yes")
    assert time.monotonic() - started >= 1.1
    captured = capsys.readouterr()
    assert "waiting" in captured.err and "CHAT_ROOM_CACHE_SECONDS" in captured.err
    assert "deleted room art and 1 messages" in captured.out


def test_an_interrupted_delete_is_finished_by_running_delete_room_again(room, capsys, settings):
    post(room, "hello")
    services.room_close(room_id="art")  # the command died right after closing the room
    services.write_tombstone(room_id="art", message_id=validators.new_token())
    call_command("delete_room", "art")
    assert "being deleted" in capsys.readouterr().out and len(index("art")) == 1
    time.sleep(0.5)  # the wait is counted from the close, not from the re-run
    settings.CHAT_ROOM_CACHE_SECONDS = 0.4
    call_command("delete_room", "art", "--yes")
    captured = capsys.readouterr()
    assert "waiting" not in captured.err and "deleted room art and 1 messages" in captured.out
    assert index("art") == [] and list(TombstoneRecord.query(keys.room_pk("art"))) == []
    assert RoomRecord.count(keys.room_pk("art")) == 0
    with pytest.raises(CommandError, match="no room with id 'art'"):
        call_command("delete_room", "art", "--yes")


def test_closing_a_missing_room_creates_nothing(moto_tables):
    with pytest.raises(selectors.RoomNotFound):
        services.room_close(room_id="ghost")
    assert RoomRecord.count(keys.room_pk("ghost")) == 0


def test_the_post_path_still_costs_two_updates_and_a_batch_write(room):
    # The post guard and the room's Seq (which also refuses a post once the room's record is gone).
    selectors.room_get(room_id="art")
    with count_calls() as calls:
        post(selectors.room_get(room_id="art"), "hi")
    assert calls == {"UpdateItem": 2, "BatchWriteItem": 1}
