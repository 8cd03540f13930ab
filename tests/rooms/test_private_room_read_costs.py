"""To a signed-in non-member, a private room costs the same DynamoDB reads as a room id that was
never created, URL by URL: the session is read before the room is looked up, so neither path skips
it (the timing-class rule of private rooms, docs/data-model.md "Private rooms")."""

from __future__ import annotations

import re
from collections import Counter

from chatsite.dynamodb import count_calls
from tests.rooms.test_private_rooms import den, every_url, watermark  # noqa: F401 (den is a fixture)
from tests.support.sessions import sign_in



def _calls(client, method, url, data, extra) -> Counter:
    with count_calls() as calls:
        assert getattr(client, method)(url, data, **extra).status_code == 404, (method, url)
    return Counter(dict(calls))


def test_every_url_costs_a_signed_in_non_member_the_same_reads_for_a_private_and_a_missing_room(client, den):
    sign_in(client, "alice")
    page = client.get("/rooms/den/").content.decode()  # the room now cached in this process
    w = watermark(page)
    cursor = re.search(r'\?before=([^"]+)"', page).group(1) if "?before=" in page else "x"
    client.cookies.clear()
    sign_in(client, "bob")
    client.get("/rooms/den/")  # bob's user record cached too, like any signed-in visitor's
    checked = 0
    for (method, url, data, extra), (_, missing_url, _, _) in zip(every_url("den", w=w, cursor=cursor),
                                                                    every_url("nowhere", w=w, cursor=cursor)):
        if "/updates?w=" in url and url.endswith(w):
            continue  # a valid grant is a bearer token for its lifetime (tests/rooms/test_private_rooms.py)
        private = _calls(client, method, url, data, extra)
        missing = _calls(client, method, missing_url, data, extra)
        if method in ("get", "head") and "/updates/grant" not in url:
            # Pages with the sidebar, and the live poll: the room comes from the per-process room
            # cache, which holds a room that exists (public ones too), never a missing id, so a
            # missing room costs its room GetItem more. No read happens only for private rooms.
            assert private + Counter({"GetItem": 1}) == missing, (method, url, private, missing)
        else:  # posting, deleting, read and unread, the grant, join, leave, invite, remove, settings
            assert private == missing, (method, url, private, missing)
            assert private["Query"] == 1, (method, url, private)  # the session, on both paths
            checked += 1
    # two posts (plain and HTMX), delete, read, unread (plain and HTMX), grant, join, leave, invite,
    # remove, settings
    assert checked == 12
