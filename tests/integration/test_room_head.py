"""HEAD on a room page answers like GET, without a body: monitors and link checkers use it."""

from __future__ import annotations

import socket

import pytest

from rooms import services

pytestmark = pytest.mark.integration


@pytest.fixture
def room(dynalite_tables):
    return services.room_create(name="Art", description="pictures", created_by="alice")


def test_head_on_a_room_page_is_200_with_get_headers_and_no_body(client, room):
    get = client.get("/rooms/art/")
    head = client.head("/rooms/art/")
    assert head.status_code == 200 and head.content == b""
    assert head["Content-Type"] == get["Content-Type"]
    assert client.head("/rooms/nowhere/").status_code == 404


def _raw_exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_head_through_gunicorn_sends_headers_only(gunicorn_server, room):
    server = gunicorn_server()
    request = b"%s /rooms/art/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    got = _raw_exchange(server.port, request % b"GET")
    answer = _raw_exchange(server.port, request % b"HEAD")
    status_line, _, rest = answer.partition(b"\r\n")
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert status_line == b"HTTP/1.1 200 OK", answer[:500]
    assert body == b""  # nothing after the headers, not even the page
    assert b"text/html" in headers
    assert got.startswith(b"HTTP/1.1 200 OK") and b"<h1" in got  # the same page, with its body, for GET
