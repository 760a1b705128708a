"""Frozen records that flow between the pipeline stages.

Invariants that make quotes verbatim by construction:
``article.text[chunk.start:chunk.end] == chunk.text`` and
``article.text[quote.start:quote.end] == quote.text``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from qa.when import TimeScope


@dataclass(frozen=True)
class Article:
    """One cleaned news article.

    ``text`` is the cleaned article text that every offset refers to. ``line_starts`` and
    ``line_numbers`` map it back to the source file: the text from offset ``line_starts[i]`` on
    came from line ``line_numbers[i]`` (1-based) of ``path``.
    """

    id: str
    text: str
    title: str | None = None
    url: str | None = None
    path: str | None = None
    date: str | None = None  # ISO YYYY-MM-DD
    source: str | None = None  # outlet or site name
    byline: str | None = None
    content_hash: str = ""
    line_starts: tuple[int, ...] = ()
    line_numbers: tuple[int, ...] = ()

    def line_at(self, offset: int) -> int | None:
        """The 1-based line of the source file that holds ``text[offset]``, when known."""
        from bisect import bisect_right

        i = bisect_right(self.line_starts, offset) - 1
        if i < 0 or not self.line_numbers:
            return None
        return self.line_numbers[i]


@dataclass(frozen=True)
class Sentence:
    """A sentence of an article, by offsets into ``Article.text``; ``vector_row`` is its row in
    the index's sentence vectors once indexed."""

    start: int
    end: int
    vector_row: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Chunk:
    """A few consecutive sentences of an article: the unit that is embedded and searched."""

    id: str
    article_id: str
    ordinal: int
    start: int
    end: int
    text: str
    sentences: tuple[Sentence, ...] = field(default=())


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its fused score and the signals that produced it."""

    chunk: Chunk
    article: Article
    score: float
    dense_score: float | None = None
    lexical_score: float | None = None


@dataclass(frozen=True)
class Quote:
    """Consecutive sentences quoted verbatim from an article: ``article.text[start:end] == text``."""

    rank: int
    text: str
    score: float
    article: Article
    start: int
    end: int
    line: int | None
    chunk_id: str
    matched_terms: tuple[str, ...] = ()
    copies: tuple[Article, ...] = ()  # other outlets' copies of the same story
    answer_start: int | None = None  # article.text[answer_start:answer_end]: the span that most
    answer_end: int | None = None  # likely answers, inside the quote; None when none stands out


@dataclass(frozen=True)
class Answer:
    """What ``ask`` returns: quotes best first, whether they answer the question, and the dates
    retrieval favoured because of the question's words or its as-of date."""

    question: str
    answered: bool
    quotes: tuple[Quote, ...]
    time_scope: TimeScope | None = None


@dataclass(frozen=True)
class Filters:
    """Hard limits on which articles may be quoted; applied inside the searches, so a filter
    never leaves fewer than k results when k matching passages exist."""

    since: date | None = None
    until: date | None = None
    sources: tuple[str, ...] = ()  # case-insensitive parts of the source name or URL

    @property
    def active(self) -> bool:
        return bool(self.since or self.until or self.sources)

    def describe(self) -> str:
        parts = []
        if self.since:
            parts.append(f"since {self.since}")
        if self.until:
            parts.append(f"until {self.until}")
        if self.sources:
            parts.append("source " + " or ".join(repr(s) for s in self.sources))
        return "Filters: " + ", ".join(parts) if parts else "No filters."
