"""A tab resuming its stream on a server whose clock is behind the server that wrote a message it
holds: the message's ref stays in the cursor as long as the message could still be owed, so it is
not sent again (the Last-Event-ID carries refs, not their times)."""

from __future__ import annotations

import re
import time

from rooms import services, validators
from rooms.timestamps import now_ms
from tests.rooms.test_streams import Reader, open_stream
from tests.support.sessions import request_user
from tests.support.web import comments

ALICE = request_user("alice")
ID_RE = re.compile(r"^id: (.*)$", re.M)
OVERLAP_SECONDS = 0.5  # short: the test waits the window out in real time
AHEAD_MS = 450  # the writer's clock is ahead of this one by most of the overlap (the bound on skew)


def post(room, text: str):
    return services.message_post(room=room, author=ALICE, comment=text, idempotency_key=validators.new_token())


def test_a_resumed_ref_written_by_a_server_ahead_is_not_sent_again(client, moto_tables, settings, monkeypatch):
    settings.CHAT_LIVE_STREAMS = "on"
    settings.CHAT_LIVE_PUSH_REFRESH_SECONDS = 0.05
    settings.CHAT_LIVE_HEARTBEAT_SECONDS = 0.3
    settings.CHAT_LIVE_OVERLAP_SECONDS = OVERLAP_SECONDS
    settings.CHAT_POST_RATE_LIMIT = 1000
    art = services.room_create(name="Art", created_by="alice")
    first = Reader(open_stream(client))
    first.wait_for("retry:")
    with monkeypatch.context() as ahead:
        ahead.setattr(services, "now_ms", lambda: now_ms() + AHEAD_MS)  # posted on the server ahead
        post(art, "from the future")
    last_id = ID_RE.search(first.wait_for("from the future")).group(1)
    first.close()

    resumed = Reader(open_stream(client, last_event_id=last_id))  # on a server with the slower clock
    resumed.wait_for("retry:")
    end = time.monotonic() + OVERLAP_SECONDS + AHEAD_MS / 1000 + 1
    n = 0
    while time.monotonic() < end:  # posts keep waking the stream through the window that matters
        post(art, f"now {n}")
        n += 1
        time.sleep(0.1)
    resumed.wait_for(f"now {n - 1}")
    sent = comments("".join(resumed.chunks))
    assert sent == [f"now {k}" for k in range(n)], sent[:5]
    resumed.close()


def test_the_test_clock_skew_is_honoured_only_on_a_plain_http_test_rig(monkeypatch):
    from rooms import timestamps

    monkeypatch.setenv("CHAT_TEST_CLOCK_SKEW_MS", "2000")
    monkeypatch.setenv("DJANGO_SECURE", "0")
    assert timestamps._test_skew_ms() == 2000
    monkeypatch.delenv("DJANGO_SECURE")
    assert timestamps._test_skew_ms() == 0
    monkeypatch.setenv("DJANGO_SECURE", "1")
    assert timestamps._test_skew_ms() == 0
