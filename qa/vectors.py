"""The chunk vectors of a generation: a FAISS index over L2-normalized vectors (inner product =
cosine), written as the vectors stream in and searched within an optional set of allowed rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from qa.layout import VECTORS


class VectorWriter:
    """Collects a generation's chunk vectors in row order and writes ``vectors.faiss``."""

    def __init__(self, work_dir: Path, dimension: int) -> None:
        import faiss

        self._path = work_dir / VECTORS
        self._index = faiss.IndexFlatIP(dimension)

    @property
    def count(self) -> int:
        return int(self._index.ntotal)

    def add(self, batch: np.ndarray) -> None:
        self._index.add(np.ascontiguousarray(batch, dtype=np.float32))

    def finish(self) -> dict[str, Any]:
        """Write the file; returns what the manifest records about it."""
        import faiss

        faiss.write_index(self._index, str(self._path))
        return {}


def read_vectors(generation: Path) -> Any:
    """The FAISS index of a generation (raises RuntimeError when the file is unreadable)."""
    import faiss

    return faiss.read_index(str(generation / VECTORS))


def search(
    index: Any, vectors: np.ndarray, depth: int, allowed: np.ndarray | None = None
) -> list[list[tuple[int, float]]]:
    """The top ``depth`` rows and cosine scores per query vector, within ``allowed`` rows."""
    import faiss

    queries = np.ascontiguousarray(vectors, dtype=np.float32)
    if allowed is None:
        scores, rows = index.search(queries, depth)
    else:
        selector = faiss.IDSelectorBatch(allowed)
        scores, rows = index.search(queries, depth, params=faiss.SearchParameters(sel=selector))
    return [
        [(int(r), float(s)) for r, s in zip(rows[q], scores[q]) if r >= 0]
        for q in range(len(queries))
    ]
