"""Lexical matching: one tokenizer (lowercase, stopwords out, Snowball-stemmed) for BM25 and
for highlighting the question's words in quotes."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Combining diacritics continue a word: text that is not NFC ("Zu\u0308rich") reads whole.
_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_WORD = re.compile(rf"\w[\w{_MARKS}]*(?:['’]\w[\w{_MARKS}]*)?")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN) | {"s", "said", "says", "did", "does", "which", "who", "what"}


@lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """The lowercased words of ``text`` (NFC-normalised first), possessive ``'s`` dropped."""
    return [_plain(match.group()) for match in _WORD.finditer(unicodedata.normalize("NFC", text))]


def _plain(word: str) -> str:
    """A word as it is looked up: NFC, lowercase, without a possessive ``'s``."""
    word = unicodedata.normalize("NFC", word).lower()
    return word[:-2] if word.endswith(("'s", "’s")) else word


def tokenize(text: str) -> list[str]:
    """Index terms of ``text``: words without stopwords, stemmed."""
    stop = _stopwords()
    kept = [w for w in words(text) if w not in stop]
    return _stemmer().stemWords(kept) if kept else []


def term_spans(text: str, terms: set[str]) -> list[tuple[int, int]]:
    """Character spans of the words of ``text`` whose stem is in ``terms`` (for highlighting)."""
    return [(start, end) for stem, start, end in stemmed_words(text) if stem in terms]


def stemmed_words(text: str) -> list[tuple[str, int, int]]:
    """The index term and character span of each word of ``text`` that is not a stopword."""
    stop = _stopwords()
    kept = [(word, match.start(), match.end()) for match in _WORD.finditer(text)
            if (word := _plain(match.group())) not in stop]
    if not kept:
        return []
    stems = _stemmer().stemWords([word for word, _, _ in kept])
    return [(stem, start, end) for stem, (_, start, end) in zip(stems, kept)]
