"""Speed and memory of qa on this machine, printed as a Markdown report.

    python bench/speed.py [--data ../shared/data/realtimeqa-dev] [--index bench/.cache/dev-index]

Measures, in one run: indexing throughput of the pipeline on a slice of the dev articles against
the bare sentence-transformers ``model.encode`` rate (torch) and the int8 ONNX encoder on the same
chunks; peak memory of indexing; warm query latency; batch questions/s; cold start of ``qa ask``
and ``qa --help``; index size on disk; FAISS search latency and memory at 10k/100k/1M chunks
(random unit vectors). The full dev index (for latency and batch) is built on first use.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def timed(fn, repeat: int = 1) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def index_run(source: Path, index_dir: Path) -> tuple[float, float]:
    """Run ``qa index`` in a child process: wall seconds and its own peak RSS in MB."""
    command = [sys.executable, str(REPO / "cli.py"), "index", str(source), "--index", str(index_dir)]
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"qa index {source} failed with status {status}")
    return seconds, usage.ru_maxrss / 1024


def indexing(data: Path, articles: int) -> list[tuple[str, str]]:
    """Pipeline vs bare model on the chunks of the first ``articles`` dev articles."""
    import torch

    from embeddings import load_encoder
    from embeddings.onnx import OnnxEncoder
    from qa.index import Index
    from qa.segment_writer import embedding_text

    rows = []
    with tempfile.TemporaryDirectory() as work:
        peaks = []
        for count in (articles // 2, articles):
            sample = Path(work) / f"sample-{count}.jsonl"
            with open(data / "articles.jsonl") as source, open(sample, "w") as target:
                for _, line in zip(range(count), source):
                    target.write(line)
            index_dir = Path(work) / f"index-{count}"
            seconds, peak = index_run(sample, index_dir)
            peaks.append(f"{peak:.0f} MB at {count} articles")
        index = Index.open(index_dir)
        chunks = index.chunks(list(index.live_rows()))
        texts = [embedding_text(index.article(c.article_id), c) for c in chunks]
        sentences = int(index.manifest["sentences"])
        torch_encoder = load_encoder(backend="torch")
        onnx_encoder = load_encoder(backend="onnx")
        torch_seconds = timed(lambda: torch_encoder.encode(texts, batch_size=32))
        onnx_seconds = timed(lambda: onnx_encoder.encode(texts))
        one_thread = OnnxEncoder(onnx_encoder.name, onnx_encoder.model_dir, threads=1)
        one_thread_seconds = timed(lambda: one_thread.encode(texts))
        rows += [
            ("articles in the slice", f"{articles} ({len(texts)} chunks, {sentences} sentences)"),
            (f"bare sentence-transformers model.encode (torch, {torch.get_num_threads()} threads), chunks/s",
             f"{len(texts) / torch_seconds:.1f}"),
            ("int8 ONNX encoder alone, batches on 2 single-threaded sessions (the default), chunks/s",
             f"{len(texts) / onnx_seconds:.1f} ({torch_seconds / onnx_seconds:.2f}x torch)"),
            ("int8 ONNX encoder alone, one single-threaded session, chunks/s",
             f"{len(texts) / one_thread_seconds:.1f} ({torch_seconds / one_thread_seconds:.2f}x torch)"),
            ("`qa index` end to end (ingest, clean, chunk, embed chunks with their sentences pooled "
             "from the same pass, BM25, write), chunks/s",
             f"{len(texts) / seconds:.1f} ({torch_seconds / seconds:.2f}x the bare torch rate)"),
            ("peak memory of `qa index` (RSS)", ", ".join(peaks)),
        ]
        index.close()
    return rows


def encoder_memory(index_dir: Path, rounds: int = 5) -> list[tuple[str, str]]:
    """RSS of this process while the default encoder embeds the same 1,024 chunks (with their
    sentences) again and again, 256 at a time as indexing does: memory bounded by the batch
    levels off after the first round."""
    from embeddings import load_encoder
    from qa.index import Index
    from qa.segment_writer import embedding_text, sentence_span

    def rss() -> float:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6

    index = Index.open(index_dir)
    chunks = index.chunks(list(range(min(1024, index.chunk_count))))
    texts = [embedding_text(index.article(c.article_id), c) for c in chunks]
    spans = [[sentence_span(t, c, s) for s in c.sentences] for t, c in zip(texts, chunks)]
    index.close()
    before = rss()
    encoder = load_encoder()
    after = [rss()]
    for _ in range(rounds):
        for first in range(0, len(texts), 256):
            encoder.encode_with_spans(texts[first : first + 256], spans[first : first + 256])
        after.append(rss())
    return [(f"RSS of the encoder embedding the same {len(texts)} chunks {rounds} times, 256 at a time "
             "(MB: before and after loading, then after each round)",
             f"{before:.0f} before loading; " + " / ".join(f"{value:.0f}" for value in after))]


def querying(index_dir: Path, data: Path) -> list[tuple[str, str]]:
    """Warm latency and batch rate, with and without the packaged cross-encoder."""
    from qa.answer import AnswerSettings, answer_questions, ask
    from qa.evaluate import load_gold
    from qa.index import Index

    index = Index.open(index_dir)
    gold = load_gold(data / "questions.jsonl")
    questions = [g.question for g in gold]
    rows = [("index", f"{index.manifest['articles']} articles, {index.chunk_count} chunks, "
                      f"{index.manifest['sentences']} sentences")]
    for reranker in ("default", "none"):
        settings = AnswerSettings(reranker=reranker)
        ask(index, questions[0], settings=settings)  # warm up: models, store, BM25
        latencies = []
        for question in questions:
            started = time.perf_counter()
            ask(index, question, k=5, settings=settings)
            latencies.append(time.perf_counter() - started)
        many = questions * 5
        batch_seconds = timed(lambda s=settings: answer_questions(index, many, k=5, settings=s))
        rows += [
            (f"warm `ask` latency p50 / p95 (k=5, one question at a time, reranker {reranker})",
             f"{statistics.median(latencies) * 1000:.0f} ms / "
             f"{np.percentile(latencies, 95) * 1000:.0f} ms"),
            (f"batch answering ({len(many)} questions, k=5, reranker {reranker})",
             f"{len(many) / batch_seconds:.1f} questions/s"),
        ]
    sizes = index.size_on_disk()
    size = ", ".join(f"{name} {value / 1e6:.1f} MB" for name, value in sorted(sizes.items()))
    rows.append(("index size on disk", f"{sum(sizes.values()) / 1e6:.1f} MB ({size})"))
    index.close()
    return rows


def cold_start() -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as work:
        index_dir = Path(work) / "demo"
        subprocess.run([sys.executable, str(REPO / "cli.py"), "index", str(REPO / "demo-corpus"),
                        "--index", str(index_dir)], check=True, capture_output=True, cwd=REPO)
        results = []
        for label, args in (
            ("cold `qa ask` on the demo index (wall, median of 5)",
             ["ask", "Who leads the Liwa Suqour al-Jabal rebel group?", "--index", str(index_dir)]),
            ("cold `qa --help` (wall, median of 5)", ["--help"]),
            ("cold `qa info` (wall, median of 5)", ["info", "--index", str(index_dir)]),
        ):
            walls = []
            for _ in range(5):
                started = time.perf_counter()
                subprocess.run([sys.executable, str(REPO / "cli.py"), *args], check=True,
                               capture_output=True, cwd=REPO)
                walls.append(time.perf_counter() - started)
            results.append((label, f"{statistics.median(walls):.2f} s"))
    return results


def faiss_scale(dimension: int = 384) -> list[tuple[str, str]]:
    import faiss

    rng = np.random.default_rng(0)
    rows = []
    for size in (10_000, 100_000, 1_000_000):
        vectors = rng.standard_normal((size, dimension), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        index = faiss.IndexFlatIP(dimension)
        index.add(vectors)
        del vectors
        queries = rng.standard_normal((50, dimension), dtype=np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        single = [timed(lambda q=q, i=index, x=queries: i.search(x[q : q + 1], 100))
                  for q in range(20)]
        batched = timed(lambda i=index, x=queries: i.search(x, 100))
        rows.append((f"FAISS flat, {size:,} chunks: one query / 50 queries batched, memory",
                     f"{statistics.median(single) * 1000:.1f} ms / {batched * 1000:.0f} ms, "
                     f"{size * dimension * 4 / 1e6:.0f} MB"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared/data/realtimeqa-dev"))
    parser.add_argument("--index", default=str(REPO / "bench/.cache/dev-index"))
    parser.add_argument("--slice", type=int, default=200, help="articles for the indexing part")
    parser.add_argument("--parts", default="indexing,memory,querying,cold,faiss",
                        help="which parts to run, comma-separated")
    options = parser.parse_args()
    data, index_dir = Path(options.data), Path(options.index)
    if not (index_dir / "CURRENT").exists():
        subprocess.run([sys.executable, str(REPO / "cli.py"), "index", str(data / "articles.jsonl"),
                        "--index", str(index_dir)], check=True, cwd=REPO)
    parts = {
        "indexing": lambda: indexing(data, options.slice), "memory": lambda: encoder_memory(index_dir),
        "querying": lambda: querying(index_dir, data), "cold": cold_start, "faiss": faiss_scale,
    }
    rows = [row for name in options.parts.split(",") for row in parts[name.strip()]()]
    print("| measure | value |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
