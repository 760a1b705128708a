"""Hybrid retrieval: dense (FAISS) and lexical (BM25) rankings of chunks fused by reciprocal rank,
then grouped per article so that one article does not fill every slot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Sequence

import numpy as np

from qa.index import Index
from qa.models import Filters, Passage
from qa.when import TimeScope, time_scope


@dataclass(frozen=True)
class RetrievalSettings:
    """Knobs of the fusion; the defaults were chosen on the dev benchmark (see bench/)."""

    candidates: int = 100  # chunks taken from each ranking before fusion
    rrf_k: float = 60.0
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    passages_per_article: int = 2
    second_passage_weight: float = 0.3
    scope_boost: float = 2.0  # articles dated inside the question's time scope score x(1 + this)
    as_of_window_days: int = 7  # with an explicit as-of date, the days before it that are favoured
    as_of_boost: float = 1.0
    # A follow-up's conversation articles (the previous answer's) score x(1 + this): chosen on the
    # 61 dev conversations of bench/chat_followups.py, before its weekday and contraction rules
    # (0: 0.791, 0.5: 0.824, 1.0: 0.835 but the first 37 fell 0.891 -> 0.873; also as a prior on
    # sentence scores, 0.813); with those rules, 0.5: 0.835.
    context_boost: float = 0.5


@dataclass(frozen=True)
class Query:
    """A question as retrieval understood it: its text, the dates it favours, its filters."""

    text: str
    scope: TimeScope | None = None
    boost: float = 0.0  # articles dated inside ``scope`` score x(1 + boost)
    filters: Filters = Filters()
    context: frozenset[str] = frozenset()  # a follow-up's conversation: the articles it is about
    context_boost: float = 0.0  # they score x(1 + context_boost)

    def favours(self, published: str | None) -> bool:
        """Whether an article published on this day (ISO date, or None) is inside the scope."""
        day = _day(published)
        return day is not None and self.scope is not None and self.scope.contains(day)


def understand(
    index: Index,
    question: str,
    as_of: date | None = None,
    filters: Filters = Filters(),
    settings: RetrievalSettings = RetrievalSettings(),
    context: frozenset[str] = frozenset(),
) -> Query:
    """Find the time scope of a question; relative words count back from ``as_of`` or, without
    it, from the newest article in the archive. With ``as_of``, later articles are left out.
    ``context`` names the articles a follow-up is about (the previous answer's): they are favoured."""
    if as_of is not None and (filters.until is None or as_of < filters.until):
        filters = Filters(filters.since, as_of, filters.sources)
    boost_of_context = settings.context_boost if context else 0.0
    scope = time_scope(question, as_of or index.newest_date)
    if scope is not None:
        return Query(question, scope, settings.scope_boost, filters, context, boost_of_context)
    if as_of is not None:
        window = TimeScope(as_of - timedelta(days=settings.as_of_window_days), as_of,
                           f"asked on {as_of}")
        return Query(question, window, settings.as_of_boost, filters, context, boost_of_context)
    return Query(question, filters=filters, context=context, context_boost=boost_of_context)


@dataclass(frozen=True)
class ArticleHit:
    """An article and its best passages for one question, best first."""

    article_id: str
    score: float
    passages: tuple[Passage, ...]


def retrieve(
    index: Index,
    queries: Sequence[Query],
    *,
    k: int = 10,
    settings: RetrievalSettings = RetrievalSettings(),
    question_vectors: np.ndarray | None = None,
) -> list[list[ArticleHit]]:
    """The ``k`` best articles for each query, with their best passages (batch-first)."""
    if not queries:
        return []
    questions = [q.text for q in queries]
    if question_vectors is None:
        question_vectors = index.encoder.encode(questions)
    results: list[list[ArticleHit]] = [[] for _ in queries]
    # Questions with the same filters are searched together.
    groups: dict[Filters, list[int]] = {}
    for q, query in enumerate(queries):
        groups.setdefault(query.filters, []).append(q)
    for filters, members in groups.items():
        engine_search = getattr(index, "hybrid_search", None)
        if engine_search is not None:  # an engine that fuses and groups itself (qa/milvus_store.py)
            fused_lists = engine_search(question_vectors[members], [questions[q] for q in members],
                                        settings.candidates, filters, settings.rrf_k,
                                        settings.passages_per_article)
            for q, fused in zip(members, fused_lists):
                results[q] = _group_by_article(index, fused, k, settings, queries[q])
            continue
        allowed = index.rows_matching(filters) if filters.active else None
        total = index.chunk_count if allowed is None else len(allowed)
        depth = min(settings.candidates, total)
        if depth == 0:
            continue
        dense = index.dense_search(question_vectors[members], depth, allowed)
        lexical = index.lexical_search([questions[q] for q in members], depth, allowed)
        for position, q in enumerate(members):
            fused = fuse_rankings(dense[position], lexical[position], settings)
            results[q] = _group_by_article(index, fused, k, settings, queries[q])
    return results


def fuse_rankings(
    dense: list[tuple[int, float]],
    lexical: list[tuple[int, float]],
    settings: RetrievalSettings = RetrievalSettings(),
) -> list[tuple[int, float, float | None, float | None]]:
    """Reciprocal rank fusion of two rankings of chunk rows: (row, fused, dense, lexical), best first."""
    fused: dict[int, list] = {}
    for rank, (row, score) in enumerate(dense):
        entry = fused.setdefault(row, [0.0, None, None])
        entry[0] += settings.dense_weight / (settings.rrf_k + rank + 1)
        entry[1] = score
    for rank, (row, score) in enumerate(lexical):
        entry = fused.setdefault(row, [0.0, None, None])
        entry[0] += settings.lexical_weight / (settings.rrf_k + rank + 1)
        entry[2] = score
    ranked = sorted(fused.items(), key=lambda item: -item[1][0])
    return [(row, v[0], v[1], v[2]) for row, v in ranked]


def _group_by_article(
    index: Index,
    fused: list[tuple[int, float, float | None, float | None]],
    k: int,
    settings: RetrievalSettings,
    query: Query,
) -> list[ArticleHit]:
    # Group and rank by article from row ids alone; only the kept passages are read from the store.
    owners = index.chunk_owners
    grouped: dict[str, list[tuple[int, float, float | None, float | None]]] = {}
    for entry in fused:
        rows = grouped.setdefault(owners[entry[0]], [])
        if len(rows) < settings.passages_per_article:
            rows.append(entry)
    ranked = []
    for article_id, rows in grouped.items():
        score = rows[0][1] + sum(settings.second_passage_weight * r[1] for r in rows[1:])
        if query.favours(index.article_dates.get(article_id)):
            score *= 1 + query.boost
        if article_id in query.context:
            score *= 1 + query.context_boost
        ranked.append((score, article_id, rows))
    ranked.sort(key=lambda item: -item[0])
    # Syndicated copies of one story count once: the best-scoring copy stands for the group.
    seen_groups: set[str] = set()
    kept = []
    for item in ranked:
        group = index.copies.get(item[1])
        if group is not None:
            if group in seen_groups:
                continue
            seen_groups.add(group)
        kept.append(item)
        if len(kept) == k:
            break
    chunks = iter(index.chunks([r[0] for _, _, rows in kept for r in rows]))
    hits = []
    for score, article_id, rows in kept:
        article = index.article(article_id)
        passages = tuple(Passage(next(chunks), article, r[1], r[2], r[3]) for r in rows)
        hits.append(ArticleHit(article_id, score, passages))
    return hits


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None
