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

Each test starts with the shared client as it was built (``dynamodb.configure`` drops it): the last
test's client is handed on only when nothing about it differs from just after it was built (its
event handlers, attributes and retry quota, ``_client_state``), else a new one is built as before.
Building one is ~5 ms of CPU, and a new client starts cold (its operation models, shapes and event
lookups are made again on first use): handing it on cut the unit tier's CPU by about a fifth.
The mock itself
stays on from one ``moto_tables`` test to the next (starting it registers ~1,300 URL callbacks,
7 ms); the conftest pauses it before any test that doesn't ask for ``moto_tables``, so those run
without moto exactly as before.
"""

from __future__ import annotations

PREFIX = "test_"


def _client_state(client) -> tuple:
    """What one test could leave on the shared botocore client for the next: the event handlers it
    registered and kept (botocore leaves emptied nodes behind on unregister, so only handlers
    count), the attributes it set, and the retries it spent from the standard mode's quota."""
    handlers, quotas = [], []
    emitter = client.meta.events._emitter
    nodes = [((), emitter._handlers._root)]
    while nodes:
        path, node = nodes.pop()
        values = node["values"]
        chain = (*values.first, *values.middle, *values.last) if values else ()
        if chain:
            handlers.append((path, chain))
            quotas += [getattr(handler.__self__, "_retry_quota", None) for handler in chain
                       if hasattr(handler, "__self__")]
        nodes += [((*path, chunk), child) for chunk, child in node["children"].items()]
    capacity = [quota._quota.available_capacity for quota in quotas if quota is not None]
    return (sorted(handlers, key=lambda entry: entry[0]), dict(emitter._unique_id_handlers),
            dict(vars(client)), capacity)


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
        self._connection = None  # the shared client's PynamoDB connection, handed on while clean
        self._client_state = None  # _client_state() of its client just after it was built
        self.clients_built = 0

    def start(self):
        """Before a test: the mock on, a client as built, both tables there and empty."""
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
            self._hand_on_a_clean_client(dynamodb)
            dynamodb.client()  # built now, as ensure_tables used to: not in the test's first call
            self._remember_client(dynamodb)
        except BaseException:
            self._expected = None
            self._connection = None
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

    def _hand_on_a_clean_client(self, dynamodb) -> None:
        connection, self._connection = self._connection, None
        if dynamodb._admin_connection is not None or connection is None or connection._client is None:
            return  # a client built since (remade tables), or none yet
        if _client_state(connection._client) == self._client_state:
            dynamodb._admin_connection = connection  # what configure() dropped, as it was built
            self._connection = connection

    def _remember_client(self, dynamodb) -> None:
        connection = dynamodb._admin_connection
        if connection is not self._connection:  # built for this test
            self.clients_built += 1
            self._client_state = _client_state(connection._client)
            self._connection = connection

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
