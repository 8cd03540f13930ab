"""Search terms: how a message's text and a query's words become the terms of the search index.

Pure (no I/O). The indexer (rooms.search_index) and the search page (rooms.search) both go through
these functions, so what is written and what is looked up always agree.

- ``normalise``: NFKC, case folded, accents folded for Latin script only ("Café" -> "cafe", but
  Greek, Cyrillic, Devanagari... keep their marks).
- ``words``: the words of a text, with their positions in the ORIGINAL text (for highlighting). A
  word is a run of letters and digits (combining marks stay with their letter; "_" and punctuation
  split). Chinese, Japanese and Korean write without spaces, so a run of Han, Hiragana, Katakana or
  Hangul becomes overlapping character pairs ("東京都" -> "東京", "京都"); a lone CJK character is
  its own word.
- ``index_terms``: what a message is indexed under: for every other word of 3+ characters that is
  not a stop word, each prefix of 3..20 characters and the word itself (at most 40 characters);
  every CJK pair or lone character, and each Han character alone (so "猫" finds "我的猫"). At
  most MAX_TERMS_PER_MESSAGE, the first in text order, so one message's index writes are bounded.
- ``query_terms``: the terms a query word must all be indexed under.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator

MIN_WORD_LENGTH = 3  # shorter words are not indexed (and a query word of 1-2 characters has no term)
MAX_PREFIX_LENGTH = 20  # a query word longer than this is looked up by its first 20 characters
MAX_TERM_LENGTH = 40  # a longer word is indexed by its first 40 characters
MAX_TERMS_PER_MESSAGE = 200  # ~ceil(200/25) = 8 BatchWriteItems at most for one message

# Lucene's classic English stop set: too common to narrow a search, so never indexed (1-2 letter
# ones are too short anyway). Looked up after normalising.
STOP_WORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they",
    "this", "to", "was", "will", "with",
})

# Scripts written without spaces between words, split into character pairs. Ranges, inclusive.
_CJK_RANGES = (
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x3005, 0x3007),  # 々 〆 〇 (iteration mark, closing mark, ideographic zero)
    (0x3040, 0x30FF),  # Hiragana, Katakana (with ー)
    (0x3130, 0x318F),  # Hangul Compatibility Jamo
    (0x31F0, 0x31FF),  # Katakana Phonetic Extensions
    (0x3400, 0x4DBF),  # CJK Unified Ideographs Extension A
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs
    (0xA960, 0xA97F),  # Hangul Jamo Extended-A
    (0xAC00, 0xD7FF),  # Hangul Syllables, Jamo Extended-B
    (0xF900, 0xFAFF),  # CJK Compatibility Ideographs
    (0xFF66, 0xFFDC),  # halfwidth Katakana and Hangul
    (0x20000, 0x3FFFF),  # CJK Unified Ideographs Extensions B.. and supplements
)
# Characters that belong to the CJK character before them (so a pair never starts with one):
# (semi-)voiced sound marks, halfwidth ones, and Hangul medial/final jamo.
_CJK_JOINERS = frozenset({0x3099, 0x309A, 0xFF9E, 0xFF9F}) | frozenset(range(0x1160, 0x1200))


@dataclass(frozen=True)
class Word:
    """A word of a text: ``text[start:end]`` is it as written, ``norm`` as indexed/compared."""

    start: int
    end: int
    norm: str
    cjk: bool = False  # a CJK pair (or lone character): matched as a whole, never by prefix


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return code >= 0x1100 and any(low <= code <= high for low, high in _CJK_RANGES)


@lru_cache(maxsize=4096)
def _is_latin(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith("LATIN ")


def _fold_latin_accents(text: str) -> str:
    out = []
    base_is_latin = False
    for ch in unicodedata.normalize("NFD", text):
        if unicodedata.combining(ch):
            if base_is_latin:
                continue  # an accent on a Latin letter: "é" -> "e"
        else:
            base_is_latin = _is_latin(ch)
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


def normalise(text: str) -> str:
    """NFKC, case folded (NFKC again: folding can un-normalise), Latin accents folded."""
    if text.isascii():  # most words: NFKC changes nothing, and case folding is lower()
        return text.lower()
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return _fold_latin_accents(folded)


def _is_word_char(ch: str) -> bool:
    return ch.isalnum()  # letters and digits of every script; "_" and punctuation are not


def words(text: str) -> list[Word]:
    """Every word of ``text`` in order, CJK runs as overlapping pairs, with original positions."""
    return list(iter_words(text))


_ASCII_WORD_RE = re.compile(r"[A-Za-z0-9]+")


def iter_words(text: str) -> Iterator[Word]:
    """``words`` one at a time: index_terms stops reading a long text at its cap."""
    if text.isascii():
        # Most texts: no CJK, no marks, and an ASCII word character is a letter or digit, so a
        # regular expression finds the same words as the general loop, several times faster
        # (a search checks every candidate's text with it).
        for found in _ASCII_WORD_RE.finditer(text):
            yield Word(found.start(), found.end(), found.group().lower())
        return
    yield from _iter_words_general(text)


def _iter_words_general(text: str) -> Iterator[Word]:
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ord(ch) in _CJK_JOINERS:
            i += 1  # a sound mark with no character before it to belong to
        elif _is_cjk(ch):
            # A CJK run, as clusters (a character and the marks that belong to it), paired as read.
            previous, paired = i, False  # where the run's last cluster starts
            while i < n and _is_cjk(text[i]):
                start = i
                i += 1
                while i < n and (ord(text[i]) in _CJK_JOINERS or unicodedata.combining(text[i])):
                    i += 1
                if start > previous:
                    yield Word(previous, i, normalise(text[previous:i]), cjk=True)
                    paired = True
                previous = start
            if not paired:
                yield Word(previous, i, normalise(text[previous:i]), cjk=True)
        elif _is_word_char(ch):
            start = i
            i += 1
            while i < n and not _is_cjk(text[i]) and (
                    _is_word_char(text[i]) or unicodedata.category(text[i]).startswith("M")):
                i += 1
            norm = normalise(text[start:i])
            if norm:
                yield Word(start, i, norm)
        else:
            i += 1


def _parts(norm: str) -> list[str]:
    """The letter/digit runs of a normalised word (NFKC can bring punctuation: "½" -> "1⁄2")."""
    parts, current = [], []
    for ch in norm:
        if ch.isalnum() or (current and unicodedata.combining(ch)):
            current.append(ch)
        elif current:
            parts.append("".join(current))
            current = []
    if current:
        parts.append("".join(current))
    return parts


def _is_han(ch: str) -> bool:
    code = ord(ch)
    return 0x3400 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or 0x20000 <= code <= 0x3FFFF or ch in "々〆〇"


def _word_terms(word: Word) -> list[str]:
    """Every term one word is indexed under, in order: prefixes from the shortest, then itself.
    A CJK pair: itself and its Han characters alone (one Chinese character is often a whole word,
    "猫"; kana and Hangul alone are mostly particles and syllables, too common to be worth it)."""
    if word.cjk:
        return [word.norm, *(ch for ch in word.norm if len(word.norm) > 1 and _is_han(ch))]
    terms = []
    for part in _parts(word.norm):
        if len(part) < MIN_WORD_LENGTH or part in STOP_WORDS:
            continue
        terms.extend(part[:length] for length in range(MIN_WORD_LENGTH, min(len(part), MAX_PREFIX_LENGTH) + 1))
        if len(part) > MAX_PREFIX_LENGTH:
            terms.append(part[:MAX_TERM_LENGTH])
    return terms


def index_terms(text: str, *, limit: int | None = MAX_TERMS_PER_MESSAGE) -> set[str]:
    """The distinct terms a message with this text is indexed under: the first ``limit`` in text
    order (None: all of them)."""
    seen: dict[str, None] = {}
    for word in iter_words(text):
        for term in _word_terms(word):
            seen.setdefault(term)
            if limit is not None and len(seen) >= limit:
                return set(seen)
    return set(seen)


def query_terms(word: str, *, prefix: bool = True) -> list[str]:
    """The terms a message must be indexed under to match one query word (empty: the word has no
    term, it is too short or a stop word, and can only be checked against the text).

    ``prefix`` (a search word, the default): matches every word it begins, so its term is the
    normalised word cut to 20 characters. Otherwise (a whole word, as in a phrase): cut to 40, as
    indexed. A query word with CJK gives its pairs, every one needed. In text order, no repeats.
    """
    terms: dict[str, None] = {}
    for w in words(word):
        if w.cjk:
            terms.setdefault(w.norm)
            continue
        for part in _parts(w.norm):
            if len(part) < MIN_WORD_LENGTH or part in STOP_WORDS:
                continue
            terms.setdefault(part[:MAX_PREFIX_LENGTH] if prefix or len(part) <= MAX_PREFIX_LENGTH
                             else part[:MAX_TERM_LENGTH])
    return list(terms)
