"""A poll that finds another thread's refresh still running answers from the feed's memory while
that memory is recent, and is refused (the feed is stuck on DynamoDB) only once it isn't."""

from __future__ import annotations

import threading

import pytest

from chatsite.dynamodb import STALL_PATIENCE_SECONDS, Stalled
from rooms import live
from rooms.models import ChatMessage
from rooms.timestamps import iso_from_ms

T0 = 1_700_000_000_000
OVERLAP = 10_000


@pytest.fixture(autouse=True)
def live_settings(settings):
    settings.CHAT_LIVE_OVERLAP_SECONDS = OVERLAP / 1000
    settings.CHAT_LIVE_REFRESH_SECONDS = 0  # every poll refreshes


class SlowSource:
    """Answers at once until ``hold`` is set; then each query waits for ``release``."""

    def __init__(self):
        self.hold = False
        self.entered = threading.Event()
        self.release = threading.Event()
        self.messages: list[ChatMessage] = []

    def __call__(self, room_id, since_ms, limit=None):
        if self.hold:
            self.entered.set()
            assert self.release.wait(30)
        return [m for m in self.messages if m.created_ms > since_ms], []


def _message(message_id: str, at: int) -> ChatMessage:
    return ChatMessage(room_id="r", author_id="a", sk=f"{iso_from_ms(at)}#{message_id}", message_id=message_id,
                       created_at=iso_from_ms(at), author_name="A", comment=message_id)


def _feed_with_a_slow_refresh_running(later: int) -> tuple[live.RoomFeed, SlowSource, threading.Thread]:
    """A feed refreshed successfully at T0, then, at ``later``, a refresh that hangs."""
    now = [T0]
    source = SlowSource()
    source.messages.append(_message("one", T0 - 1000))
    feed = live.RoomFeed("r", source=source, clock=lambda: now[0])
    first = feed.updates(watermark_ms=T0 - 5000, seen=frozenset())
    assert [e.ref for e in first.events] == ["m-one"] and first.watermark_ms == T0
    source.hold = True
    now[0] = later
    slow = threading.Thread(target=feed.updates, kwargs={"watermark_ms": T0, "seen": frozenset()})
    slow.start()
    assert source.entered.wait(10)
    return feed, source, slow


def test_a_poll_behind_a_slow_but_healthy_refresh_answers_from_memory():
    feed, source, slow = _feed_with_a_slow_refresh_running(T0 + 1000)
    try:
        answer = feed.updates(watermark_ms=T0 - 5000, seen=frozenset())  # waits STALL_PATIENCE_SECONDS, then memory
    finally:
        source.release.set()
        slow.join()
    assert [e.ref for e in answer.events] == ["m-one"]
    assert answer.watermark_ms == T0  # the last successful refresh's, not the current time


def test_a_poll_behind_a_refresh_when_memory_is_stale_is_refused():
    # No successful refresh for more than half the overlap: memory may miss what clients are owed.
    feed, source, slow = _feed_with_a_slow_refresh_running(T0 + OVERLAP // 2 + 1)
    try:
        with pytest.raises(Stalled):
            feed.updates(watermark_ms=T0 - 5000, seen=frozenset())
    finally:
        source.release.set()
        slow.join()
    assert STALL_PATIENCE_SECONDS <= 0.5
