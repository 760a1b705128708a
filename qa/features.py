"""What answer selection knows about a candidate sentence for a question: one row of numbers
per sentence (similarity, lexical evidence, the asked kind of answer, position, the article's
retrieval score). The fitted scorer (``qa/scorer.py``) weighs them; ``bench/fit_scorer.py``
computes the same rows to fit it."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from qa.candidates import Candidate
from qa.entities import DATE, NAMED, NUMBER, QUOTE, asked_kind, matches_kind
from qa.lexical import term_spans, tokenize, words

FEATURES = (
    "cosine", "cosine_gap", "cosine_gap_in_article", "cosine_neighbours",
    "bm25_share", "bm25_log", "coverage", "coverage_gap", "coverage_share", "coverage_context",
    "heading_coverage", "bigram_coverage", "article_coverage",
    "asks_number", "asks_date", "asks_name", "asks_quote", "asks_nothing",
    "has_number", "has_date", "has_name", "has_exact_kind", "kind_near_question", "has_quote",
    "has_speech", "new_words", "new_words_log", "first_sentence", "position", "length_log",
    "short", "is_question", "article_score", "article_rank", "in_passage", "passage_score",
)

_BM25_K1, _BM25_B = 1.2, 0.75
_SPEECH = ("said", "says", "told", "tweeted", "wrote", "added", "stated", "according")


@dataclass(frozen=True)
class QuestionTerms:
    """A question's index terms with their IDF weights, its words, and the kind it asks for."""

    terms: tuple[str, ...]
    weights: dict[str, float]  # coverage weight of each term: log(1 + N / (1 + df))
    idf: dict[str, float]  # BM25 IDF of each term
    words: frozenset[str]
    kind: str | None
    bigrams: frozenset[tuple[str, str]] = frozenset()  # adjacent index terms


def question_terms(question: str, document_frequency: dict[str, int], documents: int) -> QuestionTerms:
    """The lexical side of a question, weighted by the archive's chunk frequencies."""
    terms = tuple(dict.fromkeys(tokenize(question)))
    total = max(documents, 1)
    weights, idf = {}, {}
    for term in terms:
        frequency = document_frequency.get(term, 0)
        weights[term] = math.log(1 + total / (1 + frequency))
        idf[term] = math.log(1 + (total - frequency + 0.5) / (frequency + 0.5))
    ordered = tokenize(question)
    return QuestionTerms(terms, weights, idf, frozenset(words(question)), asked_kind(question),
                         frozenset(zip(ordered, ordered[1:])))


def feature_rows(
    question: QuestionTerms,
    candidates: Sequence[Candidate],
    cosines: np.ndarray,
    hit_scores: Sequence[float],
) -> np.ndarray:
    """One row of ``FEATURES`` per candidate; ``cosines`` are the candidates' cosine
    similarities to the question, ``hit_scores`` the fused scores of the retrieved articles."""
    count = len(candidates)
    rows = np.zeros((count, len(FEATURES)), dtype=np.float32)
    if not count:
        return rows
    column = {name: i for i, name in enumerate(FEATURES)}
    total_weight = sum(question.weights.values()) or 1.0
    lengths = np.array([max(len(c.sentences.terms[c.position]), 1) for c in candidates], dtype=np.float32)
    average_length = float(lengths.mean())
    top_hit = max(hit_scores[0] if hit_scores else 1.0, 1e-9)
    top_passage = max(max((c.passage_score for c in candidates), default=0.0), 1e-9)
    kind = question.kind

    bm25 = np.zeros(count, dtype=np.float32)
    coverage = np.zeros(count, dtype=np.float32)
    for i, candidate in enumerate(candidates):
        analysed, position = candidate.sentences, candidate.position
        terms = analysed.terms[position]
        counts = Counter(terms)
        score = 0.0
        for term in question.terms:
            tf = counts.get(term, 0)
            if tf:
                norm = tf + _BM25_K1 * (1 - _BM25_B + _BM25_B * lengths[i] / average_length)
                score += question.idf[term] * tf * (_BM25_K1 + 1) / norm
        bm25[i] = score
        coverage[i] = _coverage(set(terms), question, total_weight)
        context = set(terms)
        for neighbour in (position - 1, position + 1):
            if 0 <= neighbour < len(analysed.terms):
                context.update(analysed.terms[neighbour])
        row = rows[i]
        row[column["coverage_context"]] = _coverage(context, question, total_weight)
        row[column["heading_coverage"]] = _coverage(set(analysed.headings[position]), question,
                                                    total_weight)
        if question.bigrams:
            found = set(zip(terms, terms[1:])) & question.bigrams
            row[column["bigram_coverage"]] = len(found) / len(question.bigrams)
        text = candidate.text
        new = [m for m in analysed.mentions[position] if not asked_already(text, m, question)]
        if kind is not None and any(matches_kind(m, kind) for m in new):
            anchors = [(a + b) / 2 for a, b in term_spans(text, set(question.weights))]
            row[column["kind_near_question"]] = any(
                abs((m.start + m.end) / 2 - a) <= 80 for m in new if matches_kind(m, kind)
                for a in anchors
            )
        row[column["has_number"]] = any(m.kind == NUMBER for m in new)
        row[column["has_date"]] = any(m.kind == DATE for m in new)
        row[column["has_name"]] = any(m.kind in NAMED for m in new)
        row[column["has_exact_kind"]] = kind is not None and any(matches_kind(m, kind) for m in new)
        row[column["has_quote"]] = any(m.kind == QUOTE for m in new)
        lowered = text.lower()
        row[column["has_speech"]] = any(w in lowered for w in _SPEECH) or "“" in text or '"' in text
        fresh = [t for t in terms if t not in question.weights]
        row[column["new_words"]] = len(fresh) / max(len(terms), 1)
        row[column["new_words_log"]] = math.log1p(len(fresh))
        row[column["first_sentence"]] = position == 0
        row[column["position"]] = 1.0 / (1.0 + position)
        row[column["length_log"]] = math.log1p(len(text.split()))
        row[column["short"]] = len(text.split()) < 6
        row[column["is_question"]] = text.rstrip("”\"' ").endswith("?")
        row[column["article_score"]] = hit_scores[candidate.hit_rank] / top_hit
        row[column["article_rank"]] = 1.0 / (1.0 + candidate.hit_rank)
        row[column["in_passage"]] = candidate.passage_score > 0
        row[column["passage_score"]] = candidate.passage_score / top_passage

    rows[:, column["cosine"]] = cosines
    rows[:, column["cosine_gap"]] = cosines - cosines.max()
    rows[:, column["cosine_gap_in_article"]] = cosines - _group_max(candidates, cosines)
    rows[:, column["cosine_neighbours"]] = _neighbour_max(candidates, cosines)
    rows[:, column["bm25_share"]] = bm25 / max(float(bm25.max()), 1e-9)
    rows[:, column["bm25_log"]] = np.log1p(bm25)
    rows[:, column["coverage"]] = coverage
    rows[:, column["coverage_gap"]] = coverage - coverage.max()
    rows[:, column["coverage_share"]] = coverage / max(float(coverage.max()), 1e-9)
    rows[:, column["article_coverage"]] = _group_max(candidates, coverage) / max(float(coverage.max()), 1e-9)
    rows[:, column["asks_number"]] = kind == NUMBER
    rows[:, column["asks_date"]] = kind == DATE
    rows[:, column["asks_name"]] = kind in NAMED
    rows[:, column["asks_quote"]] = kind == QUOTE
    rows[:, column["asks_nothing"]] = kind is None
    return rows


def _coverage(terms: set[str], question: QuestionTerms, total_weight: float) -> float:
    return sum(w for t, w in question.weights.items() if t in terms) / total_weight


def asked_already(text: str, mention, question: QuestionTerms) -> bool:  # type: ignore[no-untyped-def]
    """Whether every word of a mention is in the question (it cannot be the answer)."""
    found = words(text[mention.start : mention.end])
    return bool(found) and all(w in question.words for w in found)


def _group_max(candidates: Sequence[Candidate], values: np.ndarray) -> np.ndarray:
    """Each candidate's article's maximum of ``values``."""
    best: dict[int, float] = {}
    for candidate, value in zip(candidates, values):
        best[candidate.hit_rank] = max(best.get(candidate.hit_rank, -math.inf), float(value))
    return np.array([best[c.hit_rank] for c in candidates], dtype=np.float32)


def _neighbour_max(candidates: Sequence[Candidate], values: np.ndarray) -> np.ndarray:
    """The larger value of the sentences just before and after each one in its paragraph."""
    result = np.zeros(len(candidates), dtype=np.float32)
    for i, candidate in enumerate(candidates):
        paragraph = candidate.sentences.paragraphs[candidate.position]
        around = [
            float(values[j]) for j in (i - 1, i + 1)
            if 0 <= j < len(candidates) and candidates[j].sentences is candidate.sentences
            and candidates[j].sentences.paragraphs[candidates[j].position] == paragraph
        ]
        result[i] = max(around) if around else 0.0
    return result
