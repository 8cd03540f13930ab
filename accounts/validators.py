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
# Joiners that real text needs: U+200D in emoji sequences, U+200C in Persian and Indic spelling.
_JOINERS = frozenset("\u200c\u200d")


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
    if is_mixed_script(user_id):  # "аdmin" with a Cyrillic "а" would pass for "admin"
        raise ValidationError("Use letters from one alphabet only: a name mixing scripts (such as a Cyrillic "
                              "“а” among Latin letters) can pass for someone else's.", code="mixed_script")
    return user_id


# Words a message's text gives a meaning after "@" (rooms.mentions: "@room" mentions every member),
# so no one may sign up with them: a person named so could never be mentioned.
RESERVED_USERNAMES = frozenset({"room"})


def validate_new_username(username: str) -> str:
    """validate_username, for a name being taken: also refuses the reserved words."""
    user_id = validate_username(username)
    if user_id in RESERVED_USERNAMES:
        raise ValidationError(f"“{username}” is reserved: “@{username}” in a message mentions everyone in the room.",
                              code="reserved_word")
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
    invisible = sorted({c for c in display_name if _is_invisible(c)})
    if invisible:
        names = ", ".join(f"U+{ord(c):04X}" for c in invisible)
        raise ValidationError(f"Display names can't contain invisible characters ({names}): they can make a "
                              f"name look like someone else's.", code="invisible")
    return display_name


def _is_invisible(char: str) -> bool:
    """Format characters (zero-width space, word joiner, BOM, soft hyphen, marks, tags) and line or
    paragraph separators, except the joiners real text needs."""
    return unicodedata.category(char) in {"Cf", "Zl", "Zp"} and char not in _JOINERS


# --- scripts, for the mixed-script (homoglyph) rule --------------------------------------------
# Python's unicodedata has no script property, but a character's Unicode name starts with its
# script ("LATIN SMALL LETTER A", "CYRILLIC SMALL LETTER A", "CJK UNIFIED IDEOGRAPH-4E00"). The
# tables below hold the exceptions; tests/test_confusable_text.py checks the result against
# Scripts.txt for every character a username can contain.
_TWO_WORD_SCRIPTS = frozenset({"OLD", "TAI", "LINEAR", "MEROITIC", "INSCRIPTIONAL", "NEW"})
_COMMON_NAME_PREFIXES = ("DIGIT ", "MODIFIER LETTER ", "CARON", "VEDIC ", "MASU MARK", "VERTICAL TILDE",
                         "VERTICAL ", "AEGEAN ", "CIRCLED ", "COUNTING ROD ", "DINGBAT ", "DOUBLE CIRCLED ",
                         "INDIC SIYAQ ", "MAYAN NUMERAL ", "NEGATIVE CIRCLED ", "NORTH INDIC ", "OTTOMAN SIYAQ ",
                         "TALLY MARK ", "IDEOGRAPHIC TALLY MARK ", "IDEOGRAPHIC CLOSING MARK",
                         "COPTIC EPACT ", "JAVANESE PANGRANGKEP")
_COMMON_NAMES = frozenset({"ARABIC TATWEEL"})  # the plain one; tatweels with marks are Arabic
_SCRIPT_ALIASES = {
    "ARABIC-INDIC": "ARABIC", "EXTENDED ARABIC-INDIC": "ARABIC", "RUMI": "ARABIC",
    "HENTAIGANA": "HIRAGANA", "IDEOGRAPHIC": "CJK", "HANGZHOU": "CJK", "OLD CHINESE": "CJK",
    "VERTICAL IDEOGRAPHIC": "CJK", "ROMAN": "LATIN", "TURNED": "LATIN",
}
# Scripts that one writing system mixes (UTS #39 "augmented" script sets): Japanese, Korean,
# Chinese with Bopomofo. A character belongs to every writing system listed for its script.
_WRITING_SYSTEMS = {
    "CJK": {"CJK", "JAPANESE", "KOREAN", "BOPOMOFO-HAN"},
    "HIRAGANA": {"HIRAGANA", "JAPANESE"},
    "KATAKANA": {"KATAKANA", "JAPANESE"},
    "KATAKANA-HIRAGANA": {"HIRAGANA", "KATAKANA", "JAPANESE"},  # the prolonged sound mark
    "HANGUL": {"HANGUL", "KOREAN"},
    "BOPOMOFO": {"BOPOMOFO", "BOPOMOFO-HAN"},
}


def script_of(char: str) -> str | None:
    """The script of a letter or digit, named as its Unicode name does ("LATIN", "CYRILLIC"), or
    None for Common and Inherited characters (ASCII digits, punctuation, combining marks)."""
    if unicodedata.category(char)[0] not in "LN":
        return None
    name = unicodedata.name(char, "")
    if not name:  # Python's names for Tangut ideographs are computed and missing here
        return "TANGUT" if 0x17000 <= ord(char) <= 0x18DFF else "UNNAMED"
    if name in _COMMON_NAMES or (name.startswith(_COMMON_NAME_PREFIXES)
                                 and not name.startswith("VERTICAL IDEOGRAPHIC")):
        return None
    words = name.split(" ")
    for size in (2, 1):
        prefix = " ".join(words[:size])
        if prefix in _SCRIPT_ALIASES:
            return _SCRIPT_ALIASES[prefix]
    return " ".join(words[:2]) if words[0] in _TWO_WORD_SCRIPTS else words[0]


def is_mixed_script(text: str) -> bool:
    """True if the letters and digits of ``text`` come from scripts no one writing system mixes
    (the single-script rule of UTS #39: Common and Inherited go with anything)."""
    shared: set[str] | None = None
    for char in text:
        script = script_of(char)
        if script is None:
            continue
        systems = _WRITING_SYSTEMS.get(script, {script})
        shared = set(systems) if shared is None else shared & systems
        if not shared:
            return True
    return False


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
