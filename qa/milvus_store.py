"""A qa index kept in Milvus (Milvus Lite in one file, or a Milvus server): the collections, and
the read side that the answer path uses in place of :class:`qa.index.Index`.

Everything an answer reads lives in Milvus, so a machine with only the URI can answer: chunks
with their dense vectors and the sparse BM25 vectors Milvus's own BM25 function makes from the
chunk text, sentence vectors, article records and texts, the stored sentence analysis, the term
table and the manifest. Retrieval is one ``hybrid_search`` per batch of questions (dense and
BM25 sub-searches, each with the date/source filter expression, fused by ``RRFRanker`` and
grouped by article). See docs/index-format.md ("Milvus").
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from qa.analysis import ANALYSIS_VERSION
from qa.errors import IndexFormatError, IndexMissingError, InputError, QAError
from qa.models import Article, Chunk, Sentence
from qa.store import fold

if TYPE_CHECKING:
    from embeddings import Encoder
    from qa.models import Filters

SCHEMES = ("milvus:", "http://", "https://")
CHUNKS, SENTENCES, ARTICLES, TEXTS, TERMS, META = (
    "qa_chunks", "qa_sentences", "qa_articles", "qa_texts", "qa_terms", "qa_meta")
COLLECTIONS = (CHUNKS, SENTENCES, ARTICLES, TEXTS, TERMS, META)
INDEX_TYPES = ("AUTOINDEX", "FLAT", "IVF_FLAT", "HNSW")  # Milvus Lite takes the first three
INDEX_PARAMS = {"IVF_FLAT": {"nlist": 128}, "HNSW": {"M": 16, "efConstruction": 200}}
TEXT_PART = 16_000  # characters per stored text part: at most 64,000 UTF-8 bytes (VARCHAR limit)
VARCHAR = 65_535
QUERY_BATCH = 1_000  # ids per ``get``/``in`` query
FORMAT_VERSION = 1  # of the Milvus layout (the manifest row says it)
# Seconds to wait for a Milvus Lite file's local server to take connections. pymilvus waits 10 s,
# which a loaded 2-core machine has overrun (CI, while Ray was shutting down); a server keeps 10 s.
LITE_CONNECT_TIMEOUT = 60.0


def is_milvus(spec: str | Path) -> bool:
    """Whether an ``--index`` value names a Milvus index rather than a directory."""
    return str(spec).startswith(SCHEMES)


def is_lite(spec: str) -> bool:
    """Whether ``spec`` names a Milvus Lite file (``milvus:PATH.db``) rather than a server."""
    return spec.startswith("milvus:") and not spec.startswith("milvus://")


def client_uri(spec: str) -> str:
    """The pymilvus URI of ``milvus:PATH`` (Milvus Lite), ``milvus://HOST:PORT`` or ``http(s)://``."""
    if spec.startswith("milvus://"):
        return "http://" + spec[len("milvus://"):]
    if spec.startswith("milvus:"):
        path = spec[len("milvus:"):]
        if not path.endswith(".db"):
            raise InputError(f"a Milvus Lite index is a file ending in .db: milvus:{path or 'PATH'}.db")
        return os.path.abspath(path)
    return spec


def connect(spec: str) -> Any:
    """A MilvusClient for ``spec`` (starting Milvus Lite for a file); one clear line if it fails."""
    import warnings

    uri = client_uri(spec)
    with warnings.catch_warnings():  # milvus-lite 2.5 warns that it imports pkg_resources
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        try:
            from pymilvus import MilvusClient
        except ImportError:
            raise QAError("Milvus support is not installed: pip install 'qa-news[milvus]'") from None
        logging.getLogger("pymilvus").setLevel(logging.CRITICAL)  # failures reach the user as QAErrors
        try:
            return MilvusClient(uri=uri, token=os.environ.get("QA_MILVUS_TOKEN", ""),
                                timeout=LITE_CONNECT_TIMEOUT if is_lite(spec) else None)
        except Exception as exc:  # noqa: BLE001 - pymilvus raises several kinds: one line for each
            raise QAError(f"cannot reach Milvus at {spec}: {_first_line(exc)}") from None


def create_collections(client: Any, dimension: int, index_type: str = "AUTOINDEX") -> None:
    """Create the collections that do not exist yet (with their indexes) and load them."""
    from pymilvus import DataType, Function, FunctionType

    if index_type not in INDEX_TYPES:
        raise InputError(f"unknown Milvus index type {index_type!r}: use one of {', '.join(INDEX_TYPES)}")
    params = INDEX_PARAMS.get(index_type, {})

    def text(schema: Any, name: str, **options: Any) -> None:
        schema.add_field(name, DataType.VARCHAR, max_length=VARCHAR, **options)

    def make(name: str, fields: Callable[[Any], None], indexes: Sequence[tuple[str, str, str]] = (),
             primary: tuple[str, Any] = ("key", DataType.VARCHAR)) -> None:
        if client.has_collection(name):
            return
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        key, kind = primary
        options = {"max_length": VARCHAR} if kind == DataType.VARCHAR else {}
        schema.add_field(key, kind, is_primary=True, **options)
        fields(schema)
        index_params = client.prepare_index_params()
        for field, kind_of_index, metric in indexes:
            index_params.add_index(field, index_type=kind_of_index, metric_type=metric,
                                   params=params if kind_of_index == index_type else {})
        client.create_collection(name, schema=schema, index_params=index_params)

    def chunks(schema: Any) -> None:
        for name in ("article_id", "content_hash", "chunk_id", "source_key", "embed_hash", "sentences"):
            text(schema, name)
        for name in ("ordinal", "start", "end", "day"):
            schema.add_field(name, DataType.INT64)
        text(schema, "text", enable_analyzer=True, analyzer_params={"type": "english"})
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dimension)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                     input_field_names=["text"], output_field_names=["sparse"]))

    def sentences(schema: Any) -> None:
        for name in ("article_id", "content_hash", "hash"):
            text(schema, name)
        schema.add_field("vector", DataType.FLOAT16_VECTOR, dim=dimension)

    def articles(schema: Any) -> None:
        for name in ("id", "content_hash", "path", "url", "title", "date", "source", "byline", "copy_group"):
            text(schema, name)
        schema.add_field("day", DataType.INT64)
        schema.add_field("parts", DataType.INT64)

    def terms(schema: Any) -> None:
        text(schema, "term")
        schema.add_field("chunks", DataType.INT64)

    def texts(schema: Any) -> None:
        for name in ("article_id", "content_hash", "kind", "data"):
            text(schema, name)
        schema.add_field("part", DataType.INT64)

    make(CHUNKS, chunks, [("dense", index_type, "IP"), ("sparse", "SPARSE_INVERTED_INDEX", "BM25")],
         primary=("row", DataType.INT64))
    # Sentence vectors are read by row, never searched: FLAT costs nothing to build (and is the
    # one index Milvus Lite takes for float16 vectors).
    make(SENTENCES, sentences, [("vector", "FLAT", "IP")], primary=("row", DataType.INT64))
    # Keys are 63-bit hashes (``row_key``): Milvus Lite 2.5 cannot upsert text keys that hold a quote.
    make(ARTICLES, articles, primary=("key", DataType.INT64))
    make(TEXTS, texts, primary=("key", DataType.INT64))
    make(TERMS, terms, primary=("key", DataType.INT64))
    make(META, lambda s: text(s, "value"))
    for name in COLLECTIONS:
        client.load_collection(name)


def read_meta(client: Any, key: str) -> Any:
    """A JSON value of the meta collection, None when absent."""
    found = client.get(META, ids=[key], output_fields=["value"])
    return json.loads(found[0]["value"]) if found else None


def row_key(*parts: str) -> int:
    """A 63-bit key from text (Milvus INT64 primary keys; a collision is one in 2**31 at 2**32 rows)."""
    return int.from_bytes(hashlib.sha1("\x1f".join(parts).encode()).digest()[:8], "big") >> 1


def quoted(value: str) -> str:
    """``value`` as a string literal of a Milvus filter expression."""
    return json.dumps(value, ensure_ascii=False)


def day_number(value: str | None) -> int:
    """An ISO date as YYYYMMDD (0 for none): date filters compare integers."""
    try:
        day = date.fromisoformat(value) if value else None
    except ValueError:
        day = None
    return day.year * 10_000 + day.month * 100 + day.day if day else 0


def grouping_in_engine(spec: str) -> bool:
    """Whether hybrid_search groups by article (``group_by_field``) or qa groups the fused
    chunks: ``QA_MILVUS_GROUPING`` = engine or qa; by default engine on a server and qa on Milvus
    Lite, which ignores ``group_size`` (one chunk per article: 2.9 points less answer-in-quotes@5
    on realtimeqa-dev than qa's grouping, bench/milvus_quality.py)."""
    chosen = os.environ.get("QA_MILVUS_GROUPING", "").strip().lower()
    if chosen not in ("", "engine", "qa"):
        raise InputError(f"QA_MILVUS_GROUPING must be engine or qa, not {chosen!r}")
    return chosen == "engine" if chosen else not is_lite(spec)


def filter_expression(filters: Filters) -> str:
    """The Milvus filter for ``filters`` (undated articles fail a date filter; a source matches
    a caseless part of the source name or URL)."""
    clauses = []
    if filters.since:
        clauses.append(f"day >= {day_number(filters.since.isoformat())}")
    if filters.until:
        clauses.append(f"day > 0 and day <= {day_number(filters.until.isoformat())}")
    if filters.sources:
        escaped = [fold(s).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                   for s in filters.sources]
        clauses.append("(" + " or ".join(f"source_key like {quoted('%' + e + '%')}" for e in escaped) + ")")
    return " and ".join(clauses)


def split_text(text: str) -> list[str]:
    """``text`` in parts that fit a VARCHAR field (one empty part for an empty text)."""
    return [text[i:i + TEXT_PART] for i in range(0, len(text), TEXT_PART)] or [""]


def corrupt(spec: str, why: str) -> IndexFormatError:
    return IndexFormatError(
        f"the index at {spec} is damaged: {why}; rebuild it: qa index --rebuild ARTICLES --index {spec}")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _batches(items: Sequence[Any], size: int = QUERY_BATCH) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class _Lookup:
    """A read-only mapping filled on demand from Milvus (``fetch`` returns what it finds of the
    keys asked for), so the answer path can use it as it uses the local store's dicts."""

    def __init__(self, fetch: Callable[[list[Any]], dict[Any, Any]]) -> None:
        self._fetch = fetch
        self._known: dict[Any, Any] = {}
        self._absent: set[Any] = set()

    def prefetch(self, keys: Iterable[Any]) -> None:
        wanted = [k for k in dict.fromkeys(keys) if k not in self._known and k not in self._absent]
        for batch in _batches(wanted):
            found = self._fetch(list(batch))
            self._known.update(found)
            self._absent.update(k for k in batch if k not in found)

    def remember(self, key: Any, value: Any) -> None:
        self._known[key] = value

    def get(self, key: Any, default: Any = None) -> Any:
        self.prefetch([key])
        return self._known.get(key, default)

    def __getitem__(self, key: Any) -> Any:
        self.prefetch([key])
        return self._known[key]

    def __contains__(self, key: object) -> bool:
        self.prefetch([key])
        return key in self._known


class _SentenceVectors:
    """Sentence vectors by row, read from Milvus: ``vectors[rows]`` as the local float16 matrix."""

    def __init__(self, client: Any, dimension: int) -> None:
        self._client = client
        self.shape = (-1, dimension)

    def __getitem__(self, rows: Any) -> np.ndarray:
        wanted = [int(r) for r in np.atleast_1d(np.asarray(rows))]
        found: dict[int, np.ndarray] = {}
        for batch in _batches(sorted(set(wanted))):
            for hit in self._client.get(SENTENCES, ids=list(batch), output_fields=["vector"]):
                found[int(hit["row"])] = np.frombuffer(hit["vector"][0], dtype=np.float16)
        try:
            return np.stack([found[r] for r in wanted]) if wanted else np.zeros((0, self.shape[1]), np.float16)
        except KeyError as exc:
            raise QAError(f"the Milvus index has no sentence vector {exc.args[0]}") from None


class MilvusIndex:
    """A qa index in Milvus, read-only: the methods the answer path uses on ``qa.index.Index``,
    and ``hybrid_search``, which retrieval calls instead of its own dense and BM25 searches."""

    warm_parts = ("encoder",)  # what a server loads up front (the rest is read from Milvus)

    def __init__(self, spec: str, client: Any, manifest: dict[str, Any]) -> None:
        self.root = spec
        self.spec = spec
        self._client = client
        self._encoder: Encoder | None = None
        self.group_in_engine = grouping_in_engine(spec)
        self._load(manifest)

    def _load(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest
        self.generation = PurePosixPath(self.spec) / manifest["generation"]
        self._articles: dict[str, Article] = {}
        self._records = _Lookup(self._fetch_records)
        self.chunk_owners = _Lookup(self._fetch_owners)
        self.article_dates = _Lookup(lambda ids: {i: r["date"] or None for i, r in self._fetch_records(ids).items()})
        self.copies = _Lookup(lambda ids: {i: r["copy_group"] for i, r in self._fetch_records(ids).items()
                                           if r["copy_group"]})
        self.document_frequency = _Lookup(self._fetch_terms)
        self.sentence_vectors = _SentenceVectors(self._client, int(manifest["dimension"]))

    @classmethod
    def open(cls, spec: str) -> MilvusIndex:
        client = connect(spec)
        manifest = read_meta(client, "manifest") if client.has_collection(META) else None
        if manifest is None:
            client.close()
            raise IndexMissingError(f"no index at {spec}: build one with: qa index ARTICLES_DIR --index {spec}")
        if manifest.get("milvus_format") != FORMAT_VERSION:
            client.close()
            raise IndexFormatError(f"the Milvus index at {spec} has another layout than this qa reads: "
                                   f"rebuild it: qa index --rebuild ARTICLES --index {spec}")
        for name in COLLECTIONS:
            client.load_collection(name)
        return cls(spec, client, manifest)

    def close(self) -> None:
        self._client.close()

    def current_generation(self) -> str | None:
        """The generation the stored manifest names now (None when it cannot be read)."""
        try:
            manifest = read_meta(self._client, "manifest")
        except Exception:  # noqa: BLE001 - Milvus briefly unreachable: keep answering
            return None
        return None if manifest is None else manifest.get("generation")

    def is_current(self) -> bool:
        """Whether no ``qa index`` has finished since this was opened."""
        return self.current_generation() in (None, self.manifest["generation"])

    def refreshed(self) -> MilvusIndex:
        """This index, reading the newest manifest when an update has finished since."""
        if not self.is_current():
            self._load(read_meta(self._client, "manifest"))
            self._encoder = self._encoder if self._encoder and \
                self._encoder.name == self.manifest["model"] else None
        return self

    # -- records

    @property
    def chunk_count(self) -> int:
        return int(self.manifest["chunks"])

    @property
    def newest_date(self) -> date | None:
        last = self.manifest["stats"]["last_date"]
        return date.fromisoformat(last) if last else None

    def _fetch_records(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        return {r["id"]: r for r in self._client.get(ARTICLES, ids=[row_key(i) for i in ids])}

    def _fetch_owners(self, rows: list[int]) -> dict[int, str]:
        return {int(r["row"]): r["article_id"] for r in
                self._client.get(CHUNKS, ids=rows, output_fields=["article_id"])}

    def _fetch_terms(self, terms: list[str]) -> dict[str, int]:
        return {r["term"]: int(r["chunks"]) for r in self._client.get(TERMS, ids=[row_key(t) for t in terms])}

    def _parts(self, article_id: str, content_hash: str, kinds: Sequence[str]) -> dict[str, str]:
        found = self._client.query(
            TEXTS, filter=f"article_id == {quoted(article_id)} and content_hash == {quoted(content_hash)} "
                          f"and kind in {json.dumps(list(kinds))}",
            output_fields=["kind", "part", "data"])
        joined: dict[str, str] = {}
        for row in sorted(found, key=lambda r: (r["kind"], r["part"])):
            joined[row["kind"]] = joined.get(row["kind"], "") + row["data"]
        return joined

    def article(self, article_id: str) -> Article:
        cached = self._articles.get(article_id)
        if cached is not None:
            return cached
        record = self._records.get(article_id)
        if record is None:
            raise corrupt(self.spec, f"it has no article {article_id!r} that it refers to")
        parts = self._parts(article_id, record["content_hash"], ("text", "lines"))
        if "text" not in parts:
            raise corrupt(self.spec, f"it has no text for article {article_id!r}")
        text = parts["text"]
        if len(text) != sum(len(p) for p in split_text(text)) or record["parts"] != len(split_text(text)):
            raise corrupt(self.spec, f"the text of article {article_id!r} is incomplete")
        starts, numbers = json.loads(parts.get("lines", "[[], []]"))
        cached = self._articles[article_id] = article_from_record(record, text, starts, numbers)
        return cached

    def all_articles(self) -> dict[str, Article]:
        return {record["id"]: self.article(record["id"]) for record in iterate(self._client, ARTICLES, ["id"])}

    def chunks(self, rows: Sequence[int]) -> list[Chunk]:
        """The chunks stored at these rows, in the same order."""
        fields = ["article_id", "chunk_id", "ordinal", "start", "end", "sentences"]
        found: dict[int, dict[str, Any]] = {}
        for batch in _batches([int(r) for r in rows]):
            found.update((int(r["row"]), r) for r in self._client.get(CHUNKS, ids=list(batch), output_fields=fields))
        chunks = []
        for row in rows:
            r = found.get(int(row))
            if r is None:
                raise corrupt(self.spec, f"it has no chunk {int(row)} that a search returned")
            text = self.article(r["article_id"]).text
            sentences = tuple(Sentence(s, e, v) for s, e, v in json.loads(r["sentences"]))
            chunks.append(Chunk(r["chunk_id"], r["article_id"], r["ordinal"], r["start"], r["end"],
                                text[r["start"]:r["end"]], sentences))
        return chunks

    def article_sentences(self, article_id: str) -> tuple[tuple[Sentence, ...], tuple[str, ...]]:
        """Every sentence of an article in text order, with its vector row, and the id of the
        first chunk that holds each."""
        article = self.article(article_id)
        stored = self._client.query(
            CHUNKS, filter=f"article_id == {quoted(article_id)} and content_hash == {quoted(article.content_hash)}",
            output_fields=["chunk_id", "ordinal", "sentences"])
        sentences: list[Sentence] = []
        chunk_ids: list[str] = []
        last_start = -1
        for chunk in sorted(stored, key=lambda c: c["ordinal"]):
            for start, end, row in json.loads(chunk["sentences"]):
                if start > last_start:  # overlapping chunks share their edge sentences
                    sentences.append(Sentence(start, end, row))
                    chunk_ids.append(chunk["chunk_id"])
                    last_start = start
        return tuple(sentences), tuple(chunk_ids)

    def sentence_analysis(self, article_id: str) -> str | None:
        """The stored analysis of an article's sentences; None when absent."""
        if self.manifest.get("analysis") != ANALYSIS_VERSION:
            return None
        article = self.article(article_id)
        return self._parts(article_id, article.content_hash, ("analysis",)).get("analysis")

    def copies_of(self, article_id: str) -> list[Article]:
        """The other articles that carry the same story."""
        group = self.copies.get(article_id)
        if group is None:
            return []
        others = self._client.query(ARTICLES, filter=f"copy_group == {quoted(group)}", output_fields=["id"])
        return [self.article(i) for i in sorted(r["id"] for r in others) if i != article_id]

    def stats(self) -> tuple[int, int, str | None, str | None, list[tuple[str, int]]]:
        stats = self.manifest["stats"]
        return (int(self.manifest["articles"]), self.chunk_count, stats["first_date"], stats["last_date"],
                [(s, n) for s, n in stats["sources"]])

    def size_on_disk(self) -> dict[str, int]:
        """Bytes of the Milvus Lite file; a server's storage is not visible from here ({})."""
        if is_lite(self.spec):
            path = Path(client_uri(self.spec))
            return {path.name: path.stat().st_size} if path.exists() else {}
        return {}

    # -- search

    def hybrid_search(
        self, vectors: np.ndarray, questions: Sequence[str], depth: int, filters: Filters,
        rrf_k: float, per_article: int,
    ) -> list[list[tuple[int, float, float | None, float | None]]]:
        """Per question, the best chunks of up to ``depth`` articles: a dense and a BM25
        sub-search (both under the filters), fused by reciprocal rank and grouped by article in
        Milvus. Returns (row, fused score, None, None), best first, as ``fuse_rankings`` does."""
        from pymilvus import AnnSearchRequest, RRFRanker

        expression = filter_expression(filters)
        results: list[list[tuple[int, float, float | None, float | None]]] = [[] for _ in questions]
        # BM25 needs a word to search; a question of stopwords is searched densely only.
        worded = [i for i, q in enumerate(questions) if q.strip()]
        if not worded or depth <= 0:
            return results
        requests = [
            AnnSearchRequest(data=[vectors[i].astype(np.float32).tolist() for i in worded], anns_field="dense",
                             param={"metric_type": "IP"}, limit=depth, expr=expression),
            AnnSearchRequest(data=[questions[i] for i in worded], anns_field="sparse",
                             param={"metric_type": "BM25"}, limit=depth, expr=expression),
        ]
        if self.group_in_engine:
            grouping: dict[str, Any] = {"limit": depth, "group_by_field": "article_id",
                                        "group_size": per_article, "strict_group_size": False}
        else:  # every fused chunk of both rankings, grouped by retrieval as for the local store
            grouping = {"limit": 2 * depth}
        found = self._client.hybrid_search(
            CHUNKS, requests, RRFRanker(int(rrf_k)), output_fields=["article_id", "content_hash"], **grouping)
        owners = {hit["entity"]["article_id"] for hits in found for hit in hits}
        self._records.prefetch(owners)
        for position, hits in zip(worded, found):
            ranked = []
            for hit in hits:
                owner, content_hash = hit["entity"]["article_id"], hit["entity"]["content_hash"]
                record = self._records.get(owner)
                if record is None or record["content_hash"] != content_hash:
                    continue  # left by an interrupted update: its article holds another text now
                self.chunk_owners.remember(int(hit["id"]), owner)
                ranked.append((int(hit["id"]), float(hit["distance"]), None, None))
            results[position] = ranked
        return results

    # -- model

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            from qa.sink import load_encoder

            self._encoder = load_encoder(self.manifest["model"], self.manifest["backend"])
            if self._encoder.dimension != self.manifest["dimension"]:
                raise corrupt(self.spec, "its model gives vectors of another dimension")
        return self._encoder

    def use_encoder(self, encoder: Encoder) -> None:
        """Use an already loaded encoder (it must be the index's model)."""
        if (encoder.name, encoder.backend) != (self.manifest["model"], self.manifest["backend"]):
            raise IndexFormatError(
                f"the index at {self.spec} was built with {self.manifest['model']!r} on "
                f"{self.manifest['backend']}, not {encoder.name!r} on {encoder.backend}")
        self._encoder = encoder


def article_from_record(record: dict[str, Any], text: str, starts: Sequence[int],
                        numbers: Sequence[int]) -> Article:
    return Article(
        id=record["id"], text=text, title=record["title"] or None, url=record["url"] or None,
        path=record["path"] or None, date=record["date"] or None, source=record["source"] or None,
        byline=record["byline"] or None, content_hash=record["content_hash"],
        line_starts=tuple(starts), line_numbers=tuple(numbers),
    )


def iterate(client: Any, collection: str, fields: list[str], expression: str = "") -> Iterable[dict[str, Any]]:
    """Every row of a collection (or those matching ``expression``), a batch at a time."""
    rows = client.query_iterator(collection, batch_size=QUERY_BATCH, filter=expression, output_fields=fields)
    try:
        while batch := rows.next():
            yield from batch
    finally:
        rows.close()
