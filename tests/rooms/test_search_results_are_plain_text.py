"""A search result shows what the message says: its formatting marks (bold, code, quotes, fences)
are dropped, as in reply quotes and notifications, and the matches are still marked."""

from __future__ import annotations

import pytest

from rooms import services, validators
from tests.support.sessions import request_user


@pytest.fixture(autouse=True)
def inline_indexing(settings):
    settings.CHAT_SEARCH_INDEXER = "inline"


def test_a_result_is_the_plain_text_with_its_matches_marked(client, moto_tables):
    room = services.room_create(name="General", created_by="alice")
    services.message_post(room=room, author=request_user("alice"), idempotency_key=validators.new_token(),
                          comment="> quoted\n**release** notes with `pineapple` inside")
    page = client.get("/search/", {"q": "release"}).content.decode()
    assert "<mark>release</mark> notes with pineapple inside" in page
    assert "**" not in page.split('class="search-text"')[1].split("</p>")[0]
