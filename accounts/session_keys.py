"""Session keys (cookie values) and the digests the session table stores instead of them.

A key never reaches DynamoDB: a session is stored under key_digest(key), HMAC-SHA256 under a
secret derived from SECRET_KEY, so a backup or export of the table signs nobody in. Listings (the
index, a partition) give digests, so everything that ends a session works from a StoredKey.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from django.utils.crypto import salted_hmac

# Both from Django's CSPRNG over [a-z0-9]: 32 chars ≈ 165 bits, 40 chars ≈ 206 bits. The length
# alone says "linked device", so no read is needed to tell.
KEY_CHARS = string.ascii_lowercase + string.digits
SESSION_KEY_LENGTH = 32
CHILD_KEY_LENGTH = 40
MIN_KEY_LENGTH = 8  # Django's lower bound
MAX_KEY_LENGTH = 64  # longer cookies are garbage: don't send them to DynamoDB

DIGEST_LENGTH = 64  # hex of HMAC-SHA256
_DIGEST_SALT = "accounts.sessions.key_digest"  # unchanged when the module moved: it names stored digests


def is_child_key(session_key: str) -> bool:
    return len(session_key) == CHILD_KEY_LENGTH


def is_valid_key(session_key) -> bool:
    return (isinstance(session_key, str) and MIN_KEY_LENGTH <= len(session_key) <= MAX_KEY_LENGTH
            and all(c in KEY_CHARS for c in session_key))


def key_digest(session_key: str) -> str:
    """What a session key is stored under: HMAC-SHA256 keyed by a secret derived from SECRET_KEY.
    Without the cookie the record can't be found; without SECRET_KEY the digest can't be made."""
    return salted_hmac(_DIGEST_SALT, session_key, algorithm="sha256").hexdigest()


def is_digest(value) -> bool:
    return isinstance(value, str) and len(value) == DIGEST_LENGTH and all(c in "0123456789abcdef" for c in value)


@dataclass(frozen=True)
class StoredKey:
    """A session (or, with is_child, a linked device) as the table names it."""

    digest: str
    is_child: bool = False

    @classmethod
    def of(cls, session_key) -> StoredKey | None:
        """From a cookie value; None for a malformed one (which never reaches DynamoDB)."""
        if not is_valid_key(session_key):
            return None
        return cls(key_digest(session_key), is_child_key(session_key))

    def __repr__(self) -> str:
        return f"<StoredKey child={self.is_child}>"
