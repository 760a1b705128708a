"""Chunks per second of the build's chunk + analyse + embed stage, in-process and as Ray Data
map_batches on a local Ray cluster (the engine's overhead on this machine), real model.

    python bench/ray_speed.py [--data /work/shared/data/realtimeqa-dev] [--articles 300]
                              [--workers 1 2]

Only the stage Ray runs is timed (no store is written). Ray's time includes starting the
cluster and loading one model per worker, as a ``qa index --ray local`` run pays them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from qa.chunk import ChunkSettings  # noqa: E402
from qa.sink import load_encoder  # noqa: E402
from qa.ingest import load_articles  # noqa: E402
from qa.milvus_writer import ARTICLE_BATCH, prepare_rows  # noqa: E402
from qa.ray_build import prepare_on_ray  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="/work/shared/data/realtimeqa-dev")
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import ray

    articles = load_articles([Path(args.data) / "articles.jsonl"]).articles[: args.articles]
    settings = ChunkSettings()
    encoder = load_encoder("sentence-transformers/all-MiniLM-L6-v2", "auto")
    started = time.perf_counter()
    chunks = sum(prepare_rows(articles[i:i + ARTICLE_BATCH], settings, encoder).embedded
                 for i in range(0, len(articles), ARTICLE_BATCH))
    plain = chunks / (time.perf_counter() - started)
    print(f"{len(articles)} articles, {chunks} chunks\n")
    print("| build stage | workers | chunks/s |")
    print("| --- | --- | --- |")
    print(f"| in-process | 1 | {plain:.0f} |")
    for workers in args.workers:
        with tempfile.TemporaryDirectory(prefix="qa-ray-") as temp:
            started = time.perf_counter()
            ray.init(num_cpus=workers, _temp_dir=temp, include_dashboard=False, log_to_driver=False)
            try:
                done = sum(p.embedded for p in prepare_on_ray(articles, settings, encoder, "", ARTICLE_BATCH))
            finally:
                ray.shutdown()
            print(f"| Ray Data map_batches (local cluster) | {workers} | {done / (time.perf_counter() - started):.0f} |")


if __name__ == "__main__":
    main()
