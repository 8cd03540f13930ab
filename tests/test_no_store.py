"""Pages rendered for a signed-in user carry `Cache-Control: no-store` (so Back after signing out
can't show them from the browser's caches); anonymous pages don't need it, and the session-blind
live-update poll stays blind: the header is decided without loading the session."""

from __future__ import annotations

import re

import pytest
from django.test import Client, RequestFactory
from django.utils.functional import SimpleLazyObject

from chatsite import dynamodb
from chatsite.middleware import rendered_for_signed_in_user

PASSWORD = "plum-Orchard-47-kettle"


@pytest.fixture
def dora(moto_tables, settings):
    settings.CHAT_LIVE_REFRESH_SECONDS = 60  # the feed stays warm for the whole test
    client = Client()
    response = client.post("/accounts/signup/", {"username": "dora", "display_name": "Dora",
                                                 "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302
    response = client.post("/", {"name": "Reading Room", "description": ""})
    assert response.status_code == 302
    client.room_path = response["Location"]
    return client


def _no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


def test_signed_in_pages_are_no_store(dora):
    for path in ("/", dora.room_path, "/accounts/profile/", "/accounts/sessions/"):
        response = dora.get(path)
        assert response.status_code == 200, path
        assert _no_store(response), (path, response.get("Cache-Control"))


def test_anonymous_pages_are_not_marked(dora):
    anonymous = Client()
    for path in ("/", dora.room_path):
        response = anonymous.get(path)
        assert response.status_code == 200, path
        assert not _no_store(response), path


def test_the_live_poll_stays_blind_to_the_session(dora):
    page = dora.get(dora.room_path).content.decode()
    watermark = re.search(r'data-watermark="([^"]+)"', page).group(1)
    poll = f"{dora.room_path}updates?w={watermark}&seen="
    assert dora.get(poll, headers={"HX-Request": "true"}).status_code in (200, 204)  # warms the feed
    with dynamodb.count_calls() as calls:
        response = dora.get(poll, headers={"HX-Request": "true"})
    assert response.status_code in (200, 204)
    assert sum(calls.values()) == 0, calls  # the session was not loaded to decide the header


def test_the_decision_never_loads_a_lazy_user():
    request = RequestFactory().get("/")
    evaluated = []
    request.user = SimpleLazyObject(lambda: evaluated.append(1))
    assert rendered_for_signed_in_user(request) is False
    assert evaluated == []
