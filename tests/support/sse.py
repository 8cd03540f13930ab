"""A Server-Sent Events client for tests: what a browser's EventSource does, over requests.

``Stream.open`` starts reading in a thread; events land in ``events`` (a list of (name, id, data))
as they arrive. ``reconnect`` opens the stream again with the last id as Last-Event-ID, the way
EventSource resumes.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from dataclasses import dataclass

import requests

from chatsite import sse
from tests.support.web import comments

MESSAGE_RE = re.compile(r'<li class="message" id="(m-[^"]+)" data-at="(\d+)"')
DELETION_RE = re.compile(r'data-deleted="([^"]+)"')


@dataclass
class Event:
    name: str
    id: str | None
    data: str
    received: float  # time.monotonic()


class Stream:
    def __init__(self, http: requests.Session, url: str, *, last_event_id: str | None = None):
        self.http, self.url = http, url
        self.last_event_id = last_event_id
        self.events: list[Event] = []
        self._arrived: queue.Queue[Event] = queue.Queue()
        self.response: requests.Response | None = None
        self.status: int | None = None
        self._thread: threading.Thread | None = None

    def open(self, timeout: float = 10) -> Stream:
        headers = {"Accept": "text/event-stream"}
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        self.response = self.http.get(self.url, headers=headers, stream=True, timeout=(timeout, 120))
        self.status = self.response.status_code
        if self.status == 200:
            self._thread = threading.Thread(target=self._read, args=(self.response,), daemon=True)
            self._thread.start()
        return self

    def _read(self, response: requests.Response) -> None:
        lines: list[str] = []
        try:
            for raw in response.iter_lines(decode_unicode=True, chunk_size=1):
                line = raw if raw is not None else ""
                if line:
                    lines.append(line)
                    continue
                read = sse.read_event("\n".join(lines))
                lines = []
                if read is not None and read.name:
                    event = Event(read.name, read.id, read.data, time.monotonic())
                    if read.id is not None:
                        self.last_event_id = read.id
                    self.events.append(event)
                    self._arrived.put(event)
        except (requests.RequestException, AttributeError, ValueError):
            pass  # the connection was closed (by us, the server, or a test's proxy)
        self._arrived.put(Event("closed", None, "", time.monotonic()))

    def next(self, timeout: float = 10) -> Event:
        return self._arrived.get(timeout=timeout)

    def wait_for(self, predicate, timeout: float = 10) -> Event:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching event within {timeout} s; got {[e.name for e in self.events]}")
            try:
                event = self._arrived.get(timeout=remaining)
            except queue.Empty:
                continue
            if predicate(event):
                return event

    def message_ids(self) -> list[str]:
        return [dom_id for e in self.events if e.name == "updates" for dom_id, _ in MESSAGE_RE.findall(e.data)]

    def comments(self) -> list[str]:
        return [c for e in self.events if e.name == "updates" for c in comments(e.data)]

    def close(self) -> None:
        if self.response is not None:
            self.response.close()

    def reconnect(self) -> Stream:
        """Like EventSource after a dropped connection: the same URL, Last-Event-ID = the last id."""
        self.close()
        again = Stream(self.http, self.url, last_event_id=self.last_event_id)
        again.events = self.events
        return again.open()
