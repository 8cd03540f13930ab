"""The search index's items: what posting, editing, deleting, purging, deleting a room and importing
write and remove (scopes `pub` and `r:<room id>`), what it costs, and the thread indexer's queue."""

import io
import logging
import math
import threading
import time

import pytest
from django.core.management import call_command

from chatsite import dynamodb, keys
from chatsite.dynamodb import count_calls
from rooms import search_index, search_terms, selectors, services, validators
from tests.support.sessions import request_user
from tests.support.users import create_user

ALICE = request_user("alice")
BOB = request_user("bob")


@pytest.fixture(autouse=True)
def inline_indexer(settings):
    settings.CHAT_SEARCH_INDEXER = "inline"
    settings.CHAT_POST_RATE_LIMIT = 1000
    yield
    assert search_index.INDEXER.flush(timeout=10)  # nothing queued here is written into the next test


@pytest.fixture
def den(moto_tables):
    return services.room_create(name="Den", created_by="alice", kind="private")


def post(room, text, *, author=ALICE):
    return services.message_post(room=room, author=author, comment=text,
                                 idempotency_key=validators.new_token()).message


def index_items() -> dict[tuple[str, str], dict]:
    """Every search index item, by (scope, term) and SK (a test may Scan)."""
    client = dynamodb.client()
    found, start = {}, None
    while True:
        page = client.scan(TableName=dynamodb.table_name(dynamodb.CHAT), ConsistentRead=True,
                           **({"ExclusiveStartKey": start} if start else {}))
        for item in page["Items"]:
            if item["PK"]["S"].startswith(keys.SEARCH_PK_PREFIX):
                found[(*keys.search_pk_parts(item["PK"]["S"]), item["SK"]["S"])] = item
        start = page.get("LastEvaluatedKey")
        if not start:
            return found


def terms_of(message, scope) -> set[str]:
    return {term for (s, term, sk) in index_items() if s == scope and sk == message.sk}


def test_a_post_in_a_public_room_is_indexed_in_the_public_scope_under_every_term(room):
    message = post(room, "Café meetings tomorrow")
    assert terms_of(message, "pub") == search_terms.index_terms("Café meetings tomorrow")
    assert terms_of(message, "pub") >= {"caf", "cafe", "mee", "meetings", "tomorrow"}
    item = index_items()[("pub", "cafe", message.sk)]
    assert item["SRoom"]["S"] == "art" and item["SAuthor"]["S"] == "alice"
    # never in the room's history or a thread: the index items carry no RoomID, CreatedAt, ThreadID
    assert not {"RoomID", "CreatedAt", "ThreadID", "ExpiresAt"} & set(item)


def test_a_post_in_a_private_room_is_indexed_in_that_rooms_scope_only(den, room):
    message = post(den, "secret plans")
    assert terms_of(message, "r:den") == {"sec", "secr", "secre", "secret", "pla", "plan", "plans"}
    assert terms_of(message, "pub") == set()


def test_a_direct_conversation_is_its_own_scope(moto_tables):
    create_user("alice")
    create_user("bob")
    room_id = services.direct_start(starter=ALICE, usernames=["bob"])
    message = post(selectors.room_get(room_id=room_id), "hello there")  # "there": a stop word
    assert terms_of(message, f"r:{room_id}") == {"hel", "hell", "hello"}


def test_the_post_path_costs_its_own_calls_plus_one_batch_write_per_25_items_inline(room):
    text = "alpha bravo charlie delta echo foxtrot golf hotel india juliet"
    items = len(search_terms.index_terms(text))
    with count_calls() as calls:
        post(room, text)
    assert calls == {"UpdateItem": 2, "BatchWriteItem": 1 + math.ceil(items / 25)}, items


@pytest.mark.parametrize("mode", ["thread", "off"])
def test_in_thread_and_off_modes_the_post_makes_exactly_its_old_calls(room, settings, mode):
    settings.CHAT_SEARCH_INDEXER = mode
    with count_calls() as calls:
        post(room, "alpha bravo charlie delta echo foxtrot golf hotel india juliet")
    assert calls == {"UpdateItem": 2, "BatchWriteItem": 1}
    assert search_index.INDEXER.flush(timeout=10)


def test_an_edit_removes_the_old_texts_terms_and_adds_the_new_ones(room):
    message = post(room, "meeting at noon tomorrow")
    with count_calls() as calls:
        services.message_edit(room=room, actor=ALICE, author_id="alice", sk=message.sk,
                              comment="meeting at midnight tomorrow", seen_version=0)
    assert terms_of(message, "pub") == search_terms.index_terms("meeting at midnight tomorrow")
    assert "noon" not in terms_of(message, "pub") and "midnight" in terms_of(message, "pub")
    # "noo"+"noon" out, "mid".."midnight" in: one batch of puts, one of deletes
    assert calls["BatchWriteItem"] == 2


def test_deleting_a_message_removes_its_items_and_leaves_the_others(room, den):
    keep = post(room, "meeting notes")
    gone = post(room, "meeting cancelled")
    private = post(den, "meeting cancelled")
    services.message_delete(room_id="art", actor=ALICE, author_id="alice", sk=gone.sk)
    assert terms_of(gone, "pub") == set()
    assert terms_of(keep, "pub") == search_terms.index_terms("meeting notes")
    assert terms_of(private, "r:den") == search_terms.index_terms("meeting cancelled")


def test_deleting_in_a_private_room_removes_from_its_scope(den):
    message = post(den, "meeting cancelled")
    services.message_delete(room_id="den", actor=ALICE, author_id="alice", sk=message.sk)
    assert index_items() == {}


def test_purge_messages_removes_the_purged_messages_items(room, monkeypatch):
    old = post(room, "ancient history")
    monkeypatch.setattr(services, "now_ms", lambda: 4_102_444_800_000)  # 2100-01-01
    new = post(room, "fresh news")
    call_command("purge_messages", "--room", "art", "--before", "2050-01-01", "--yes")
    assert terms_of(old, "pub") == set()
    assert terms_of(new, "pub") == search_terms.index_terms("fresh news")


def test_delete_room_removes_its_index_items(den, settings):
    settings.CHAT_ROOM_CACHE_SECONDS = 0
    settings.CHAT_ROOM_DELETE_GRACE_SECONDS = 0
    for n in range(30):
        post(den, f"message number {n} about llamas")
    assert index_items()
    call_command("delete_room", "den", "--yes")
    assert index_items() == {}


def test_import_indexes_the_imported_messages_in_the_target_rooms_scope(room, tmp_path):
    post(room, "imported llamas")
    post(room, "second imported message")
    out = tmp_path / "art.jsonl"
    call_command("export_room", "art", "--output", str(out))
    services.room_create(name="Copy", created_by="alice", kind="private")
    call_command("import_room", str(out), "--room", "copy")
    copied = {sk for (scope, term, sk) in index_items() if scope == "r:copy" and term == "imported"}
    assert len(copied) == 2
    before = index_items()
    call_command("import_room", str(out), "--room", "copy")  # a re-run puts the same items
    assert index_items() == before


def test_off_writes_no_index_at_all(room, settings):
    settings.CHAT_SEARCH_INDEXER = "off"
    message = post(room, "nothing indexed")
    services.message_edit(room=room, actor=ALICE, author_id="alice", sk=message.sk, comment="still nothing",
                          seen_version=0)
    assert index_items() == {}


def test_a_long_message_writes_at_most_the_cap(room):
    text = " ".join(f"word{n:04d}" for n in range(300))
    message = post(room, text)
    assert len(terms_of(message, "pub")) == search_terms.MAX_TERMS_PER_MESSAGE


# --- the thread indexer ----------------------------------------------------------------------------


def test_the_thread_indexer_writes_after_the_post_returns_and_drains(room, settings):
    settings.CHAT_SEARCH_INDEXER = "thread"
    messages = [post(room, f"queued message {n}") for n in range(5)]
    assert search_index.INDEXER.flush(timeout=10)
    for n, message in enumerate(messages):
        assert terms_of(message, "pub") == search_terms.index_terms(f"queued message {n}")
    assert search_index.INDEXER._thread.daemon


def test_a_full_queue_drops_and_counts_and_never_blocks_the_poster(room, caplog):
    release = threading.Event()
    applied = []

    def slow_apply(change):
        release.wait(10)
        applied.append(change)

    indexer = search_index.Indexer(apply=slow_apply, maxsize=2)
    change = search_index.Change(room_id="art", author_id="alice", sk="x", old_text=None, new_text="hello",
                                 public=True)
    with caplog.at_level(logging.ERROR, logger="rooms.search_index"):
        results = [indexer.submit(change) for _ in range(6)]  # one taken by the thread, two queued
        release.set()
        assert indexer.flush(timeout=10)
    assert results.count(False) >= 3 and indexer.dropped.total == results.count(False)
    assert len(applied) == results.count(True)
    drops = [r for r in caplog.records if "queue was full" in r.getMessage()]
    assert len(drops) == 1  # logged once, not once per drop


def test_a_failing_write_is_logged_once_and_the_thread_keeps_going(caplog):
    done = []

    def flaky_apply(change):
        if change.new_text == "boom":
            raise RuntimeError("DynamoDB said no")
        done.append(change.new_text)

    indexer = search_index.Indexer(apply=flaky_apply, maxsize=100)

    def change(text):
        return search_index.Change(room_id="art", author_id="alice", sk=text, old_text=None, new_text=text,
                                   public=True)
    with caplog.at_level(logging.ERROR, logger="rooms.search_index"):
        for text in ["one", "boom", "two", "boom", "three"]:
            indexer.submit(change(text))
        assert indexer.flush(timeout=10)
    assert done == ["one", "two", "three"] and indexer.failed.total == 2
    failures = [r for r in caplog.records if "could not be written" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info  # the first in full; the next only in a later count


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_thread_is_started_again_on_the_next_change():
    done = []
    indexer = search_index.Indexer(apply=lambda change: done.append(change.new_text), maxsize=10)

    def change(text):
        return search_index.Change(room_id="art", author_id="alice", sk=text, old_text=None, new_text=text,
                                   public=True)
    indexer.submit(change("one"))
    assert indexer.flush(timeout=10)
    first = indexer._thread
    indexer._apply = lambda change: (_ for _ in ()).throw(SystemExit())  # something that ends the thread
    indexer.submit(change("ends it"))
    first.join(10)
    assert not first.is_alive()
    indexer._apply = lambda change: done.append(change.new_text)
    indexer.submit(change("two"))
    assert indexer.flush(timeout=10)
    assert done == ["one", "two"] and indexer._thread is not first


def test_seed_demo_indexes_its_messages(moto_tables):
    call_command("seed_demo", "--users", "2", "--rooms", "2", "--messages", "3", "--seed", "7",
                 stdout=io.StringIO(), stderr=io.StringIO())
    messages = [m for room_id in ("general", "random") for m in selectors.room_history(room_id=room_id).items]
    assert len(messages) == 6
    assert set(index_items()) == {("pub", term, m.sk) for m in messages for term in search_terms.index_terms(m.comment)}


def test_a_graceful_worker_exit_waits_for_the_queued_changes(monkeypatch):
    from tests import gunicorn_conf_loader

    done = []

    def slow_apply(change):
        time.sleep(0.05)
        done.append(change.sk)

    monkeypatch.setattr(search_index, "INDEXER", search_index.Indexer(apply=slow_apply, maxsize=100))
    for n in range(5):
        search_index.INDEXER.submit(search_index.Change(room_id="art", author_id="alice", sk=str(n), old_text=None,
                                                        new_text="hello", public=True))
    gunicorn_conf_loader.load().worker_exit(None, None)
    assert done == ["0", "1", "2", "3", "4"]


def test_changes_still_queued_when_the_exit_wait_ends_are_logged_as_lost(monkeypatch, caplog):
    release = threading.Event()
    monkeypatch.setattr(search_index, "INDEXER", search_index.Indexer(apply=lambda change: release.wait(10),
                                                                      maxsize=100))
    for n in range(3):
        search_index.INDEXER.submit(search_index.Change(room_id="art", author_id="alice", sk=str(n), old_text=None,
                                                        new_text="hello", public=True))
    with caplog.at_level(logging.ERROR, logger="rooms.search_index"):
        assert not search_index.finish(timeout=0.1)
    release.set()
    assert "still queued at exit were lost" in caplog.text


def test_a_post_succeeds_even_when_the_indexer_cannot_take_its_change(room, settings, monkeypatch):
    settings.CHAT_SEARCH_INDEXER = "thread"

    def no_thread(change):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(search_index.INDEXER, "submit", no_thread)
    failed = search_index.INDEXER.failed.total
    message = post(room, "still posted")
    assert selectors.message_get(author_id="alice", sk=message.sk).comment == "still posted"
    assert search_index.INDEXER.failed.total == failed + 1
