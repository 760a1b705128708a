"""The embedding sink: chunks in, their vectors and their sentences' vectors out, in order,
reusing the vectors an earlier generation stored for the same text."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.errors import ModelError

if TYPE_CHECKING:
    from embeddings import Encoder

EMBED_BATCH = 256  # chunks per encode call: sorted by length inside it, so little padding


def load_encoder(name: str, backend: str) -> Encoder:
    """The model an index is built or searched with (a failure is a ``ModelError``)."""
    from embeddings import EmbeddingError
    from embeddings import load_encoder as load

    try:
        return load(name, backend)
    except EmbeddingError as exc:
        raise ModelError(str(exc)) from exc


class EmbeddingSink:
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


class StoredModel:
    """The index's model as its stored vectors give it: what ``qa remove`` embeds with. The kept
    chunks' vectors are all stored (matched by the hash of their text), so the model itself is
    loaded only if one is not (the chunker changed since the index was built)."""

    def __init__(self, manifest: dict[str, Any]) -> None:
        self.name, self.backend = manifest["model"], manifest["backend"]
        self.dimension = int(manifest["dimension"])
        self._model: Encoder | None = None

    def _loaded(self) -> Encoder:
        if self._model is None:
            self._model = load_encoder(self.name, self.backend)
        return self._model

    def encode(self, texts: Sequence[str], **options: Any) -> np.ndarray:
        return self._loaded().encode(texts, **options)

    def encode_with_spans(self, texts: Sequence[str], spans: Any, **options: Any) -> Any:
        return self._loaded().encode_with_spans(texts, spans, **options)


def same_model(manifest: dict[str, Any], encoder: Encoder) -> bool:
    return (
        manifest.get("model") == encoder.name
        and manifest.get("dimension") == encoder.dimension
        and manifest.get("backend") == encoder.backend
    )
