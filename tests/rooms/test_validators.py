import pytest
from django.core.exceptions import ValidationError

from rooms import validators
from rooms.templatetags.chat_text import linkify


@pytest.mark.parametrize("name, room_id", [
    ("Art", "art"), ("ART!!", "art"), ("Art & Design", "art-design"), ("  Ｆｕｌｌ width ", "full-width"),
    ("Straße", "strasse"), ("Café au lait", "cafe-au-lait"), ("x" * 100, "x" * 48),
])
def test_room_id_is_a_case_insensitive_slug(name, room_id):
    if len(name.strip()) > validators.ROOM_NAME_MAX_LENGTH:
        with pytest.raises(ValidationError):
            validators.clean_room_name(name)
        assert validators.room_id_from_name(name) == room_id
    else:
        assert validators.clean_room_name(name)[1] == room_id
    assert validators.is_room_id(room_id)


@pytest.mark.parametrize("name, code", [
    ("", "required"), ("   ", "required"), ("a#b", "reserved"), ("Room:1", "reserved"), ("a/b", "reserved"),
    ("bell\x07", "control"), ("two\nlines", "control"), ("日本語", "slug"), ("!", "slug"),
])
def test_bad_room_names_are_rejected_with_a_reason(name, code):
    with pytest.raises(ValidationError) as excinfo:
        validators.clean_room_name(name)
    assert excinfo.value.code == code


def test_comment_keeps_inner_whitespace_and_normalises_line_endings():
    assert validators.clean_comment("  hi\r\n\tthere  ") == "hi\n\tthere"


@pytest.mark.parametrize("text, code", [
    ("", "required"), (" \n\t ", "required"), ("x" * 4001, "max_length"), ("nul\x00", "control"),
    ("esc\x1b[31m", "control"), ("del\x7f", "control"),
])
def test_bad_comments_are_rejected(text, code):
    with pytest.raises(ValidationError) as excinfo:
        validators.clean_comment(text)
    assert excinfo.value.code == code


def test_comment_at_the_limit_is_fine():
    assert len(validators.clean_comment("x" * 4000)) == 4000


def test_tokens_are_url_safe_and_have_no_hash():
    tokens = {validators.new_token() for _ in range(200)}
    assert len(tokens) == 200
    assert all(validators.is_token(t) and len(t) == 20 and "#" not in t for t in tokens)
    assert not validators.is_token("short") and not validators.is_token("a#" * 10)


def test_linkify_escapes_html_and_links_only_http_urls():
    html = linkify('<script>alert(1)</script> see https://example.com/a?b=1&c=<2> or javascript:alert(1)')
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<a href="https://example.com/a?b=1&amp;c=" rel="nofollow noopener noreferrer">' in html
    assert "javascript:alert(1)" in html and 'href="javascript' not in html


def test_linkify_trims_sentence_punctuation_but_keeps_balanced_brackets():
    html = linkify("(see https://en.wikipedia.org/wiki/Foo_(bar)). And http://x.org, too.")
    assert 'href="https://en.wikipedia.org/wiki/Foo_(bar)"' in html
    assert 'href="http://x.org"' in html
    assert html.endswith(", too.")


def test_linkify_cannot_break_out_of_the_attribute():
    html = linkify('https://example.com/"onmouseover="alert(1)')
    assert 'onmouseover="' not in html
    assert "&quot;" in html or 'href="https://example.com/"' in html
