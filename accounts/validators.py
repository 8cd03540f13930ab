"""What a username and a display name may be, and the username's canonical form (the user id).

The user id goes into DynamoDB keys (`User:<id>`, `c#<id>`), so it must never contain the key
separators `#` and `:`. Two usernames that differ only in case or Unicode form ("Alice"/"alice",
"ﬁsh"/"fish") have the same canonical form, so they are the same account.
"""

from __future__ import annotations

import unicodedata
from types import SimpleNamespace

from django.core.exceptions import ValidationError

USERNAME_MIN_LENGTH = 3
USERNAME_MAX_LENGTH = 30
DISPLAY_NAME_MAX_LENGTH = 50
USERNAME_PUNCTUATION = frozenset("._-")
# Bidirectional overrides and isolates let a name render as something it is not.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def canonical_username(username: str) -> str:
    """The user id: NFKC-normalised, then case-folded."""
    return unicodedata.normalize("NFKC", username).casefold()


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in {"Cc", "Cs", "Co", "Cn"} or char in _BIDI_CONTROLS


def validate_username(username: str) -> str:
    """Return the user id for ``username`` or raise ValidationError with a message for people."""
    if any(_is_control(c) for c in username):
        raise ValidationError("Usernames can't contain control characters.", code="control")
    if any(c.isspace() for c in username):
        raise ValidationError("Usernames can't contain spaces.", code="whitespace")
    if "#" in username or ":" in username:
        raise ValidationError("Usernames can't contain “#” or “:”.", code="reserved")
    user_id = canonical_username(username)
    if len(username) < USERNAME_MIN_LENGTH or len(user_id) < USERNAME_MIN_LENGTH:
        raise ValidationError(f"Usernames need at least {USERNAME_MIN_LENGTH} characters.", code="short")
    if len(username) > USERNAME_MAX_LENGTH or len(user_id) > USERNAME_MAX_LENGTH:
        raise ValidationError(f"Usernames can have at most {USERNAME_MAX_LENGTH} characters.", code="long")
    # Checked on the canonical form, which is what goes into keys.
    if not all(c.isalnum() or c in USERNAME_PUNCTUATION for c in user_id) or "#" in user_id or ":" in user_id:
        raise ValidationError("Use only letters, digits, “.”, “_” and “-”.", code="charset")
    if not user_id[0].isalnum():
        raise ValidationError("Usernames must start with a letter or digit.", code="start")
    return user_id


def clean_display_name(display_name: str) -> str:
    """Free text, stripped; length-limited; no control or bidi-override characters."""
    display_name = display_name.strip()
    if not display_name:
        raise ValidationError("Enter a display name.", code="required")
    if len(display_name) > DISPLAY_NAME_MAX_LENGTH:
        raise ValidationError(f"Display names can have at most {DISPLAY_NAME_MAX_LENGTH} characters.", code="long")
    if any(_is_control(c) for c in display_name):
        raise ValidationError("Display names can't contain control characters.", code="control")
    return display_name


class PasswordOwner:
    """The person a new password is for, as AUTH_PASSWORD_VALIDATORS see them.

    UserAttributeSimilarityValidator reads the attributes and, for its message, asks
    `_meta.get_field(name).verbose_name`, which an ORM user would answer.
    """

    class _meta:  # noqa: N801 (the name Django's validator looks for)
        @staticmethod
        def get_field(name: str) -> SimpleNamespace:
            return SimpleNamespace(verbose_name=name.replace("_", " "))

    def __init__(self, *, username: str, display_name: str):
        self.username = username
        self.display_name = display_name
