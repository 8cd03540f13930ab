import pytest
from django.core.exceptions import ValidationError

from accounts.validators import canonical_username, clean_display_name, validate_username


@pytest.mark.parametrize("typed, user_id", [
    ("Alice", "alice"),
    ("ALICE", "alice"),
    ("ﬁsh", "fish"),  # U+FB01 LATIN SMALL LIGATURE FI
    ("Ａｌｉｃｅ", "alice"),  # fullwidth
    ("Straße", "strasse"),
    ("José", "josé"),
])
def test_canonical_username_folds_case_and_unicode_form(typed, user_id):
    assert canonical_username(typed) == user_id
    assert validate_username(typed) == user_id


def test_composed_and_decomposed_accents_are_the_same_user():
    assert validate_username("Jos\u00e9") == validate_username("Jose\u0301")


@pytest.mark.parametrize("username", ["bob", "bob_1.x-y", "Zoë", "名前です", "a1b"])
def test_accepts_letters_digits_and_a_little_punctuation(username):
    assert validate_username(username)


@pytest.mark.parametrize("username, message", [
    ("al#ce", "“#” or “:”"),
    ("User:x", "“#” or “:”"),
    ("al ice", "spaces"),
    ("al\tice", "control characters"),
    ("ali\u00a0ce", "spaces"),  # no-break space
    ("ali\x00ce", "control characters"),
    ("ali\u202ece", "control characters"),  # right-to-left override
    ("ab", "at least 3"),
    ("a" * 31, "at most 30"),
    ("ﬃ" * 11, "at most 30"),  # 11 typed, 33 once normalised
    ("a/b<c>", "letters, digits"),
    ("emoji😀", "letters, digits"),
    (".hidden", "start with a letter or digit"),
])
def test_rejects_bad_usernames_with_a_clear_message(username, message):
    with pytest.raises(ValidationError) as excinfo:
        validate_username(username)
    assert message in excinfo.value.messages[0]


def test_display_name_is_free_text_but_stripped():
    assert clean_display_name("  Alice 🚀 & <Co>  ") == "Alice 🚀 & <Co>"


@pytest.mark.parametrize("display_name, message", [
    ("", "Enter a display name"),
    ("   ", "Enter a display name"),
    ("x" * 51, "at most 50"),
    ("bad\x07bell", "control characters"),
    ("evil\u202etxt.exe", "control characters"),
])
def test_display_name_rejects_empty_overlong_and_control_characters(display_name, message):
    with pytest.raises(ValidationError) as excinfo:
        clean_display_name(display_name)
    assert message in excinfo.value.messages[0]


def test_no_username_can_be_the_anonymous_session_marker():
    """Anonymous sessions are stored under `c#~anonymous`; a user id must never equal it."""
    from django.core.exceptions import ValidationError

    from accounts.validators import validate_username
    from chatsite import keys

    with pytest.raises(ValidationError):
        validate_username(keys.ANONYMOUS_CUSTOMER)
    assert keys.customer_sk(validate_username("anonymous")) != keys.customer_sk(None)
