"""A live poll of a direct conversation costs no DynamoDB call when the feed is warm, like a
public or private room's (the poll never reads the session; the grant in the watermark stands in
for the membership)."""

from __future__ import annotations

from chatsite.dynamodb import count_calls
from tests.rooms.test_direct_messages import NAMES, conversation, people, starter  # noqa: F401 (fixtures)
from tests.rooms.test_private_rooms import watermark
from tests.rooms.test_views import HX
from tests.support.sessions import sign_in


def test_a_warm_poll_of_a_direct_conversation_is_zero_calls(client, conversation):
    sign_in(client, "bob", display_name=NAMES["bob"])
    w = watermark(client.get(f"/rooms/{conversation}/").content.decode())
    assert w.count(".") == 2  # a grant, as for a private room
    poll = client.get(f"/rooms/{conversation}/updates?w={w}", **HX)
    assert poll.status_code in (200, 204)
    for _ in range(3):
        with count_calls() as calls:
            poll = client.get(f"/rooms/{conversation}/updates?w={poll['Chat-Watermark']}", **HX)
        assert poll.status_code in (200, 204) and sum(calls.values()) == 0, calls
