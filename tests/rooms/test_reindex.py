"""`manage.py reindex` repairs index entries the indexer lost, changes nothing when run again, and
continues where an interrupted run stopped."""

import io

import pytest
from django.core.management import CommandError, call_command

from chatsite import dynamodb, keys
from chatsite.dynamodb import count_calls
from rooms import search_index, search_terms, selectors, services, validators
from tests.support.sessions import request_user
from tests.support.users import create_user

ALICE = request_user("alice")


@pytest.fixture(autouse=True)
def many_posts(settings):
    settings.CHAT_POST_RATE_LIMIT = 1000
    yield
    assert search_index.INDEXER.flush(timeout=10)


def post(room, text):
    return services.message_post(room=room, author=ALICE, comment=text, idempotency_key=validators.new_token()).message


def index_items() -> dict[str, dict]:
    client = dynamodb.client()
    found, start = {}, None
    while True:
        page = client.scan(TableName=dynamodb.table_name(dynamodb.CHAT), ConsistentRead=True,
                           **({"ExclusiveStartKey": start} if start else {}))
        found.update({f'{i["PK"]["S"]} {i["SK"]["S"]}': i for i in page["Items"]
                      if i["PK"]["S"].startswith(keys.SEARCH_PK_PREFIX)})
        start = page.get("LastEvaluatedKey")
        if not start:
            return found


def expected_items(messages, scope) -> set[str]:
    return {f"{keys.search_pk(scope, term)} {m.sk}" for m in messages for term in search_terms.index_terms(m.comment)}


def reindex(*args) -> str:
    out = io.StringIO()
    call_command("reindex", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_entries_lost_while_the_indexer_was_off_are_repaired_and_a_second_run_changes_nothing(room, settings):
    settings.CHAT_SEARCH_INDEXER = "inline"
    indexed = post(room, "indexed when posted")
    settings.CHAT_SEARCH_INDEXER = "off"
    lost = [post(room, f"lost llama number {n}") for n in range(3)]
    assert set(index_items()) == expected_items([indexed], "pub")

    assert "reindexed 4 messages of room art" in reindex("--room", "art")
    first = index_items()
    assert set(first) == expected_items([indexed, *lost], "pub")

    with count_calls() as calls:
        assert "reindexed 4 messages" in reindex("--room", "art")
    assert index_items() == first  # idempotent: the same items, nothing more
    assert "Scan" not in calls and calls["Query"] == 1  # one room: Query its messages


def test_entries_a_failing_indexer_thread_lost_are_repaired(room, settings, monkeypatch):
    settings.CHAT_SEARCH_INDEXER = "thread"

    def refused(*args, **kwargs):
        raise RuntimeError("throttled")

    monkeypatch.setattr(search_index, "batch_put_items", refused)
    failed_before = search_index.INDEXER.failed.total
    messages = [post(room, f"dropped message {n}") for n in range(3)]
    assert search_index.INDEXER.flush(timeout=10)
    assert search_index.INDEXER.failed.total == failed_before + 3 and index_items() == {}
    monkeypatch.undo()
    reindex("--room", "art")
    assert set(index_items()) == expected_items(messages, "pub")


def test_all_reindexes_every_rooms_messages_in_their_scopes_and_skips_a_closing_room(room, settings):
    settings.CHAT_SEARCH_INDEXER = "off"
    create_user("alice")
    create_user("bob")
    den = services.room_create(name="Den", created_by="alice", kind="private")
    direct = selectors.room_get(room_id=services.direct_start(starter=ALICE, usernames=["bob"]))
    closing = services.room_create(name="Gone", created_by="alice")
    public = [post(room, "public llamas")]
    private = [post(den, "private llamas")]
    direct_messages = [post(direct, "direct llamas")]
    post(closing, "closing llamas")
    services.room_close(room_id="gone")

    output = reindex("--all")
    assert "reindexed 3 messages of every room" in output and "skipped 1" in output
    assert set(index_items()) == (expected_items(public, "pub") | expected_items(private, "r:den")
                                  | expected_items(direct_messages, f"r:{direct.room_id}"))


def test_an_interrupted_reindex_continues_where_it_stopped(room, settings, monkeypatch):
    settings.CHAT_SEARCH_INDEXER = "off"
    messages = [post(room, f"message {n:02d} about alpacas") for n in range(10)]
    real_put = search_index.batch_put_items
    pages = []

    def dies_on_the_third_page(items, **kwargs):
        pages.append(1)
        if len(pages) == 3:
            raise KeyboardInterrupt  # the operator's Ctrl-C, or a killed host
        return real_put(items, **kwargs)

    monkeypatch.setattr(search_index, "batch_put_items", dies_on_the_third_page)
    with pytest.raises(KeyboardInterrupt):
        reindex("--all", "--page-size", "3")
    monkeypatch.undo()
    assert search_index.reindex_checkpoint_get("all")[1] == 6

    output = reindex("--all", "--page-size", "3")
    assert "reindexed 4 messages" in output and "after the 6 messages an interrupted run had done" in output
    assert set(index_items()) == expected_items(messages, "pub")
    assert search_index.reindex_checkpoint_get("all") is None  # finished: the next run starts over
    assert "reindexed 10 messages" in reindex("--all", "--page-size", "3")


def test_restart_ignores_a_saved_position(room, settings):
    settings.CHAT_SEARCH_INDEXER = "off"
    messages = [post(room, f"note {n} on vicunas") for n in range(4)]
    search_index.reindex_checkpoint_put("r:art", {"bogus": {"S": "x"}}, 99)
    assert "reindexed 4 messages" in reindex("--room", "art", "--restart")
    assert set(index_items()) == expected_items(messages, "pub")


@pytest.mark.parametrize(("args", "error"), [
    ([], "one of the arguments --room --all is required"),
    (["--room", "art", "--all"], "not allowed with argument"),
    (["--all", "--page-size", "0"], "--page-size must be between 1 and 1000"),
    (["--all", "--page-size", "1001"], "--page-size must be between 1 and 1000"),
    (["--room", "Not A Room!"], "is not a room id"),
    (["--room", "nowhere"], "no room with id 'nowhere'"),
])
def test_argument_errors_are_clear(moto_tables, args, error):
    with pytest.raises(CommandError, match=error):
        reindex(*args)


def test_a_room_being_deleted_is_refused(room):
    services.room_close(room_id="art")
    with pytest.raises(CommandError, match="being deleted"):
        reindex("--room", "art")
