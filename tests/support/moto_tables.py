"""Both tables under moto, created once per test process and emptied before each test.

Creating them for every test (``mock_aws()`` + ``ensure_tables``: ten DynamoDB calls through
botocore and moto) was most of the unit tier's set-up time. Now the first test of a process
(each pytest-xdist worker is one) creates them, and every later test gets the same two table
objects with their items dropped, straight in moto's in-process backend: no DynamoDB call, so
nothing lands in a test's ``count_calls()``.

Emptying in place is only done when moto's state is exactly what the set-up left: the same
backends, the same two table objects and nothing else, each described as at creation apart from
its items. Anything else (a test that ran its own ``mock_aws()``, which resets every backend, or
made other tables, backups or changes) gets the old path: reset moto and create the tables again.

Each test starts with a fresh shared client (``dynamodb.configure``), as before. The mock itself
stays on from one ``moto_tables`` test to the next (starting it registers ~1,300 URL callbacks,
7 ms); the conftest pauses it before any test that doesn't ask for ``moto_tables``, so those run
without moto exactly as before.
"""

from __future__ import annotations

PREFIX = "test_"


def _table_state(table) -> dict:
    """What a test could change about a table other than its items."""
    description = table.describe()["TableDescription"]
    description.pop("ItemCount")
    return {"description": description, "ttl": dict(table.ttl), "tags": list(table.tags)}


class SharedMotoTables:
    def __init__(self) -> None:
        self._mock = None  # moto is imported by the first test that asks for it, as before
        self._on = False
        self._expected = None  # what moto held right after the tables were created

    def start(self):
        """Before a test: the mock on, a fresh client, both tables there and empty."""
        from moto import mock_aws
        from moto.core.custom_responses_mock import reset_responses_mock
        from moto.core.models import responses_mock

        from chatsite import dynamodb

        if not self._on:
            self._mock = self._mock or mock_aws()
            # A start without reset would keep the URL callbacks (for the ``requests`` library)
            # that the last start registered, and add them again.
            reset_responses_mock(responses_mock)
            self._mock.start(reset=False)
            self._on = True
        try:
            dynamodb.configure(endpoint_url=None, prefix=PREFIX)
            if not self._empty_in_place():
                self._recreate()
            dynamodb.client()  # built now, as ensure_tables used to: not in the test's first call
        except BaseException:
            self._expected = None
            self.finish()
            self.pause()
            raise
        return dynamodb

    def finish(self) -> None:
        """After a test."""
        from chatsite import dynamodb

        dynamodb.configure(endpoint_url=None, prefix=PREFIX)

    def pause(self) -> None:
        """Before a test without moto, and at the end: the mock off, the tables kept."""
        if self._on:
            self._mock.stop(remove_data=False)
            self._on = False

    @staticmethod
    def _snapshot():
        from moto.core.base_backend import BackendDict
        from moto.dynamodb.models import dynamodb_backends

        backends = [
            (account, region, backend, dict(backend.tables),
             [backend.backups, backend.table_imports, backend.table_exports, backend.resource_policies])
            for account, region, backend in dynamodb_backends.iter_backends()
        ]
        return list(BackendDict._instances), backends

    def _empty_in_place(self) -> bool:
        if self._expected is None:
            return False
        (instances, backends), states = self._expected
        now_instances, now_backends = self._snapshot()
        if len(now_instances) != len(instances) or any(a is not b for a, b in zip(now_instances, instances)):
            return False
        if len(now_backends) != len(backends):
            return False
        for (account, region, backend, tables, others), (now_account, now_region, now_backend, now_tables, now_others) in zip(backends, now_backends):
            if (account, region) != (now_account, now_region) or backend is not now_backend:
                return False
            if tables.keys() != now_tables.keys() or any(tables[name] is not now_tables[name] for name in tables):
                return False
            if any(now_others):
                return False
        tables = [table for _, _, _, tables, _ in backends for table in tables.values()]
        for table in tables:
            table.items.clear()
        return [_table_state(table) for table in tables] == states

    def _recreate(self) -> None:
        from moto.core.base_backend import BackendDict
        from moto.core.model_instances import reset_model_data

        from chatsite import dynamodb

        BackendDict.reset()
        reset_model_data()
        dynamodb.configure(endpoint_url=None, prefix=PREFIX)
        dynamodb.ensure_tables(wait_seconds=5)
        snapshot = self._snapshot()
        states = [_table_state(table) for _, _, _, tables, _ in snapshot[1] for table in tables.values()]
        self._expected = snapshot, states


SHARED = SharedMotoTables()  # the process's one; the conftest's moto_tables fixture uses it


def pause_unless_asked_for(item, tables: SharedMotoTables = SHARED) -> None:
    """Before a test's fixtures (pytest_runtest_setup): a test that doesn't use moto_tables runs
    with moto off, as if no test before it had used moto."""
    if "moto_tables" not in getattr(item, "fixturenames", ()):
        tables.pause()
