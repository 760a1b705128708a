"""Which store an ``--index`` value names: a local index directory (the default) or a Milvus
index (``milvus:PATH.db``, ``milvus://HOST:PORT``, ``http(s)://HOST:PORT``); each command's
library call goes through here."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qa.index import Index, IndexInfo, IndexReport, build_index, index_info, remove_articles
from qa.milvus_store import MilvusIndex, is_milvus


def open_index(spec: str | Path) -> Index | MilvusIndex:
    """The index ``spec`` names, opened for reading."""
    return MilvusIndex.open(str(spec)) if is_milvus(spec) else Index.open(spec)


def build(paths: Sequence[str | Path], spec: str | Path, *, milvus_index_type: str = "AUTOINDEX",
          **options: Any) -> IndexReport:
    """``qa index``: build or update the index ``spec`` names (options as ``build_index``)."""
    if is_milvus(spec):
        from qa.milvus_writer import build_milvus_index

        return build_milvus_index(paths, str(spec), index_type=milvus_index_type, **options)
    return build_index(paths, spec, **options)


def remove(targets: Sequence[str], spec: str | Path, *, show_progress: bool = False) -> IndexReport:
    """``qa remove``: drop the named articles from the index ``spec`` names."""
    if is_milvus(spec):
        from qa.milvus_writer import remove_milvus_articles

        return remove_milvus_articles(targets, str(spec))
    return remove_articles(targets, spec, show_progress=show_progress)


def info(spec: str | Path) -> IndexInfo:
    """``qa info``: counts, model, dates, sources and size of the index ``spec`` names."""
    if not is_milvus(spec):
        return index_info(spec)
    index = MilvusIndex.open(str(spec))
    try:
        articles, chunks, first, last, sources = index.stats()
        files = index.size_on_disk()
        return IndexInfo(index_dir=str(spec), manifest=index.manifest, articles=articles, chunks=chunks,
                         first_date=first, last_date=last, sources=tuple(sources),
                         size_bytes=sum(files.values()), files=files)
    finally:
        index.close()


__all__ = ["open_index", "build", "remove", "info"]
