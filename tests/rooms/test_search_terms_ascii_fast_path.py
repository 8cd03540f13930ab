"""Words of ASCII text come from a regular expression (the path nearly every message and every
search candidate takes); they must be exactly the words the general, any-script loop finds."""

import string

from hypothesis import given, settings, strategies as st

from rooms import search_terms

ASCII = st.text(alphabet=st.sampled_from(string.printable), max_size=200)


@settings(max_examples=300, deadline=None)
@given(ASCII)
def test_ascii_words_match_the_general_loop(text):
    assert list(search_terms.iter_words(text)) == list(search_terms._iter_words_general(text))


def test_ascii_words_keep_positions_and_fold_case():
    words = search_terms.words("Deploy went fine_ish, v2.0 (OK)")
    assert [(w.start, w.end, w.norm) for w in words] == [
        (0, 6, "deploy"), (7, 11, "went"), (12, 16, "fine"), (17, 20, "ish"), (22, 24, "v2"), (25, 26, "0"),
        (28, 30, "ok")]
    assert not any(w.cjk for w in words)


def test_non_ascii_text_still_takes_the_general_loop():
    # An accent, a combining mark and a CJK run: none of them is a word to the ASCII pattern.
    text = "Café naïve 日本語テキスト"
    assert search_terms.words(text) == list(search_terms._iter_words_general(text))
    assert any(w.cjk for w in search_terms.words(text))
    assert search_terms.words("café")[0].norm == "cafe"
