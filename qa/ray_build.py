"""``qa index --ray``: chunking, sentence analysis and embedding of the articles to (re)index as
Ray Data ``map_batches``, one encoder per worker (a stateful callable class); the driver reads
and cleans the articles first, once, and writes the prepared rows to the store."""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from qa.chunk import ChunkSettings
from qa.errors import QAError
from qa.models import Article

if TYPE_CHECKING:
    from embeddings import Encoder
    from qa.milvus_writer import PreparedRows


class _Preparer:
    """A Ray Data worker: loads the model once, then turns batches of articles into rows."""

    def __init__(self, model: str, backend: str, settings: dict[str, Any]) -> None:
        from embeddings import load_encoder

        self.encoder = load_encoder(model, backend)
        self.settings = ChunkSettings(**settings)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        from qa.milvus_writer import prepare_rows

        articles = [pickle.loads(blob) for blob in batch["article"]]
        prepared = prepare_rows(articles, self.settings, self.encoder)
        return {"rows": np.array([pickle.dumps(prepared)], dtype=object)}


def prepare_on_ray(
    articles: Sequence[Article], settings: ChunkSettings, encoder: Encoder, address: str, batch: int,
    show_progress: bool = False,
) -> Iterator[PreparedRows]:
    """Prepared rows of ``articles``, ``batch`` articles at a time, computed on the Ray cluster
    at ``address`` ("" starts a local one) by workers that each load ``encoder``'s model."""
    try:
        import ray
    except ImportError:
        raise QAError("Ray support is not installed: pip install 'qa-news[ray]'") from None
    if not articles:
        return
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address or None, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING, _temp_dir=os.environ.get("QA_RAY_TEMP_DIR"),
                 runtime_env={"env_vars": {"HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}})
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    ray.data.DataContext.get_current().enable_progress_bars = show_progress
    try:
        workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        dataset = ray.data.from_items([{"article": pickle.dumps(a)} for a in articles])
        prepared = dataset.map_batches(
            _Preparer, fn_constructor_kwargs={"model": encoder.name, "backend": encoder.backend,
                                              "settings": settings.as_dict()},
            batch_size=batch, compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=1,
            batch_format="numpy")
        for row in prepared.iter_rows():
            yield pickle.loads(row["rows"])
    finally:
        if started_here:
            ray.shutdown()


__all__ = ["prepare_on_ray"]
