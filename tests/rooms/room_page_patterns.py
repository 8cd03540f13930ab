"""Which named access pattern made each DynamoDB call of a room page, for measurements and budget
tests: an observer on every call (chatsite.dynamodb.observe_calls) that looks up the stack for the
innermost frame in rooms/ or accounts/ (the pattern, e.g. ``selectors.user_with_rooms``) and the
frames of those apps outside it (why it was made, e.g. ``room_tail.fresh_view``)."""

from __future__ import annotations

import sys
import threading
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

from chatsite import dynamodb, keys
from chatsite.batch import batch_put_items

ROOT = Path(__file__).resolve().parents[2]
APPS = tuple(str(ROOT / app) + "/" for app in ("rooms", "accounts"))


def _app_frames(frame) -> list[str]:
    """``module.function`` of each rooms/ or accounts/ frame, innermost first."""
    found = []
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(APPS) and not frame.f_code.co_name.startswith("<"):  # not a comprehension's
            module = Path(filename).stem
            found.append(f"{module}.{frame.f_code.co_name}")
        frame = frame.f_back
    return found


class Recorder:
    """Calls by (operation, pattern, why) on the thread that made it: ``page`` for the calls of the
    thread inside ``page()``, ``background`` for every other thread's."""

    def __init__(self):
        self._lock = threading.Lock()
        self._page_thread: int | None = None
        self._page: list[tuple[str, str, str]] | None = None
        self.background: Counter = Counter()
        self._stop = None

    def __enter__(self):
        self._stop = dynamodb.observe_calls(self._observe)
        return self

    def __exit__(self, *exc):
        self._stop()

    def _observe(self, operation: str) -> None:
        frames = _app_frames(sys._getframe(1))
        pattern = frames[0] if frames else "(outside rooms/ and accounts/)"
        why = " < ".join(dict.fromkeys(f for f in frames[1:5] if not f.startswith("views.")))
        call = (operation, pattern, why)
        with self._lock:
            if self._page is not None and threading.get_ident() == self._page_thread:
                self._page.append(call)
            else:
                self.background[call] += 1

    @contextmanager
    def page(self):
        calls: list[tuple[str, str, str]] = []
        with self._lock:
            self._page, self._page_thread = calls, threading.get_ident()
        try:
            yield calls
        finally:
            with self._lock:
                self._page = None


def patterns(calls) -> Counter:
    """{pattern: calls} of one page's recorded calls."""
    return Counter(pattern for _, pattern, _ in calls)


def messages_elsewhere(room_id: str, count: int, author: str, *, comment: str = "news") -> None:
    """Posts made by another process: the room's Seq taken, the messages with their live and
    activity events written; nothing of them in this process's memory (its Seq cache, feeds, tails)."""
    from rooms import activity, services, validators
    from rooms.models import ChatMessage, MessageRecord, Room
    from rooms.timestamps import iso_from_ms, now_ms
    from tests.support.seeding import _take_room_seqs

    last = _take_room_seqs(room_id, count)
    start = now_ms()
    room = Room(room_id=room_id, name=room_id, description="", created_by=author, created_at="")
    items = []
    for n in range(count):
        created_at = iso_from_ms(start + n)
        record = MessageRecord(keys.user_pk(author), keys.message_sk(created_at, validators.new_token()),
                               room_id=room_id, created_at=created_at, comment=f"{comment} {n}", author_name=author,
                               seq=last - count + 1 + n)
        message = ChatMessage.from_record(record)
        items += [record.serialize(), services._message_event(message, start + n),
                  activity.message_item(message, room, at_ms=start + n)]
    batch_put_items(items)
