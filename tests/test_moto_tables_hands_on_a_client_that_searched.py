"""A client that ran a search is handed to the next test (the site's own hooks, such as the
before-parse hook that reads answers off the wire, are registered when the client is built, so a
search leaves it as built); a client that lost one of them, or kept a handler a test left, is not."""

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


def test_a_client_a_test_took_the_sites_own_hook_off_is_not_handed_on(shared):
    first = _test(shared, lambda client: client.meta.events.unregister(
        "before-parse.dynamodb", unique_id="chatsite.dynamodb.answers-off-the-wire"))
    second = _test(shared, _search)
    assert second is not first and shared.clients_built == 2
    assert "chatsite.dynamodb.answers-off-the-wire" in second.meta.events._emitter._unique_id_handlers
