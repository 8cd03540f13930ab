"""Server-Sent Events text: writing one message (``sse``) and reading one back as EventSource
does (``read_event``). Pure functions, no Django: the live streams (rooms.streams) write with them,
and the benchmark's and the tests' stream clients read with them.
"""

from __future__ import annotations

from dataclasses import dataclass


def sse(event: str, data: str, event_id: str | None = None) -> str:
    """One SSE message. Every line of ``data`` gets its own `data:` field (the format has no
    escaping); a carriage return would end a line too, so it becomes a space."""
    return sse_fields(event, data_fields(data), event_id)


def data_fields(data: str) -> str:
    return "\n".join(f"data: {line}" for line in data.replace("\r", " ").split("\n"))


def sse_fields(event: str, fields: str, event_id: str | None = None) -> str:
    head = f"event: {event}\nid: {event_id}\n" if event_id is not None else f"event: {event}\n"
    return f"{head}{fields}\n\n"


@dataclass(frozen=True)
class ReadEvent:
    """One SSE message as a client (EventSource) reads it."""
    name: str
    id: str | None
    data: str
    retry_ms: int | None = None


def read_event(block: str) -> ReadEvent | None:
    """The inverse of ``sse``: one message's text (up to, not including, its blank line), read by
    the rules EventSource follows. None when it carries nothing (blank, comments); a bare `retry:`
    gives an event with no name and only ``retry_ms``."""
    name, event_id, data, retry_ms = "message", None, [], None
    for line in block.split("\n"):
        if not line or line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            name = value
        elif field == "id":
            event_id = value
        elif field == "data":
            data.append(value)
        elif field == "retry" and value.isdigit():
            retry_ms = int(value)
    if not data and event_id is None:
        return ReadEvent("", None, "", retry_ms) if retry_ms is not None else None
    return ReadEvent(name, event_id, "\n".join(data), retry_ms)
