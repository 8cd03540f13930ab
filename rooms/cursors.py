"""Opaque, signed cursors for paginated Queries.

A DynamoDB ``LastEvaluatedKey`` never reaches a URL as is: it is signed (django.core.signing,
salted per purpose) and tied to its scope (the room), so a tampered or transplanted cursor is
rejected as InvalidCursor, which views answer with 400.
"""

from __future__ import annotations

from django.core import signing


class InvalidCursor(ValueError):
    pass


def _salt(purpose: str) -> str:
    return f"rooms.cursor.{purpose}"


def encode(last_evaluated_key: dict, *, purpose: str, scope: str = "") -> str:
    return signing.dumps({"k": last_evaluated_key, "s": scope}, salt=_salt(purpose), compress=True)


def decode(cursor: str, *, purpose: str, scope: str = "", key_names: tuple[str, ...]) -> dict:
    """The LastEvaluatedKey inside ``cursor``; InvalidCursor if it was not made by encode() for this
    purpose and scope, or does not have exactly the expected string key attributes."""
    if len(cursor) > 2000:
        raise InvalidCursor("cursor too long")
    try:
        payload = signing.loads(cursor, salt=_salt(purpose))
    except signing.BadSignature as exc:
        raise InvalidCursor("bad signature") from exc
    if not isinstance(payload, dict) or payload.get("s") != scope:
        raise InvalidCursor("cursor for another scope")
    key = payload.get("k")
    if not isinstance(key, dict) or set(key) != set(key_names):
        raise InvalidCursor("unexpected key shape")
    for value in key.values():
        if not (isinstance(value, dict) and set(value) == {"S"} and isinstance(value["S"], str)):
            raise InvalidCursor("unexpected key shape")
    return key
