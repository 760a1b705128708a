"""The read-only ``Index``: one opened generation of the index directory, with its store, its
dense vectors (FAISS) and its BM25 lexical index (bm25s), and the two searches over them.
Written by ``qa.writer``; laid out as ``qa.layout`` and docs/index-format.md describe."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa import layout
from qa.errors import IndexFormatError, IndexMissingError
from qa.layout import CURRENT_FILE
from qa.lexical import tokenize
from qa.models import Article
from qa.sink import load_encoder
from qa.store import Store

if TYPE_CHECKING:
    from embeddings import Encoder
    from qa.vectors import Vectors


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


class Index(Store):
    """An opened index generation: read-only access to articles, chunks, vectors and BM25."""

    def __init__(self, root: Path, generation: Path, manifest: dict[str, Any],
                 reader_lock: int | None = None) -> None:
        self._reader_lock = reader_lock  # a shared flock on the generation: not deleted under us
        super().__init__(root, generation, manifest)
        self._vectors: Vectors | None = None
        self._bm25: Any = None
        self._encoder: Encoder | None = None
        self._document_frequency: dict[str, int] | None = None
        self._sentence_vectors: np.ndarray | None = None
        self._copies: dict[str, str] | None = None
        self._copy_members: dict[str, list[str]] = {}

    @classmethod
    def open(cls, index_dir: str | Path) -> Index:
        """Open the current generation of the index at ``index_dir``."""
        index = cls.open_if_present(index_dir)
        if index is None:
            raise IndexMissingError(
                f"no index at {index_dir}: build one with: qa index ARTICLES_DIR --index {index_dir}"
            )
        return index

    @classmethod
    def open_if_present(cls, index_dir: str | Path) -> Index | None:
        """The current generation of the index at ``index_dir``, None when there is none."""
        root = Path(index_dir)
        found = layout.open_current(root)
        if found is None:
            return None
        generation, manifest, lock = found
        try:
            return cls(root, generation, manifest, reader_lock=lock)
        except BaseException:
            os.close(lock)
            raise

    def close(self) -> None:
        super().close()
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

    # -- searches

    def dense_search(
        self, vectors: np.ndarray, depth: int, allowed: np.ndarray | None = None
    ) -> list[list[tuple[int, float]]]:
        """Top ``depth`` chunk rows and cosine scores per question vector, within ``allowed``
        rows: exact, or approximate when the index was built with ANN (``qa.vectors``)."""
        return self.vectors.search(vectors, depth, allowed)

    def lexical_search(
        self, questions: Sequence[str], depth: int, allowed: np.ndarray | None = None
    ) -> list[list[tuple[int, float]]]:
        """BM25 top ``depth`` chunk rows and scores for each question, within ``allowed`` rows."""
        vocabulary = self.bm25.vocab_dict
        queries = [[t for t in tokenize(q) if t in vocabulary] for q in questions]
        results: list[list[tuple[int, float]]] = [[] for _ in questions]
        asked = [i for i, terms in enumerate(queries) if terms]
        if not asked:
            return results
        mask = None
        if allowed is not None:
            mask = np.zeros(self.chunk_count, dtype=np.float32)
            mask[allowed] = 1.0
        rows, scores = self.bm25.retrieve(
            [queries[i] for i in asked], k=depth, show_progress=False, n_threads=1, weight_mask=mask
        )
        for position, q in enumerate(asked):
            results[q] = [
                (int(r), float(s)) for r, s in zip(rows[position], scores[position]) if s > 0
            ]
        return results

    # -- other files of the generation

    @property
    def copies(self) -> dict[str, str]:
        """Article id -> its syndicated-copy group id, for articles that have copies."""
        if self._copies is None:
            path = self.generation / layout.COPIES
            try:
                self._copies = json.loads(path.read_text()) if path.exists() else {}
            except (OSError, json.JSONDecodeError) as exc:
                raise layout.corrupt(self.root, "its copy table is unreadable") from exc
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
            path = self.generation / layout.SENTENCE_VECTORS
            count, dimension = int(self.manifest.get("sentences", 0)), int(self.manifest["dimension"])
            expected = count * dimension * 2
            if not path.exists() or path.stat().st_size != expected:
                raise layout.corrupt(self.root, "its sentence vector file does not match its manifest")
            self._sentence_vectors = (
                np.memmap(path, dtype=np.float16, mode="r", shape=(count, dimension))
                if count else np.zeros((0, dimension), dtype=np.float16)
            )
        return self._sentence_vectors

    def sentence_vectors_by_hash(self) -> dict[str, np.ndarray]:
        """Stored sentence vectors keyed by their hash (of the chunk text they were read in and
        their span in it), for reuse on re-index."""
        matrix = self.sentence_vectors
        return {h: matrix[r] for r, h in self.sentence_hashes()}

    def vectors_by_embed_hash(self) -> dict[str, np.ndarray]:
        """Stored vectors keyed by the hash of the text they embed, for reuse on re-index."""
        rows = self.chunk_hashes()
        if not rows:
            return {}
        matrix = self.vectors.matrix()
        return {h: matrix[r] for r, h in rows}

    @property
    def vectors(self) -> Vectors:
        """The chunk vectors, memory-mapped, with the structure that searches them."""
        if self._vectors is None:
            from qa.vectors import Vectors

            try:
                self._vectors = Vectors(self.generation, self.manifest)
            except RuntimeError as exc:
                raise layout.corrupt(self.root, "its vector file is unreadable") from exc
            if self._vectors.count != self.chunk_count:
                raise layout.corrupt(self.root, "its vector file does not match its chunk store")
        return self._vectors

    @property
    def bm25(self) -> Any:
        if self._bm25 is None:
            import bm25s

            try:
                self._bm25 = bm25s.BM25.load(
                    str(self.generation / layout.BM25_DIR), mmap=True, load_corpus=False,
                    show_progress=False,
                )
            except (OSError, ValueError, TypeError, KeyError, EOFError) as exc:  # a damaged file
                raise layout.corrupt(self.root, "its BM25 index is unreadable") from exc
        return self._bm25

    @property
    def document_frequency(self) -> dict[str, int]:
        """How many chunks contain each index term (for weighting the question's words)."""
        if self._document_frequency is None:
            try:
                self._document_frequency = json.loads((self.generation / layout.TERMS).read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise layout.corrupt(self.root, "its term table is unreadable") from exc
        return self._document_frequency

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = load_encoder(self.manifest["model"], self.manifest["backend"])
            if self._encoder.dimension != self.manifest["dimension"]:
                raise layout.corrupt(self.root, "its model gives vectors of another dimension")
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
        return layout.size_on_disk(self.generation)


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
