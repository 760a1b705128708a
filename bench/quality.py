"""Quality on the RealtimeQA dev benchmark: qa's pipeline against BM25 alone, dense alone and
their plain RRF fusion, on the same index, on the weeks bench/fit_scorer.py did not fit on
(and on all questions, for comparison with earlier reports), and abstention on held-out
questions.

    python bench/quality.py [--data ../shared/data/realtimeqa-dev] [--index bench/.cache/dev-index]
                            [--torch-index bench/.cache/dev-index-torch]

With ``--torch-index``, the same pipeline on an index built with ``--backend torch`` (built on
first use, ~25 min on 2 cores) is compared with the default int8 ONNX one: quality must agree.

Builds the index on first run (reused afterwards) and prints a Markdown report; never commit the
data. Baselines quote the best whole passage (chunk) of each of their top articles.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from qa.answer import AnswerSettings  # noqa: E402
from qa.evaluate import (  # noqa: E402
    GoldQuestion, _article_references, _normalize_reference, _normalize_text, evaluate, load_gold,
)
from qa.index import Index  # noqa: E402
from qa.writer import build_index  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
from fit_scorer import FIT_UNTIL, split_weeks  # noqa: E402
from qa.retrieve import fuse_rankings  # noqa: E402


def baseline_metrics(index: Index, gold: list[GoldQuestion], method: str) -> dict[str, float]:
    """hit@k / MRR@10 / answer in top-5 passages for a baseline ranking of chunks."""
    questions = [g.question for g in gold]
    depth = 200
    if method != "bm25":
        # Dense alone is sentence-transformers' own exact search over the same chunk vectors.
        import torch
        from sentence_transformers import util

        live = index.live_rows()
        corpus = torch.from_numpy(index.chunk_vectors(live))
        found = util.semantic_search(
            torch.from_numpy(index.encoder.encode(questions)), corpus, top_k=depth
        )
    if method != "dense":
        lexical = index.lexical_search(questions, depth)
    ranks, answer_hits, answer_first = [], 0, 0
    for q, item in enumerate(gold):
        dense = [(int(live[h["corpus_id"]]), h["score"]) for h in found[q]] if method != "bm25" else []
        if method == "bm25":
            ranking = lexical[q]
        elif method == "dense":
            ranking = dense
        else:
            ranking = [(r, f) for r, f, _, _ in fuse_rankings(dense, lexical[q])]
        chunks = index.chunks([r for r, _ in ranking])
        articles, passages = [], []
        for chunk in chunks:
            if chunk.article_id not in articles:
                articles.append(chunk.article_id)
                passages.append(chunk.text)
            if len(articles) == 10:
                break
        wanted = {_normalize_reference(s) for s in item.sources}
        rank = next((i + 1 for i, a in enumerate(articles)
                     if wanted & _article_references(index.article(a))), None)
        ranks.append(rank or 999)
        answers = [_normalize_text(a) for a in item.answers]
        if any(a in _normalize_text(p) for p in passages[:5] for a in answers):
            answer_hits += 1
        if passages and any(a in _normalize_text(passages[0]) for a in answers):
            answer_first += 1
    r = np.array(ranks)
    return {
        "hit@1": float(np.mean(r <= 1)), "hit@5": float(np.mean(r <= 5)),
        "hit@10": float(np.mean(r <= 10)), "mrr@10": float(np.mean(np.where(r <= 10, 1 / r, 0))),
        "answer_in_top1": answer_first / len(gold), "answer_in_top5": answer_hits / len(gold),
    }


def ensure_index(data: Path, index_dir: Path, backend: str) -> None:
    """Build the dev index on first use (reused afterwards)."""
    if not (index_dir / "CURRENT").exists():
        started = time.monotonic()
        report = build_index([data / "articles.jsonl"], index_dir, backend=backend, show_progress=True)
        print(f"built {report.chunks} chunks in {time.monotonic() - started:.0f}s", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared/data/realtimeqa-dev"))
    parser.add_argument("--index", default=str(REPO / "bench/.cache/dev-index"))
    parser.add_argument("--torch-index", help="also measure an index built with --backend torch")
    options = parser.parse_args()
    data = Path(options.data)
    ensure_index(data, Path(options.index), "auto")
    index = Index.open(options.index)
    gold = load_gold(data / "questions.jsonl")
    fit_until = FIT_UNTIL  # bench/fit_scorer.py fits on the weeks up to it: report the later ones
    report_weeks = split_weeks(gold)[1]
    outside = load_gold(REPO / "bench/out_of_archive_report.jsonl")
    for label, questions in ((f"report weeks ({len(report_weeks)} questions, after {fit_until}: "
                              "not fitted on)", report_weeks),
                             (f"all {len(gold)} questions (the earlier weeks were fitted on)", gold)):
        rows = []
        for name, settings, use_dates in (
            ("qa (default: cross-encoder, dates from the questions)", AnswerSettings(), True),
            ("qa without the cross-encoder (`--reranker none`)", AnswerSettings(reranker="none"), True),
            ("qa without question dates", AnswerSettings(), False),
        ):
            m = evaluate(index, questions, k=10, use_dates=use_dates, settings=settings).metrics
            rows.append((name, m["hit@1"], m["hit@5"], m["hit@10"], m["mrr@10"],
                         m["answer_in_quotes@1"], m["answer_in_quotes@5"], "quotes (1-2 sentences)"))
        if options.torch_index and questions is gold:
            ensure_index(data, Path(options.torch_index), "torch")
            torch_index = Index.open(options.torch_index)
            m = evaluate(torch_index, questions, k=10).metrics
            rows.append(("qa on an index built with torch (`--backend torch`)", m["hit@1"], m["hit@5"],
                         m["hit@10"], m["mrr@10"], m["answer_in_quotes@1"], m["answer_in_quotes@5"],
                         "quotes (1-2 sentences)"))
            torch_index.close()
        for name, method in (("BM25 alone (bm25s)", "bm25"),
                             ("dense alone (MiniLM, util.semantic_search)", "dense"),
                             ("plain RRF of the two", "rrf")):
            m = baseline_metrics(index, questions, method)
            rows.append((name, m["hit@1"], m["hit@5"], m["hit@10"], m["mrr@10"], m["answer_in_top1"],
                         m["answer_in_top5"], "whole passages (~100 words)"))
        print(f"## Quality on RealtimeQA dev, {label}: {index.manifest['articles']} articles, "
              f"{index.chunk_count} chunks, {index.manifest['model']} on {index.manifest['backend']}\n")
        print("| method | hit@1 | hit@5 | hit@10 | MRR@10 | answer in top-1 | in top-5 | unit |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for row in rows:
            print(f"| {row[0]} | " + " | ".join(f"{v:.3f}" for v in row[1:7]) + f" | {row[7]} |")
        print()

    m = evaluate(index, report_weeks + outside, k=10).metrics
    print("## Abstention on held-out questions (threshold fitted by bench/fit_scorer.py on the "
          "earlier weeks and bench/out_of_archive.jsonl)\n")
    print(f"- report-week questions answered: {m['answered_rate']}")
    print(f"- bench/out_of_archive_report.jsonl ({len(outside)} questions) declined: "
          f"{m['abstention_recall']}")


if __name__ == "__main__":
    main()
