"""The index directory: an article and chunk store (SQLite), dense vectors (FAISS) and a BM25
lexical index (bm25s), switched atomically as a whole. See docs/index-format.md."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import time
import unicodedata
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.analysis import ANALYSIS_VERSION, analyse
from qa.chunk import ChunkSettings, chunk_article
from qa.copies import find_copies
from qa.errors import IndexFormatError, IndexMissingError, InputError, ModelError, QAError
from qa.ingest import Skipped, file_id, load_articles, record_id
from qa.lexical import tokenize
from qa.models import Article, Chunk, Sentence

if TYPE_CHECKING:
    from embeddings import Encoder
    from qa.retrieve import Filters

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
DEFAULT_INDEX_DIR = ".qa-index"
CURRENT_FILE = "CURRENT"
LOCK_FILE = ".lock"
MANIFEST = "manifest.json"
STORE = "store.sqlite"
VECTORS = "vectors.faiss"
BM25_DIR = "bm25"
TERMS = "terms.json"
SENTENCE_VECTORS = "sentences.f16"
COPIES = "copies.json"
EMBED_BATCH = 256  # chunks per encode call: sorted by length inside it, so little padding


@dataclass(frozen=True)
class IndexReport:
    """What an ``index`` run did."""

    index_dir: str
    added: int
    updated: int
    unchanged: int
    removed: int
    skipped: tuple[Skipped, ...]
    articles: int
    chunks: int
    embedded_chunks: int
    seconds: float


@dataclass(frozen=True)
class IndexInfo:
    """What ``info`` shows about an index."""

    index_dir: str
    manifest: dict[str, Any]
    articles: int
    chunks: int
    first_date: str | None
    last_date: str | None
    sources: tuple[tuple[str, int], ...]
    size_bytes: int
    files: dict[str, int] = field(default_factory=dict)


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


# ---------------------------------------------------------------------------------------------
# Building


def build_index(
    paths: Sequence[str | Path],
    index_dir: str | Path,
    *,
    model: str | None = None,
    backend: str = "auto",
    settings: ChunkSettings = ChunkSettings(),
    rebuild: bool = False,
    prune: bool = True,
    show_progress: bool = False,
    encoder: Encoder | None = None,
) -> IndexReport:
    """Index the articles under ``paths`` into ``index_dir``, keeping what is already indexed.

    Articles already in the index with the same content are not embedded again; with ``prune``,
    articles that came from a folder given here but whose files are gone are removed. The new
    index is written beside the old one and switched in atomically, so a failed or killed run
    leaves the previous index answering as before.
    """
    from embeddings import BACKENDS

    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}: use one of {', '.join(BACKENDS)}")
    started = time.monotonic()
    root = Path(index_dir)
    root.mkdir(parents=True, exist_ok=True)
    with _writer_lock(root):
        previous = None if rebuild else _open_existing(root)
        model_name = _resolve_model_name(model, previous)
        ingested = load_articles(paths)
        if not ingested.articles:
            where = ", ".join(str(p) for p in paths)
            detail = f" ({len(ingested.skipped)} files skipped)" if ingested.skipped else ""
            raise InputError(f"no articles found in {where}{detail}")

        old_articles = previous.all_articles() if previous else {}
        new_articles = {a.id: a for a in ingested.articles}
        removed = _pruned_ids(old_articles, new_articles, paths, ingested.skipped) if prune else set()
        merged = {i: a for i, a in old_articles.items() if i not in removed and i not in new_articles}
        merged.update(new_articles)
        added = sum(1 for i in new_articles if i not in old_articles)
        unchanged = sum(
            1 for i, a in new_articles.items()
            if i in old_articles and old_articles[i].content_hash == a.content_hash
        )
        updated = len(new_articles) - added - unchanged
        articles, skipped = list(merged.values()), ingested.skipped
        del ingested, old_articles, new_articles, merged  # the writer lets each article go once stored

        if encoder is None:
            indexed_backend = previous.manifest.get("backend") if previous else None
            encoder = _load_encoder(model_name, indexed_backend or backend)
        generation = _replace_generation(root, articles, encoder, settings, previous, show_progress)
    return IndexReport(
        index_dir=str(root),
        added=added,
        updated=updated,
        unchanged=unchanged,
        removed=len(removed),
        skipped=skipped,
        articles=generation.article_count,
        chunks=generation.chunk_count,
        embedded_chunks=generation.embedded,
        seconds=time.monotonic() - started,
    )


def remove_articles(
    targets: Sequence[str], index_dir: str | Path, *, show_progress: bool = False
) -> IndexReport:
    """Drop the articles matching ``targets`` (article ids, URLs, files, or folders holding
    their files) from the index, atomically; nothing is embedded again."""
    started = time.monotonic()
    root = Path(index_dir)
    if not root.is_dir():
        Index.open(root)  # says there is no index there, and how to build one
    with _writer_lock(root):
        previous = Index.open(root)
        old = previous.all_articles()
        gone = set().union(*(_named_by(target, old) for target in targets))
        if not gone:
            raise InputError(f"nothing in the index at {root} matches {', '.join(targets)}")
        if len(gone) == len(old):
            raise InputError(
                f"that would remove all {len(old)} articles: delete {root} instead"
            )
        kept = [a for i, a in old.items() if i not in gone]
        del old
        settings = ChunkSettings(**previous.manifest["chunker"])
        generation = _replace_generation(
            root, kept, _StoredModel(previous.manifest), settings, previous, show_progress
        )
    return IndexReport(
        index_dir=str(root), added=0, updated=0, unchanged=generation.article_count,
        removed=len(gone), skipped=(), articles=generation.article_count, chunks=generation.chunk_count,
        embedded_chunks=generation.embedded, seconds=time.monotonic() - started,
    )


class _StoredModel:
    """The index's model as its stored vectors give it: what ``qa remove`` embeds with. The kept
    chunks' vectors are all stored (matched by the hash of their text), so the model itself is
    loaded only if one is not (the chunker changed since the index was built)."""

    def __init__(self, manifest: dict[str, Any]) -> None:
        self.name, self.backend = manifest["model"], manifest["backend"]
        self.dimension = int(manifest["dimension"])
        self._model: Encoder | None = None

    def _loaded(self) -> Encoder:
        if self._model is None:
            self._model = _load_encoder(self.name, self.backend)
        return self._model

    def encode(self, texts: Sequence[str], **options: Any) -> np.ndarray:
        return self._loaded().encode(texts, **options)

    def encode_with_spans(self, texts: Sequence[str], spans: Any, **options: Any) -> Any:
        return self._loaded().encode_with_spans(texts, spans, **options)


def _replace_generation(
    root: Path,
    articles: list[Article],
    encoder: Encoder,
    settings: ChunkSettings,
    previous: Index | None,
    show_progress: bool,
) -> _Generation:
    """Write a generation holding ``articles`` (the list is emptied as they are stored), switch
    to it, and drop the older ones (the caller holds the writer lock)."""
    generation = _write_generation(root, articles, encoder, settings, previous, show_progress)
    _switch_to(root, generation)
    if previous:
        previous.close()
    _remove_stale_generations(root, keep=generation.name)
    return generation


def _named_by(target: str, articles: dict[str, Article]) -> set[str]:
    """Ids of the articles ``target`` names: an article id, a URL, a file or a folder holding
    articles, a JSON record's own id (when only one file has it) or ``FILE#ID``."""
    named = {i for i, a in articles.items() if target in (i, a.url) or _lies_in(a, target)}
    by_record = {i for i in articles if record_id(i) == target}
    files = sorted({articles[i].path or "?" for i in by_record - named})
    if len(files) > 1:
        raise InputError(
            f"id {target!r} is in {len(files)} files ({', '.join(files)}): give FILE#ID, "
            f"e.g. {files[0]}#{target}"
        )
    named |= by_record
    for split in (i for i, mark in enumerate(target) if mark == "#"):
        file, given = target[:split], target[split + 1 :]
        named |= {i for i, a in articles.items() if record_id(i) == given and _lies_in(a, file, exact=True)}
    return named


def _lies_in(article: Article, target: str, exact: bool = False) -> bool:
    """Whether ``article``'s file is the file ``target`` or (unless ``exact``) lies under it."""
    location = _location(article)
    if location is None or not target:
        return False
    wanted = Path(os.path.realpath(target))
    return location == wanted or (not exact and location.is_relative_to(wanted))


def _resolve_model_name(model: str | None, previous: Index | None) -> str:
    from embeddings import DEFAULT_MODEL

    if previous is None:
        return model or DEFAULT_MODEL
    indexed_with = previous.manifest["model"]
    if model and model != indexed_with:
        raise IndexFormatError(
            f"the index at {previous.root} was built with model {indexed_with!r}, not {model!r}; "
            f"to switch models rebuild it: qa index --rebuild --model {model} ARTICLES"
        )
    return indexed_with


def _pruned_ids(
    old: dict[str, Article],
    new: dict[str, Article],
    paths: Sequence[str | Path],
    skipped: Sequence[Skipped],
) -> set[str]:
    """Ids of indexed articles that are gone: their file lies under a folder indexed now but was
    not found, or was read now without giving them. An article whose file (or folder) was skipped
    this run keeps its indexed version."""
    folders = [Path(p).resolve() for p in paths if Path(p).is_dir()]
    read = {Path(a.path) for a in new.values() if a.path}
    # A skipped link is not followed: a link looping back to its folder must not shield it.
    unread = [Path(os.path.realpath(Path(s.path).parent)) / Path(s.path).name for s in skipped]
    gone = set()
    for article_id, article in old.items():
        location = None if article_id in new else _location(article, new)
        if location is None:
            continue
        if (location in read or any(location.is_relative_to(f) for f in folders)) and not any(
            location.is_relative_to(place) for place in unread
        ):
            gone.add(article_id)
    return gone


def _location(article: Article, new: Mapping[str, Article] | None = None) -> Path | None:
    """The resolved path of an article's file, None when unknown. qa stores resolved paths; an
    older qa stored them as typed, and such a relative path is trusted only when it is proven to
    have been typed in this folder: the article's id derives from the resolved path, or (a JSON
    record, whose id an older qa did not namespace) the same record is indexed now, same text,
    under its file's id."""
    if not article.path:
        return None
    if os.path.isabs(article.path):
        return Path(os.path.realpath(article.path))
    candidate = os.path.realpath(article.path)
    proofs = {file_id(candidate), *(file_id(f"{candidate}#{n}") for n in article.line_numbers[:1])}
    again = (new or {}).get(f"{file_id(candidate)}#{article.id}")
    if article.id in proofs or (again is not None and again.content_hash == article.content_hash):
        return Path(candidate)
    return None


@dataclass
class _Generation:
    name: str
    article_count: int
    chunk_count: int
    embedded: int


def _write_generation(
    root: Path,
    articles: list[Article],
    encoder: Encoder,
    settings: ChunkSettings,
    previous: Index | None,
    show_progress: bool,
) -> _Generation:
    import faiss

    import bm25s

    name = f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6:06d}"
    final_dir = root / name
    work_dir = root / f"{name}.partial"
    work_dir.mkdir()
    try:
        article_count = len(articles)
        copies = find_copies(articles)
        # Written in id order; each article is let go once stored, so the texts do not stay in
        # memory next to the growing vector and BM25 arrays.
        articles.sort(key=lambda a: a.id, reverse=True)
        same_model = previous is not None and _same_model(previous.manifest, encoder)
        store = sqlite3.connect(work_dir / STORE)
        _create_schema(store)
        vectors = faiss.IndexFlatIP(encoder.dimension)
        progress = _progress(show_progress, unit="article", desc="indexing", total=article_count)

        sentence_file = open(work_dir / SENTENCE_VECTORS, "wb")
        sink = _EmbeddingSink(
            encoder,
            previous.vectors_by_embed_hash() if same_model and previous else {},
            previous.sentence_vectors_by_hash() if same_model and previous else {},
            emit_chunks=vectors.add,
            emit_sentences=lambda batch: sentence_file.write(batch.astype(np.float16).tobytes()),
        )
        lexical = _LexicalCorpus()
        reusable = previous is not None and previous.manifest.get("analysis") == ANALYSIS_VERSION \
            and previous.manifest.get("chunker") == settings.as_dict()
        row = sentence_count = 0
        try:
            while articles:
                article = articles.pop()
                row, sentence_count = _add_article(
                    store, article, settings, sink, lexical, row, sentence_count,
                    previous.sentence_analysis(article.id, article.text) if reusable and previous else None,
                )
                progress.update(1)
            sink.finish()
        finally:
            sink.close()
        sentence_file.close()
        progress.close()
        if vectors.ntotal != row:
            raise QAError(f"internal error: {vectors.ntotal} vectors for {row} chunks")
        store.commit()
        store.close()
        faiss.write_index(vectors, str(work_dir / VECTORS))
        retriever = bm25s.BM25()
        retriever.index(lexical.corpus(), show_progress=False)
        retriever.save(str(work_dir / BM25_DIR), show_progress=False)
        (work_dir / TERMS).write_text(json.dumps(lexical.document_frequency, separators=(",", ":")))
        (work_dir / COPIES).write_text(json.dumps(copies, separators=(",", ":")))
        embedded = sink.embedded
        manifest = {
            "format_version": FORMAT_VERSION,
            "model": encoder.name,
            "dimension": encoder.dimension,
            "backend": encoder.backend,
            "chunker": settings.as_dict(),
            "articles": article_count,
            "chunks": row,
            "sentences": sentence_count,
            "analysis": ANALYSIS_VERSION,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "qa_version": _qa_version(),
        }
        (work_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        _fsync_tree(work_dir)
        os.rename(work_dir, final_dir)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(work_dir, ignore_errors=True)
        raise
    return _Generation(name=name, article_count=article_count, chunk_count=row, embedded=embedded)


def _add_article(
    store: sqlite3.Connection,
    article: Article,
    settings: ChunkSettings,
    sink: _EmbeddingSink,
    lexical: _LexicalCorpus,
    row: int,
    sentence_row: int,
    analysis: str | None = None,
) -> tuple[int, int]:
    """Store an article with its chunks, sentences and their analysis (``analysis``: the
    previous generation's, when still valid) from the given rows on, and queue them for
    embedding and BM25; returns the next free chunk and sentence rows."""
    _insert_article(store, article)
    sentence_rows: dict[Sentence, int] = {}  # each sentence once, in text order
    for chunk in chunk_article(article, settings):
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
        _insert_chunk(store, row, chunk, embed_hash, sentence_rows)
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


class _EmbeddingSink:
    """Turns chunks into vectors in order: the chunk's vector, and the vectors of the sentences
    it introduces, pooled from the same pass (each sentence is read in the context of the first
    chunk that holds it). Chunks whose hashes are all known reuse stored vectors; the rest are
    encoded a batch at a time on a worker thread, so reading and chunking the next articles
    overlaps the model. Finished vectors go to the emit callbacks in order."""

    def __init__(
        self,
        encoder: Encoder,
        known_chunks: dict[str, np.ndarray],
        known_sentences: dict[str, np.ndarray],
        *,
        emit_chunks: Callable[[np.ndarray], object],
        emit_sentences: Callable[[np.ndarray], object],
        batch: int = EMBED_BATCH,
    ) -> None:
        self._encoder = encoder
        self._known_chunks = known_chunks
        self._known_sentences = known_sentences
        self._emit_chunks = emit_chunks
        self._emit_sentences = emit_sentences
        self._batch = batch
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-embed")
        # In order: finished (chunk rows, sentence rows) pairs, or the one batch being encoded.
        self._queue: list[tuple[np.ndarray, np.ndarray] | Future[tuple[np.ndarray, np.ndarray]]] = []
        self._pending: list[tuple[str, list[tuple[int, int]]]] = []  # texts and spans to encode
        self.embedded = 0

    def add(self, key: str, text: str, sentences: list[tuple[str, tuple[int, int]]]) -> None:
        """Queue a chunk (its hash, the text embedded) and its new sentences (hash, span)."""
        chunk_vector = self._known_chunks.get(key)
        sentence_vectors = [self._known_sentences.get(k) for k, _ in sentences]
        if chunk_vector is None or any(v is None for v in sentence_vectors):
            self._pending.append((text, [span for _, span in sentences]))
            if len(self._pending) >= self._batch:
                self._encode()
            return
        self._encode()
        self._queue.append((
            np.asarray(chunk_vector, dtype=np.float32)[None, :],
            np.asarray(sentence_vectors, dtype=np.float32).reshape(len(sentences), self._encoder.dimension),
        ))
        if len(self._queue) >= self._batch:
            self._emit(wait=False)

    def finish(self) -> None:
        self._encode()
        self._emit(wait=True)

    def close(self) -> None:
        """Stop the worker (after the batch it is on, if any)."""
        self._worker.shutdown(wait=True, cancel_futures=True)

    def _encode(self) -> None:
        """Hand the pending chunks to the worker once the batch before them is done."""
        if self._pending:
            self._emit(wait=True)
            texts = [text for text, _ in self._pending]
            spans = [spans for _, spans in self._pending]
            self._queue.append(self._worker.submit(self._encoder.encode_with_spans, texts, spans))
            self.embedded += len(self._pending)
            self._pending = []

    def _emit(self, wait: bool) -> None:
        """Emit the finished front of the queue; with ``wait``, all of it."""
        done = []
        while self._queue:
            head = self._queue[0]
            if isinstance(head, Future):
                if not (wait or head.done()):
                    break
                head = head.result()
            done.append(head)
            self._queue.pop(0)
        if done:
            self._emit_chunks(np.vstack([chunks for chunks, _ in done]))
            sentences = [rows for _, rows in done if len(rows)]
            if sentences:
                self._emit_sentences(np.vstack(sentences))


def _same_model(manifest: dict[str, Any], encoder: Encoder) -> bool:
    return (
        manifest.get("model") == encoder.name
        and manifest.get("dimension") == encoder.dimension
        and manifest.get("backend") == encoder.backend
    )


def _create_schema(store: sqlite3.Connection) -> None:
    store.executescript(
        """
        CREATE TABLE articles (
            id TEXT PRIMARY KEY, path TEXT, url TEXT, title TEXT, date TEXT, source TEXT,
            byline TEXT, content_hash TEXT NOT NULL, text TEXT NOT NULL,
            line_starts TEXT NOT NULL, line_numbers TEXT NOT NULL
        );
        CREATE TABLE chunks (
            row INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, article_id TEXT NOT NULL,
            ordinal INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
            sentences TEXT NOT NULL, embed_hash TEXT NOT NULL
        );
        CREATE INDEX chunks_by_article ON chunks(article_id, ordinal);
        CREATE TABLE sentences (row INTEGER PRIMARY KEY, hash TEXT NOT NULL);
        CREATE TABLE analysis (article_id TEXT PRIMARY KEY, data TEXT NOT NULL);
        """
    )


def _insert_article(store: sqlite3.Connection, a: Article) -> None:
    store.execute(
        "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (a.id, a.path, a.url, a.title, a.date, a.source, a.byline, a.content_hash, a.text,
         json.dumps(a.line_starts), json.dumps(a.line_numbers)),
    )


def _insert_chunk(
    store: sqlite3.Connection, row: int, c: Chunk, embed_hash: str, sentence_rows: dict[Sentence, int]
) -> None:
    store.execute(
        "INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?)",
        (row, c.id, c.article_id, c.ordinal, c.start, c.end,
         json.dumps([[s.start, s.end, sentence_rows[s]] for s in c.sentences]), embed_hash),
    )


# ---------------------------------------------------------------------------------------------
# Atomic switch, lock, cleanup


@contextlib.contextmanager
def _writer_lock(root: Path) -> Iterator[None]:
    """One writer per index directory: a second ``index`` run fails at once with a clear line."""
    handle = open(root / LOCK_FILE, "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise QAError(
                f"another qa process is updating the index at {root}; wait for it to finish"
            ) from None
        yield
    finally:
        handle.close()


def _switch_to(root: Path, generation: _Generation) -> None:
    """Point CURRENT at the new generation with one atomic rename."""
    temporary = root / f"{CURRENT_FILE}.{os.getpid()}.tmp"
    with open(temporary, "w") as handle:
        handle.write(generation.name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, root / CURRENT_FILE)
    _fsync_dir(root)


def _remove_stale_generations(root: Path, keep: str) -> None:
    """Delete old generations that no reader holds (each open Index holds a shared flock on
    its generation); one in use is kept until a later update finds it free."""
    for entry in root.iterdir():
        if entry.is_dir() and entry.name.startswith("gen-") and entry.name != keep:
            try:
                descriptor = os.open(entry, os.O_RDONLY)
            except OSError:
                continue
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.debug("generation %s is in use by a reader: kept", entry.name)
                os.close(descriptor)
                continue
            try:
                shutil.rmtree(entry, ignore_errors=True)
            finally:
                os.close(descriptor)
        elif entry.name.startswith(f"{CURRENT_FILE}.") and entry.name.endswith(".tmp"):
            entry.unlink(missing_ok=True)


def _fsync_tree(directory: Path) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _progress(show: bool, unit: str, desc: str, total: int | None = None):  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, desc=desc, disable=not show, dynamic_ncols=True,
                leave=False)


def _load_encoder(name: str, backend: str) -> Encoder:
    from embeddings import EmbeddingError, load_encoder

    try:
        return load_encoder(name, backend)
    except EmbeddingError as exc:
        raise ModelError(str(exc)) from exc


def _qa_version() -> str:
    from qa import __version__

    return __version__


# ---------------------------------------------------------------------------------------------
# Reading


class Index:
    """An opened index generation: read-only access to articles, chunks, vectors and BM25."""

    def __init__(self, root: Path, generation: Path, manifest: dict[str, Any],
                 reader_lock: int | None = None) -> None:
        self.root = root
        self.generation = generation
        self.manifest = manifest
        self._reader_lock = reader_lock  # a shared flock on the generation: not deleted under us
        try:
            self._store = sqlite3.connect(
                f"file:{generation / STORE}?mode=ro", uri=True, check_same_thread=False
            )
            self._store.execute("SELECT count(*) FROM chunks").fetchone()
            self._store.create_function("qa_fold", 1, _fold, deterministic=True)
        except sqlite3.Error as exc:
            raise _corrupt(root, f"its store is unreadable ({exc})") from exc
        self._vectors: Any = None
        self._bm25: Any = None
        self._encoder: Encoder | None = None
        self._articles: dict[str, Article] = {}
        self._document_frequency: dict[str, int] | None = None
        self._newest_date: date | None = None
        self._sentence_vectors: np.ndarray | None = None
        self._copies: dict[str, str] | None = None
        self._copy_members: dict[str, list[str]] = {}
        self._chunk_owners: list[str] | None = None
        self._article_dates: dict[str, str | None] | None = None

    @classmethod
    def open(cls, index_dir: str | Path) -> Index:
        """Open the current generation of the index at ``index_dir``."""
        root = Path(index_dir)
        index = _open_existing(root)
        if index is None:
            raise IndexMissingError(
                f"no index at {root}: build one with: qa index ARTICLES_DIR --index {root}"
            )
        return index

    def close(self) -> None:
        self._store.close()
        self._release()

    def _release(self) -> None:
        if self._reader_lock is not None:
            os.close(self._reader_lock)
            self._reader_lock = None

    def is_current(self) -> bool:
        """Whether this is still the generation that CURRENT names (no update since opening)."""
        try:
            return (self.root / CURRENT_FILE).read_text().strip() == self.generation.name
        except OSError:
            return True  # CURRENT briefly unreadable: keep answering from this one

    def refreshed(self) -> Index:
        """This index when it is current, else the newly switched-to generation (this one is
        closed, and the encoder already loaded is handed on when the model is the same)."""
        if self.is_current():
            return self
        fresh = Index.open(self.root)
        if self._encoder is not None and fresh.manifest.get("model") == self.manifest.get("model"):
            fresh._encoder = self._encoder
        self.close()
        return fresh

    # -- store

    @property
    def chunk_count(self) -> int:
        return int(self.manifest["chunks"])

    def article(self, article_id: str) -> Article:
        cached = self._articles.get(article_id)
        if cached is None:
            row = self._store.execute(
                "SELECT * FROM articles WHERE id = ?", (article_id,)
            ).fetchone()
            if row is None:
                raise _corrupt(self.root, f"its store has no article {article_id!r} that it refers to")
            cached = self._articles[article_id] = _article_from_row(row)
        return cached

    def all_articles(self) -> dict[str, Article]:
        rows = self._store.execute("SELECT * FROM articles").fetchall()
        return {row[0]: _article_from_row(row) for row in rows}

    def chunks(self, rows: Sequence[int]) -> list[Chunk]:
        """The chunks stored at these vector rows, in the same order."""
        if not rows:
            return []
        marks = ",".join("?" * len(rows))
        found = {
            r[0]: r
            for r in self._store.execute(
                f'SELECT row, id, article_id, ordinal, start, "end", sentences FROM chunks '
                f"WHERE row IN ({marks})",
                list(map(int, rows)),
            )
        }
        chunks = []
        for row in rows:
            r = found.get(int(row))
            if r is None:
                raise _corrupt(self.root, f"its store has no chunk {int(row)} that its vectors refer to")
            article = self.article(r[2])
            sentences = tuple(Sentence(s, e, v) for s, e, v in json.loads(r[6]))
            chunks.append(Chunk(r[1], r[2], r[3], r[4], r[5], article.text[r[4] : r[5]], sentences))
        return chunks

    def article_sentences(self, article_id: str) -> tuple[tuple[Sentence, ...], tuple[str, ...]]:
        """Every sentence of an article in text order, with its vector row, and the id of the
        first chunk that holds each."""
        sentences: list[Sentence] = []
        chunk_ids: list[str] = []
        last_start = -1
        for chunk_id, stored in self._store.execute(
            "SELECT id, sentences FROM chunks WHERE article_id = ? ORDER BY ordinal", (article_id,)
        ):
            for start, end, row in json.loads(stored):
                if start > last_start:  # overlapping chunks share their edge sentences
                    sentences.append(Sentence(start, end, row))
                    chunk_ids.append(chunk_id)
                    last_start = start
        return tuple(sentences), tuple(chunk_ids)

    def sentence_analysis(self, article_id: str, text: str | None = None) -> str | None:
        """The stored analysis of an article's sentences (``qa/analysis.py``); None when this
        generation was written before it was stored or, given ``text``, holds another text."""
        if self.manifest.get("analysis") != ANALYSIS_VERSION:
            return None
        found = self._store.execute(
            "SELECT s.data FROM analysis s JOIN articles a ON a.id = s.article_id "
            "WHERE s.article_id = ? AND (? IS NULL OR a.text = ?)", (article_id, text, text)).fetchone()
        return None if found is None else str(found[0])

    @property
    def chunk_owners(self) -> list[str]:
        """The article id of every chunk row (loaded once: ranking by article needs no text)."""
        if self._chunk_owners is None:
            owners = self._store.execute("SELECT row, article_id FROM chunks ORDER BY row").fetchall()
            if len(owners) != self.chunk_count or (owners and owners[-1][0] != len(owners) - 1):
                raise _corrupt(self.root, "its chunk store does not match its manifest")
            self._chunk_owners = [a for _, a in owners]
        return self._chunk_owners

    @property
    def article_dates(self) -> dict[str, str | None]:
        """The publication date of every article, by id (loaded once)."""
        if self._article_dates is None:
            self._article_dates = dict(self._store.execute("SELECT id, date FROM articles"))
        return self._article_dates

    def stats(self) -> tuple[int, int, str | None, str | None, list[tuple[str, int]]]:
        articles, first, last = self._store.execute(
            "SELECT count(*), min(date), max(date) FROM articles"
        ).fetchone()
        chunks = self._store.execute("SELECT count(*) FROM chunks").fetchone()[0]
        sources = self._store.execute(
            "SELECT source, count(*) FROM articles WHERE source IS NOT NULL "
            "GROUP BY source ORDER BY count(*) DESC, source"
        ).fetchall()
        return articles, chunks, first, last, [(s, n) for s, n in sources]

    def rows_matching(self, filters: Filters) -> np.ndarray:
        """Chunk rows whose article passes the filters (undated articles fail a date filter)."""
        clauses, values = [], []
        if filters.since:
            clauses.append("a.date >= ?")
            values.append(filters.since.isoformat())
        if filters.until:
            clauses.append("a.date <= ?")
            values.append(filters.until.isoformat())
        if filters.sources:
            options = []
            for name in filters.sources:
                options.append("instr(qa_fold(source), ?) > 0 OR instr(qa_fold(url), ?) > 0")
                values += [_fold(name), _fold(name)]
            # Matched once per article (in Python), not once per chunk.
            clauses.append(f"a.id IN (SELECT id FROM articles WHERE {' OR '.join(options)})")
        where = " AND ".join(clauses) or "1"
        rows = self._store.execute(
            f"SELECT c.row FROM chunks c JOIN articles a ON a.id = c.article_id WHERE {where} "
            "ORDER BY c.row", values,
        ).fetchall()
        return np.array([r for (r,) in rows], dtype=np.int64)

    @property
    def newest_date(self) -> date | None:
        """The newest publication date in the archive (relative dates in questions count from it)."""
        if self._newest_date is None:
            newest = self._store.execute("SELECT max(date) FROM articles").fetchone()[0]
            try:
                self._newest_date = date.fromisoformat(newest) if newest else date.min
            except ValueError:
                self._newest_date = date.min
        return None if self._newest_date == date.min else self._newest_date

    @property
    def copies(self) -> dict[str, str]:
        """Article id -> its syndicated-copy group id, for articles that have copies."""
        if self._copies is None:
            path = self.generation / COPIES
            try:
                self._copies = json.loads(path.read_text()) if path.exists() else {}
            except (OSError, json.JSONDecodeError) as exc:
                raise _corrupt(self.root, "its copy table is unreadable") from exc
            for article_id, group in sorted(self._copies.items()):
                self._copy_members.setdefault(group, []).append(article_id)
        return self._copies

    def copies_of(self, article_id: str) -> list[Article]:
        """The other articles that carry the same story."""
        group = self.copies.get(article_id)
        if group is None:
            return []
        return [self.article(other) for other in self._copy_members[group] if other != article_id]

    @property
    def sentence_vectors(self) -> np.ndarray:
        """One float16 vector per sentence row (memory-mapped)."""
        if self._sentence_vectors is None:
            path = self.generation / SENTENCE_VECTORS
            count, dimension = int(self.manifest.get("sentences", 0)), int(self.manifest["dimension"])
            expected = count * dimension * 2
            if not path.exists() or path.stat().st_size != expected:
                raise _corrupt(self.root, "its sentence vector file does not match its manifest")
            self._sentence_vectors = (
                np.memmap(path, dtype=np.float16, mode="r", shape=(count, dimension))
                if count else np.zeros((0, dimension), dtype=np.float16)
            )
        return self._sentence_vectors

    def sentence_vectors_by_hash(self) -> dict[str, np.ndarray]:
        """Stored sentence vectors keyed by their hash (of the chunk text they were read in and
        their span in it), for reuse on re-index."""
        matrix = self.sentence_vectors
        rows = self._store.execute("SELECT row, hash FROM sentences").fetchall()
        return {h: matrix[r] for r, h in rows}

    def vectors_by_embed_hash(self) -> dict[str, np.ndarray]:
        """Stored vectors keyed by the hash of the text they embed, for reuse on re-index."""
        vectors = self.vectors
        rows = self._store.execute("SELECT row, embed_hash FROM chunks ORDER BY row").fetchall()
        if not rows:
            return {}
        matrix = vectors.reconstruct_n(0, vectors.ntotal)
        return {h: matrix[r] for r, h in rows}

    # -- search structures

    @property
    def vectors(self) -> Any:
        if self._vectors is None:
            import faiss

            try:
                self._vectors = faiss.read_index(str(self.generation / VECTORS))
            except RuntimeError as exc:
                raise _corrupt(self.root, "its vector file is unreadable") from exc
            if self._vectors.ntotal != self.chunk_count:
                raise _corrupt(self.root, "its vector file does not match its chunk store")
        return self._vectors

    @property
    def bm25(self) -> Any:
        if self._bm25 is None:
            import bm25s

            try:
                self._bm25 = bm25s.BM25.load(
                    str(self.generation / BM25_DIR), mmap=False, load_corpus=False,
                    show_progress=False,
                )
            except (OSError, ValueError, TypeError, KeyError, EOFError) as exc:  # a damaged file
                raise _corrupt(self.root, "its BM25 index is unreadable") from exc
        return self._bm25

    @property
    def document_frequency(self) -> dict[str, int]:
        """How many chunks contain each index term (for weighting the question's words)."""
        if self._document_frequency is None:
            try:
                self._document_frequency = json.loads((self.generation / TERMS).read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise _corrupt(self.root, "its term table is unreadable") from exc
        return self._document_frequency

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = _load_encoder(self.manifest["model"], self.manifest["backend"])
            if self._encoder.dimension != self.manifest["dimension"]:
                raise _corrupt(self.root, "its model gives vectors of another dimension")
        return self._encoder

    def use_encoder(self, encoder: Encoder) -> None:
        """Use an already loaded encoder (it must be the index's model)."""
        if (encoder.name, encoder.backend) != (self.manifest["model"], self.manifest["backend"]):
            raise IndexFormatError(
                f"the index at {self.root} was built with {self.manifest['model']!r} on "
                f"{self.manifest['backend']}, not {encoder.name!r} on {encoder.backend}"
            )
        self._encoder = encoder

    def size_on_disk(self) -> dict[str, int]:
        sizes: dict[str, int] = {}
        for path in self.generation.rglob("*"):
            if path.is_file():
                top = path.relative_to(self.generation).parts[0]
                sizes[top] = sizes.get(top, 0) + path.stat().st_size
        return sizes


def _open_existing(root: Path) -> Index | None:
    current = root / CURRENT_FILE
    if not current.exists():
        return None
    for _ in range(5):  # a writer may switch (and remove the old one) between read and lock
        name = current.read_text().strip()
        lock = _lock_generation(root / name) if name else None
        if lock is not None and current.read_text().strip() == name:
            break
        if lock is not None:
            os.close(lock)
    else:
        raise _corrupt(root, "its CURRENT file points at a missing generation")
    try:
        return _open_locked(root, root / name, lock)
    except BaseException:
        os.close(lock)
        raise


def _lock_generation(generation: Path) -> int | None:
    """A shared flock on a generation directory, or None when it is gone."""
    try:
        descriptor = os.open(generation, os.O_RDONLY)
    except OSError:
        return None
    fcntl.flock(descriptor, fcntl.LOCK_SH)
    return descriptor


def _open_locked(root: Path, generation: Path, lock: int) -> Index:
    manifest_path = generation / MANIFEST
    if not manifest_path.is_file():
        raise _corrupt(root, "its CURRENT file points at a missing generation")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise _corrupt(root, "its manifest is unreadable") from exc
    version = manifest.get("format_version") if isinstance(manifest, dict) else None
    if not isinstance(version, int):
        raise _corrupt(root, "its manifest has no format version")
    if version != FORMAT_VERSION:
        age = "newer" if version > FORMAT_VERSION else "older"
        raise IndexFormatError(
            f"the index at {root} has format {version}, {age} than this qa reads "
            f"({FORMAT_VERSION}): rebuild it: qa index --rebuild ARTICLES --index {root}"
        )
    return Index(root, generation, manifest, reader_lock=lock)


def _fold(text: str | None) -> str:
    """``text`` for caseless matching in any script (SQLite's lower() folds ASCII only)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text or "").casefold())


def _corrupt(root: Path, why: str) -> IndexFormatError:
    return IndexFormatError(
        f"the index at {root} is damaged: {why}; rebuild it: qa index --rebuild ARTICLES --index {root}"
    )


def _article_from_row(row: Sequence[Any]) -> Article:
    return Article(
        id=row[0], path=row[1], url=row[2], title=row[3], date=row[4], source=row[5],
        byline=row[6], content_hash=row[7], text=row[8],
        line_starts=tuple(json.loads(row[9])), line_numbers=tuple(json.loads(row[10])),
    )


def index_info(index_dir: str | Path) -> IndexInfo:
    """Counts, model, date range, sources and size of the index at ``index_dir``."""
    index = Index.open(index_dir)
    try:
        articles, chunks, first, last, sources = index.stats()
        files = index.size_on_disk()
        return IndexInfo(
            index_dir=str(index.root), manifest=index.manifest, articles=articles, chunks=chunks,
            first_date=first, last_date=last, sources=tuple(sources),
            size_bytes=sum(files.values()), files=files,
        )
    finally:
        index.close()
