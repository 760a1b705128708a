"""Answer questions by quoting, from each retrieved article, the 1-3 consecutive sentences that
best answer it, verbatim, and decline when the best quote is too weak."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from qa.index import Index
from qa.lexical import tokenize
from qa.models import Answer, Article, Quote, Sentence
from qa.retrieve import ArticleHit, RetrievalSettings, retrieve

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class AnswerSettings:
    """Knobs of quote selection and abstention; defaults measured on the dev benchmark (bench/)."""

    candidate_articles: int = 10  # articles whose sentences are scored before the final ranking
    coverage_weight: float = 0.3  # weight of the question's (IDF-weighted) words found in a quote
    retrieval_weight: float = 0.3  # weight of the article's fused retrieval score in its ranking
    max_sentences: int = 3
    min_score: float = 0.35  # below this the best quote does not answer the question
    retrieval: RetrievalSettings = RetrievalSettings()


def ask(index: Index, question: str, *, k: int = 5, settings: AnswerSettings = AnswerSettings()) -> Answer:
    """Answer one question with up to ``k`` quotes from different articles."""
    return answer_questions(index, [question], k=k, settings=settings)[0]


def answer_questions(
    index: Index,
    questions: Sequence[str],
    *,
    k: int = 5,
    settings: AnswerSettings = AnswerSettings(),
) -> list[Answer]:
    """Answer many questions at once: one encode call for the questions, one for the sentences."""
    questions = [q.strip() for q in questions]
    if not questions:
        return []
    encoder = index.encoder
    question_vectors = encoder.encode(questions)
    hits = retrieve(
        index,
        questions,
        k=max(k, settings.candidate_articles),
        settings=settings.retrieval,
        question_vectors=question_vectors,
    )
    candidates = [_candidate_sentences(index, question_hits) for question_hits in hits]
    texts = [article.text[s.start : s.end] for found in candidates for article, s, _ in found]
    sentence_vectors = encoder.encode(texts) if texts else np.zeros((0, encoder.dimension))
    answers = []
    offset = 0
    for q, question in enumerate(questions):
        found = candidates[q]
        similarity = sentence_vectors[offset : offset + len(found)] @ question_vectors[q]
        offset += len(found)
        quotes = _choose_quotes(index, question, hits[q], found, similarity, k, settings)
        answered = bool(quotes) and quotes[0].score >= settings.min_score
        answers.append(Answer(question=question, answered=answered, quotes=tuple(quotes)))
    return answers


def _candidate_sentences(
    index: Index, hits: list[ArticleHit]
) -> list[tuple[Article, Sentence, int]]:
    """Every sentence of each hit's passages, once, with the hit's position."""
    found = []
    for position, hit in enumerate(hits):
        seen: set[Sentence] = set()
        for passage in hit.passages:
            for sentence in passage.chunk.sentences:
                if sentence not in seen:
                    seen.add(sentence)
                    found.append((passage.article, sentence, position))
    return found


def _choose_quotes(
    index: Index,
    question: str,
    hits: list[ArticleHit],
    found: list[tuple[Article, Sentence, int]],
    similarity: np.ndarray,
    k: int,
    settings: AnswerSettings,
) -> list[Quote]:
    weights = _term_weights(index, question)
    by_hit: dict[int, list[tuple[Sentence, float]]] = {}
    for (article, sentence, position), cosine in zip(found, similarity):
        by_hit.setdefault(position, []).append((sentence, float(cosine)))
    top_retrieval = hits[0].score if hits else 1.0
    scored = []
    for position, sentences in by_hit.items():
        hit = hits[position]
        article = hit.passages[0].article
        sentences.sort(key=lambda item: item[0].start)
        start, end, score, matched = _best_window(article, sentences, weights, settings)
        rank_score = score + settings.retrieval_weight * hit.score / top_retrieval
        scored.append((rank_score, score, article, start, end, matched, hit))
    scored.sort(key=lambda item: -item[0])
    quotes = []
    for rank, (_, score, article, start, end, matched, hit) in enumerate(scored[:k], start=1):
        chunk_id = next(
            (p.chunk.id for p in hit.passages if p.chunk.start <= start < p.chunk.end),
            hit.passages[0].chunk.id,
        )
        quotes.append(
            Quote(
                rank=rank,
                text=article.text[start:end],
                score=round(score, 4),
                article=article,
                start=start,
                end=end,
                line=article.line_at(start),
                chunk_id=chunk_id,
                matched_terms=tuple(sorted(matched)),
            )
        )
    return quotes


def _best_window(
    article: Article,
    sentences: list[tuple[Sentence, float]],
    weights: dict[str, float],
    settings: AnswerSettings,
) -> tuple[int, int, float, set[str]]:
    """The run of 1..max_sentences adjacent sentences with the best score, and its terms."""
    total_weight = sum(weights.values()) or 1.0
    terms = [set(tokenize(article.text[s.start : s.end])) & weights.keys() for s, _ in sentences]
    best: tuple[float, int, int, set[str]] | None = None
    for first in range(len(sentences)):
        covered: set[str] = set()
        top_cosine = -1.0
        for last in range(first, min(first + settings.max_sentences, len(sentences))):
            if last > first and not _adjacent(article.text, sentences[last - 1][0], sentences[last][0]):
                break
            covered |= terms[last]
            top_cosine = max(top_cosine, sentences[last][1])
            coverage = sum(weights[t] for t in covered) / total_weight
            # Each extra sentence must pay for itself with words of the question it adds.
            score = top_cosine + settings.coverage_weight * coverage - 0.05 * (last - first)
            if best is None or score > best[0]:
                best = (score, first, last, set(covered))
    assert best is not None
    score, first, last, covered = best
    return sentences[first][0].start, sentences[last][0].end, score, covered


def _adjacent(text: str, before: Sentence, after: Sentence) -> bool:
    """Whether only whitespace within one paragraph separates two sentences."""
    gap = text[before.end : after.start]
    return gap.strip() == "" and gap.count("\n") <= 1


def _term_weights(index: Index, question: str) -> dict[str, float]:
    """IDF weights of the question's index terms."""
    frequency = index.document_frequency
    total = max(index.chunk_count, 1)
    return {
        term: math.log(1 + total / (1 + frequency.get(term, 0)))
        for term in set(tokenize(question))
    }
