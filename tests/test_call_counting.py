"""count_calls() counts through botocore's before-call event on the shared client, not by
replacing BaseClient._make_api_call for every client in the process."""

import threading

import botocore.client

from chatsite import dynamodb, keys
from rooms.models import RoomRecord


def _original_make_api_call_is_in_place() -> bool:
    method = botocore.client.BaseClient._make_api_call
    return method.__module__ == "botocore.client" and method.__qualname__ == "BaseClient._make_api_call"


def test_botocore_is_not_patched_globally():
    import bench.middleware  # noqa: F401 - the benchmark's per-process counter, loaded as its settings do

    assert _original_make_api_call_is_in_place()


def test_counts_this_threads_calls_by_operation_and_not_other_threads(moto_tables):
    other_thread = threading.Thread(target=lambda: RoomRecord.count(keys.room_pk("elsewhere")))
    with dynamodb.count_calls() as calls:
        RoomRecord(keys.room_pk("art"), keys.META, name="Art", created_by="alice", created_at="x").save()
        RoomRecord.get(keys.room_pk("art"), keys.META)
        dynamodb.client().describe_table(TableName=dynamodb.table_name(dynamodb.CHAT))
        other_thread.start()
        other_thread.join()
    assert calls == {"PutItem": 1, "GetItem": 1, "DescribeTable": 1}


def test_nested_counts_add_up_and_a_reconfigured_client_is_counted_too(moto_tables):
    with dynamodb.count_calls() as outer:
        RoomRecord.count(keys.room_pk("art"))
        dynamodb.configure(endpoint_url=None, prefix="test_")  # a new shared client
        with dynamodb.count_calls() as inner:
            RoomRecord.count(keys.room_pk("art"))
    assert inner == {"Query": 1} and outer == {"Query": 2}


def test_observers_see_every_thread(moto_tables):
    seen = []
    stop = dynamodb.observe_calls(seen.append)
    try:
        worker = threading.Thread(target=lambda: RoomRecord.count(keys.room_pk("art")))
        worker.start()
        worker.join()
    finally:
        stop()
    assert seen == ["Query"]
