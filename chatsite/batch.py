"""Bulk writes to the chat table with BatchWriteItem, for management commands and the benchmark:
25 requests a call, UnprocessedItems retried with exponential backoff."""

from __future__ import annotations

import time
from typing import Callable, Iterable

from chatsite import dynamodb

Progress = Callable[[int], None]
BATCH_SIZE = 25  # BatchWriteItem's most


class UnprocessedItemsRemain(dynamodb.BatchRefused):
    pass


def batch_delete_keys(item_keys: Iterable[tuple[str, str]], *, progress: Progress = lambda n: None,
                      max_attempts: int = 8, sleep: Callable[[float], None] = time.sleep) -> int:
    """Delete chat-table items by (PK, SK). Returns how many were deleted."""
    requests = ({"DeleteRequest": {"Key": {"PK": {"S": pk}, "SK": {"S": sk}}}} for pk, sk in item_keys)
    return _write_all(requests, progress, max_attempts, sleep)


def batch_put_items(items: Iterable[dict], *, progress: Progress = lambda n: None, max_attempts: int = 8,
                    sleep: Callable[[float], None] = time.sleep) -> int:
    """Put raw chat-table items (DynamoDB JSON). Returns how many were written."""
    return _write_all(({"PutRequest": {"Item": item}} for item in items), progress, max_attempts, sleep)


def batch_write(*, puts: Iterable[dict] = (), deletes: Iterable[tuple[str, str]] = (), max_attempts: int = 8,
                sleep: Callable[[float], None] = time.sleep) -> int:
    """Puts (raw items) and deletes (PK, SK) in the same BatchWriteItem calls, 25 a call; no key
    twice. Returns how many were written."""
    requests = [*({"PutRequest": {"Item": item}} for item in puts),
                *({"DeleteRequest": {"Key": {"PK": {"S": pk}, "SK": {"S": sk}}}} for pk, sk in deletes)]
    return _write_all(requests, lambda n: None, max_attempts, sleep)


def _write_all(requests: Iterable[dict], progress: Progress, max_attempts: int, sleep) -> int:
    batch: list[dict] = []
    written = 0
    for request in requests:
        batch.append(request)
        if len(batch) == BATCH_SIZE:
            written += _write_batch(batch, progress, max_attempts, sleep)
            batch = []
    if batch:
        written += _write_batch(batch, progress, max_attempts, sleep)
    return written


def _write_batch(requests: list[dict], progress: Progress, max_attempts: int, sleep) -> int:
    table = dynamodb.table_name(dynamodb.CHAT)
    pending = requests
    for attempt in range(max_attempts):
        response = dynamodb.client().batch_write_item(RequestItems={table: pending})
        unprocessed = response.get("UnprocessedItems", {}).get(table, [])
        progress(len(pending) - len(unprocessed))
        if not unprocessed:
            return len(requests)
        pending = unprocessed
        sleep(min(2.0, 0.05 * 2 ** attempt))
    raise UnprocessedItemsRemain(
        f"{len(pending)} items still unprocessed after {max_attempts} attempts (DynamoDB is throttling); "
        f"run the command again: it picks up where it stopped")
