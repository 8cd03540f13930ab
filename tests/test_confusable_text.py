"""Text that renders as something it is not: invisible characters in display names, direction
controls in messages and room names, and mixed-script (homoglyph) usernames."""

from __future__ import annotations

import sys
import unicodedata

import pytest
from django.core.exceptions import ValidationError
from fontTools import unicodedata as unicode_scripts  # full Scripts.txt data (a test dependency)

from accounts import validators as account_validators
from accounts.validators import clean_display_name, validate_username
from rooms.validators import clean_comment, clean_room_description, clean_room_name

INVISIBLE = {
    "\u200b": "zero width space",
    "\u2060": "word joiner",
    "\ufeff": "zero width no-break space (BOM)",
    "\u2028": "line separator",
    "\u2029": "paragraph separator",
    "\u061c": "Arabic letter mark",
    "\u00ad": "soft hyphen",
    "\u2063": "invisible separator",
    "\U000e0041": "tag latin capital letter a",
}
DIRECTION_CONTROLS = [chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]]


# --- display names --------------------------------------------------------------------------------

@pytest.mark.parametrize("char", INVISIBLE, ids=INVISIBLE.values())
def test_display_names_refuse_invisible_characters(char):
    with pytest.raises(ValidationError) as refused:
        clean_display_name(f"ad{char}min")
    assert refused.value.code == "invisible"
    assert f"U+{ord(char):04X}" in refused.value.messages[0]


@pytest.mark.parametrize("char", DIRECTION_CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_display_names_refuse_direction_controls(char):
    with pytest.raises(ValidationError):
        clean_display_name(f"evil{char}gnp.exe")


@pytest.mark.parametrize("name", [
    "Zoë", "山田 たろう", "Владимир", "علي", "\U0001F3F3\uFE0F\u200D\U0001F308 Pride",  # ZWJ emoji sequence
    "می\u200cخواهم",  # Persian: the zero-width non-joiner is part of correct spelling
])
def test_display_names_keep_real_text_including_joiners_in_emoji_and_persian(name):
    assert clean_display_name(name) == name


# --- messages and rooms ---------------------------------------------------------------------------

@pytest.mark.parametrize("char", DIRECTION_CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_messages_refuse_bidi_overrides_embeddings_and_isolates(char):
    with pytest.raises(ValidationError) as refused:
        clean_comment(f"see invoice {char}fdp.exe")
    assert refused.value.code == "direction"
    assert f"U+{ord(char):04X}" in refused.value.messages[0]


@pytest.mark.parametrize("char", DIRECTION_CONTROLS[:2], ids=lambda c: f"U+{ord(c):04X}")
def test_room_names_and_descriptions_refuse_direction_controls(char):
    with pytest.raises(ValidationError):
        clean_room_name(f"general{char}")
    with pytest.raises(ValidationError):
        clean_room_description(f"about{char}")


@pytest.mark.parametrize("text", [
    "שלום world",  # mixed direction text is fine without controls
    "ok\u200bthen",  # zero width space: Thai and Khmer use it between words
    "مرحبا\u200f!",  # right-to-left mark: a mark, not an override
    "\U0001F468\u200D\U0001F469\u200D\U0001F467",  # family emoji (ZWJ sequence)
])
def test_messages_keep_ordinary_text_and_marks(text):
    assert clean_comment(text) == text


# --- usernames: one script, with Common and Inherited allowed -------------------------------------

@pytest.mark.parametrize("username", [
    "\u0430dmin",  # Cyrillic а + Latin dmin
    "p\u0430ypal",  # Latin with one Cyrillic а
    "\u03bfpenai",  # Greek omicron + Latin
    "micros\u043eft",  # Cyrillic о
    "admin\u0661",  # Latin with an Arabic-Indic digit one
    "たん한",  # Hiragana + Hangul
    "abc漢字",  # Latin + Han
])
def test_mixed_script_usernames_are_refused(username):
    with pytest.raises(ValidationError) as refused:
        validate_username(username)
    assert refused.value.code == "mixed_script"
    assert "one alphabet" in refused.value.messages[0]


@pytest.mark.parametrize("username", [
    "admin", "bob_1.x-y", "Zoë", "москва2024", "αβγ_1", "علي١٢", "名前です", "ラーメン", "山田たろう",
    "김철수", "한國人", "ㄅㄆ中文", "ελληνικά", "Jose\u0301",
])
def test_single_script_usernames_with_common_digits_and_punctuation_are_fine(username):
    assert validate_username(username)


def _username_characters():
    """Every character that can appear in a canonical username (letters and digits that NFKC and
    case folding leave alone)."""
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if unicodedata.category(char) in ("Cs", "Co", "Cn") or not char.isalnum():
            continue
        if unicodedata.normalize("NFKC", char).casefold() == char:
            yield char


# Where the name-derived script knowingly differs from Scripts.txt: four modifier letters that
# Scripts.txt puts in Latin count as Common (allowed with any script), and the Japanese prolonged
# sound mark "ー", Common in Scripts.txt, counts as kana, as its Script_Extensions say.
KNOWN_DIFFERENCES = {"\u1d2f", "\u1d3b", "\u1d4e", "\U00010780", "\u30fc"}


def test_script_from_unicode_names_agrees_with_scripts_txt_for_every_username_character():
    """The validator derives a character's script from its Unicode name (the standard library has
    no script property). Checked here against Scripts.txt (via fontTools) for every character a
    username can hold: the same derived script means the same real script and vice versa, and
    Common means Common."""
    derived_to_real: dict[str, set[str]] = {}
    real_to_derived: dict[str, set[str]] = {}
    wrong_common = []
    for char in _username_characters():
        derived = account_validators.script_of(char)
        real = unicode_scripts.script(char)
        if real in ("Zyyy", "Zinh", "Zzzz"):
            real = None
        if derived is None or real is None:
            if (derived is None) != (real is None) and char not in KNOWN_DIFFERENCES:
                wrong_common.append((f"U+{ord(char):04X}", unicodedata.name(char, "?"), derived, real))
            continue
        derived_to_real.setdefault(derived, set()).add(real)
        real_to_derived.setdefault(real, set()).add(derived)
    assert wrong_common == []
    assert {k: v for k, v in derived_to_real.items() if len(v) > 1} == {}
    assert {k: v for k, v in real_to_derived.items() if len(v) > 1} == {}
    assert len(derived_to_real) > 100  # the check really covered the world's scripts
