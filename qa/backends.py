"""Which store an ``--index`` value names: a local index directory (the default) or a Milvus
index (``milvus:PATH.db``, ``milvus://HOST:PORT``, ``http(s)://HOST:PORT``); each command's
library call goes through here."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qa.errors import InputError
from qa.index import Index, IndexInfo, index_info
from qa.writer import IndexReport, build_index, remove_articles
from qa.milvus_store import MilvusIndex, is_milvus


def open_index(spec: str | Path) -> Index | MilvusIndex:
    """The index ``spec`` names, opened for reading."""
    return MilvusIndex.open(str(spec)) if is_milvus(spec) else Index.open(spec)


def build(paths: Sequence[str | Path], spec: str | Path, *, milvus_index_type: str = "AUTOINDEX",
          ray_address: str | None = None, **options: Any) -> IndexReport:
    """``qa index``: build or update the index ``spec`` names (options as ``build_index``);
    with ``ray_address`` ("local" or "" for a local Ray cluster) chunking and embedding run on Ray."""
    if is_milvus(spec):
        from qa.milvus_writer import build_milvus_index

        ann = options.pop("ann", None)
        if ann not in (None, "auto"):
            raise InputError("--ann chooses the local store's vector search: for a Milvus index "
                             "use --milvus-index-type")
        address = None if ray_address is None else ("" if ray_address in ("", "local") else ray_address)
        return build_milvus_index(paths, str(spec), index_type=milvus_index_type, ray_address=address,
                                  **options)
    if ray_address is not None:
        raise InputError("--ray builds a Milvus index: give --index milvus:FILE.db or milvus://HOST:PORT")
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
