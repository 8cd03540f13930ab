"""The site's own unique-id hooks on the shared client (the before-parse hook that reads answers
off the wire, which a server's client has from its first call on) leave the client clean for the
next test; a unique-id handler a test registers still means a new client."""

from __future__ import annotations

import pytest

from rooms import selectors
from tests.support.moto_tables import SharedMotoTables


@pytest.fixture
def shared():
    tables = SharedMotoTables()  # its own, so the process's shared client is not the one checked
    yield tables
    tables.pause()


def _test(shared, body):
    dynamodb = shared.start()
    try:
        client = dynamodb.client()
        body(client)
        return client
    finally:
        shared.finish()


def _search(client):
    page = selectors.search_hits(scope="r#general", term="plum", lowest="0", below="~", limit=10)
    assert page.hits == []


def test_a_client_that_ran_a_search_is_handed_on(shared):
    first = _test(shared, _search)
    assert "chatsite.dynamodb.answers-off-the-wire" in first.meta.events._emitter._unique_id_handlers
    second = _test(shared, _search)
    assert second is first and shared.clients_built == 1


def test_a_unique_id_handler_a_test_left_means_a_new_client(shared):
    calls = []

    def register(client):
        client.meta.events.register("before-call.dynamodb", lambda **kwargs: calls.append(1),
                                    unique_id="tests.a-handler-left-behind")

    first = _test(shared, register)
    second = _test(shared, lambda client: client.list_tables())
    assert second is not first and shared.clients_built == 2
    assert calls == []
