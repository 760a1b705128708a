"""The read-only ``Index``: one opened generation of the index directory, made of segments
(``qa.segment``: a store, dense vectors (FAISS) and a BM25 index (bm25s) each), and the two
searches over them, merged. Written by ``qa.writer``; laid out as ``qa.layout`` and
docs/index-format.md describe."""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa import layout
from qa.errors import IndexFormatError, IndexMissingError
from qa.layout import CURRENT_FILE
from qa.lexical import tokenize
from qa.boilerplate import ParagraphCensus
from qa.ingest import FileState
from qa.models import Article, Chunk, Filters, Sentence
from qa.segment import Segment, segment_manifest
from qa.sink import load_encoder

if TYPE_CHECKING:
    from embeddings import Encoder
    from qa.vectors import Vectors


@dataclass(frozen=True)
class IndexInfo:
    """What ``info`` shows about an index."""

    index_dir: str
    manifest: dict[str, Any]
    articles: int
    chunks: int
    first_date: str | None
    last_date: str | None
    sources: tuple[tuple[str, int], ...]
    size_bytes: int
    files: dict[str, int] = field(default_factory=dict)


class Index:
    """An opened index generation: read-only access to the articles, chunks, vectors and BM25
    of all its segments (oldest first), as one archive. A chunk's row is its segment's first
    row plus its row there; the same for sentences. Articles deleted from a segment since it
    was written (its tombstones) are not seen: not found, not counted, never searched."""

    def __init__(self, root: Path, generation: Path, manifest: dict[str, Any],
                 reader_locks: Sequence[int] = ()) -> None:
        self.root = root
        self.generation = generation
        self.manifest = manifest
        self._reader_locks = list(reader_locks)  # shared flocks on the segments: not deleted under us
        self.segments: list[Segment] = []
        self._deleted: list[frozenset[str]] = []
        try:
            for entry in layout.segment_entries(generation, manifest):
                self.segments.append(Segment(root, root / entry["name"], segment_manifest(manifest, entry)))
                self._deleted.append(frozenset(entry.get("deleted", ())))
        except BaseException:
            for segment in self.segments:
                segment.close()
            raise
        self._row_starts = np.cumsum([0] + [s.chunk_count for s in self.segments])
        self._sentence_starts = np.cumsum([0] + [s.sentence_count for s in self.segments])
        self._encoder: Encoder | None = None
        self._homes: dict[str, int] | None = None
        self._article_dates: dict[str, str | None] | None = None
        self._live: list[np.ndarray | None] | None = None
        self._chunk_owners: list[str] | None = None
        self._document_frequency: dict[str, int] | None = None
        self._sentence_vectors: _StackedRows | None = None
        self._newest_date: date | None = None
        self._copies: dict[str, str] | None = None
        self._files: dict[str, FileState] | None = None
        self._copy_members: dict[str, list[str]] = {}

    @classmethod
    def open(cls, index_dir: str | Path) -> Index:
        """Open the current generation of the index at ``index_dir``."""
        index = cls.open_if_present(index_dir)
        if index is None:
            raise IndexMissingError(
                f"no index at {index_dir}: build one with: qa index ARTICLES_DIR --index {index_dir}"
            )
        return index

    @classmethod
    def open_if_present(cls, index_dir: str | Path) -> Index | None:
        """The current generation of the index at ``index_dir``, None when there is none."""
        root = Path(index_dir)
        found = layout.open_current(root)
        if found is None:
            return None
        generation, manifest, locks = found
        try:
            return cls(root, generation, manifest, reader_locks=locks)
        except BaseException:
            for lock in locks:
                os.close(lock)
            raise

    def close(self) -> None:
        for segment in self.segments:
            segment.close()
        for lock in self._reader_locks:
            os.close(lock)
        self._reader_locks = []

    def is_current(self) -> bool:
        """Whether this is still the generation that CURRENT names (no update since opening)."""
        try:
            return (self.root / CURRENT_FILE).read_text().strip() == self.generation.name
        except OSError:
            return True  # CURRENT briefly unreadable: keep answering from this one

    def refreshed(self) -> Index:
        """This index when it is current, else the newly switched-to generation (this one is
        closed, and the encoder already loaded is handed on when the model is the same)."""
        if self.is_current():
            return self
        fresh = Index.open(self.root)
        if self._encoder is not None and fresh.manifest.get("model") == self.manifest.get("model"):
            fresh._encoder = self._encoder
        self.close()
        return fresh

    # -- where things are

    @property
    def chunk_count(self) -> int:
        """Chunk rows, deleted articles' included (rows are never renumbered until a merge)."""
        return int(self._row_starts[-1])

    def _segment_of_row(self, row: int) -> int:
        return int(np.searchsorted(self._row_starts, row, side="right")) - 1

    def _home(self, article_id: str) -> int:
        """The number of the segment holding a live article."""
        home = self.article_homes().get(article_id)
        if home is None:
            raise layout.corrupt(self.root, f"its store has no article {article_id!r} that it refers to")
        return home

    def article_homes(self) -> dict[str, int]:
        """The number of the segment holding each live article (loaded once)."""
        if self._homes is None:
            homes: dict[str, int] = {}
            dates: dict[str, str | None] = {}
            for number, (segment, deleted) in enumerate(zip(self.segments, self._deleted)):
                for article_id, published in segment.article_dates.items():
                    if article_id not in deleted:
                        homes[article_id] = number
                        dates[article_id] = published
            self._homes, self._article_dates = homes, dates
        return self._homes

    def _live_rows(self) -> list[np.ndarray | None]:
        """Per segment, a mask of the rows of its live articles (None: all live)."""
        if self._live is None:
            live: list[np.ndarray | None] = []
            for segment, deleted in zip(self.segments, self._deleted):
                if not deleted:
                    live.append(None)
                    continue
                owners = segment.chunk_owners
                live.append(np.fromiter((o not in deleted for o in owners), dtype=bool, count=len(owners)))
            self._live = live
        return self._live

    def _shifted(self, chunk: Chunk, segment: int) -> Chunk:
        shift = int(self._sentence_starts[segment])
        if not shift:
            return chunk
        return replace(chunk, sentences=tuple(
            Sentence(s.start, s.end, None if s.vector_row is None else s.vector_row + shift)
            for s in chunk.sentences))

    # -- articles and chunks

    def article(self, article_id: str) -> Article:
        return self.segments[self._home(article_id)].article(article_id)

    def all_articles(self, texts: bool = True) -> dict[str, Article]:
        """Every live article (without ``texts``: with empty texts, see ``Store.all_articles``)."""
        found: dict[str, Article] = {}
        for segment, deleted in zip(self.segments, self._deleted):
            found.update((i, a) for i, a in segment.all_articles(texts).items() if i not in deleted)
        return found

    def chunks(self, rows: Sequence[int]) -> list[Chunk]:
        """The chunks stored at these vector rows, in the same order."""
        if len(self.segments) == 1:
            return self.segments[0].chunks(rows)
        by_segment: dict[int, list[int]] = {}
        for row in rows:
            by_segment.setdefault(self._segment_of_row(int(row)), []).append(int(row))
        found: dict[int, Chunk] = {}
        for number, wanted in by_segment.items():
            start = int(self._row_starts[number])
            local = self.segments[number].chunks([r - start for r in wanted])
            found.update((r, self._shifted(c, number)) for r, c in zip(wanted, local))
        return [found[int(row)] for row in rows]

    def article_sentences(self, article_id: str) -> tuple[tuple[Sentence, ...], tuple[str, ...]]:
        """Every sentence of an article in text order, with its vector row, and the id of the
        first chunk that holds each."""
        number = self._home(article_id)
        sentences, chunk_ids = self.segments[number].article_sentences(article_id)
        shift = int(self._sentence_starts[number])
        return tuple(Sentence(s.start, s.end, s.vector_row + shift) for s in sentences), chunk_ids

    def holds_text(self, article_id: str, text: str) -> bool:
        """Whether the index holds the article with exactly this text."""
        home = self.article_homes().get(article_id)
        return home is not None and self.segments[home].holds_text(article_id, text)

    def article_chunks(self, article_id: str, text: str) -> list[Chunk]:
        """An article's stored chunks in order (see ``Store.article_chunks``)."""
        number = self._home(article_id)
        return [self._shifted(c, number) for c in self.segments[number].article_chunks(article_id, text)]

    def sentence_analysis(self, article_id: str) -> str | None:
        home = self.article_homes().get(article_id)
        return None if home is None else self.segments[home].sentence_analysis(article_id)

    def paragraph_census(self) -> Iterator[ParagraphCensus]:
        """The paragraph census of every live article, read as it is taken."""
        for segment, deleted in zip(self.segments, self._deleted):
            yield from (census for census in segment.paragraph_census() if census.article_id not in deleted)

    def paragraphs_of(self, article_id: str) -> ParagraphCensus | None:
        home = self.article_homes().get(article_id)
        return None if home is None else self.segments[home].paragraphs_of(article_id)

    @property
    def chunk_owners(self) -> list[str]:
        """The article id of every chunk row (loaded once: ranking by article needs no text)."""
        if self._chunk_owners is None:
            if len(self.segments) == 1:
                self._chunk_owners = self.segments[0].chunk_owners
            else:
                self._chunk_owners = [o for segment in self.segments for o in segment.chunk_owners]
        return self._chunk_owners

    @property
    def article_dates(self) -> dict[str, str | None]:
        """The publication date of every live article, by id (loaded once)."""
        self.article_homes()
        assert self._article_dates is not None
        return self._article_dates

    @property
    def newest_date(self) -> date | None:
        """The newest publication date in the archive (relative dates in questions count from it)."""
        if self._newest_date is None:
            newest = max((d for d in self.article_dates.values() if d), default=None)
            try:
                self._newest_date = date.fromisoformat(newest) if newest else date.min
            except ValueError:
                self._newest_date = date.min
        return None if self._newest_date == date.min else self._newest_date

    def stats(self) -> tuple[int, int, str | None, str | None, list[tuple[str, int]]]:
        """Live articles and chunks, first and last date, and articles per source."""
        if len(self.segments) == 1 and not self._deleted[0]:
            return self.segments[0].stats()
        dates = [d for d in self.article_dates.values() if d]
        sources: Counter[str] = Counter()
        for segment, deleted in zip(self.segments, self._deleted):
            sources.update(s for i, s in segment.article_sources() if i not in deleted)
        live = self._live_rows()
        chunks = sum(s.chunk_count if m is None else int(m.sum()) for s, m in zip(self.segments, live))
        ranked = sorted(sources.items(), key=lambda item: (-item[1], item[0]))
        return len(self.article_dates), chunks, min(dates, default=None), max(dates, default=None), ranked

    def rows_matching(self, filters: Filters) -> np.ndarray:
        """Chunk rows whose live article passes the filters (undated articles fail a date filter)."""
        parts = []
        for number, (segment, live) in enumerate(zip(self.segments, self._live_rows())):
            rows = segment.rows_matching(filters)
            if live is not None:
                rows = rows[live[rows]]
            parts.append(rows + int(self._row_starts[number]))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def live_rows(self) -> np.ndarray:
        """Every chunk row of a live article, in order."""
        parts = [np.arange(int(self._row_starts[n]), int(self._row_starts[n + 1])) if live is None
                 else np.flatnonzero(live) + int(self._row_starts[n])
                 for n, live in enumerate(self._live_rows())]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def chunk_vectors(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """The stored vectors of some chunk rows, as float32, in the order given."""
        rows = np.asarray(rows, dtype=np.int64)
        result = np.zeros((len(rows), int(self.manifest["dimension"])), dtype=np.float32)
        owner = np.searchsorted(self._row_starts, rows, side="right") - 1
        for number in np.unique(owner):
            picked = owner == number
            result[picked] = self.segments[number].vectors.rows(rows[picked] - self._row_starts[number])
        return result

    def stored_vectors(self, segments: Sequence[Segment] | None = None
                       ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """The stored chunk vectors (by the hash of the text they embed) and sentence vectors
        (by their hash) of some segments (all by default), for reuse when they are rewritten."""
        chunks: dict[str, np.ndarray] = {}
        sentences: dict[str, np.ndarray] = {}
        for segment in self.segments if segments is None else segments:
            chunks.update(segment.vectors_by_embed_hash())
            sentences.update(segment.sentence_vectors_by_hash())
        return chunks, sentences

    # -- searches

    def dense_search(
        self, vectors: np.ndarray, depth: int, allowed: np.ndarray | None = None
    ) -> list[list[tuple[int, float]]]:
        """Top ``depth`` chunk rows and cosine scores per question vector, within ``allowed``
        rows (and live ones): exact, or approximate when built with ANN (``qa.vectors``)."""
        merged: list[list[tuple[int, float]]] = [[] for _ in range(len(vectors))]
        for number, (segment, live) in enumerate(zip(self.segments, self._live_rows())):
            start, end = int(self._row_starts[number]), int(self._row_starts[number + 1])
            local = None
            if allowed is not None:
                local = allowed[(allowed >= start) & (allowed < end)] - start
                if live is not None:
                    local = local[live[local]]
                if not len(local):
                    continue
            dead = 0 if live is None else int(len(live) - live.sum())
            if local is None and dead > _OVERFETCH_DEAD:
                local = np.flatnonzero(live)  # many deleted rows: search only the live ones
            found = segment.vectors.search(vectors, depth + (dead if local is None else 0), local)
            for q, hits in enumerate(found):
                merged[q].extend((r + start, s) for r, s in hits if live is None or live[r])
        if len(self.segments) > 1 or any(m is not None for m in self._live_rows()):
            merged = [sorted(hits, key=lambda h: -h[1])[:depth] for hits in merged]
        return merged

    def lexical_search(
        self, questions: Sequence[str], depth: int, allowed: np.ndarray | None = None
    ) -> list[list[tuple[int, float]]]:
        """BM25 top ``depth`` chunk rows and scores for each question, within ``allowed`` rows
        (and live ones). Over several segments each term's score is rescaled from its segment's
        inverse document frequency to the whole archive's, so scores compare across segments
        (the length normalisation stays each segment's own)."""
        terms = [tokenize(q) for q in questions]
        if len(self.segments) == 1:
            segment, live = self.segments[0], self._live_rows()[0]
            mask = None
            if allowed is not None or live is not None:
                mask = np.zeros(segment.chunk_count, dtype=np.float32)
                mask[allowed if allowed is not None else slice(None)] = 1.0
                if live is not None:
                    mask *= live
            vocabulary = segment.bm25.vocab_dict
            return segment.lexical_search([[t for t in q if t in vocabulary] for q in terms], depth, mask)
        frequency, documents = self.document_frequency, self.chunk_count
        results = []
        for query in terms:
            rows: list[np.ndarray] = []
            scores: list[np.ndarray] = []
            for number, (segment, live) in enumerate(zip(self.segments, self._live_rows())):
                total = np.zeros(segment.chunk_count, dtype=np.float32)
                for term in query:
                    hit_rows, hit_scores = segment.term_scores(term)
                    if not len(hit_rows):
                        continue
                    own = _lucene_idf(segment.document_frequency.get(term, 0), segment.chunk_count)
                    whole = _lucene_idf(frequency.get(term, 0), documents)
                    np.add.at(total, hit_rows, hit_scores * (whole / own if own > 0 else 0.0))
                if live is not None:
                    total *= live
                rows.append(np.flatnonzero(total > 0) + int(self._row_starts[number]))
                scores.append(total[total > 0])
            all_rows = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
            all_scores = np.concatenate(scores) if scores else np.zeros(0, dtype=np.float32)
            if allowed is not None:
                keep = np.isin(all_rows, allowed)
                all_rows, all_scores = all_rows[keep], all_scores[keep]
            top = np.argsort(-all_scores, kind="stable")[:depth]
            results.append([(int(all_rows[i]), float(all_scores[i])) for i in top])
        return results

    # -- other parts

    @property
    def copies(self) -> dict[str, str]:
        """Article id -> its syndicated-copy group id, for articles that have copies."""
        if self._copies is None:
            path = self.generation / layout.COPIES
            try:
                self._copies = json.loads(path.read_text()) if path.exists() else {}
            except (OSError, json.JSONDecodeError) as exc:
                raise layout.corrupt(self.root, "its copy table is unreadable") from exc
            for article_id, group in sorted(self._copies.items()):
                self._copy_members.setdefault(group, []).append(article_id)
        return self._copies

    def copies_of(self, article_id: str) -> list[Article]:
        """The other articles that carry the same story."""
        group = self.copies.get(article_id)
        if group is None:
            return []
        return [self.article(other) for other in self._copy_members[group]
                if other != article_id and other in self.article_dates]

    @property
    def files(self) -> dict[str, FileState]:
        """The files the articles were read from, as they were then (by resolved path); empty
        for a generation written before they were kept."""
        if self._files is None:
            path = self.generation / layout.FILES
            try:
                found = json.loads(path.read_text()) if path.exists() else {}
                self._files = {p: FileState.from_json(state) for p, state in found.items()}
            except (OSError, ValueError, TypeError) as exc:
                raise layout.corrupt(self.root, "its file table is unreadable") from exc
        return self._files

    @property
    def sentence_vectors(self) -> np.ndarray | _StackedRows:
        """One float16 vector per sentence row (memory-mapped), indexed by an array of rows."""
        if len(self.segments) == 1:
            return self.segments[0].sentence_vectors
        if self._sentence_vectors is None:
            self._sentence_vectors = _StackedRows([s.sentence_vectors for s in self.segments],
                                                  self._sentence_starts)
        return self._sentence_vectors

    @property
    def vectors(self) -> list[Vectors]:
        """Each segment's chunk vectors (loading them)."""
        return [segment.vectors for segment in self.segments]

    @property
    def bm25(self) -> list[Any]:
        """Each segment's BM25 index (loading it)."""
        return [segment.bm25 for segment in self.segments]

    @property
    def document_frequency(self) -> dict[str, int]:
        """How many chunks contain each index term, over all segments (deleted rows included,
        as in each segment's BM25 index, until a merge rewrites them)."""
        if self._document_frequency is None:
            if len(self.segments) == 1:
                self._document_frequency = self.segments[0].document_frequency
            else:
                total: Counter[str] = Counter()
                for segment in self.segments:
                    total.update(segment.document_frequency)
                self._document_frequency = dict(total)
        return self._document_frequency

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = load_encoder(self.manifest["model"], self.manifest["backend"])
            if self._encoder.dimension != self.manifest["dimension"]:
                raise layout.corrupt(self.root, "its model gives vectors of another dimension")
        return self._encoder

    def use_encoder(self, encoder: Encoder) -> None:
        """Use an already loaded encoder (it must be the index's model)."""
        if (encoder.name, encoder.backend) != (self.manifest["model"], self.manifest["backend"]):
            raise IndexFormatError(
                f"the index at {self.root} was built with {self.manifest['model']!r} on "
                f"{self.manifest['backend']}, not {encoder.name!r} on {encoder.backend}"
            )
        self._encoder = encoder

    def size_on_disk(self) -> dict[str, int]:
        """Bytes of each kind of file, over all segments."""
        sizes: Counter[str] = Counter(layout.size_on_disk(self.generation))
        for segment in self.segments:
            if segment.generation != self.generation:
                sizes.update(segment.size_on_disk())
        return dict(sizes)


# Deleted rows a segment may hold before a dense search selects its live rows instead of asking
# for that many more hits and dropping the deleted ones (IDSelectorBatch costs per search).
_OVERFETCH_DEAD = 1000


def _lucene_idf(frequency: int, documents: int) -> float:
    """bm25s's inverse document frequency ("lucene", its default method)."""
    return math.log(1 + (documents - frequency + 0.5) / (frequency + 0.5)) if frequency else 0.0


class _StackedRows:
    """The sentence vectors of several segments, read as one matrix by arrays of rows."""

    def __init__(self, parts: list[np.ndarray], starts: np.ndarray) -> None:
        self._parts, self._starts = parts, starts
        self.shape = (int(starts[-1]), parts[0].shape[1] if parts else 0)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: Any) -> np.ndarray:
        if np.ndim(rows) == 0:
            number = int(np.searchsorted(self._starts, rows, side="right")) - 1
            return self._parts[number][int(rows) - int(self._starts[number])]
        rows = np.asarray(rows, dtype=np.int64)
        result = np.zeros((len(rows), self.shape[1]), dtype=np.float16)
        owner = np.searchsorted(self._starts, rows, side="right") - 1
        for number in np.unique(owner):
            picked = owner == number
            result[picked] = self._parts[number][rows[picked] - self._starts[number]]
        return result


def index_info(index_dir: str | Path) -> IndexInfo:
    """Counts, model, date range, sources and size of the index at ``index_dir``."""
    index = Index.open(index_dir)
    try:
        articles, chunks, first, last, sources = index.stats()
        files = index.size_on_disk()
        return IndexInfo(
            index_dir=str(index.root), manifest=index.manifest, articles=articles, chunks=chunks,
            first_date=first, last_date=last, sources=tuple(sources),
            size_bytes=sum(files.values()), files=files,
        )
    finally:
        index.close()
