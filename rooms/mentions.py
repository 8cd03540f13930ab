"""@mentions in message text: pure parsing, no DynamoDB, linear in the text's length.

A mention is ``@`` followed by a username (accounts' rules: letters, digits, "." "_" "-", 3 to 30
characters, starting with a letter or digit), not preceded by a letter, digit, "@", "." or "-"
(so ``bob@example.com`` mentions nobody), and not inside an http(s) URL. Trailing dots are sentence
punctuation ("thanks @alice."). ``@room`` mentions the whole room. Who a mention reaches is decided
at post time (rooms.services.message_post: members only); rendering links only the user ids the
message stored (ChatMessage.mentions), so an unknown name stays plain text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from django.core.exceptions import ValidationError

from accounts.validators import USERNAME_MAX_LENGTH, validate_username

ROOM = "room"  # @room: every member
MAX_MENTIONS = 10  # distinct people notified per message; later ones are told "not notified"
# Only the owner may mention the whole room when it has more members than this.
ROOM_MENTION_MAX_MEMBERS = 20

# One pass: a URL is consumed whole (an "@" inside it is part of the URL), else an @token.
# Both branches are a fixed prefix followed by one greedy character class: no backtracking.
_TOKEN_RE = re.compile(r"(?P<url>\bhttps?://[^\s<>\"'`]+)|(?<![\w@.\-])@(?P<name>[\w.\-]+)", re.IGNORECASE)
# rooms/formatting.py scans with the same pattern, so it keeps each URL and @name whole.
TOKEN_PATTERN = _TOKEN_RE.pattern


@dataclass(frozen=True)
class Token:
    start: int  # of the "@"
    end: int  # after the name (trailing dots excluded)
    name: str  # as typed, without the "@"
    user_id: str | None  # the canonical username; None for @room


def tokens(text: str) -> Iterator[Token]:
    """Every mention in ``text``, in order: valid usernames and @room, outside URLs."""
    for match in _TOKEN_RE.finditer(text):
        name = match.group("name")
        if name is None:
            continue
        name = name.rstrip(".")
        if not name or len(name) > USERNAME_MAX_LENGTH:  # longer can't be a username: no work on it
            continue
        start = match.start()
        if name.casefold() == ROOM:
            yield Token(start, start + 1 + len(name), name, None)
            continue
        try:
            user_id = validate_username(name)
        except ValidationError:
            continue
        yield Token(start, start + 1 + len(name), name, user_id)


@dataclass(frozen=True)
class Parsed:
    user_ids: tuple[str, ...]  # distinct, in order of first mention, at most MAX_MENTIONS
    names: dict[str, str]  # user id -> the name as first typed (what the sender is told)
    room: bool  # @room
    over_cap: tuple[str, ...]  # names past the first MAX_MENTIONS people (not notified)


def parse(text: str, *, author_id: str | None = None) -> Parsed:
    """The people and @room a message mentions. The author mentioning themselves is left out."""
    user_ids: list[str] = []
    names: dict[str, str] = {}
    over: list[str] = []
    over_ids: set[str] = set()
    room = False
    for token in tokens(text):
        if token.user_id is None:
            room = True
        elif token.user_id == author_id or token.user_id in names:
            continue
        elif len(user_ids) < MAX_MENTIONS:
            user_ids.append(token.user_id)
            names[token.user_id] = token.name
        elif token.user_id not in over_ids and len(over) < MAX_MENTIONS:
            over_ids.add(token.user_id)
            over.append(token.name)
    return Parsed(user_ids=tuple(user_ids), names=names, room=room, over_cap=tuple(over))
