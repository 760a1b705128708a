"""One segment of an index: the immutable files of one generation directory (its SQLite store,
chunk vectors, sentence vectors, BM25 index and term counts) for the articles written with it.
``qa.index.Index`` searches all the segments of the current generation and merges them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa import layout
from qa.store import Store

if TYPE_CHECKING:
    from qa.vectors import Vectors


def segment_manifest(manifest: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    """What a segment's own files hold: the generation's settings (model, chunker, versions)
    with the segment's counts and vector structure."""
    own = {**manifest, "chunks": entry["chunks"], "sentences": entry["sentences"]}
    own.pop("vectors", None)
    if "vectors" in entry:
        own["vectors"] = entry["vectors"]
    return own


class Segment(Store):
    """Read-only access to one segment: its store and, loaded on first use, its vectors, BM25
    index and term counts. Rows are the segment's own (0 .. chunks - 1)."""

    def __init__(self, root: Path, directory: Path, manifest: dict[str, Any]) -> None:
        super().__init__(root, directory, manifest)
        self._vectors: Vectors | None = None
        self._bm25: Any = None
        self._document_frequency: dict[str, int] | None = None
        self._sentence_vectors: np.ndarray | None = None

    @property
    def sentence_count(self) -> int:
        return int(self.manifest.get("sentences", 0))

    @property
    def sentence_vectors(self) -> np.ndarray:
        """One float16 vector per sentence row (memory-mapped)."""
        if self._sentence_vectors is None:
            path = self.generation / layout.SENTENCE_VECTORS
            count, dimension = self.sentence_count, int(self.manifest["dimension"])
            if not path.exists() or path.stat().st_size != count * dimension * 2:
                raise layout.corrupt(self.root, "its sentence vector file does not match its manifest")
            self._sentence_vectors = (
                np.memmap(path, dtype=np.float16, mode="r", shape=(count, dimension))
                if count else np.zeros((0, dimension), dtype=np.float16)
            )
        return self._sentence_vectors

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
        """How many of this segment's chunks contain each index term."""
        if self._document_frequency is None:
            try:
                self._document_frequency = json.loads((self.generation / layout.TERMS).read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise layout.corrupt(self.root, "its term table is unreadable") from exc
        return self._document_frequency

    def lexical_search(
        self, queries: Sequence[list[str]], depth: int, mask: np.ndarray | None
    ) -> list[list[tuple[int, float]]]:
        """bm25s's own top ``depth`` rows and scores for each query's terms (all in this
        segment's vocabulary), within the rows where ``mask`` is 1."""
        results: list[list[tuple[int, float]]] = [[] for _ in queries]
        asked = [i for i, terms in enumerate(queries) if terms]
        if not asked:
            return results
        rows, scores = self.bm25.retrieve(
            [queries[i] for i in asked], k=min(depth, self.chunk_count), show_progress=False,
            n_threads=1, weight_mask=mask,
        )
        for position, q in enumerate(asked):
            results[q] = [(int(r), float(s)) for r, s in zip(rows[position], scores[position]) if s > 0]
        return results

    def term_scores(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """The rows holding ``term`` and its BM25 score in each, as this segment's BM25 index
        computed it (with the segment's own inverse document frequency)."""
        bm25 = self.bm25
        token = bm25.vocab_dict.get(term)
        if token is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        start, end = int(bm25.scores["indptr"][token]), int(bm25.scores["indptr"][token + 1])
        return (np.asarray(bm25.scores["indices"][start:end], dtype=np.int64),
                np.asarray(bm25.scores["data"][start:end], dtype=np.float32))

    def vectors_of_articles(self, article_ids: Sequence[str]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """The stored chunk vectors (by the hash of the text they embed) and sentence vectors (by
        their hash) of some articles, for an update that writes those articles again."""
        chunk_rows: list[tuple[int, str]] = []
        sentence_rows: set[int] = set()
        for row, embed_hash, stored in self._rows_in(
                "SELECT row, embed_hash, sentences FROM chunks WHERE article_id IN ({})", article_ids):
            chunk_rows.append((row, embed_hash))
            sentence_rows.update(r for _, _, r in json.loads(stored))
        chunks: dict[str, np.ndarray] = {}
        if chunk_rows:
            found = self.vectors.rows(np.array([r for r, _ in chunk_rows], dtype=np.int64))
            chunks = {h: found[i] for i, (_, h) in enumerate(chunk_rows)}
        sentences: dict[str, np.ndarray] = {}
        for row, key in self._rows_in("SELECT row, hash FROM sentences WHERE row IN ({})",
                                      sorted(sentence_rows)):
            sentences[key] = self.sentence_vectors[row]
        return chunks, sentences

    def sentence_vectors_by_hash(self) -> dict[str, np.ndarray]:
        """Stored sentence vectors keyed by their hash (of the chunk text they were read in and
        their span in it), for reuse when the segment is written again."""
        matrix = self.sentence_vectors
        return {h: matrix[r] for r, h in self.sentence_hashes()}

    def vectors_by_embed_hash(self) -> dict[str, np.ndarray]:
        """Stored vectors keyed by the hash of the text they embed, for reuse when rewritten."""
        rows = self.chunk_hashes()
        if not rows:
            return {}
        matrix = self.vectors.matrix()
        return {h: matrix[r] for r, h in rows}

    def size_on_disk(self) -> dict[str, int]:
        return layout.size_on_disk(self.generation)
