"""Split an article into sentences (nupunkt) and group them into overlapping chunks."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from qa.models import Article, Chunk, Sentence

# Bump when what ``chunk_article`` returns for a text changes (sentence splitting, grouping):
# an update reuses the stored chunks of unchanged articles only from a generation of this version.
CHUNKING_VERSION = 1
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n+")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class ChunkSettings:
    """How sentences are grouped: about ``target_words`` per chunk, ``overlap`` sentences shared."""

    target_words: int = 100
    max_sentences: int = 8
    overlap: int = 1

    def as_dict(self) -> dict[str, int]:
        return {
            "target_words": self.target_words,
            "max_sentences": self.max_sentences,
            "overlap": self.overlap,
        }


def split_sentences(text: str) -> list[Sentence]:
    """Sentences of ``text`` by offsets, never crossing a paragraph break, whitespace trimmed."""
    from nupunkt import sent_spans

    sentences: list[Sentence] = []
    position = 0
    for paragraph_end, next_start in _paragraph_bounds(text):
        paragraph = text[position:paragraph_end]
        if paragraph.strip():
            for start, end in sent_spans(paragraph):
                sentence = _trimmed(text, position + start, position + end)
                if sentence is not None:
                    sentences.append(sentence)
        position = next_start
    return sentences


def _paragraph_bounds(text: str) -> list[tuple[int, int]]:
    bounds = [(m.start(), m.end()) for m in _PARAGRAPH_BREAK.finditer(text)]
    bounds.append((len(text), len(text)))
    return bounds


def _trimmed(text: str, start: int, end: int) -> Sentence | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Sentence(start, end) if start < end else None


def chunk_article(article: Article, settings: ChunkSettings = ChunkSettings()) -> list[Chunk]:
    """Group the article's sentences into chunks of about ``settings.target_words`` words.

    Consecutive chunks share ``settings.overlap`` sentences. Chunk ids are stable: they derive
    from the article id and the chunk's character span.
    """
    sentences = split_sentences(article.text)
    words = [len(_WORD.findall(article.text[s.start : s.end])) for s in sentences]
    chunks: list[Chunk] = []
    first = 0
    while first < len(sentences):
        last = first
        count = words[first]
        while (
            last + 1 < len(sentences)
            and last + 1 - first < settings.max_sentences
            and count + words[last + 1] <= settings.target_words
        ):
            last += 1
            count += words[last]
        members = tuple(sentences[first : last + 1])
        start, end = members[0].start, members[-1].end
        chunks.append(
            Chunk(
                id=_chunk_id(article.id, start, end),
                article_id=article.id,
                ordinal=len(chunks),
                start=start,
                end=end,
                text=article.text[start:end],
                sentences=members,
            )
        )
        if last + 1 >= len(sentences):
            break
        first = max(last + 1 - settings.overlap, first + 1)
    return chunks


def _chunk_id(article_id: str, start: int, end: int) -> str:
    digest = hashlib.sha1(f"{article_id}:{start}:{end}".encode()).hexdigest()[:10]
    return f"{article_id}:{digest}"
