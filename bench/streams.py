"""Cheap stream clients for the load process: one greenlet and one raw socket per tab.

A ``StreamTab`` does what the browser's EventSource does for a room page's one live stream: GET
/rooms/<id>/stream with the page's cursor (``w`` and ``seen``), read the Server-Sent Events as they
come (chunked HTTP/1.1, as gunicorn sends them), and after a dropped connection reconnect with the
last event id as Last-Event-ID. Every connection it makes counts as an HTTP request, so "requests
per idle tab" is measured, not assumed.

No threads, no requests.Session per tab: 1,000 tabs are 1,000 parked greenlets in the load
process, which shares the two cores with gunicorn and dynalite. Nothing here imports Django.
Imported by bench/load.py after locust has monkey-patched the standard library for gevent.
"""

from __future__ import annotations

import http.client
import re
import socket
import time
from collections import Counter
from typing import Callable

import gevent

from chatsite import sse

PROCESS_HEADER = "x-bench-process"
# A post's marker as its message's text shows it: once per message, whatever else of the text the
# message carries (the Reply link's plain-text excerpt repeats it).
_MARKER_RE = re.compile(r'<div class="comment">(bench-live-\d+-[0-9a-f]{8})')


def process_header_pid(value: str | None) -> str | None:
    """'pid=123,GetItem=4' -> 'pid=123' (the key bench/load.py's Recorder uses too)."""
    return value.split(",", 1)[0] if value else None


class StreamTab:
    """One tab's stream. ``on_marker(tab, marker, monotonic time)`` is called for every marker
    in an ``updates`` event (duplicates included: the caller counts them)."""

    def __init__(self, number: int, *, host: str, port: int, path: str, cursor: Callable[[], str],
                 cookie: str, user_agent: str, on_marker: Callable[[StreamTab, str, float], None]):
        self.number = number
        self.host, self.port, self.path = host, port, path
        self.cursor, self.cookie, self.user_agent = cursor, cookie, user_agent
        self.on_marker = on_marker
        self.last_event_id: str | None = None
        self.retry_seconds = 2.0
        self.pid: str | None = None  # the worker serving the current connection
        self.requests = 0  # connections opened (first open and every reconnect)
        self.opened = 0  # of those, answered 200 with a stream
        self.statuses: Counter = Counter()
        self.events: Counter = Counter()  # SSE event name -> count
        self.drops = 0  # connections that ended while the tab still wanted them
        self.stopping = False
        self._sock: socket.socket | None = None

    # --- the connection ---------------------------------------------------------------------------

    def run(self) -> None:
        while not self.stopping:
            try:
                self._connect_and_read()
            except (OSError, ValueError, http.client.HTTPException):
                pass
            if self.stopping:
                return
            self.drops += 1
            gevent.sleep(self.retry_seconds)  # EventSource's retry (the stream's `retry:` field)

    def stop(self) -> None:
        self.stopping = True
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass

    def _request(self) -> bytes:
        if self.last_event_id:
            target, extra = self.path, f"Last-Event-ID: {self.last_event_id}\r\n"
        else:
            target, extra = f"{self.path}?{self.cursor()}", ""
        cookie = f"Cookie: {self.cookie}\r\n" if self.cookie else ""
        return (f"GET {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nAccept: text/event-stream\r\n"
                f"Cache-Control: no-cache\r\nUser-Agent: {self.user_agent}\r\n{cookie}{extra}\r\n").encode()

    def _connect_and_read(self) -> None:
        sock = self._sock = socket.create_connection((self.host, self.port), timeout=10)
        try:
            self.requests += 1
            sock.sendall(self._request())
            buffer = b""
            while b"\r\n\r\n" not in buffer:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                buffer += chunk
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
            self.statuses[status] += 1
            self.pid = process_header_pid(headers.get(PROCESS_HEADER))
            if status != 200:
                if status == 204:  # streams not served here: a page would poll instead
                    self.stopping = True
                return
            self.opened += 1
            sock.settimeout(None)  # idle streams are silent until their heartbeat
            chunked = "chunked" in headers.get("transfer-encoding", "").lower()
            self._read_events(self._chunks(sock, buffer) if chunked else self._raw(sock, buffer))
        finally:
            self._sock = None
            sock.close()

    @staticmethod
    def _raw(sock: socket.socket, buffer: bytes):
        if buffer:
            yield buffer
        while chunk := sock.recv(65536):
            yield chunk

    @staticmethod
    def _chunks(sock: socket.socket, buffer: bytes):
        """The body of a chunked response, chunk by chunk, as it arrives."""
        while True:
            while b"\r\n" not in buffer:
                more = sock.recv(65536)
                if not more:
                    return
                buffer += more
            size_line, _, buffer = buffer.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                return
            while len(buffer) < size + 2:
                more = sock.recv(65536)
                if not more:
                    return
                buffer += more
            yield buffer[:size]
            buffer = buffer[size + 2:]

    # --- Server-Sent Events ---------------------------------------------------------------------

    def _read_events(self, body) -> None:
        text = ""
        for chunk in body:
            text += chunk.decode("utf-8")
            now = time.monotonic()
            while "\n\n" in text:
                block, text = text.split("\n\n", 1)
                self._event(block, now)

    def _event(self, block: str, now: float) -> None:
        event = sse.read_event(block)
        if event is None:
            return
        if event.retry_ms is not None:
            self.retry_seconds = event.retry_ms / 1000
        if not event.name:
            return  # a bare `retry:`
        if event.id is not None:
            self.last_event_id = event.id
        self.events[event.name] += 1
        if event.name == "updates":
            for marker in _MARKER_RE.findall(event.data):
                self.on_marker(self, marker, now)
        elif event.name == "reload":
            # The page would reload: a fresh cursor from a fresh page (here: the cursor source).
            self.last_event_id = None


def probe_pid(host: str, port: int, user_agent: str) -> tuple[str, float, str] | None:
    """One GET /healthz on a new connection: (pid, time, the worker's X-Bench-Process totals).
    /healthz touches no DynamoDB, so it reads a worker's call totals without adding to them."""
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request("GET", "/healthz", headers={"User-Agent": user_agent, "Connection": "close"})
        response = connection.getresponse()
        response.read()
        value = response.getheader("X-Bench-Process")
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()
    if not value:
        return None
    pid, _, totals = value.partition(",")
    return pid, time.monotonic(), totals
