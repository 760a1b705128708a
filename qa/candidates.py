"""The sentences that may answer a question: every sentence of each retrieved article, each with
where it stands (paragraph, position, the passage that retrieved it) and whether it is page
furniture (a heading, byline, caption, dateline or link list) rather than prose."""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from qa.entities import Mention, find_mentions
from qa.lexical import tokenize
from qa.models import Article, Sentence

if TYPE_CHECKING:
    from qa.index import Index
    from qa.retrieve import ArticleHit


@dataclass(frozen=True)
class ArticleSentences:
    """An article's sentences with what answer selection needs to know about each, computed
    once per article and cached: index terms, paragraph number, furniture flag, the heading
    above it, and the chunk that holds it."""

    article: Article
    sentences: tuple[Sentence, ...]
    terms: tuple[tuple[str, ...], ...]
    paragraphs: tuple[int, ...]
    furniture: tuple[bool, ...]
    headings: tuple[tuple[str, ...], ...]  # index terms of the nearest heading above, if any
    chunk_ids: tuple[str, ...]
    mentions: tuple[tuple[Mention, ...], ...]  # typed spans, offsets relative to the sentence


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
_cache: OrderedDict[tuple[int, str, str], ArticleSentences] = OrderedDict()


def sentences_of(index: Index, article: Article) -> ArticleSentences:
    """The analysed sentences of an indexed article (cached per index generation)."""
    key = (id(index), article.id, article.content_hash)
    cached = _cache.get(key)
    if cached is not None:
        _cache.move_to_end(key)
        return cached
    sentences, chunk_ids = index.article_sentences(article.id)
    analysed = analyse_sentences(article, sentences, chunk_ids)
    _cache[key] = analysed
    if len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return analysed


def analyse_sentences(
    article: Article, sentences: Sequence[Sentence], chunk_ids: Sequence[str]
) -> ArticleSentences:
    """Terms, paragraphs, furniture and headings of an article's sentences."""
    text = article.text
    paragraph_starts = [0] + [m.end() for m in _PARAGRAPH_BREAK.finditer(text)]
    paragraphs, furniture, headings = [], [], []
    current_heading: tuple[str, ...] = ()
    paragraph = -1
    kind = "prose"
    for sentence in sentences:
        number = _paragraph_of(paragraph_starts, sentence.start)
        if number != paragraph:
            paragraph = number
            start = paragraph_starts[number]
            end = paragraph_starts[number + 1] if number + 1 < len(paragraph_starts) else len(text)
            kind = furniture_kind(text[start:end])
        own = kind
        if own == "prose" and _whole_line(text, sentence):
            own = furniture_kind(text[sentence.start : sentence.end])
        if own == "heading":
            current_heading = tuple(tokenize(text[sentence.start : sentence.end]))
        paragraphs.append(paragraph)
        furniture.append(own != "prose")
        headings.append(() if own == "heading" else current_heading)
    return ArticleSentences(
        article=article,
        sentences=tuple(sentences),
        terms=tuple(tuple(tokenize(text[s.start : s.end])) for s in sentences),
        paragraphs=tuple(paragraphs),
        furniture=tuple(furniture),
        headings=tuple(headings),
        chunk_ids=tuple(chunk_ids),
        mentions=tuple(tuple(find_mentions(text[s.start : s.end])) for s in sentences),
    )


def _whole_line(text: str, sentence: Sentence) -> bool:
    """Whether a sentence is a line of its own (a heading glued to the paragraph below)."""
    before = text[: sentence.start].rstrip(" \t")
    after = text[sentence.end :].lstrip(" \t")
    return (not before or before.endswith("\n")) and (not after or after.startswith("\n"))


def _paragraph_of(starts: list[int], offset: int) -> int:
    from bisect import bisect_right

    return bisect_right(starts, offset) - 1


_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n+")
_TERMINAL = re.compile(r"[.!?…][\"”’')\]]*$|[\"”’][.!?]?$")
_CAPTION = re.compile(
    r"Video Ad Feedback|\s-\sSource:\s\w+|Hide Caption|Getty Images|\bAP Photo\b|\bPhotos?:|"
    r"\bImage:|\bCredit:|\(Photo\b|\bPhoto (?:by|courtesy)\b|\bCourtesy of\b|"
    r"^[A-Z][A-Z .'-]+, [A-Z][A-Z .'-]+ - [A-Z]+ \d{1,2}:|"
    r"(?:^|\s)(?:[A-Z][\w.'’-]*\s){0,4}[A-Z][\w.'’-]*/(?:[A-Z][\w.'’-]*\s?)+\)?$"
)
_BYLINE = re.compile(
    r"^By\s[A-Z][\w.'’-]*(?:\s[A-Z][\w.'’-]*){0,3}(?:,.{0,40})?[\s;]*$|contributed to this report|"
    r"^(?:Updated|Published|Posted)\s.{0,60}$|^(?:Advertisement|Story continues below|Share this)"
)
_DATELINE = re.compile(
    r"^[A-Z][\w.,'’ ]{0,40}?\(?(?:CNN|AP|Reuters|AFP|CNN Business|CNN Sport)?\)?\s*[—–-]+\s*$|"
    r"^[A-Z][A-Z .,'’-]{2,40}\s*[—–-]?\s*$"
)


def furniture_kind(paragraph: str) -> str:
    """``prose``, or the kind of page furniture a paragraph is: ``heading`` (a short line that
    does not end a sentence), ``caption`` (photo and video captions, credits), ``byline``,
    ``dateline`` or ``list`` (a link or bullet line)."""
    line = " ".join(paragraph.split())
    if not line:
        return "heading"
    if _CAPTION.search(line):
        return "caption"
    if _BYLINE.search(line):
        return "byline"
    if _DATELINE.match(line):
        return "dateline"
    words = len(line.split())
    if line[0] in "-*•" and not _TERMINAL.search(line):
        return "list"
    if not _TERMINAL.search(line) and words <= 20:
        return "heading"
    if line.endswith(":") and words <= 12:
        return "heading"
    return "prose"
