"""What answer selection needs to know about each sentence of an article that does not depend on
the question: its index terms, its typed mentions (qa/entities.py), its paragraph, whether it is
page furniture (a heading, byline, caption, dateline or link list) rather than prose, and its
shape. Computed once per article when it is indexed and stored with it (``to_json``), so a
question only reads it back; an index written before this existed gets it computed on first use."""

from __future__ import annotations

import json
import math
import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import Sequence

from qa.entities import KINDS, Mention, find_mentions
from qa.lexical import stemmed_words, tokenize, words
from qa.models import Sentence

# Bump when what ``analyse`` computes changes (patterns, tokenizer): stored analyses of another
# version are not used, and ``qa index`` writes them anew.
ANALYSIS_VERSION = 2

PROSE, HEADING, OTHER_FURNITURE = "p", "h", "x"
SHAPE_FEATURES = ("has_speech", "first_sentence", "position", "length_log", "short", "is_question")
_SPEECH = ("said", "says", "told", "tweeted", "wrote", "added", "stated", "according")


@dataclass(frozen=True)
class SentenceAnalysis:
    """Per sentence of an article, in text order: index terms, typed mentions (offsets relative
    to the sentence) with the words of each, paragraph number, furniture code (``PROSE``,
    ``HEADING`` or ``OTHER_FURNITURE``) and ``SHAPE_FEATURES``."""

    terms: tuple[tuple[str, ...], ...]
    # the middle of each term's word in the sentence (None where the text is not NFC and the
    # words read differently from the terms)
    term_middles: tuple[tuple[float, ...] | None, ...]
    mentions: tuple[tuple[Mention, ...], ...]
    mention_words: tuple[tuple[frozenset[str], ...], ...]
    paragraphs: tuple[int, ...]
    furniture: str  # one code per sentence
    shape: tuple[tuple[float, ...], ...]

    def to_json(self) -> str:
        return json.dumps({
            "version": ANALYSIS_VERSION,
            "terms": [" ".join(t) for t in self.terms],
            "term_middles": [None if m is None else list(m) for m in self.term_middles],
            "mentions": [[[m.start, m.end, KINDS.index(m.kind)] for m in found] for found in self.mentions],
            "mention_words": [[" ".join(sorted(w)) for w in found] for found in self.mention_words],
            "paragraphs": list(self.paragraphs),
            "furniture": self.furniture,
            "shape": [list(row) for row in self.shape],
        }, separators=(",", ":"), ensure_ascii=False)


def from_json(data: str, sentences: int) -> SentenceAnalysis | None:
    """A stored analysis, or None when it is of another version or for other sentences."""
    stored = json.loads(data)
    if stored.get("version") != ANALYSIS_VERSION or len(stored["paragraphs"]) != sentences:
        return None
    return SentenceAnalysis(
        terms=tuple(tuple(t.split()) for t in stored["terms"]),
        term_middles=tuple(None if m is None else tuple(m) for m in stored["term_middles"]),
        mentions=tuple(tuple(Mention(s, e, KINDS[k]) for s, e, k in found) for found in stored["mentions"]),
        mention_words=tuple(tuple(frozenset(w.split()) for w in found) for found in stored["mention_words"]),
        paragraphs=tuple(stored["paragraphs"]),
        furniture=stored["furniture"],
        shape=tuple(tuple(row) for row in stored["shape"]),
    )


def analyse(text: str, sentences: Sequence[Sentence]) -> SentenceAnalysis:
    """The analysis of the sentences of an article whose cleaned text is ``text``."""
    paragraph_starts = [0] + [m.end() for m in _PARAGRAPH_BREAK.finditer(text)]
    paragraphs, furniture = [], []
    paragraph = -1
    kind = "prose"
    for sentence in sentences:
        number = bisect_right(paragraph_starts, sentence.start) - 1
        if number != paragraph:
            paragraph = number
            start = paragraph_starts[number]
            end = paragraph_starts[number + 1] if number + 1 < len(paragraph_starts) else len(text)
            kind = furniture_kind(text[start:end])
        own = kind
        if own == "prose" and _whole_line(text, sentence):
            own = furniture_kind(text[sentence.start : sentence.end])
        paragraphs.append(paragraph)
        furniture.append(PROSE if own == "prose" else HEADING if own == "heading" else OTHER_FURNITURE)
    texts = [text[s.start : s.end] for s in sentences]
    mentions = [tuple(find_mentions(t)) for t in texts]
    terms = [tuple(tokenize(t)) for t in texts]
    return SentenceAnalysis(
        terms=tuple(terms),
        term_middles=tuple(_middles(t, own) for t, own in zip(texts, terms)),
        mentions=tuple(mentions),
        mention_words=tuple(
            tuple(frozenset(words(t[m.start : m.end])) for m in found) for t, found in zip(texts, mentions)
        ),
        paragraphs=tuple(paragraphs),
        furniture="".join(furniture),
        shape=tuple(tuple(round(v, 6) for v in _shape(t, i)) for i, t in enumerate(texts)),
    )


def _middles(text: str, terms: tuple[str, ...]) -> tuple[float, ...] | None:
    found = stemmed_words(text)
    if tuple(stem for stem, _, _ in found) != terms:
        return None
    return tuple((start + end) / 2 for _, start, end in found)


def _shape(text: str, position: int) -> tuple[float, ...]:
    """The ``SHAPE_FEATURES`` of the sentence ``text`` at ``position`` in its article."""
    lowered = text.lower()
    length = len(text.split())
    return (
        float(any(w in lowered for w in _SPEECH) or "“" in text or '"' in text),
        float(position == 0),
        1.0 / (1.0 + position),
        math.log1p(length),
        float(length < 6),
        float(text.rstrip("”\"' ").endswith("?")),
    )


def _whole_line(text: str, sentence: Sentence) -> bool:
    """Whether a sentence is a line of its own (a heading glued to the paragraph below)."""
    before = text[: sentence.start].rstrip(" \t")
    after = text[sentence.end :].lstrip(" \t")
    return (not before or before.endswith("\n")) and (not after or after.startswith("\n"))


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
