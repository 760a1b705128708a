"""Building and updating a qa index in Milvus (``qa index`` / ``qa remove`` with a Milvus
``--index``): incremental by content hash, as the local store.

An article is replaced in three steps: its new texts, sentences and chunks are inserted under
new keys (keys derive from its content hash), its article record is upserted (from then on
readers use the new version), and the rows of its old version are deleted. A run that fails or
is killed leaves every article either in its old or its new version; rows left behind are
ignored by readers (their content hash is not the article's) and deleted by the next run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.analysis import ANALYSIS_VERSION, analyse
from qa.chunk import ChunkSettings, chunk_article
from qa.copies import find_copies
from qa.errors import IndexFormatError, InputError
from qa.ingest import load_articles
from qa.layout import exclusive_lock
from qa.lexical import tokenize
from qa.milvus_store import (
    ARTICLES,
    CHUNKS,
    COLLECTIONS,
    FORMAT_VERSION,
    META,
    SENTENCES,
    TERMS,
    TEXTS,
    VARCHAR,
    client_uri,
    connect,
    create_collections,
    day_number,
    is_lite,
    iterate,
    quoted,
    read_meta,
    row_key,
    split_text,
)
from qa.models import Article, Sentence
from qa.sink import load_encoder
from qa.store import fold
from qa.segment_writer import embedding_text, sentence_span
from qa.writer import IndexReport, named_by, pruned_ids, qa_version

if TYPE_CHECKING:
    from embeddings import Encoder

ARTICLE_BATCH = 64  # articles written together (one insert per collection)
METADATA = ["key", "id", "content_hash", "path", "url", "title", "date", "day", "source", "byline", "copy_group", "parts"]


def build_milvus_index(
    paths: Sequence[str | Path],
    spec: str,
    *,
    model: str | None = None,
    backend: str = "auto",
    settings: ChunkSettings = ChunkSettings(),
    rebuild: bool = False,
    prune: bool = True,
    show_progress: bool = False,
    encoder: Encoder | None = None,
    index_type: str = "AUTOINDEX",
    ray_address: str | None = None,
) -> IndexReport:
    """Index the articles under ``paths`` into the Milvus index ``spec``, embedding only
    articles that are new or changed (by content hash); with ``ray_address`` ("" for a local
    Ray cluster) chunking and embedding run as Ray Data ``map_batches``."""
    from embeddings import BACKENDS, DEFAULT_MODEL

    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}: use one of {', '.join(BACKENDS)}")
    started = time.monotonic()
    with _writer_lock(spec):
        client = connect(spec)
        try:
            previous = read_meta(client, "manifest") if client.has_collection(META) else None
            if previous is not None and previous.get("milvus_format") != FORMAT_VERSION and not rebuild:
                raise IndexFormatError(f"the Milvus index at {spec} has another layout than this qa writes: "
                                       f"rebuild it: qa index --rebuild ARTICLES --index {spec}")
            if previous is not None and model and model != previous["model"] and not rebuild:
                raise IndexFormatError(
                    f"the index at {spec} was built with model {previous['model']!r}, not {model!r}; "
                    f"to switch models rebuild it: qa index --rebuild --model {model} ARTICLES --index {spec}")
            model_name = model or (previous["model"] if previous else DEFAULT_MODEL)
            ingested = load_articles(paths)
            if not ingested.articles:
                where = ", ".join(str(p) for p in paths)
                detail = f" ({len(ingested.skipped)} files skipped)" if ingested.skipped else ""
                raise InputError(f"no articles found in {where}{detail}")
            if encoder is None:
                kept_backend = previous["backend"] if previous and not rebuild else backend
                encoder = load_encoder(model_name, kept_backend)
            if previous is not None and (rebuild and _layout_differs(previous, encoder)):
                for name in COLLECTIONS:  # another model or layout: nothing can be kept
                    client.drop_collection(name)
                previous = None
            create_collections(client, encoder.dimension, index_type)
            old = _stored_metadata(client)
            new = {a.id: a for a in ingested.articles}
            removed = pruned_ids(old, new, paths, ingested.skipped) if prune else set()
            if rebuild:
                removed |= set(old) - set(new)
            same_layout = previous is not None and previous.get("chunker") == settings.as_dict() \
                and previous.get("analysis") == ANALYSIS_VERSION and not rebuild
            changed = [a for i, a in new.items()
                       if not same_layout or i not in old or old[i].content_hash != a.content_hash]
            added = sum(1 for i in new if i not in old)
            unchanged = len(new) - len(changed)
            writer = _Writer(client, encoder, settings, show_progress)
            writer.find_groups({**{i: a for i, a in old.items() if i not in removed}, **new})
            writer.replace(changed, old, ray_address)
            writer.delete(sorted(removed))
            writer.rewrite_groups()
            writer.finish(encoder, settings, previous)
        finally:
            client.close()
    return IndexReport(
        index_dir=spec, added=added, updated=len(changed) - added, unchanged=unchanged,
        removed=len(removed), skipped=ingested.skipped, articles=writer.article_count,
        chunks=writer.chunk_count, embedded_chunks=writer.embedded, seconds=time.monotonic() - started,
        trimmed=ingested.trimmed,
    )


def remove_milvus_articles(targets: Sequence[str], spec: str) -> IndexReport:
    """Drop the articles matching ``targets`` (ids, URLs, files or folders) from a Milvus index."""
    from qa.milvus_store import MilvusIndex

    started = time.monotonic()
    MilvusIndex.open(spec).close()  # says there is no index there, and how to build one
    with _writer_lock(spec):
        client = connect(spec)
        try:
            previous = read_meta(client, "manifest")
            old = _stored_metadata(client)
            gone = set().union(*(named_by(target, old) for target in targets))
            if not gone:
                raise InputError(f"nothing in the index at {spec} matches {', '.join(targets)}")
            if len(gone) == len(old):
                raise InputError(f"that would remove all {len(old)} articles: drop the index instead")
            writer = _Writer(client, None, ChunkSettings(**previous["chunker"]), False)
            writer.find_groups({i: a for i, a in old.items() if i not in gone})
            writer.delete(sorted(gone))
            writer.rewrite_groups()
            writer.finish(None, ChunkSettings(**previous["chunker"]), previous)
        finally:
            client.close()
    return IndexReport(
        index_dir=spec, added=0, updated=0, unchanged=writer.article_count, removed=len(gone), skipped=(),
        articles=writer.article_count, chunks=writer.chunk_count, embedded_chunks=0,
        seconds=time.monotonic() - started,
    )


@dataclass(frozen=True)
class PreparedRows:
    """A batch of articles as Milvus rows (chunked, analysed, embedded), ready to upsert."""

    versions: dict[str, str]  # article id -> content hash
    texts: list[dict[str, Any]]
    sentences: list[dict[str, Any]]
    chunks: list[dict[str, Any]]
    records: list[dict[str, Any]]
    terms: Counter[str]  # how many of the batch's chunks hold each term
    embedded: int


def prepare_rows(articles: Sequence[Article], settings: ChunkSettings, encoder: Encoder) -> PreparedRows:
    """Chunk, analyse and embed ``articles`` into the rows of every collection (the stage that
    ``qa index --ray`` runs on Ray workers)."""
    texts, spans, chunk_rows, sentence_rows, text_rows, records = [], [], [], [], [], []
    terms: Counter[str] = Counter()
    for article in articles:
        sentence_keys: dict[Sentence, int] = {}
        for chunk in chunk_article(article, settings):
            text = embedding_text(article, chunk)
            embed_hash = hashlib.sha1(text.encode()).hexdigest()
            introduced = []
            for sentence in chunk.sentences:
                if sentence not in sentence_keys:
                    span = sentence_span(text, chunk, sentence)
                    key = row_key(article.id, article.content_hash, str(sentence.start), str(sentence.end))
                    sentence_keys[sentence] = key
                    introduced.append(span)
                    sentence_rows.append({
                        "row": key, "article_id": article.id, "content_hash": article.content_hash,
                        "hash": hashlib.sha1(f"{embed_hash}:{span[0]}:{span[1]}".encode()).hexdigest()})
            texts.append(text)
            spans.append(introduced)
            terms.update(set(tokenize(text)))
            chunk_rows.append({
                "row": row_key(chunk.id, article.content_hash), "article_id": article.id,
                "content_hash": article.content_hash, "chunk_id": chunk.id,
                "source_key": fold(article.source) + "\n" + fold(article.url), "embed_hash": embed_hash,
                "sentences": json.dumps([[s.start, s.end, sentence_keys[s]] for s in chunk.sentences]),
                "ordinal": chunk.ordinal, "start": chunk.start, "end": chunk.end,
                "day": day_number(article.date), "text": _clip(text)})
        analysis = analyse(article.text, list(sentence_keys)).to_json()
        lines = json.dumps([list(article.line_starts), list(article.line_numbers)])
        for kind, value in (("text", article.text), ("analysis", analysis), ("lines", lines)):
            for part, data in enumerate(split_text(value)):
                text_rows.append({"key": row_key(article.id, article.content_hash, kind, str(part)),
                                  "article_id": article.id, "content_hash": article.content_hash,
                                  "kind": kind, "part": part, "data": data})
        records.append(_record(article, ""))
    chunk_vectors, sentence_vectors = encoder.encode_with_spans(texts, spans) if texts else ([], [])
    for row, vector in zip(chunk_rows, chunk_vectors):
        row["dense"] = np.asarray(vector, dtype=np.float32).tolist()
    for row, vector in zip(sentence_rows, sentence_vectors):
        row["vector"] = np.asarray(vector, dtype=np.float16)
    return PreparedRows({a.id: a.content_hash for a in articles}, text_rows, sentence_rows, chunk_rows,
                        records, terms, len(texts))


class _Writer:
    """Writes article versions, deletes old ones and keeps the term table and manifest."""

    def __init__(self, client: Any, encoder: Encoder | None, settings: ChunkSettings, show_progress: bool) -> None:
        self.client, self.encoder, self.settings = client, encoder, settings
        self.show_progress = show_progress
        self.terms: Counter[str] = Counter()  # change in how many chunks hold each term
        self.embedded = self.article_count = self.chunk_count = 0
        self.groups: dict[str, str] = {}  # article id -> its copy group (find_groups)

    def replace(self, articles: list[Article], old: dict[str, Article], ray_address: str | None = None) -> None:
        """Write these articles' new versions (prepared here, or on Ray given ``ray_address``)
        and drop their old ones."""
        from qa.segment_writer import progress_bar

        if ray_address is not None:
            from qa.ray_build import prepare_on_ray

            assert self.encoder is not None
            batches = prepare_on_ray(articles, self.settings, self.encoder, ray_address, ARTICLE_BATCH,
                                     self.show_progress)
        else:
            batches = (prepare_rows(articles[i:i + ARTICLE_BATCH], self.settings, self.encoder)  # type: ignore[arg-type]
                       for i in range(0, len(articles), ARTICLE_BATCH))
        progress = progress_bar(self.show_progress, unit="article", desc="indexing", total=len(articles))
        for prepared in batches:
            self._store(prepared)
            self._drop_versions([i for i in prepared.versions if i in old], keep=prepared.versions)
            progress.update(len(prepared.versions))
        progress.close()

    def delete(self, article_ids: Sequence[str]) -> None:
        """Remove these articles: their records first (readers stop seeing them), then their rows."""
        for start in range(0, len(article_ids), ARTICLE_BATCH):
            batch = list(article_ids[start:start + ARTICLE_BATCH])
            self.client.delete(ARTICLES, ids=[row_key(i) for i in batch])
            self._drop_versions(batch, keep={})

    def _store(self, prepared: PreparedRows) -> None:
        """Upsert one batch of new article versions; the article records go last."""
        self.terms.update(prepared.terms)
        self.embedded += prepared.embedded
        for record in prepared.records:
            record["copy_group"] = self.groups.get(record["id"], "")
        for collection, rows in ((TEXTS, prepared.texts), (SENTENCES, prepared.sentences),
                                 (CHUNKS, prepared.chunks)):
            for start in range(0, len(rows), 500):
                self.client.upsert(collection, rows[start:start + 500])
        self.client.upsert(ARTICLES, prepared.records)  # from here on readers see the new versions

    def _drop_versions(self, article_ids: list[str], keep: dict[str, str]) -> None:
        """Delete the rows of these articles except those of the version ``keep`` names, and
        take their chunks' terms out of the term table."""
        if not article_ids:
            return
        clauses = [f"(article_id == {quoted(i)}" + (f" and content_hash != {quoted(keep[i])})" if i in keep else ")")
                   for i in article_ids]
        expression = " or ".join(clauses)
        for row in iterate(self.client, CHUNKS, ["text"], expression):
            self.terms.subtract(set(tokenize(row["text"])))
        for collection in (CHUNKS, SENTENCES, TEXTS):
            self.client.delete(collection, filter=expression)

    def find_groups(self, kept: dict[str, Article]) -> None:
        """The syndicated-copy groups of the articles the index will hold (texts of articles
        not read this run come from Milvus)."""
        texts: dict[str, str] = {}
        missing = [i for i, a in kept.items() if not a.text]
        for start in range(0, len(missing), ARTICLE_BATCH):
            batch = missing[start:start + ARTICLE_BATCH]
            rows = self.client.query(TEXTS, filter=f"article_id in {_list(batch)} and kind == \"text\"",
                                     output_fields=["article_id", "content_hash", "part", "data"])
            for row in sorted(rows, key=lambda r: r["part"]):
                if row["content_hash"] == kept[row["article_id"]].content_hash:
                    texts[row["article_id"]] = texts.get(row["article_id"], "") + row["data"]
        self.groups = find_copies([a if a.text else _with_text(a, texts.get(a.id, "")) for a in kept.values()])

    def rewrite_groups(self) -> None:
        """Rewrite the stored records whose copy group changed."""
        changed = [dict(r, copy_group=self.groups.get(r["id"], "")) for r in iterate(self.client, ARTICLES, METADATA)
                   if r["copy_group"] != self.groups.get(r["id"], "")]
        for start in range(0, len(changed), 500):
            self.client.upsert(ARTICLES, changed[start:start + 500])

    def finish(self, encoder: Encoder | None, settings: ChunkSettings, previous: dict[str, Any] | None) -> None:
        """Apply the term changes and write the manifest (with the counts and stats)."""
        touched = [t for t, n in self.terms.items() if n]
        rows = []
        for start in range(0, len(touched), 1000):
            batch = touched[start:start + 1000]
            known = {r["term"]: int(r["chunks"]) for r in self.client.get(TERMS, ids=[row_key(t) for t in batch])}
            rows += [{"key": row_key(t), "term": t, "chunks": known.get(t, 0) + self.terms[t]} for t in batch]
        gone = [r["key"] for r in rows if r["chunks"] <= 0]
        if gone:
            self.client.delete(TERMS, ids=gone)
        kept = [r for r in rows if r["chunks"] > 0]
        for start in range(0, len(kept), 1000):
            self.client.upsert(TERMS, kept[start:start + 1000])
        dates, sources, count = [], Counter(), 0
        for record in iterate(self.client, ARTICLES, ["date", "source"]):
            count += 1
            if record["date"]:
                dates.append(record["date"])
            if record["source"]:
                sources[record["source"]] += 1
        self.article_count = count
        self.chunk_count = _count(self.client, CHUNKS)
        described = {"model": encoder.name, "dimension": encoder.dimension, "backend": encoder.backend} \
            if encoder is not None else {k: previous[k] for k in ("model", "dimension", "backend")}  # type: ignore[index]
        manifest = {
            "milvus_format": FORMAT_VERSION, "format_version": FORMAT_VERSION, **described,
            "chunker": settings.as_dict(), "analysis": ANALYSIS_VERSION,
            "articles": count, "chunks": self.chunk_count, "sentences": _count(self.client, SENTENCES),
            "stats": {"first_date": min(dates, default=None), "last_date": max(dates, default=None),
                      "sources": sorted(sources.items(), key=lambda s: (-s[1], s[0]))},
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "generation": f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6:06d}",
            "qa_version": qa_version(),
        }
        self.client.upsert(META, [{"key": "manifest", "value": json.dumps(manifest)}])
        for name in COLLECTIONS:
            self.client.flush(name)


def _stored_metadata(client: Any) -> dict[str, Article]:
    """The stored articles without their texts (enough to prune, count and name them)."""
    return {r["id"]: _with_text(_article(r), "") for r in iterate(client, ARTICLES, METADATA)}


def _article(record: dict[str, Any]) -> Article:
    from qa.milvus_store import article_from_record

    return article_from_record(record, "", (), ())


def _with_text(article: Article, text: str) -> Article:
    from dataclasses import replace

    return replace(article, text=text)


def _record(article: Article, copy_group: str) -> dict[str, Any]:
    return {"key": row_key(article.id), "id": article.id, "content_hash": article.content_hash, "path": article.path or "",
            "url": article.url or "", "title": _clip(article.title or ""), "date": article.date or "",
            "day": day_number(article.date), "source": _clip(article.source or ""),
            "byline": _clip(article.byline or ""), "copy_group": copy_group, "parts": len(split_text(article.text))}


def _layout_differs(previous: dict[str, Any], encoder: Encoder) -> bool:
    return previous.get("milvus_format") != FORMAT_VERSION or previous.get("dimension") != encoder.dimension


def _clip(text: str) -> str:
    """``text`` cut to what a VARCHAR field holds (65,535 UTF-8 bytes)."""
    data = text.encode()
    return text if len(data) <= VARCHAR else data[:VARCHAR].decode(errors="ignore")


def _list(values: Sequence[str]) -> str:
    return json.dumps(list(values), ensure_ascii=False)


def _count(client: Any, collection: str) -> int:
    found = client.query(collection, filter="", output_fields=["count(*)"], consistency_level="Strong")
    return int(found[0]["count(*)"])


@contextlib.contextmanager
def _writer_lock(spec: str) -> Iterator[None]:
    """One writer per Milvus Lite file (a lock file beside it); a server takes one writer by
    convention (Milvus has no lock to take)."""
    if not is_lite(spec):
        yield
        return
    path = Path(client_uri(spec) + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(path, spec):
        yield
