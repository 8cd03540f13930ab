"""What a room name, a room id and a message may contain. Every check has a message a person
can act on; none of them change the text a person typed except line endings."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata

from django.conf import settings
from django.core.exceptions import ValidationError

from accounts.validators import canonical_username
from rooms import emoji

ROOM_ID_MAX_LENGTH = 48
ROOM_NAME_MAX_LENGTH = 80
ROOM_DESCRIPTION_MAX_LENGTH = 300
ROOM_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
RESERVED_NAME_CHARACTERS = "#:/\\"  # key separators and path characters: never part of a room's name
# Direct conversations' ids start with this; a room's name never makes one, so nobody can take a
# conversation's id (computable from its people) before they start it.
DIRECT_ROOM_PREFIX = "dm-"
DIRECT_MAX_PEOPLE = 8  # the starter included

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")  # message ids and idempotency keys (url-safe, no '#')
_ALLOWED_CONTROL = {"\n", "\t"}
# Embeddings, overrides and isolates reorder the text after them ("Trojan Source"): a message could
# show "exe.pdf" for "fdp.exe". Refused, not stripped, so what is stored is what was typed.
# Direction marks (U+200E, U+200F, U+061C) only nudge neutral characters and stay allowed.
DIRECTION_CONTROLS = frozenset(chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def room_id_from_name(name: str) -> str:
    """The room id: NFKC, case-folded, reduced to [a-z0-9-], so "Art", "ART" and "art!" collide."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    ascii_only = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_only).strip("-")
    return slug[:ROOM_ID_MAX_LENGTH].rstrip("-")


def is_room_id(value: str) -> bool:
    return len(value) <= ROOM_ID_MAX_LENGTH and bool(ROOM_ID_RE.match(value))


def _control_characters(text: str) -> list[str]:
    return [c for c in text if unicodedata.category(c) == "Cc" and c not in _ALLOWED_CONTROL]


def _refuse_direction_controls(text: str, what: str) -> None:
    found = sorted({c for c in text if c in DIRECTION_CONTROLS})
    if found:
        names = ", ".join(f"U+{ord(c):04X}" for c in found)
        raise ValidationError(f"{what} contains invisible text-direction controls ({names}), which can make text "
                              f"read differently from how it looks. Remove them and try again.", code="direction")


def clean_room_name(name: str) -> tuple[str, str]:
    """Return (display name, room id) or raise ValidationError."""
    name = name.strip()
    if not name:
        raise ValidationError("Give the room a name.", code="required")
    if len(name) > ROOM_NAME_MAX_LENGTH:
        raise ValidationError(f"Keep the name to {ROOM_NAME_MAX_LENGTH} characters (it has {len(name)}).",
                              code="max_length")
    if _control_characters(name) or "\n" in name or "\t" in name:
        raise ValidationError("The name contains control characters; use plain text.", code="control")
    _refuse_direction_controls(name, "The name")
    reserved = sorted({c for c in name if c in RESERVED_NAME_CHARACTERS})
    if reserved:
        raise ValidationError(f"The name can't contain {' '.join(reserved)}.", code="reserved")
    room_id = room_id_from_name(name)
    if len(room_id) < 2:
        raise ValidationError("The name needs at least two letters (a–z) or digits: they make the room's address.",
                              code="slug")
    if room_id.startswith(DIRECT_ROOM_PREFIX):
        raise ValidationError(f"Room addresses starting with “{DIRECT_ROOM_PREFIX}” are kept for direct messages: "
                              f"choose a name that doesn't start with “dm”.", code="direct_prefix")
    return name, room_id


def direct_room_id(user_ids) -> str:
    """A direct conversation's id, from its people: `dm-` + 32 hex digits of SHA-256 over the sorted
    user ids (no id holds a newline), so the same people always reach the same conversation."""
    digest = hashlib.sha256("\n".join(sorted(set(user_ids))).encode()).hexdigest()
    return DIRECT_ROOM_PREFIX + digest[:32]


def parse_people(text: str) -> list[str]:
    """The usernames typed in a **People** field (commas or spaces between them, an optional
    leading @), in the order typed, each once (compared in canonical form, as accounts are)."""
    seen, names = set(), []
    for name in re.split(r"[\s,]+", text):
        name = name.removeprefix("@")
        if name and canonical_username(name) not in seen:
            seen.add(canonical_username(name))
            names.append(name)
    return names


def clean_room_description(description: str) -> str:
    description = description.strip()
    if len(description) > ROOM_DESCRIPTION_MAX_LENGTH:
        raise ValidationError(f"Keep the description to {ROOM_DESCRIPTION_MAX_LENGTH} characters.", code="max_length")
    if _control_characters(description):
        raise ValidationError("The description contains control characters; use plain text.", code="control")
    _refuse_direction_controls(description, "The description")
    return description


def clean_comment(text: str) -> str:
    """A message as stored: line endings normalised to \\n, surrounding whitespace trimmed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise ValidationError("Write something before sending.", code="required")
    text = text.strip()
    limit = settings.CHAT_MESSAGE_MAX_LENGTH
    if len(text) > limit:
        raise ValidationError(
            f"Messages can be at most {limit:,} characters; this one has {len(text):,}. "
            f"Shorten it or split it into two.", code="max_length")
    bad = _control_characters(text)
    if bad:
        names = ", ".join(sorted({f"U+{ord(c):04X}" for c in bad}))
        raise ValidationError(f"The message contains control characters ({names}). Remove them and send again.",
                              code="control")
    _refuse_direction_controls(text, "The message")
    return text


def is_token(value: str) -> bool:
    return bool(TOKEN_RE.match(value))


def new_token() -> str:
    """A random url-safe token (20 characters, 120 bits): message ids and idempotency keys."""
    return secrets.token_urlsafe(15)


REACTION_INPUT_MAX_LENGTH = 64  # code points: the longest emoji sequence has about 10


def clean_reaction(text: str) -> str:
    """A reaction: exactly one emoji (rooms/emoji.py: flags, keycaps, skin tones, ZWJ sequences),
    in its fully-qualified form, so ❤ and ❤️ are one reaction. Else a ValidationError that says why."""
    text = (text or "").strip()
    if not text:
        raise ValidationError("Choose an emoji to react with.", code="required")
    shown = text if len(text) <= 12 else text[:12] + "…"
    found = emoji.split(text) if len(text) <= REACTION_INPUT_MAX_LENGTH else None
    if not found:
        raise ValidationError(f"“{shown}” is not an emoji. React with one emoji, such as 👍.", code="not_emoji")
    if len(found) > 1:
        raise ValidationError(f"React with one emoji at a time: “{shown}” is {len(found)}.", code="several")
    return found[0]
