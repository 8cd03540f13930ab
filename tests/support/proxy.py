"""A small TCP proxy in front of a test server, to break the network between a browser and it.

It relays bytes both ways (threads, one pair per connection) and reads the request heads going
up, so it can: ``cut()`` every open connection; ``refuse_for(seconds)`` (cut, then drop every new
connection at once: the browser sees a network error); refuse requests whose path contains a
string (``refuse_paths``: answered ``502 Bad Gateway`` as a proxy that won't serve them would);
and buffer the answers to such requests (``buffer_paths``: held back until the connection ends,
as a buffering proxy does with a stream). ``requests`` lists every request line it saw.
"""

from __future__ import annotations

import socket
import threading
import time

from tests.support.servers import free_port

REFUSED = (b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: 24\r\n"
           b"Connection: close\r\n\r\nThis proxy refused that.")


class Proxy:
    def __init__(self, upstream_port: int, host: str = "127.0.0.1"):
        self.host = host
        self.upstream = (host, upstream_port)
        self.port = free_port()
        self.refuse_paths: tuple[str, ...] = ()
        self.buffer_paths: tuple[str, ...] = ()
        self.requests: list[str] = []
        self.heads: list[str] = []  # each request's head (request line and headers)
        self._refuse_until = 0.0
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener = socket.create_server((host, self.port))
        self._stopped = False
        threading.Thread(target=self._accept_loop, name="proxy-accept", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- faults -----------------------------------------------------------------------------------

    def cut(self) -> None:
        """Every open connection ends at once (both sides)."""
        with self._lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            _close(sock)

    def refuse_for(self, seconds: float) -> None:
        """Cut, and drop new connections for ``seconds``."""
        self._refuse_until = time.monotonic() + seconds
        self.cut()

    def stream_requests(self) -> list[str]:
        return [line for line in self.requests if "/stream?" in line]

    def close(self) -> None:
        self._stopped = True
        _close(self._listener)
        self.cut()

    # --- relaying ---------------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if time.monotonic() < self._refuse_until:
                _close(client)
                continue
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _track(self, *sockets: socket.socket) -> None:
        with self._lock:
            self._open.update(sockets)

    def _serve(self, client: socket.socket) -> None:
        self._track(client)
        try:
            upstream = socket.create_connection(self.upstream)
        except OSError:
            _close(client)
            return
        self._track(upstream)
        held = threading.Event()  # set: answers are held back (a buffered stream)
        threading.Thread(target=self._down, args=(upstream, client, held), daemon=True).start()
        buffer = b""
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                buffer += data
                # Browsers send one request at a time on a connection; a head, then maybe a body.
                while b"\r\n\r\n" in buffer:
                    head, _, rest = buffer.partition(b"\r\n\r\n")
                    length = _content_length(head)
                    if len(rest) < length:
                        break
                    body, buffer = rest[:length], rest[length:]
                    line = head.split(b"\r\n", 1)[0].decode("latin-1")
                    self.requests.append(line)
                    self.heads.append(head.decode("latin-1"))
                    path = line.split(" ")[1] if " " in line else ""
                    if any(p in path for p in self.refuse_paths):
                        client.sendall(REFUSED)
                        return
                    if any(p in path for p in self.buffer_paths):
                        held.set()
                    upstream.sendall(head + b"\r\n\r\n" + body)
        except OSError:
            pass
        finally:
            self._forget(client, upstream)

    def _forget(self, *sockets: socket.socket) -> None:
        with self._lock:
            self._open.difference_update(sockets)
        for sock in sockets:
            _close(sock)

    def _down(self, upstream: socket.socket, client: socket.socket, held: threading.Event) -> None:
        kept = b""
        try:
            while True:
                data = upstream.recv(65536)
                if not data:
                    break
                if held.is_set():
                    kept += data
                else:
                    client.sendall(data)
            if kept:
                client.sendall(kept)
        except OSError:
            pass
        finally:
            self._forget(client, upstream)


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip() or 0)
    return 0


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
