"""The sentences that may answer a question: every sentence of each retrieved article, each with
where it stands (paragraph, position, the passage that retrieved it) and whether it is page
furniture rather than prose, with its question-independent analysis (``qa/analysis.py``)."""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Sequence

import numpy as np

from qa.analysis import HEADING, PROSE, SHAPE_FEATURES, SentenceAnalysis, analyse, from_json, furniture_kind
from qa.entities import Mention, article_name_kinds
from qa.models import Article, Sentence

if TYPE_CHECKING:
    from qa.index import Index
    from qa.retrieve import ArticleHit

__all__ = ["SHAPE_FEATURES", "ArticleSentences", "Candidate", "furniture_kind", "gather_candidates",
           "sentences_of"]


@dataclass(frozen=True)
class ArticleSentences:
    """An article's sentences with what answer selection needs to know about each, built once
    per article and cached: index terms, paragraph number, furniture flag, the heading above it,
    the chunk that holds it, typed mentions, and sets derived from them for fast scoring."""

    article: Article
    sentences: tuple[Sentence, ...]
    terms: tuple[tuple[str, ...], ...]
    paragraphs: tuple[int, ...]
    furniture: tuple[bool, ...]
    headings: tuple[tuple[str, ...], ...]  # index terms of the nearest heading above, if any
    chunk_ids: tuple[str, ...]
    mentions: tuple[tuple[Mention, ...], ...]  # typed spans, offsets relative to the sentence
    term_middles: tuple[tuple[float, ...] | None, ...]  # where each term is in the sentence
    term_counts: tuple[dict[str, int], ...]
    bigrams: tuple[frozenset[tuple[str, str]], ...]
    mention_words: tuple[tuple[frozenset[str], ...], ...]  # the words of each mention
    shape: np.ndarray  # per sentence: SHAPE_FEATURES, which do not depend on the question

    @cached_property
    def name_kinds(self) -> dict[str, str]:
        """The kind (person, organisation, place) the article gives each name's last word
        (``qa.entities.article_name_kinds`` over the stored mentions)."""
        return article_name_kinds(self.article.text, (
            Mention(sentence.start + m.start, sentence.start + m.end, m.kind)
            for sentence, mentions in zip(self.sentences, self.mentions) for m in mentions))


@dataclass(frozen=True)
class Candidate:
    """One sentence that may answer a question: sentence ``position`` of ``hit_rank``-th
    retrieved article, and the fused score of the best retrieved passage holding it (0: none)."""

    sentences: ArticleSentences
    position: int
    hit_rank: int
    passage_score: float

    @property
    def sentence(self) -> Sentence:
        return self.sentences.sentences[self.position]

    @property
    def article(self) -> Article:
        return self.sentences.article

    @property
    def text(self) -> str:
        sentence = self.sentence
        return self.article.text[sentence.start : sentence.end]


def gather_candidates(index: Index, hits: Sequence[ArticleHit]) -> list[Candidate]:
    """Every sentence of every hit's article, in retrieval order and article order."""
    found = []
    for rank, hit in enumerate(hits):
        article = hit.passages[0].article
        known = sentences_of(index, article)
        passage_scores = [0.0] * len(known.sentences)
        for passage in hit.passages:
            for position, sentence in enumerate(known.sentences):
                if passage.chunk.start <= sentence.start < passage.chunk.end:
                    passage_scores[position] = max(passage_scores[position], passage.score)
        found += [Candidate(known, p, rank, passage_scores[p]) for p in range(len(known.sentences))]
    return found


_CACHE_SIZE = 4096
_cache: OrderedDict[tuple[str, str, str], ArticleSentences] = OrderedDict()


def sentences_of(index: Index, article: Article) -> ArticleSentences:
    """The analysed sentences of an indexed article (cached per index generation)."""
    key = (str(index.generation), article.id, article.content_hash)
    cached = _cache.get(key)
    if cached is not None:
        _cache.move_to_end(key)
        return cached
    sentences, chunk_ids = index.article_sentences(article.id)
    stored = index.sentence_analysis(article.id)
    analysis = from_json(stored, len(sentences)) if stored is not None else None
    analysed = article_sentences(article, sentences, chunk_ids,
                                 analysis or analyse(article.text, sentences))
    _cache[key] = analysed
    if len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return analysed


def article_sentences(
    article: Article, sentences: Sequence[Sentence], chunk_ids: Sequence[str], analysis: SentenceAnalysis
) -> ArticleSentences:
    """An article's sentences, ready for scoring, from their analysis."""
    terms = analysis.terms
    headings = []
    current: tuple[str, ...] = ()
    for position, code in enumerate(analysis.furniture):
        if code == HEADING:
            current = terms[position]
        headings.append(() if code == HEADING else current)
    return ArticleSentences(
        article=article,
        sentences=tuple(sentences),
        terms=terms,
        paragraphs=analysis.paragraphs,
        furniture=tuple(code != PROSE for code in analysis.furniture),
        headings=tuple(headings),
        chunk_ids=tuple(chunk_ids),
        mentions=analysis.mentions,
        term_middles=analysis.term_middles,
        term_counts=tuple(dict(Counter(t)) for t in terms),
        bigrams=tuple(frozenset(zip(t, t[1:])) for t in terms),
        mention_words=analysis.mention_words,
        shape=np.array(analysis.shape, dtype=np.float32).reshape(len(sentences), len(SHAPE_FEATURES)),
    )
