"""Answer questions by quoting, from each retrieved article, the 1-3 consecutive sentences that
best answer it, verbatim, and decline when the best quote is too weak."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from typing import Sequence

import numpy as np

from qa.index import Index
from qa.lexical import tokenize
from qa.models import Answer, Article, Quote, Sentence
from qa.retrieve import ArticleHit, Filters, RetrievalSettings, retrieve, understand

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class AnswerSettings:
    """Knobs of quote selection and abstention; defaults measured on the dev benchmark (bench/)."""

    candidate_articles: int = 10  # articles whose sentences are scored before the final ranking
    coverage_weight: float = 0.3  # weight of the question's (IDF-weighted) words found in a quote
    retrieval_weight: float = 1.0  # weight of the article's fused retrieval score in its ranking
    max_sentences: int = 3
    answer_type_weight: float = 0.3  # the kind of answer the question wants is in the quote
    question_penalty: float = 0.3  # a quote that is itself a question answers nothing
    min_score: float = 0.60  # below this the best quote does not answer the question (bench/)
    retrieval: RetrievalSettings = RetrievalSettings()


def ask(
    index: Index,
    question: str,
    *,
    k: int = 5,
    as_of: date | None = None,
    filters: Filters = Filters(),
    settings: AnswerSettings = AnswerSettings(),
) -> Answer:
    """Answer one question with up to ``k`` quotes from different articles."""
    return answer_questions(
        index, [question], k=k, as_of=[as_of], filters=filters, settings=settings
    )[0]


def answer_questions(
    index: Index,
    questions: Sequence[str],
    *,
    k: int = 5,
    as_of: Sequence[date | None] | None = None,
    filters: Filters = Filters(),
    settings: AnswerSettings = AnswerSettings(),
) -> list[Answer]:
    """Answer many questions at once: one encode call and one search per batch.

    ``as_of`` gives, per question, the day it is asked: later articles are left out and recent
    ones favoured; relative words ("this week") count back from it.
    """
    questions = [q.strip() for q in questions]
    if not questions:
        return []
    days = list(as_of) if as_of is not None else [None] * len(questions)
    queries = [
        understand(index, q, d, filters, settings.retrieval) for q, d in zip(questions, days)
    ]
    encoder = index.encoder
    question_vectors = encoder.encode(questions)
    hits = retrieve(
        index,
        queries,
        k=max(k, settings.candidate_articles),
        settings=settings.retrieval,
        question_vectors=question_vectors,
    )
    candidates = [_candidate_sentences(question_hits) for question_hits in hits]
    # Sentence vectors were computed at index time: scoring them is one matrix product.
    rows = [s.vector_row for found in candidates for _, s, _ in found]
    sentence_vectors = np.asarray(index.sentence_vectors[rows], dtype=np.float32)
    answers = []
    offset = 0
    for q, question in enumerate(questions):
        found = candidates[q]
        similarity = sentence_vectors[offset : offset + len(found)] @ question_vectors[q]
        offset += len(found)
        quotes = _choose_quotes(index, question, hits[q], found, similarity, k, settings)
        answered = bool(quotes) and quotes[0].score >= settings.min_score
        answers.append(
            Answer(question=question, answered=answered, quotes=tuple(quotes),
                   time_scope=queries[q].scope)
        )
    return answers


def _candidate_sentences(hits: list[ArticleHit]) -> list[tuple[Article, Sentence, int]]:
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
    wanted = answer_type(question)
    by_hit: dict[int, list[tuple[Sentence, float]]] = {}
    for (article, sentence, position), cosine in zip(found, similarity):
        by_hit.setdefault(position, []).append((sentence, float(cosine)))
    top_retrieval = hits[0].score if hits else 1.0
    scored = []
    for position, sentences in by_hit.items():
        hit = hits[position]
        article = hit.passages[0].article
        sentences.sort(key=lambda item: item[0].start)
        start, end, score, evidence, matched = _best_window(
            article, sentences, weights, wanted, question, settings
        )
        rank_score = score + settings.retrieval_weight * hit.score / top_retrieval
        scored.append((rank_score, evidence, article, start, end, matched, hit))
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
                copies=tuple(index.copies_of(article.id)),
            )
        )
    return quotes


def _best_window(
    article: Article,
    sentences: list[tuple[Sentence, float]],
    weights: dict[str, float],
    wanted: str | None,
    question: str,
    settings: AnswerSettings,
) -> tuple[int, int, float, set[str]]:
    """The run of 1..max_sentences adjacent sentences with the best score: its span, that score,
    its evidence (similarity to the question plus the question's words it holds) and terms."""
    total_weight = sum(weights.values()) or 1.0
    texts = [article.text[s.start : s.end] for s, _ in sentences]
    terms = [set(tokenize(t)) & weights.keys() for t in texts]
    bonus = [
        settings.answer_type_weight * has_answer_type(t, wanted, question)
        - settings.question_penalty * t.rstrip("”\"' ").endswith("?")
        for t in texts
    ]
    best: tuple[float, float, int, int, set[str]] | None = None
    for first in range(len(sentences)):
        covered: set[str] = set()
        top_cosine = -1.0
        top_bonus = -1.0
        for last in range(first, min(first + settings.max_sentences, len(sentences))):
            if last > first and not _adjacent(article.text, sentences[last - 1][0], sentences[last][0]):
                break
            covered |= terms[last]
            top_cosine = max(top_cosine, sentences[last][1])
            top_bonus = max(top_bonus, bonus[last])
            coverage = sum(weights[t] for t in covered) / total_weight
            # Each extra sentence must pay for itself with words of the question it adds.
            evidence = top_cosine + settings.coverage_weight * coverage
            score = evidence + top_bonus - 0.05 * (last - first)
            if best is None or score > best[0]:
                best = (score, evidence, first, last, set(covered))
    assert best is not None
    score, evidence, first, last, covered = best
    return sentences[first][0].start, sentences[last][0].end, score, evidence, covered


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


_NUMBER_QUESTION = re.compile(
    r"\bhow (?:many|much|long|old|far|big|high|tall|large|often)\b|\bwhat (?:percentage|percent|"
    r"number|amount|age|price|magnitude|temperature)\b", re.I)
_TIME_QUESTION = re.compile(r"\bwhen\b|\bwhat (?:year|date|day|month|time)\b|\bhow soon\b", re.I)
_NAME_QUESTION = re.compile(r"\b(?:who|whom|whose|which|where|what)\b", re.I)
_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
    r"fifty|hundred|thousand|million|billion|trillion|dozen|half)\b", re.I)
_TIME = re.compile(
    r"\b(?:\d{4}|january|february|march|april|may|june|july|august|september|october|november|"
    r"december|monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|tomorrow|"
    r"yesterday|week|month|year|soon|later|next|last|days?|hours?)\b", re.I)
_CAPITALIZED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w’'-]+")


def answer_type(question: str) -> str | None:
    """What kind of answer a question asks for: ``number``, ``time``, ``name`` or None."""
    if _NUMBER_QUESTION.search(question):
        return "number"
    if _TIME_QUESTION.search(question):
        return "time"
    if _NAME_QUESTION.search(question):
        return "name"
    return None


def has_answer_type(text: str, wanted: str | None, question: str) -> bool:
    """Whether ``text`` holds something of the wanted kind that the question does not."""
    if wanted == "number":
        return bool(_NUMBER.search(text))
    if wanted == "time":
        return bool(_TIME.search(text))
    if wanted == "name":
        asked = {w.lower() for w in _WORD.findall(question)}
        return any(m.group().lower() not in asked for m in _CAPITALIZED.finditer(text))
    return False
