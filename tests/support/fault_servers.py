"""Tiny TCP servers that fail the way a DynamoDB endpoint can fail, for botocore to talk to.

Each is a context manager yielding an ``http://127.0.0.1:<port>`` URL:

- ``silent_server``: accepts connections and never answers (a stalled or SIGSTOPped server).
- ``refusing_port``: nothing listens (connection refused).
- ``resetting_server``: reads the request, then resets the connection (RST).
- ``answering_server(status, headers, body)``: answers every request with that HTTP response
  (HTTP 500, a ThrottlingException body, ...).
- ``full_backlog_server``: a listening socket whose accept queue is full and never drained, so
  the kernel drops new SYNs and the client's connect times out.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from typing import Iterator

from tests.support.servers import free_port


class _Acceptor(threading.Thread):
    """Accept connections and hand each to ``handle`` (in this one thread: the tests are serial)."""

    def __init__(self, handle):
        super().__init__(daemon=True)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.handle = handle
        self.halt = threading.Event()
        self.connections: list[socket.socket] = []

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                conn, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            self.connections.append(conn)
            try:
                self.handle(conn)
            except OSError:
                pass

    def close(self) -> None:
        self.halt.set()
        self.join(timeout=2)
        for conn in self.connections:
            with contextlib.suppress(OSError):
                conn.close()
        self.listener.close()


@contextlib.contextmanager
def _serving(handle) -> Iterator[str]:
    acceptor = _Acceptor(handle)
    acceptor.start()
    try:
        yield f"http://127.0.0.1:{acceptor.port}"
    finally:
        acceptor.close()


def _read_request(conn: socket.socket) -> bytes:
    """Read one HTTP request (headers and a Content-Length body)."""
    conn.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    with _serving(lambda conn: None) as url:  # keep the connection open, say nothing
        yield url


@contextlib.contextmanager
def refusing_port() -> Iterator[str]:
    yield f"http://127.0.0.1:{free_port()}"


def _reset(conn: socket.socket) -> None:
    _read_request(conn)
    # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


@contextlib.contextmanager
def resetting_server() -> Iterator[str]:
    with _serving(_reset) as url:
        yield url


@contextlib.contextmanager
def answering_server(status: str, headers: dict[str, str], body: bytes) -> Iterator[str]:
    def answer(conn: socket.socket) -> None:
        _read_request(conn)
        lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Connection: close",
                 *(f"{k}: {v}" for k, v in headers.items())]
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        conn.close()

    with _serving(answer) as url:
        yield url


@contextlib.contextmanager
def full_backlog_server() -> Iterator[str]:
    """listen(0) and never accept; fill the accept queue so further SYNs are dropped."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        # Linux admits backlog + 1 connections; connect until one no longer completes at once.
        for _ in range(8):
            filler = socket.socket()
            filler.settimeout(0.2)
            try:
                filler.connect(("127.0.0.1", port))
            except (TimeoutError, OSError):
                filler.close()
                break
            fillers.append(filler)
        else:
            raise RuntimeError("the accept queue never filled up: cannot make a connect timeout here")
        yield f"http://127.0.0.1:{port}"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
