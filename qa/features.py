"""What answer selection knows about a candidate sentence for a question: one row of numbers
per sentence (similarity, lexical evidence, the asked kind of answer, position, the article's
retrieval score). The fitted scorer (``qa/scorer.py``) weighs them; ``bench/fit_scorer.py``
computes the same rows to fit it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from qa.candidates import SHAPE_FEATURES, Candidate
from qa.entities import DATE, NAMED, NUMBER, QUOTE, Mention, asked_kind, matches_kind
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
    column = _COLUMN
    weights, idf, kind = question.weights, question.idf, question.kind
    asked = set(weights)
    total_weight = sum(weights.values()) or 1.0
    lengths = np.array([max(len(c.sentences.terms[c.position]), 1) for c in candidates], dtype=np.float32)
    length_norm = _BM25_K1 * (1 - _BM25_B + _BM25_B * lengths / float(lengths.mean()))
    bm25 = np.zeros(count, dtype=np.float32)
    coverage = np.zeros(count, dtype=np.float32)
    for i, candidate in enumerate(candidates):
        analysed, position = candidate.sentences, candidate.position
        row = rows[i]
        counts = analysed.term_counts[position]
        shared = asked.intersection(counts)
        if shared:
            bm25[i] = sum(idf[t] * counts[t] * (_BM25_K1 + 1) / (counts[t] + length_norm[i]) for t in shared)
            coverage[i] = sum(weights[t] for t in shared) / total_weight
            if question.bigrams:
                found = analysed.bigrams[position] & question.bigrams
                row[column["bigram_coverage"]] = len(found) / len(question.bigrams)
        context = set(shared)
        if position > 0:
            context |= asked.intersection(analysed.term_counts[position - 1])
        if position + 1 < len(analysed.term_counts):
            context |= asked.intersection(analysed.term_counts[position + 1])
        row[column["coverage_context"]] = sum(weights[t] for t in context) / total_weight
        heading = asked.intersection(analysed.headings[position])
        row[column["heading_coverage"]] = sum(weights[t] for t in heading) / total_weight
        terms_here = len(analysed.terms[position])
        fresh = terms_here - sum(counts[t] for t in shared)
        row[column["new_words"]] = fresh / max(terms_here, 1)
        row[column["new_words_log"]] = math.log1p(fresh)
        if analysed.mentions[position]:
            new = new_mentions(candidate, question)
            wanted = [m for m in new if matches_kind(m, kind)]
            if wanted and shared:
                anchors = question_anchors(candidate, asked)
                row[column["kind_near_question"]] = any(
                    abs((m.start + m.end) / 2 - a) <= 80 for m in wanted for a in anchors
                )
            kinds = {m.kind for m in new}
            row[column["has_number"]] = NUMBER in kinds
            row[column["has_date"]] = DATE in kinds
            row[column["has_name"]] = not kinds.isdisjoint(NAMED)
            row[column["has_exact_kind"]] = bool(wanted)
            row[column["has_quote"]] = QUOTE in kinds

    shape = np.stack([c.sentences.shape[c.position] for c in candidates])
    rows[:, _SHAPE_COLUMNS] = shape
    hit_rank = np.array([c.hit_rank for c in candidates])
    scores = np.asarray(hit_scores, dtype=np.float32)
    passage = np.array([c.passage_score for c in candidates], dtype=np.float32)
    rows[:, column["article_score"]] = scores[hit_rank] / max(float(scores[0]) if len(scores) else 1.0, 1e-9)
    rows[:, column["article_rank"]] = 1.0 / (1.0 + hit_rank)
    rows[:, column["in_passage"]] = passage > 0
    rows[:, column["passage_score"]] = passage / max(float(passage.max()), 1e-9)
    rows[:, column["cosine"]] = cosines
    rows[:, column["cosine_gap"]] = cosines - cosines.max()
    rows[:, column["cosine_gap_in_article"]] = cosines - _group_max(hit_rank, cosines)
    rows[:, column["cosine_neighbours"]] = _neighbour_max(candidates, cosines)
    rows[:, column["bm25_share"]] = bm25 / max(float(bm25.max()), 1e-9)
    rows[:, column["bm25_log"]] = np.log1p(bm25)
    rows[:, column["coverage"]] = coverage
    rows[:, column["coverage_gap"]] = coverage - coverage.max()
    rows[:, column["coverage_share"]] = coverage / max(float(coverage.max()), 1e-9)
    rows[:, column["article_coverage"]] = _group_max(hit_rank, coverage) / max(float(coverage.max()), 1e-9)
    rows[:, column["asks_number"]] = kind == NUMBER
    rows[:, column["asks_date"]] = kind == DATE
    rows[:, column["asks_name"]] = kind in NAMED
    rows[:, column["asks_quote"]] = kind == QUOTE
    rows[:, column["asks_nothing"]] = kind is None
    return rows


_COLUMN = {name: i for i, name in enumerate(FEATURES)}
_SHAPE_COLUMNS = [_COLUMN[name] for name in SHAPE_FEATURES]


def new_mentions(candidate: Candidate, question: QuestionTerms) -> list[Mention]:
    """The typed mentions of a candidate sentence that the question does not already name
    (a mention all of whose words are in the question cannot be its answer)."""
    analysed, position = candidate.sentences, candidate.position
    return [m for m, found in zip(analysed.mentions[position], analysed.mention_words[position])
            if not (found and found <= question.words)]


def question_anchors(candidate: Candidate, asked: set[str]) -> list[float]:
    """Where the words of the terms ``asked`` are in a candidate sentence: the middle of each,
    as an offset into the sentence."""
    analysed, position = candidate.sentences, candidate.position
    middles = analysed.term_middles[position]
    if middles is None:  # the sentence is not NFC: its words are read again
        return [(a + b) / 2 for a, b in term_spans(candidate.text, asked)]
    return [m for t, m in zip(analysed.terms[position], middles) if t in asked]


def _group_max(groups: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each candidate's article's maximum of ``values`` (``groups``: the article of each)."""
    best = np.full(int(groups.max()) + 1, -np.inf, dtype=np.float32)
    np.maximum.at(best, groups, values)
    return best[groups]


def _neighbour_max(candidates: Sequence[Candidate], values: np.ndarray) -> np.ndarray:
    """The larger value of the sentences just before and after each one in its paragraph."""
    result = np.zeros(len(candidates), dtype=np.float32)
    paragraphs = [(id(c.sentences), c.sentences.paragraphs[c.position]) for c in candidates]
    for i in range(len(candidates)):
        around = [float(values[j]) for j in (i - 1, i + 1)
                  if 0 <= j < len(candidates) and paragraphs[j] == paragraphs[i]]
        result[i] = max(around) if around else 0.0
    return result
