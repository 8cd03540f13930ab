"""A first post in a public room joins it, and the page shows the join at once: the HTMX answer
carries, out of band, the sidebar listing the room and the membership controls with Leave room."""

from __future__ import annotations

import re

from chatsite.dynamodb import count_calls
from tests.rooms.test_views import HX, composer_key
from tests.support.sessions import sign_in


def _oob(body: str, element_id: str) -> str:
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*hx-swap-oob="[^"]+"[^>]*>.*?</\1>', body, re.S)
    assert match, f"no out-of-band #{element_id} in the answer:\n{body}"
    return match.group(0)


def test_the_first_post_answers_with_the_sidebar_and_the_leave_button_out_of_band(client, room):
    sign_in(client, "bob")
    page = client.get("/rooms/art/")
    assert ">Join room</button>" in page.content.decode()
    form = {"comment": "hello", "idempotency_key": composer_key(page), "join": "True"}
    with count_calls() as calls:
        response = client.post("/rooms/art/messages", form, **HX)
    body = response.content.decode()
    assert response.status_code == 200 and "hello" in body
    sidebar = _oob(body, "your-rooms")
    assert 'href="/rooms/art/" aria-current="page"' in sidebar and ">Art</span>" in sidebar
    membership = _oob(body, "membership")
    assert ">Leave room</button>" in membership and "Join room" not in membership
    assert calls["Query"] == 2, calls  # the session, and the fresh sidebar (only on this first post)


def test_a_members_post_carries_no_sidebar(client, room):
    sign_in(client, "alice")
    page = client.get("/rooms/art/")
    response = client.post("/rooms/art/messages", {"comment": "hi", "idempotency_key": composer_key(page),
                                                   "join": "False"}, **HX)
    body = response.content.decode()
    assert 'id="your-rooms"' not in body and 'id="membership"' not in body
