"""Local store against the Milvus store on the RealtimeQA dev benchmark: hit@5, MRR@10,
answer-in-quotes@5, question latency and index size, for the "Scaling out" table in the README.

    python bench/milvus_quality.py [--data /work/shared/data/realtimeqa-dev]
                                   [--index bench/.cache/dev-index] [--milvus bench/.cache/dev.db]

The Milvus index is filled from the local index's stored vectors (matched by the hash of the text
each was computed from, as a local re-index does), so both stores hold the same vectors and the
comparison measures the stores, not a second embedding run; it is built on first use (the
texts and BM25 come from a fresh ingest of the same articles file) and reused afterwards.
Prints a Markdown report.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from qa.answer import answer_questions  # noqa: E402
from qa.evaluate import evaluate, load_gold  # noqa: E402
from qa.index import Index  # noqa: E402
from qa.milvus_store import MilvusIndex  # noqa: E402
from qa.milvus_writer import build_milvus_index  # noqa: E402


class StoredVectors:
    """An encoder that answers from a local index's stored chunk and sentence vectors."""

    def __init__(self, index: Index) -> None:
        self.name, self.backend = index.manifest["model"], index.manifest["backend"]
        self.dimension = int(index.manifest["dimension"])
        self._chunks, self._sentences = index.stored_vectors()

    def encode_with_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]],
                          **_: Any) -> tuple[np.ndarray, np.ndarray]:
        import hashlib

        chunks, sentences = [], []
        for text, text_spans in zip(texts, spans):
            key = hashlib.sha1(text.encode()).hexdigest()
            chunks.append(self._chunks[key])
            sentences += [self._sentences[hashlib.sha1(f"{key}:{s}:{e}".encode()).hexdigest()]
                          for s, e in text_spans]
        return (np.asarray(chunks, dtype=np.float32),
                np.asarray(sentences, dtype=np.float32).reshape(-1, self.dimension))


def latency_ms(index: Any, questions: list[str]) -> float:
    """Median milliseconds to answer one question alone (after one warm-up question)."""
    answer_questions(index, questions[:1], k=5)
    times = []
    for question in questions:
        started = time.perf_counter()
        answer_questions(index, [question], k=5)
        times.append((time.perf_counter() - started) * 1000)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="/work/shared/data/realtimeqa-dev")
    parser.add_argument("--index", default=str(REPO / "bench/.cache/dev-index"))
    parser.add_argument("--milvus", default=str(REPO / "bench/.cache/dev.db"))
    parser.add_argument("--latency-questions", type=int, default=30)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    spec = f"milvus:{args.milvus}"
    local = Index.open(args.index)
    build_seconds = None
    if not Path(args.milvus).exists():
        started = time.monotonic()
        report = build_milvus_index([Path(args.data) / "articles.jsonl"], spec, encoder=StoredVectors(local))
        build_seconds = time.monotonic() - started
        print(f"filled {spec}: {report.articles} articles, {report.chunks} chunks in {build_seconds:.0f}s",
              file=sys.stderr)
    milvus = MilvusIndex.open(spec)
    milvus.use_encoder(local.encoder)
    milvus.group_in_engine = True
    ungrouped = MilvusIndex.open(spec)
    ungrouped.use_encoder(local.encoder)
    ungrouped.group_in_engine = False
    gold = load_gold(Path(args.data) / "questions.jsonl")
    rows = []
    stores = (("local (FAISS + bm25s + SQLite)", local),
              ("Milvus Lite 2.5.1, hybrid_search with group_by_field (QA_MILVUS_GROUPING=engine)", milvus),
              ("Milvus Lite 2.5.1, hybrid_search, qa groups the fused chunks (Lite's default)", ungrouped))
    for name, index in stores:
        metrics = evaluate(index, gold, k=10).metrics
        latency = latency_ms(index, [g.question for g in gold[: args.latency_questions]])
        size = sum(index.size_on_disk().values())
        rows.append((name, metrics, latency, size))
    print(f"{len(gold)} questions, {local.manifest['articles']} articles, {local.chunk_count} chunks\n")
    print("| store | hit@5 | MRR@10 | answer in quotes@5 | median latency (1 question) | index size |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, metrics, latency, size in rows:
        print(f"| {name} | {metrics['hit@5']:.3f} | {metrics['mrr@10']:.3f} | "
              f"{metrics['answer_in_quotes@5']:.3f} | {latency:.0f} ms | {size / 1e6:.0f} MB |")
    if build_seconds is not None:
        print(f"\nMilvus filled (stored vectors, no embedding) in {build_seconds:.0f}s")


if __name__ == "__main__":
    main()
