"""Pages of a DynamoDB Query, for rooms and users alike, and the cursor that carries a page's end.

A ``LastEvaluatedKey`` never reaches a URL or a command line as is: it is signed
(django.core.signing, salted per purpose) and tied to its scope (a room, say), so a tampered or
transplanted cursor raises InvalidCursor (views answer 400, commands a clear error).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Generic, Iterable, TypeVar

from django.core import signing

T = TypeVar("T")

# The salt cursors were signed under when only rooms had them: links already handed out stay valid.
_SALT_PREFIX = "rooms.cursor."
MAX_CURSOR_LENGTH = 2000


class InvalidCursor(signing.BadSignature, ValueError):
    """Not a cursor this site made for this purpose and scope."""


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None  # opaque; pass back to get the next page


def encode(last_evaluated_key: dict, *, purpose: str, scope: str = "") -> str:
    return signing.dumps({"k": last_evaluated_key, "s": scope}, salt=_SALT_PREFIX + purpose, compress=True)


def decode(cursor: str, *, purpose: str, scope: str = "", key_names: tuple[str, ...]) -> dict:
    """The LastEvaluatedKey inside ``cursor``; InvalidCursor if it was not made by encode() for this
    purpose and scope, or does not have exactly the expected string key attributes."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursor("cursor too long")
    try:
        payload = signing.loads(cursor, salt=_SALT_PREFIX + purpose)
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


def query_page(query: Callable[..., Iterable], *, purpose: str, cursor: str | None, limit: int,
               convert: Callable[[object], T] = lambda record: record, scope: str = "",
               key_names: tuple[str, ...] = ("PK", "SK")) -> Page[T]:
    """One page of ``query(limit=, last_evaluated_key=)`` (a PynamoDB query), continuing from
    ``cursor``; ``convert`` turns each record into what callers see."""
    start = decode(cursor, purpose=purpose, scope=scope, key_names=key_names) if cursor else None
    result = query(limit=limit, last_evaluated_key=start)
    items = [convert(record) for record in result]
    last = result.last_evaluated_key
    return Page(items=items, next_cursor=encode(last, purpose=purpose, scope=scope) if last else None)
