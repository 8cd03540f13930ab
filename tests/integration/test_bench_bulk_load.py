"""bench/bulk_load.js writes the benchmark's search index straight into a stopped dynalite's data
directory. What it writes must be exactly what dynalite's PutItem would store: search reads it back
through the app's own selector after a restart. Items that would belong in a secondary index are
refused, since the loader does not write index entries."""

from __future__ import annotations

import json

import pytest

from chatsite import dynamodb, keys
from rooms import search_index, selectors
from tests.support.servers import DynaliteServer, free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def own_dynalite(tmp_path):
    """A dynalite of this test's own: the loader stops and restarts it."""
    server = DynaliteServer(data_dir=tmp_path / "dynalite", port=free_port())
    server.start()
    dynamodb.configure(endpoint_url=server.url, prefix="bulk_")
    dynamodb.ensure_tables(wait_seconds=20)
    yield server
    dynamodb.configure(endpoint_url=None, prefix="test_")
    server.stop()


def _lines(items: list[dict]) -> str:
    return "".join(json.dumps(item) + "\n" for item in items)


def test_loaded_index_items_are_found_by_search_after_a_restart(own_dynalite):
    from bench.run import bulk_loader

    scope = keys.search_scope("room1", public=True)
    entries = [search_index.Entry(room_id="room1", author_id=f"user{n}", sk=keys.message_sk(
        f"2026-11-27T10:00:0{n}.000Z", f"message{n}abcdefghijkl"), text=f"lantern harbour {n}") for n in range(3)]
    items = [item for entry in entries for item in search_index.message_index_items(entry, scope=scope)]
    loaded = bulk_loader(own_dynalite, dynamodb.table_name(dynamodb.CHAT))(
        (_lines(search_index.message_index_items(entry, scope=scope)) for entry in entries), len(items))
    assert loaded == len(items)

    page = selectors.search_hits(scope=scope, term="lant", lowest=keys.MESSAGE_SK_MIN, below=keys.MESSAGE_SK_MAX,
                                 limit=10)
    assert [(hit.sk, hit.room_id, hit.author_id) for hit in page.hits] == [
        (entry.sk, "room1", entry.author_id) for entry in reversed(entries)]
    assert page.resume_below is None


def test_an_item_that_belongs_in_a_secondary_index_is_refused(own_dynalite):
    from bench.run import bulk_loader

    message = {"PK": {"S": "User:u1"}, "SK": {"S": keys.message_sk("2026-11-27T10:00:00.000Z", "m" * 20)},
               "RoomID": {"S": "room1"}, "CreatedAt": {"S": "2026-11-27T10:00:00.000Z"}, "Comment": {"S": "hi"}}
    with pytest.raises(RuntimeError, match="bulk_load.js failed"):
        bulk_loader(own_dynalite, dynamodb.table_name(dynamodb.CHAT))(iter([_lines([message])]), 1)
