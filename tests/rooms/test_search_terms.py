"""Search terms: normalising, words with their original positions, index and query terms."""

import pytest

from chatsite import keys
from rooms import search_terms
from rooms.search_terms import MAX_TERMS_PER_MESSAGE, index_terms, normalise, query_terms, words


def spans(text):
    return [(text[w.start:w.end], w.norm) for w in words(text)]


@pytest.mark.parametrize(("text", "expected"), [
    ("Café CRÈME brûlée", "cafe creme brulee"),
    ("Straße", "strasse"),  # case folding, not lower(): ß folds to ss
    ("İstanbul", "istanbul"),  # the dot above an I is an accent on a Latin letter
    ("ＡＢＣ１２３", "abc123"),  # NFKC: full-width forms
    ("ﬁnance", "finance"),  # NFKC: ligatures
    ("e\u0301te\u0301", "ete"),  # decomposed accents too
    ("Ἀθῆναι", "ἀθῆναι"),  # Greek keeps its accents: only Latin ones are folded
    ("Йод", "йод"),  # Cyrillic й is not и
    ("नमस्ते", "नमस्ते"),  # Devanagari's vowel signs are not accents
    ("Œuvre ØRE", "œuvre øre"),  # letters without a decomposition are left alone
])
def test_normalise_folds_case_width_and_latin_accents_only(text, expected):
    assert normalise(text) == expected


def test_words_split_on_punctuation_and_underscore_and_keep_positions():
    text = "Hello, wörld! snake_case it's 2024-06-01"
    assert spans(text) == [("Hello", "hello"), ("wörld", "world"), ("snake", "snake"), ("case", "case"),
                           ("it", "it"), ("s", "s"), ("2024", "2024"), ("06", "06"), ("01", "01")]


def test_positions_are_in_the_original_text_even_when_normalising_changes_lengths():
    text = "» Straße ＡＢＣ e\u0301te\u0301!"
    found = words(text)
    assert [(text[w.start:w.end], w.norm) for w in found] == [
        ("Straße", "strasse"), ("ＡＢＣ", "abc"), ("e\u0301te\u0301", "ete")]
    assert [w.start for w in found] == [2, 9, 13]


def test_combining_marks_stay_inside_their_word():
    assert spans("नमस्ते दुनिया") == [("नमस्ते", "नमस्ते"), ("दुनिया", "दुनिया")]


@pytest.mark.parametrize(("text", "pairs"), [
    ("東京都", ["東京", "京都"]),  # Chinese / Japanese kanji
    ("ひらがなカタカナ", ["ひら", "らが", "がな", "なカ", "カタ", "タカ", "カナ"]),  # kana
    ("안녕하세요 세계", ["안녕", "녕하", "하세", "세요", "세계"]),  # Korean, words split on spaces
    ("我爱北京", ["我爱", "爱北", "北京"]),  # Chinese
    ("漢", ["漢"]),  # a lone character is its own term
])
def test_cjk_runs_become_overlapping_pairs(text, pairs):
    found = words(text)
    assert [w.norm for w in found] == pairs
    assert all(w.cjk for w in found)
    assert [text[w.start:w.end] for w in found] == pairs


def test_cjk_next_to_latin_and_digits_splits_at_the_script_change():
    text = "Pythonを学ぶ2024年"
    assert spans(text) == [("Python", "python"), ("を学", "を学"), ("学ぶ", "学ぶ"), ("2024", "2024"), ("年", "年")]


def test_half_width_katakana_with_sound_marks_pairs_as_the_full_width_text():
    half = "ｶﾞｷﾞｸﾞ"
    assert [w.norm for w in words(half)] == ["ガギ", "ギグ"]
    assert [w.norm for w in words(half)] == [w.norm for w in words("ガギグ")]
    assert [half[w.start:w.end] for w in words(half)] == ["ｶﾞｷﾞ", "ｷﾞｸﾞ"]


def test_index_terms_are_prefixes_from_three_to_twenty_and_the_word():
    assert index_terms("Hello") == {"hel", "hell", "hello"}
    long_word = "internationalization-is-supercalifragilisticexpialidociousness"
    terms = index_terms(long_word)
    assert "internationalization" in terms  # exactly 20: its own longest prefix
    assert "supercalifragilisti" in terms and "supercalifragilistic" in terms
    assert "supercalifragilisticexpialidociousness" in terms  # the whole word (38 characters)
    assert not any(len(t) > 20 and t != "supercalifragilisticexpialidociousness" for t in terms)


def test_a_very_long_word_is_indexed_cut_at_forty_characters():
    word = "x" * 30 + "y" * 30
    assert word[:40] in index_terms(word)
    assert max(map(len, index_terms(word))) == 40


def test_short_words_and_stop_words_are_not_indexed():
    assert index_terms("a an of it is to be me go") == set()
    assert index_terms("The and THE with this") == set()
    # a stop word is skipped, not the words it begins
    assert "the" in index_terms("theory") and "theory" in index_terms("theory")


def test_index_terms_folds_like_normalise_so_accents_and_case_do_not_matter():
    assert index_terms("CAFÉ") == index_terms("café") == index_terms("cafe") == {"caf", "cafe"}


def test_index_terms_of_cjk_are_the_pairs_and_each_han_character():
    assert index_terms("東京都に行きます") == {"東京", "京都", "都に", "に行", "行き", "きま", "ます",
                                          "東", "京", "都", "行"}  # no kana alone: particles
    assert index_terms("안녕하세요") == {"안녕", "녕하", "하세", "세요"}  # nor Hangul syllables


def test_a_single_chinese_character_query_finds_it_inside_a_longer_run():
    assert query_terms("猫") == ["猫"] and "猫" in index_terms("我的猫很可爱")


def test_index_terms_are_capped_keeping_the_first_in_text_order():
    text = " ".join(f"word{i:04d}" for i in range(200))
    terms = index_terms(text)
    assert len(terms) == MAX_TERMS_PER_MESSAGE
    assert "word0000" in terms and "word0198" not in terms
    assert len(index_terms(text, limit=None)) > MAX_TERMS_PER_MESSAGE


def test_query_terms_for_a_word_is_its_prefix_term():
    assert query_terms("Café") == ["cafe"]
    assert query_terms("caf") == ["caf"]
    long_word = "supercalifragilisticexpialidocious"
    assert query_terms(long_word) == [long_word[:20]]
    assert query_terms(long_word, prefix=False) == [long_word]
    assert query_terms("x" * 60, prefix=False) == ["x" * 40]


def test_query_terms_of_short_and_stop_words_are_empty():
    assert query_terms("ab") == []
    assert query_terms("The") == []
    assert query_terms("!!!") == []


def test_query_terms_of_cjk_are_every_pair():
    assert query_terms("東京都") == ["東京", "京都"]
    assert query_terms("漢") == ["漢"]


@pytest.mark.parametrize("text", [
    "Meet me at the Café Müller tomorrow", "東京都に行きます", "안녕하세요 세계", "ＦＵＬＬ width and ﬁne",
    "supercalifragilisticexpialidociousness and more",
])
def test_every_query_term_of_every_word_is_among_its_text_index_terms(text):
    """What the indexer writes and what a search looks up agree, word by word."""
    terms = index_terms(text)
    for word in words(text):
        assert set(query_terms(text[word.start:word.end])) <= terms
        assert set(query_terms(text[word.start:word.end], prefix=False)) <= terms


def test_every_index_term_fits_in_a_key_and_never_holds_a_separator():
    text = "Ünïcödé, 東京, x" + "y" * 100 + " #tag a:b"
    for term in index_terms(text):
        assert "#" not in term and ":" not in term
        assert 1 <= len(term) <= search_terms.MAX_TERM_LENGTH


def test_search_keys():
    assert keys.search_scope("general", public=True) == keys.SEARCH_PUBLIC_SCOPE == "pub"
    assert keys.search_scope("secret", public=False) == "r:secret"
    pk = keys.search_pk("r:secret", "cafe")
    assert pk == "Search:r:secret#cafe"
    assert keys.search_pk_parts(pk) == ("r:secret", "cafe")
