"""Writing one segment: an article's chunks, sentences and their analysis into a new SQLite
store, their vectors through the embedding sink into FAISS and the sentence vector file, and
their terms into a BM25 index (``write_segment``). ``qa.writer`` decides what goes in."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from array import array
from collections.abc import Iterable, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa import layout
from qa.analysis import ANALYSIS_VERSION, analyse
from qa.chunk import CHUNKING_VERSION, ChunkSettings, chunk_article
from qa.boilerplate import ParagraphCensus
from qa.copies import signature
from qa.errors import QAError
from qa.lexical import tokenize
from qa.models import Article, Chunk, Sentence
from qa.sink import EmbeddingSink
from qa.store import create_store, finish_store, insert_article, insert_census, insert_chunk, insert_signature
from qa.vectors import VectorWriter

if TYPE_CHECKING:
    from embeddings import Encoder
    from qa.index import Index


def embedding_text(article: Article, chunk: Chunk) -> str:
    """The text that is embedded and BM25-indexed for a chunk: its article's title gives context."""
    title = (article.title or "").strip()
    if title and title not in chunk.text:
        return f"{title}\n{chunk.text}"
    return chunk.text


def sentence_span(text: str, chunk: Chunk, sentence: Sentence) -> tuple[int, int]:
    """Where ``sentence`` lies in ``text``, the chunk's embedded text (its title may lead)."""
    shift = len(text) - len(chunk.text) - chunk.start
    return sentence.start + shift, sentence.end + shift


def write_segment(
    work_dir: Path,
    articles: PendingArticles,
    encoder: Encoder,
    settings: ChunkSettings,
    previous: Index | None,
    progress: Any,
    ann: str,
    census: MutableMapping[str, ParagraphCensus] | None,
    known: tuple[dict[str, np.ndarray], dict[str, np.ndarray]],
    signatures: MutableMapping[str, np.ndarray],
    max_chunks: int | None = None,
) -> tuple[dict[str, Any], int]:
    """Write one segment's files into ``work_dir``: its manifest entry and how many chunks were
    embedded (the others' vectors are in ``known``, by hash); ``progress`` (a tqdm bar) counts
    the articles stored. Each article is let go once stored (and its ``census`` entry taken
    out, like its ``signatures`` one), so the texts do not stay in memory next to the growing
    vector and BM25 arrays. With
    ``max_chunks``, the segment takes whole articles until it holds that many chunks and leaves
    the rest in ``articles``, so what it holds in memory while it is written is bounded."""
    import bm25s

    store = create_store(work_dir / layout.STORE)
    vectors = VectorWriter(work_dir, encoder.dimension, ann)

    sentence_file = open(work_dir / layout.SENTENCE_VECTORS, "wb")
    sink = EmbeddingSink(
        encoder, known[0], known[1],
        emit_chunks=vectors.add,
        emit_sentences=lambda batch: sentence_file.write(batch.astype(np.float16).tobytes()),
    )
    lexical = _LexicalCorpus()
    reusable = previous is not None and previous.manifest.get("analysis") == ANALYSIS_VERSION \
        and previous.manifest.get("chunker") == settings.as_dict()
    # An unchanged article's chunks are read back, not split again (bench/scale.py update).
    same_chunks = reusable and previous is not None and previous.manifest.get("chunking") == CHUNKING_VERSION
    row = sentence_count = 0
    try:
        while articles and (max_chunks is None or row < max_chunks):
            article = articles.pop()
            kept = reusable and previous is not None and previous.holds_text(article.id, article.text)
            row, sentence_count = _add_article(
                store, article, settings, sink, lexical, row, sentence_count,
                previous.sentence_analysis(article.id) if kept and previous else None,
                previous.article_chunks(article.id, article.text) if kept and same_chunks and previous else None,
            )
            counted = census.pop(article.id, None) if census is not None else None
            if counted is None and previous is not None:  # kept from the previous generation
                counted = previous.paragraphs_of(article.id)
            if counted is not None:
                insert_census(store, counted)
            found = signatures.pop(article.id, None)
            insert_signature(store, article.id, signature(article.text) if found is None else found)
            progress.update(1)
        sink.finish()
    finally:
        sink.close()
    sentence_file.close()
    if vectors.count != row:
        raise QAError(f"internal error: {vectors.count} vectors for {row} chunks")
    finish_store(store)
    structure = vectors.finish()
    retriever = bm25s.BM25()
    retriever.index(lexical.corpus(), show_progress=False)
    retriever.save(str(work_dir / layout.BM25_DIR), show_progress=False)
    (work_dir / layout.TERMS).write_text(json.dumps(lexical.document_frequency, separators=(",", ":")))
    return {"chunks": row, "sentences": sentence_count, "deleted": [], **structure}, sink.embedded


class PendingArticles:
    """The articles still to write, taken one at a time (``pop``) from a list, in id order, or
    from an iterator as it reads them; ``taken`` counts those handed out."""

    def __init__(self, articles: Iterable[Article]) -> None:
        self._articles = iter(articles)
        self._next = next(self._articles, None)
        self.taken = 0

    @classmethod
    def of(cls, articles: list[Article]) -> PendingArticles:
        """The articles of the list in id order, each let go by the list once handed out."""
        articles.sort(key=lambda a: a.id, reverse=True)
        return cls(articles.pop() for _ in range(len(articles)))

    def __bool__(self) -> bool:
        return self._next is not None

    def pop(self) -> Article:
        article = self._next
        if article is None:
            raise IndexError("no articles left")
        self._next = next(self._articles, None)
        self.taken += 1
        return article


def _add_article(
    store: sqlite3.Connection,
    article: Article,
    settings: ChunkSettings,
    sink: EmbeddingSink,
    lexical: _LexicalCorpus,
    row: int,
    sentence_row: int,
    analysis: str | None = None,
    chunks: list[Chunk] | None = None,
) -> tuple[int, int]:
    """Store an article with its chunks, sentences and their analysis (``analysis`` and
    ``chunks``: the previous generation's, when still valid) from the given rows on, and queue
    them for embedding and BM25; returns the next free chunk and sentence rows."""
    insert_article(store, article)
    sentence_rows: dict[Sentence, int] = {}  # each sentence once, in text order
    for chunk in chunks or chunk_article(article, settings):
        text = embedding_text(article, chunk)
        embed_hash = hashlib.sha1(text.encode()).hexdigest()
        introduced = []  # sentences first seen in this chunk: they are read in its context
        for sentence in chunk.sentences:
            if sentence not in sentence_rows:
                span = sentence_span(text, chunk, sentence)
                key = hashlib.sha1(f"{embed_hash}:{span[0]}:{span[1]}".encode()).hexdigest()
                store.execute("INSERT INTO sentences VALUES (?, ?)", (sentence_row, key))
                sentence_rows[sentence] = sentence_row
                introduced.append((key, span))
                sentence_row += 1
        insert_chunk(store, row, chunk, embed_hash, sentence_rows)
        lexical.add(tokenize(text))
        sink.add(embed_hash, text, introduced)
        row += 1
    store.execute("INSERT INTO analysis VALUES (?, ?)",
                  (article.id, analysis or analyse(article.text, list(sentence_rows)).to_json()))
    return row, sentence_row


class _LexicalCorpus:
    """The chunks' index terms as compact arrays of term ids (4 bytes a token, not a Python
    string each), and how many chunks hold each term."""

    def __init__(self) -> None:
        self.vocabulary: dict[str, int] = {}
        self.document_frequency: dict[str, int] = {}
        self._documents: list[array] = []

    def add(self, terms: list[str]) -> None:
        vocabulary = self.vocabulary
        ids = array("i", [vocabulary.setdefault(term, len(vocabulary)) for term in terms])
        self._documents.append(ids)
        for term in set(terms):
            self.document_frequency[term] = self.document_frequency.get(term, 0) + 1

    def corpus(self) -> Any:
        """What ``bm25s.BM25.index`` takes."""
        from bm25s.tokenization import Tokenized

        if not self.vocabulary:
            return [[]]
        return Tokenized(ids=self._documents, vocab=self.vocabulary)


def progress_bar(show: bool, unit: str, desc: str, total: int | None = None):  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, desc=desc, disable=not show, dynamic_ncols=True,
                leave=False)
