"""Corpus boilerplate: paragraphs that repeat across the articles of a corpus (a site's
newsletter appeal, its footer, a recurring header) are dropped, keeping each article's line map.
Each article's paragraph census (a fingerprint and length per paragraph) is what is counted; the
index keeps it, so an update weighs new articles against the whole archive without re-reading it."""

from __future__ import annotations

import hashlib
import json
from array import array
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass, replace

import numpy as np

from qa.models import Article

_WIDESPREAD = 5  # a paragraph in this many independent articles is boilerplate wherever it sits
_SHORT_PARAGRAPH = 80  # characters; a paragraph this short in 3 independent articles is boilerplate

def _paragraphs(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each ``\\n\\n``-separated paragraph of ``text``."""
    spans = []
    start = 0
    while start <= len(text):
        end = text.find("\n\n", start)
        end = len(text) if end < 0 else end
        if end > start:
            spans.append((start, end))
        start = end + 2
    return spans


def _normalize(paragraph: str) -> str:
    """A paragraph as compared across articles: whitespace collapsed, case folded."""
    return " ".join(paragraph.split()).casefold()


@dataclass(frozen=True)
class ParagraphCensus:
    """What corpus boilerplate detection counts of one article, before any paragraph is removed:
    the index keeps it, so an update weighs new articles against the whole archive."""

    article_id: str
    text_length: int
    paragraphs: tuple[tuple[str, int], ...]  # (fingerprint, normalized length) in text order

    def to_json(self) -> str:
        return json.dumps([self.text_length, [list(p) for p in self.paragraphs]], separators=(",", ":"))

    @classmethod
    def from_json(cls, article_id: str, data: str) -> ParagraphCensus:
        length, paragraphs = json.loads(data)
        return cls(article_id, int(length), tuple((str(f), int(n)) for f, n in paragraphs))


def paragraph_census(article: Article) -> ParagraphCensus:
    """The census of an article's paragraphs (SHA-1 prefix of each normalized paragraph)."""
    keys = [_normalize(article.text[start:end]) for start, end in _paragraphs(article.text)]
    return ParagraphCensus(
        article.id, len(article.text),
        tuple((hashlib.sha1(key.encode()).hexdigest()[:16], len(key)) for key in keys),
    )


def remove_corpus_boilerplate(
    articles: Sequence[Article], known: Iterable[ParagraphCensus] = ()
) -> list[Article]:
    """Drop paragraphs that repeat across different articles; syndicated copies count as one.
    ``known``: the census of articles already indexed, counted with these (an article given here
    replaces its known census), so an article is cleaned the same alone or with its folder.

    A paragraph is boilerplate when it sits in the first 2 or last 3 paragraphs of every article
    holding it and 2 or more of them are independent, or when it is short and in 3 or more
    independent articles, or in 5 or more wherever it sits. (A long paragraph in the body of 3 or 4
    articles is news reported by several outlets: it stays.) An article sharing more than half of
    its characters with another is a copy of it, not independent: copies are left to dedup.
    An article left with no paragraph is left out (the caller reports it).
    """
    given = [paragraph_census(article) for article in articles]
    ids = {census.article_id for census in given}
    table = CensusTable(given)
    for census in known:
        if census.article_id not in ids:
            table.add(census)
    boilerplate = corpus_boilerplate(table)
    result = []
    for article, census in zip(articles, given, strict=True):
        cleaned = without_boilerplate(article, census, boilerplate)
        if cleaned is not None:
            result.append(cleaned)
    return result


class CensusTable:
    """The paragraph census of many articles in flat arrays: about 16 bytes a paragraph and an
    id an article, not a Python object each, so a whole archive's census fits in memory."""

    def __init__(self, census: Iterable[ParagraphCensus] = ()) -> None:
        self.article_ids: list[str] = []
        self._text_lengths = array("q")
        self._paragraph_counts = array("q")
        self._keys = array("Q")  # each paragraph's fingerprint, as a number
        self._sizes = array("q")  # each paragraph's normalized length
        for counted in census:
            self.add(counted)

    def add(self, census: ParagraphCensus) -> None:
        self.article_ids.append(census.article_id)
        self._text_lengths.append(census.text_length)
        self._paragraph_counts.append(len(census.paragraphs))
        self._keys.extend(int(key, 16) for key, _ in census.paragraphs)
        self._sizes.extend(size for _, size in census.paragraphs)

    def emptied_by(self, boilerplate: Set[str]) -> list[str]:
        """The ids of the articles every paragraph of which is in ``boilerplate``."""
        counts, keys, owners, _ = self._columns()
        found = np.isin(keys, np.array([int(key, 16) for key in boilerplate], dtype=np.uint64))
        left = np.bincount(owners[~found], minlength=len(counts))
        return [self.article_ids[i] for i in np.flatnonzero((counts > 0) & (left == 0)).tolist()]

    def _columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Paragraphs per article; then, a row a paragraph: fingerprint, article, position in it."""
        counts = np.array(self._paragraph_counts, dtype=np.int64)
        keys = np.array(self._keys, dtype=np.uint64)
        owners = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
        positions = np.arange(len(keys), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
        return counts, keys, owners, positions


def without_boilerplate(article: Article, census: ParagraphCensus, boilerplate: Set[str]) -> Article | None:
    """``article`` without its paragraphs whose fingerprints (in ``census``, its own) are in
    ``boilerplate``; None when that leaves nothing of it."""
    spans = _paragraphs(article.text)
    kept = [span for span, (key, _) in zip(spans, census.paragraphs, strict=True) if key not in boilerplate]
    if len(kept) == len(spans):
        return article
    return _keep_spans(article, kept) if kept else None


def corpus_boilerplate(census: CensusTable) -> set[str]:
    """The fingerprints of the paragraphs that are boilerplate in the corpus of this census
    (the rules: ``remove_corpus_boilerplate``). Only paragraphs found in two or more articles
    can be boilerplate or make copies, so only those leave the arrays."""
    counts, keys, owners, positions = census._columns()
    sizes = np.array(census._sizes, dtype=np.int64)
    order = np.argsort(keys, kind="stable")  # rows grouped by fingerprint, in census order
    same = keys[order][1:] == keys[order][:-1]
    repeated = np.zeros(len(keys), dtype=bool)
    repeated[1:] |= same
    repeated[:-1] |= same
    rows = order[repeated]
    length: dict[int, int] = {}
    holders: dict[int, set[int]] = defaultdict(set)
    places: dict[int, list[tuple[int, int]]] = defaultdict(list)  # (article, position)
    for key, owner, position, size in zip(keys[rows].tolist(), owners[rows].tolist(),
                                          positions[rows].tolist(), sizes[rows].tolist(), strict=True):
        length[key] = size
        holders[key].add(owner)
        places[key].append((owner, position))
    keys_of: dict[int, set[int]] = defaultdict(set)
    for key, indexes in holders.items():
        for index in indexes:
            keys_of[index].add(key)
    totals = np.bincount(owners, weights=sizes, minlength=len(counts)).astype(np.int64).tolist()

    copies: set[tuple[int, int]] = set()
    for index, shared_keys in keys_of.items():
        shared: dict[int, int] = defaultdict(int)
        for key in shared_keys:
            for other in holders[key]:
                if other != index:
                    shared[other] += length[key]
        copies.update(
            (min(index, other), max(index, other))
            for other, size in shared.items()
            if size * 2 > totals[index]
        )

    text_lengths, ids, paragraph_counts = census._text_lengths, census.article_ids, counts.tolist()

    def independent(indexes: set[int]) -> int:
        """How many of these articles are not copies of one another (longest first, greedily)."""
        chosen: list[int] = []
        for index in sorted(indexes, key=lambda i: (-text_lengths[i], ids[i])):
            if all((min(index, other), max(index, other)) not in copies for other in chosen):
                chosen.append(index)
        return len(chosen)

    boilerplate = set()
    for key, indexes in holders.items():
        count = independent(indexes) if len(indexes) > 1 else 1
        if count < 2:
            continue
        widespread = count >= _WIDESPREAD or (count >= 3 and length[key] <= _SHORT_PARAGRAPH)
        if widespread or all(position < 2 or position >= paragraph_counts[owner] - 3 for owner, position in places[key]):
            boilerplate.add(f"{key:016x}")
    return boilerplate


def _keep_spans(article: Article, spans: list[tuple[int, int]]) -> Article:
    """``article`` reduced to the paragraphs at ``spans``, with its line map rebuilt."""
    parts: list[str] = []
    starts: list[int] = []
    numbers: list[int] = []
    offset = 0
    for start, end in spans:
        if parts:
            parts.append("\n\n")
            offset += 2
        first = bisect_right(article.line_starts, start)
        if article.line_numbers and (first == 0 or article.line_starts[first - 1] != start):
            line = article.line_at(start)
            if line is not None:
                starts.append(offset)
                numbers.append(line)
        for position in range(max(first - 1, 0), len(article.line_starts)):
            line_start = article.line_starts[position]
            if line_start >= end:
                break
            if line_start >= start:
                starts.append(offset + line_start - start)
                numbers.append(article.line_numbers[position])
        parts.append(article.text[start:end])
        offset += end - start
    text = "".join(parts)
    return replace(
        article,
        text=text,
        line_starts=tuple(starts),
        line_numbers=tuple(numbers),
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
    )
