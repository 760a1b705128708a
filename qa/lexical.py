"""Lexical matching: one tokenizer (lowercase, stopwords out, Snowball-stemmed) for BM25 and
for highlighting the question's words in quotes."""

from __future__ import annotations

import re
from functools import lru_cache

_WORD = re.compile(r"\w+(?:['’]\w+)?")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN) | {"s", "said", "says", "did", "does", "which", "who", "what"}


@lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """The lowercased words of ``text``, possessive ``'s`` dropped."""
    found = []
    for match in _WORD.finditer(text.lower()):
        word = match.group()
        if word.endswith(("'s", "’s")):
            word = word[:-2]
        found.append(word)
    return found


def tokenize(text: str) -> list[str]:
    """Index terms of ``text``: words without stopwords, stemmed."""
    stop = _stopwords()
    kept = [w for w in words(text) if w not in stop]
    return _stemmer().stemWords(kept) if kept else []


def term_spans(text: str, terms: set[str]) -> list[tuple[int, int]]:
    """Character spans of the words of ``text`` whose stem is in ``terms`` (for highlighting)."""
    stop = _stopwords()
    stemmer = _stemmer()
    spans = []
    for match in _WORD.finditer(text):
        word = match.group().lower()
        if word.endswith(("'s", "’s")):
            word = word[:-2]
        if word in stop:
            continue
        if stemmer.stemWord(word) in terms:
            spans.append((match.start(), match.end()))
    return spans
