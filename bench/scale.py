"""Scale: dense search latency and recall of the vector structures at 1M+ chunks, bytes per
vector at rest, and the bytes an update writes.

    python bench/scale.py vectors [--chunks 1000000] [--ann flat,hnsw,ivfpq] [--queries 200]
                                  [--from-index bench/.cache/dev-index]
    python bench/scale.py update [--articles 400] [--added 0.01]

``vectors``: synthetic chunk vectors (mixtures of two real MiniLM chunk vectors from
``--from-index`` plus noise, so they have the real embeddings' structure; low-rank clusters
without it), written through ``qa.vectors.VectorWriter`` as ``qa index`` writes them and searched
through ``qa.vectors.Vectors`` one question at a time, as ``qa ask`` does. Recall@10 is against
exact brute force over the same vectors; p50/p95 are per query after a warm-up, on this
machine's 2 cores. ``update``: the storage cost of adding ``--added`` of an archive of
``--articles`` synthetic articles, with the hashing encoder (no model).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from qa.vectors import Vectors, VectorWriter  # noqa: E402

BATCH = 100_000


def synthetic(count: int, seed: int, real: np.ndarray | None, dimension: int = 384):
    """Batches of unit vectors, the same for the same seed (so they are made twice, not kept)."""
    rng = np.random.default_rng(seed)
    basis = None
    if real is None:
        shape = np.random.default_rng(0)
        basis = np.linalg.qr(shape.standard_normal((dimension, 64)))[0].T.astype(np.float32)
        centres = shape.standard_normal((2000, 64)).astype(np.float32)
    for start in range(0, count, BATCH):
        size = min(BATCH, count - start)
        if real is not None:
            mix = rng.uniform(0.1, 0.5, size=(size, 1)).astype(np.float32)
            points = (real[rng.integers(len(real), size=size)] * (1 - mix)
                      + real[rng.integers(len(real), size=size)] * mix)
            points += rng.standard_normal(points.shape).astype(np.float32) * 0.02
        else:
            points = centres[rng.integers(len(centres), size=size)] + rng.standard_normal(
                (size, 64)).astype(np.float32) * 0.7
            points = points @ basis + rng.standard_normal((size, dimension)).astype(np.float32) * 0.05
        yield points / np.linalg.norm(points, axis=1, keepdims=True)


def exact_top(queries: np.ndarray, batches, k: int = 10) -> np.ndarray:
    """Brute-force top-k rows per query over the streamed batches."""
    best_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), k), dtype=np.int64)
    offset = 0
    for batch in batches:
        scores = queries @ batch.T
        top = np.argpartition(-scores, k, axis=1)[:, :k]
        scores = np.concatenate([best_scores, np.take_along_axis(scores, top, axis=1)], axis=1)
        rows = np.concatenate([best_rows, top + offset], axis=1)
        keep = np.argsort(-scores, axis=1)[:, :k]
        best_scores, best_rows = np.take_along_axis(scores, keep, 1), np.take_along_axis(rows, keep, 1)
        offset += len(batch)
    return best_rows


def run_vectors(options: argparse.Namespace) -> None:
    real = None
    if options.from_index and Path(options.from_index, "CURRENT").exists():
        from qa.index import Index

        index = Index.open(options.from_index)
        real = index.chunk_vectors(index.live_rows())
        index.close()
    queries = np.vstack(list(synthetic(options.queries, 999, real)))
    started = time.monotonic()
    truth = exact_top(queries, synthetic(options.chunks, 1, real))
    print(f"exact top-10 of {options.queries} queries over {options.chunks:,} vectors: "
          f"{time.monotonic() - started:.0f}s", file=sys.stderr)
    source = "mixtures of dev-index chunk vectors" if real is not None else "low-rank clusters"
    print(f"\n## Dense search at {options.chunks:,} synthetic chunks ({source}, 384 dims)\n")
    print("| structure | build s | p50 ms | p95 ms | recall@10 | bytes/vector at rest | files |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for ann in options.ann.split(","):
        work = Path(tempfile.mkdtemp(prefix=f"scale-{ann}-", dir=options.work))
        try:
            started = time.monotonic()
            writer = VectorWriter(work, 384, ann)
            for batch in synthetic(options.chunks, 1, real):
                writer.add(batch)
            manifest = {"dimension": 384, **writer.finish()}
            build = time.monotonic() - started
            vectors = Vectors(work, manifest)
            vectors.search(queries[:5], 100)  # warm-up: pages in what a query touches
            latencies, found = [], []
            for query in queries:
                began = time.perf_counter()
                found.append(vectors.search(query[None, :], 100)[0])  # depth: retrieval's candidates
                latencies.append(time.perf_counter() - began)
            recall = np.mean([len({r for r, _ in rows[:10]} & set(t)) / 10 for rows, t in zip(found, truth)])
            sizes = {p.name: p.stat().st_size for p in work.iterdir()}
            print(f"| {manifest['vectors']['kind']} (lists {manifest['vectors']['lists']}) | {build:.0f} | "
                  f"{np.percentile(latencies, 50) * 1000:.1f} | {np.percentile(latencies, 95) * 1000:.1f} | "
                  f"{recall:.3f} | {sum(sizes.values()) / options.chunks:.0f} | "
                  + ", ".join(f"{n} {s / options.chunks:.0f}" for n, s in sorted(sizes.items())) + " |",
                  flush=True)
            del vectors
        finally:
            shutil.rmtree(work, ignore_errors=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this run: {peak:.0f} MB")


def run_update(options: argparse.Namespace) -> None:
    from embeddings import HashingEncoder
    from qa.writer import build_index

    work = Path(tempfile.mkdtemp(prefix="scale-update-", dir=options.work))
    try:
        corpus = work / "corpus"
        corpus.mkdir()
        rng = np.random.default_rng(5)
        words = np.array([f"w{n}" for n in range(5000)])

        def write(n: int) -> None:  # 6 paragraphs of 5 lines of 18 words drawn from 5,000
            picks = words[rng.integers(0, len(words), size=(6, 5, 18))]
            paragraphs = ["\n".join(" ".join(line) + "." for line in paragraph) for paragraph in picks]
            path = corpus / f"{n:06d}.txt"
            path.write_text(f"Story {n}\n\n" + "\n\n".join(paragraphs))
            yesterday = time.time() - 86400  # an archive's files are not seconds old
            os.utime(path, (yesterday, yesterday))

        for n in range(options.articles):
            write(n)
        encoder = HashingEncoder()
        started = time.monotonic()
        build_index([corpus], work / "idx", encoder=encoder)
        full = time.monotonic() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        before = _generation_bytes(work / "idx")
        for n in range(options.articles, options.articles + max(1, round(options.articles * options.added))):
            write(n)
        written = _written_bytes()
        started = time.monotonic()
        report = build_index([corpus], work / "idx", encoder=encoder)
        update = time.monotonic() - started
        written = _written_bytes() - written
        after = _generation_bytes(work / "idx")
        print(f"\n## Update cost: {report.added} articles added to {options.articles} "
              f"(hashing encoder)\n")
        print("| index bytes before | after | bytes written by the update | share of the index | "
              "full build s | update s | share of the build's time | peak RSS of the build MB |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        print(f"| {before:,} | {after:,} | {written:,} | {written / after:.1%} | {full:.1f} | "
              f"{update:.2f} | {update / full:.1%} | {peak:.0f} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _generation_bytes(root: Path) -> int:
    """Bytes of the current generation: its own directory and those of all its segments."""
    import json

    current = (root / "CURRENT").read_text().strip()
    manifest = json.loads((root / current / "manifest.json").read_text())
    used = {current, *(s["name"] for s in manifest.get("segments", ()))}
    return sum(p.stat().st_size for name in used for p in (root / name).rglob("*") if p.is_file())


def _written_bytes() -> int:
    """Bytes this process has written (to the page cache, whether or not flushed yet)."""
    for line in Path(f"/proc/{os.getpid()}/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("what", choices=["vectors", "update"])
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--ann", default="flat,hnsw,ivfpq")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--from-index", default=str(REPO / "bench/.cache/dev-index"))
    parser.add_argument("--articles", type=int, default=400)
    parser.add_argument("--added", type=float, default=0.01)
    parser.add_argument("--work", default=None, help="scratch folder (default: the system's)")
    options = parser.parse_args()
    run_vectors(options) if options.what == "vectors" else run_update(options)


if __name__ == "__main__":
    main()
