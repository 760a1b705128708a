"""Answer questions by quoting, verbatim, the sentences that answer them: every sentence of the
retrieved articles is scored by the fitted answer-sentence scorer (``qa/scorer.py``), the best
become quotes (up to ``quotes_per_article`` from one article), the span that most likely answers
is marked inside each, and the bot declines when no sentence is close enough to the question."""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import date
from typing import Iterable, Sequence

import numpy as np

from qa.candidates import Candidate, gather_candidates
from qa.entities import NAME, QUOTE, dateline_end, matches_kind, name_head
from qa.features import FEATURES, QuestionTerms, feature_rows, new_mentions, question_anchors, question_terms
from qa.index import Index
from qa.models import Answer, Quote
from qa.rerank import PACKAGED, Reranker, load_reranker
from qa.retrieve import ArticleHit, Filters, Query, RetrievalSettings, retrieve, understand
from qa.scorer import SentenceScorer, packaged_scorer


@dataclass(frozen=True)
class AnswerSettings:
    """Knobs of quote selection and abstention."""

    candidate_articles: int = 10  # retrieved articles whose sentences are all scored
    # One article's second-best sentence may outrank other articles; a neighbour scoring
    # ``context_ratio`` of the best joins its quote. From the fit-week sweep of
    # bench/fit_scorer.py: 0.5 found the most answers at every per-article limit; 3 per article
    # found one more answer in the top 5 than 2 but pushes the other articles further down.
    quotes_per_article: int = 2
    context_ratio: float = 0.5
    # An article's next quote competes with other articles' quotes at this share of its score per
    # quote it already has: a second sentence of the best article comes first only when it is
    # well ahead. From the same sweep: 0.4 keeps the fit weeks' answers in the top 5 and finds
    # one more source article there than 1.0 (hit@5 0.872 -> 0.894, MRR@10 0.748 -> 0.754); 0.2
    # does the same (MRR 0.0005 higher) while holding back more second quotes.
    later_quote_weight: float = 0.4
    scorer: SentenceScorer | None = None  # None: the fitted scorer that ships with qa
    reranker: str = PACKAGED  # the cross-encoder: "default" (packaged), "none", or a model name
    # The scorer's best sentences that the cross-encoder reads: its cost grows with them, and
    # reading 8 keeps what reading 16 gains (the depth table of bench/fit_scorer.py).
    reranked: int = 8
    retrieval: RetrievalSettings = RetrievalSettings()


@dataclass(frozen=True)
class ScoredQuestion:
    """A question's retrieved articles and every candidate sentence with its features and the
    scorer's probability that it answers."""

    query: Query
    terms: QuestionTerms
    hits: tuple[ArticleHit, ...]
    candidates: tuple[Candidate, ...]
    features: np.ndarray
    scores: np.ndarray  # final: the scorer's, or the cross-encoder's for those it read
    best_cosine: float  # of the prose sentences: with best_probability, what abstention reads
    best_probability: float  # the scorer's (before the cross-encoder), of the prose sentences


def ask(
    index: Index,
    question: str,
    *,
    k: int = 5,
    as_of: date | None = None,
    filters: Filters = Filters(),
    settings: AnswerSettings = AnswerSettings(),
    context: Iterable[str] = (),
) -> Answer:
    """Answer one question with up to ``k`` quotes; ``context`` names the articles a follow-up
    is about (the previous answer's), which are favoured."""
    return answer_questions(
        index, [question], k=k, as_of=[as_of], filters=filters, settings=settings,
        context=[frozenset(context)],
    )[0]


def answer_questions(
    index: Index,
    questions: Sequence[str],
    *,
    k: int = 5,
    as_of: Sequence[date | None] | None = None,
    filters: Filters = Filters(),
    settings: AnswerSettings = AnswerSettings(),
    context: Sequence[frozenset[str]] | None = None,
) -> list[Answer]:
    """Answer many questions at once: one encode call and one search per batch.

    ``as_of`` gives, per question, the day it is asked: later articles are left out and recent
    ones favoured; relative words ("this week") count back from it. ``context`` gives, per
    question, the articles it follows up on: they are favoured.
    """
    questions = [q.strip() for q in questions]
    scorer = settings.scorer or packaged_scorer()
    answers = []
    for question, scored in zip(questions, score_questions(
        index, questions, k=k, as_of=as_of, filters=filters, settings=settings, context=context
    )):
        quotes = choose_quotes(index, scored, k, settings)
        answered = bool(quotes) and scorer.answers(scored.best_cosine, scored.best_probability)
        answers.append(Answer(question=question, answered=answered, quotes=tuple(quotes),
                              time_scope=scored.query.scope))
    return answers


def score_questions(
    index: Index,
    questions: Sequence[str],
    *,
    k: int = 5,
    as_of: Sequence[date | None] | None = None,
    filters: Filters = Filters(),
    settings: AnswerSettings = AnswerSettings(),
    context: Sequence[frozenset[str]] | None = None,
) -> list[ScoredQuestion]:
    """Retrieve articles for each question and score every sentence of them."""
    if not questions:
        return []
    scorer = settings.scorer or packaged_scorer()
    days = list(as_of) if as_of is not None else [None] * len(questions)
    contexts = list(context) if context is not None else [frozenset()] * len(questions)
    queries = [understand(index, q, d, filters, settings.retrieval, c)
               for q, d, c in zip(questions, days, contexts)]
    question_vectors = index.encoder.encode(list(questions))
    hits = retrieve(
        index, queries, k=max(k, settings.candidate_articles), settings=settings.retrieval,
        question_vectors=question_vectors,
    )
    candidates = [gather_candidates(index, found) for found in hits]
    # Sentence vectors were computed at index time: scoring them is one matrix product.
    rows = [c.sentence.vector_row for found in candidates for c in found]
    sentence_vectors = np.asarray(index.sentence_vectors[rows], dtype=np.float32)
    frequency, documents = index.document_frequency, index.chunk_count
    first_stage = []
    offset = 0
    for q, question in enumerate(questions):
        found = candidates[q]
        cosines = sentence_vectors[offset : offset + len(found)] @ question_vectors[q]
        offset += len(found)
        terms = question_terms(question, frequency, documents)
        features = feature_rows(terms, found, cosines, [h.score for h in hits[q]])
        first_stage.append((terms, features, scorer.probabilities(features)))
    reranker = load_reranker(settings.reranker)
    read = [best_prose(found, probabilities, settings.reranked)
            for found, (_, _, probabilities) in zip(candidates, first_stage)]
    logits = reranker.scores([
        (question, candidates[q][i].text) for q, question in enumerate(questions) for i in read[q]
    ]) if reranker is not None else np.zeros(0, dtype=np.float32)
    scored = []
    offset = 0
    for q, (terms, features, probabilities) in enumerate(first_stage):
        chosen = read[q] if reranker is not None else []
        final = favour_scope(queries[q], candidates[q], final_scores(
            probabilities, chosen, logits[offset : offset + len(chosen)], scorer, reranker))
        offset += len(chosen)
        scored.append(ScoredQuestion(queries[q], terms, tuple(hits[q]), tuple(candidates[q]),
                                     features, final,
                                     *best_prose_evidence(candidates[q], features, probabilities)))
    return scored


def best_prose_evidence(
    candidates: Sequence[Candidate], features: np.ndarray, probabilities: np.ndarray
) -> tuple[float, float]:
    """The highest cosine and the highest scorer probability of a prose candidate (of any
    candidate, if none is prose)."""
    if not len(candidates):
        return 0.0, 0.0
    quotable = _quotable(candidates)
    return (float(features[quotable, FEATURES.index("cosine")].max()),
            float(probabilities[quotable].max()))


def favour_scope(query: Query, candidates: Sequence[Candidate], scores: np.ndarray) -> np.ndarray:
    """Scores with the odds of sentences from articles inside the question's time scope
    multiplied by ``1 + query.boost``: the prior that retrieval applies to their articles."""
    inside = np.array([query.favours(c.article.date) for c in candidates], dtype=bool)
    if not inside.any() or query.boost <= 0:
        return scores
    odds = np.clip(scores, 1e-6, 1 - 1e-6) / (1 - np.clip(scores, 1e-6, 1 - 1e-6))
    odds[inside] *= 1 + query.boost
    return (odds / (1 + odds)).astype(np.float32)


def best_prose(candidates: Sequence[Candidate], scores: np.ndarray, count: int) -> list[int]:
    """The ``count`` best-scoring candidates that are prose (all candidates if none is)."""
    return sorted(_quotable(candidates), key=lambda i: -float(scores[i]))[:count]


def _prose(candidates: Sequence[Candidate]) -> list[int]:
    """The positions of the candidates that are prose, not page furniture."""
    return [i for i, c in enumerate(candidates) if not c.sentences.furniture[c.position]]


def _quotable(candidates: Sequence[Candidate]) -> list[int]:
    """The prose candidates, or every candidate when none is prose."""
    return _prose(candidates) or list(range(len(candidates)))


def final_scores(
    probabilities: np.ndarray,
    read: list[int],
    logits: np.ndarray,
    scorer: SentenceScorer,
    reranker: Reranker | None,
) -> np.ndarray:
    """Final scores: the packaged cross-encoder's logit and the scorer's are combined by weights
    fitted with it (bench/fit_scorer.py); a named cross-encoder's own score orders what it read.
    Sentences it did not read are scaled below those it did."""
    packaged = reranker is not None and reranker.name == PACKAGED
    if reranker is None or not read:
        return probabilities
    if packaged:
        first = np.log(np.clip(probabilities[read], 1e-6, 1 - 1e-6))
        first -= np.log1p(-np.clip(probabilities[read], 1e-6, 1 - 1e-6))
        read_scores = scorer.rerank(logits, first)
    else:  # a named cross-encoder's probabilities
        read_scores = logits
    final = probabilities.copy()
    floor = float(read_scores.min())
    cut = max(float(probabilities[read].min()), 1e-9)
    final *= max(floor, 0.0) / cut  # the unread stay below every read sentence
    final[read] = read_scores
    return final.astype(np.float32)


def choose_quotes(index: Index, scored: ScoredQuestion, k: int, settings: AnswerSettings) -> list[Quote]:
    """The best sentences as quotes, best first: at most ``quotes_per_article`` from one article
    (each after the first weighed down by ``later_quote_weight``) and none touching another
    quote; page furniture only when no prose sentence is left."""
    candidates, scores = scored.candidates, scored.scores
    prose = _prose(candidates)
    pool = prose or list(range(len(candidates)))
    in_prose = set(prose)
    holds_kind = scored.features[:, FEATURES.index("has_exact_kind")] if len(candidates) else scores
    used: dict[int, list[tuple[int, int]]] = {}  # hit rank -> candidate index spans quoted
    quotes: list[Quote] = []
    # Best first by score x later_quote_weight ** (quotes its article has): an entry made when
    # its article had fewer quotes is put back with its lower weight before it competes.
    queue = [(-float(scores[i]), i, 0) for i in pool]
    heapq.heapify(queue)
    while queue and len(quotes) < k:
        _, i, quoted_then = heapq.heappop(queue)
        hit = candidates[i].hit_rank
        taken = used.setdefault(hit, [])
        if len(taken) >= settings.quotes_per_article:
            continue
        if len(taken) != quoted_then:
            weight = settings.later_quote_weight ** len(taken)
            heapq.heappush(queue, (-float(scores[i]) * weight, i, len(taken)))
            continue
        first, last = _window(candidates, scores, holds_kind, i, settings.context_ratio, in_prose)
        if any(first - 1 <= other_last and other_first - 1 <= last for other_first, other_last in taken):
            continue  # touches a quote of this article already chosen
        taken.append((first, last))
        quotes.append(_quote(index, scored, len(quotes) + 1, i, first, last))
    return quotes


def _window(
    candidates: Sequence[Candidate],
    scores: np.ndarray,
    holds_kind: np.ndarray,
    best: int,
    ratio: float,
    prose: set[int],
) -> tuple[int, int]:
    """The best sentence, with the sentence next to it when that one scores ``ratio`` of it, or
    holds the asked kind of answer that the best sentence lacks (news often names the answer
    in one sentence and matches the question's words in the next)."""
    here = candidates[best]
    neighbours = [
        j for j in (best - 1, best + 1)
        if 0 <= j < len(candidates) and j in prose and candidates[j].sentences is here.sentences
        and (scores[j] >= ratio * scores[best] or (holds_kind[j] and not holds_kind[best]))
    ]
    if not neighbours:
        return best, best
    partner = max(neighbours, key=lambda j: (bool(holds_kind[j]), float(scores[j])))
    return min(best, partner), max(best, partner)


def _quote(index: Index, scored: ScoredQuestion, rank: int, best: int, first: int, last: int) -> Quote:
    candidates = scored.candidates
    article = candidates[best].article
    start, end = candidates[first].sentence.start, candidates[last].sentence.end
    matched = set()
    for j in range(first, last + 1):
        matched.update(t for t in candidates[j].sentences.terms[candidates[j].position]
                       if t in scored.terms.weights)
    span = answer_span([candidates[j] for j in range(first, last + 1)], candidates[best],
                       scored.terms)
    return Quote(
        rank=rank,
        text=article.text[start:end],
        score=round(float(scored.scores[best]), 4),
        article=article,
        start=start,
        end=end,
        line=article.line_at(start),
        chunk_id=candidates[best].sentences.chunk_ids[candidates[best].position],
        matched_terms=tuple(sorted(matched)),
        copies=tuple(index.copies_of(article.id)),
        answer_start=None if span is None else span[0],
        answer_end=None if span is None else span[1],
    )


def _plural_of_asked(name: str, asked: frozenset[str]) -> bool:
    """Whether a name is one the question names, in the plural ("Stanley Cups" for "Stanley Cup")."""
    named = [w.lower() for w in name.split()]
    return named[-1].endswith("s") and {*named[:-1], named[-1][:-1]} <= asked


def answer_span(
    window: Sequence[Candidate], best: Candidate, terms: QuestionTerms
) -> tuple[int, int] | None:
    """Where in the article the answer most likely is within a quote's sentences: the mention of
    the asked kind (or the quoted speech) nearest the question's words in the best sentence;
    None when the quote holds none."""
    kind = terms.kind
    if kind is None:
        return None
    # (start, end, rank) in article offsets; rank 0: of the exact kind (or an untyped name the
    # article types as it elsewhere: "Gronkowski said"), 1: a name that may be of it, 2: a name
    # the article types as another kind, or one untyped capitalised word opening its sentence
    # ("Under the law, ...", most often not a name at all)
    mentions = []
    anchors = []
    for candidate in window:
        offset = candidate.sentence.start
        text = candidate.text
        typed_by_article = candidate.sentences.name_kinds
        dateline = dateline_end(text)
        for m in new_mentions(candidate, terms):
            if (not matches_kind(m, kind) or m.start < dateline
                    or _plural_of_asked(text[m.start : m.end], terms.words)):
                continue
            found = m.kind
            if found == NAME:
                found = typed_by_article.get(name_head(text[m.start : m.end]), NAME)
            opening = m.start == 0 and found == NAME and " " not in text[m.start : m.end]
            rank = 2 if opening else 0 if found == kind else 1 if NAME in (found, kind) else 2
            mentions.append((offset + m.start, offset + m.end, rank))
        if candidate is best:
            anchors = [offset + a for a in question_anchors(candidate, set(terms.weights))]
    if not mentions:
        return None
    if kind == QUOTE:
        start, end, _ = max(mentions, key=lambda m: m[1] - m[0])
        return start, end

    def distance(mention: tuple[int, int, int]) -> tuple[int, float, int]:
        middle = (mention[0] + mention[1]) / 2
        near = min((abs(middle - a) for a in anchors), default=0.0)
        return (mention[2], near, mention[0])

    start, end, _ = min(mentions, key=distance)
    return start, end
