"""Under gunicorn (the production default CHAT_SEARCH_INDEXER="thread"), a post's index items are
written by the worker's indexer after the response, with gevent workers and with gthread ones."""

from __future__ import annotations

import pytest

from chatsite import dynamodb, keys
from rooms import selectors
from tests.support.web import Person, wait_until

pytestmark = pytest.mark.integration


def index_sks(scope: str, term: str) -> list[str]:
    answer = dynamodb.client().query(TableName=dynamodb.table_name(dynamodb.CHAT),
                                     KeyConditionExpression="PK = :pk",
                                     ExpressionAttributeValues={":pk": {"S": keys.search_pk(scope, term)}})
    return [item["SK"]["S"] for item in answer["Items"]]


@pytest.mark.parametrize("worker_class", ["gevent", "gthread"])
def test_a_post_is_indexed_by_the_workers_thread_after_the_response(gunicorn_server, worker_class):
    server = gunicorn_server(GUNICORN_WORKER_CLASS=worker_class)
    alice = Person(server.url)
    alice.sign_up("alice", "Alice")
    room = alice.create_room("Llama Farm")
    assert alice.post_message(room, "Spotted a wandering llama").status_code == 200
    [message] = selectors.room_history(room_id="llama-farm").items

    wait_until(lambda: index_sks("pub", "llama") == [message.sk], timeout=10,
               message="the worker's indexer to write the post's index items")
    assert index_sks("pub", "wandering") == [message.sk] and index_sks("pub", "spo") == [message.sk]
    assert server.proc.poll() is None  # the worker and the server are fine
