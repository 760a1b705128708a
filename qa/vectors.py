"""The chunk vectors of a generation: L2-normalized vectors (inner product = cosine) searched by
FAISS, exactly (``flat``) or approximately once the archive is large (``hnsw``, ``ivfpq``).

The writer streams vectors to a scratch file, so the structure is chosen once their number is
known and built a batch at a time; readers memory-map it. See docs/index-format.md."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import InputError
from qa.layout import CHUNK_VECTORS, VECTORS

ANN_CHOICES = ("auto", "flat", "hnsw", "ivfpq")
# auto: exact search up to HNSW_FROM chunks, a graph up to IVFPQ_FROM, compressed lists beyond
# (bench/scale.py: flat costs ~0.1 ms a query per 10k chunks on this machine; HNSW keeps every
# vector in float32 beside its links, 1.8 KB a chunk, too much RAM past a few million chunks).
HNSW_FROM = 200_000
IVFPQ_FROM = 4_000_000
HNSW_LINKS = 32  # graph neighbours per vector (M)
HNSW_BUILD_DEPTH = 80  # efConstruction
HNSW_SEARCH_DEPTH = 128  # efSearch floor; at least 2x the depth asked (bench/scale.py: recall@10 >= 0.95)
PQ_BYTES = 48  # bytes of code per vector: 8 dimensions per sub-quantizer at 384 dimensions
PQ_TRAINING_ROUNDS = 10  # k-means rounds per codebook (faiss's 25 take minutes, for little recall)
IVF_PROBES = 48  # inverted lists scanned per query (bench/scale.py)
REFINE = 4  # ivfpq: candidates re-scored exactly from chunks.f16 per result asked
EXACT_BELOW = 50_000  # a filter allowing fewer rows is searched exactly over those rows
ADD_BATCH = 65_536  # vectors added to a structure at a time while building it


@dataclass(frozen=True)
class VectorLayout:
    """Which structure holds the vectors, as the manifest records it."""

    kind: str  # flat, hnsw or ivfpq
    requested: str = "auto"  # what the user asked for; updates keep asking for it
    lists: int = 0  # ivfpq: inverted lists

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "requested": self.requested, "lists": self.lists}

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> VectorLayout:
        """The layout a manifest records (format 2 had only flat vectors)."""
        stored = manifest.get("vectors") or {}
        return cls(stored.get("kind", "flat"), stored.get("requested", "auto"), int(stored.get("lists", 0)))


def choose_layout(requested: str, count: int) -> VectorLayout:
    """The structure for ``count`` vectors: ``requested`` unless it is ``auto``."""
    if requested not in ANN_CHOICES:
        raise InputError(f"unknown --ann {requested!r}: use one of {', '.join(ANN_CHOICES)}")
    kind = requested
    if requested == "auto":
        kind = "flat" if count < HNSW_FROM else "hnsw" if count < IVFPQ_FROM else "ivfpq"
    if kind == "ivfpq" and count < 1_000:
        kind = "flat"  # too few vectors to train lists and codebooks on
    lists = 0
    if kind == "ivfpq":  # about sqrt(n) lists of at least 39 training vectors each
        lists = 2 ** max(4, min(16, round(math.log2(math.sqrt(count)))))
        lists = min(lists, count // 39)
    return VectorLayout(kind, requested, lists)


class VectorWriter:
    """Takes a generation's chunk vectors in row order and, at ``finish``, writes the chosen
    structure (plus ``chunks.f16``, the exact vectors, for ``ivfpq`` whose codes are lossy)."""

    def __init__(self, work_dir: Path, dimension: int, requested: str = "auto") -> None:
        choose_layout(requested, 0)  # an unknown choice fails before anything is embedded
        self._work_dir = work_dir
        self._dimension = dimension
        self._requested = requested
        self._scratch_path = work_dir / "chunks.f32.partial"  # exact, as encoded
        self._scratch = open(self._scratch_path, "wb")
        self.count = 0

    def add(self, batch: np.ndarray) -> None:
        self._scratch.write(np.ascontiguousarray(batch, dtype=np.float32).tobytes())
        self.count += len(batch)

    def finish(self) -> dict[str, Any]:
        """Write the structure; returns what the manifest records about it."""
        import faiss

        self._scratch.close()
        layout = choose_layout(self._requested, self.count)
        stored = _open_matrix(self._scratch_path, self.count, self._dimension, np.float32)
        structure = _empty_structure(layout, self._dimension, stored)
        exact = open(self._work_dir / CHUNK_VECTORS, "wb") if layout.kind == "ivfpq" else None
        for start in range(0, self.count, ADD_BATCH):
            batch = np.ascontiguousarray(stored[start : start + ADD_BATCH])
            structure.add(batch)
            if exact is not None:
                exact.write(batch.astype(np.float16).tobytes())
        if exact is not None:
            exact.close()
        faiss.write_index(structure, str(self._work_dir / VECTORS))
        del stored
        self._scratch_path.unlink()
        return {"vectors": layout.as_dict()}


def _empty_structure(layout: VectorLayout, dimension: int, stored: np.ndarray) -> Any:
    """The FAISS index for ``layout``, trained on a sample of ``stored`` when it needs it."""
    import faiss

    if layout.kind == "flat":
        return faiss.IndexFlatIP(dimension)
    if layout.kind == "hnsw":
        graph = faiss.IndexHNSWFlat(dimension, HNSW_LINKS, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = HNSW_BUILD_DEPTH
        return graph
    quantizer = f"IVF{layout.lists}_HNSW32" if layout.lists >= 4096 else f"IVF{layout.lists}"
    # "np": no polysemous training (it costs minutes and serves Hamming filtering, unused here)
    structure = faiss.index_factory(dimension, f"{quantizer},PQ{PQ_BYTES}np", faiss.METRIC_INNER_PRODUCT)
    faiss.downcast_index(faiss.extract_index_ivf(structure)).pq.cp.niter = PQ_TRAINING_ROUNDS
    sample = min(len(stored), max(64 * layout.lists, 65_536))
    picked = np.sort(np.random.default_rng(0).choice(len(stored), size=sample, replace=False))
    structure.train(np.asarray(stored[picked], dtype=np.float32))
    return structure


def _open_matrix(path: Path, count: int, dimension: int, dtype: Any = np.float16) -> np.ndarray:
    if count == 0:
        return np.zeros((0, dimension), dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", shape=(count, dimension))


class Vectors:
    """A generation's chunk vectors opened for search (memory-mapped: opening reads nothing)."""

    def __init__(self, generation: Path, manifest: dict[str, Any]) -> None:
        import faiss

        self.layout = VectorLayout.from_manifest(manifest)
        self.dimension = int(manifest["dimension"])
        flags = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY
        self._path = generation / VECTORS
        self.structure = faiss.read_index(str(self._path), flags)  # RuntimeError if damaged
        self.count = int(self.structure.ntotal)
        self._exact: np.ndarray | None = None
        if self.layout.kind == "ivfpq":
            path = generation / CHUNK_VECTORS
            if not path.exists() or path.stat().st_size != self.count * self.dimension * 2:
                raise RuntimeError("chunks.f16 does not match the vector file")
            self._exact = _open_matrix(path, self.count, self.dimension)
            faiss.extract_index_ivf(self.structure).nprobe = IVF_PROBES

    def matrix(self) -> np.ndarray:
        """Every chunk vector, exactly as stored, in row order (float32 or float16), memory-mapped
        rather than copied into RAM."""
        if self._exact is None:
            self._exact = self._mapped_codes()
        return self._exact

    def _mapped_codes(self) -> np.ndarray:
        """flat and hnsw: FAISS writes the float32 vectors last in the file, so they are mapped
        from there (checked against the structure at both ends; a copy if they do not match)."""
        size = self.count * self.dimension * 4
        if self.count == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        mapped = np.memmap(self._path, dtype=np.float32, mode="r", offset=self._path.stat().st_size - size,
                           shape=(self.count, self.dimension))
        ends = self.structure.reconstruct_batch(np.array([0, self.count - 1], dtype=np.int64))
        if np.array_equal(mapped[[0, -1]], ends):
            return mapped
        return self.structure.reconstruct_n(0, self.count)

    def rows(self, rows: np.ndarray) -> np.ndarray:
        """The exact vectors of some rows, as float32."""
        if self._exact is not None:
            return np.asarray(self._exact[np.sort(rows)], dtype=np.float32)[np.argsort(np.argsort(rows))]
        return self.structure.reconstruct_batch(np.ascontiguousarray(rows, dtype=np.int64))

    def search(
        self, vectors: np.ndarray, depth: int, allowed: np.ndarray | None = None
    ) -> list[list[tuple[int, float]]]:
        """The top ``depth`` rows and cosine scores per query vector, within ``allowed`` rows."""
        import faiss

        queries = np.ascontiguousarray(vectors, dtype=np.float32)
        if self.layout.kind != "flat" and allowed is not None and len(allowed) < EXACT_BELOW:
            return _exact_over(queries, self.rows(allowed), allowed, depth)
        selector = None if allowed is None else faiss.IDSelectorBatch(allowed)
        asked = depth
        if self.layout.kind == "flat":
            params = faiss.SearchParameters(sel=selector)
        elif self.layout.kind == "hnsw":
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(HNSW_SEARCH_DEPTH, 2 * depth))
        else:
            asked = min(depth * REFINE, self.count)
            params = faiss.SearchParametersIVF(sel=selector, nprobe=IVF_PROBES)
        scores, rows = self.structure.search(queries, asked, params=params)
        if self.layout.kind == "ivfpq":
            return [self._rescored(queries[q], rows[q], depth) for q in range(len(queries))]
        return [
            [(int(r), float(s)) for r, s in zip(rows[q], scores[q]) if r >= 0]
            for q in range(len(queries))
        ]

    def _rescored(self, query: np.ndarray, rows: np.ndarray, depth: int) -> list[tuple[int, float]]:
        """The PQ candidates ranked by their exact cosine (from chunks.f16)."""
        found = rows[rows >= 0]
        if not len(found):
            return []
        scores = self.rows(found) @ query
        order = np.argsort(-scores, kind="stable")[:depth]
        return [(int(found[i]), float(scores[i])) for i in order]


def _exact_over(
    queries: np.ndarray, matrix: np.ndarray, rows: np.ndarray, depth: int
) -> list[list[tuple[int, float]]]:
    """Brute-force top ``depth`` among ``rows`` (whose vectors are ``matrix``)."""
    if not len(rows):
        return [[] for _ in queries]
    scores = queries @ matrix.T
    results = []
    for q in range(len(queries)):
        top = np.argsort(-scores[q], kind="stable")[:depth]
        results.append([(int(rows[i]), float(scores[q, i])) for i in top])
    return results
