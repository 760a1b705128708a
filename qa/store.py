"""The SQLite store of a generation: articles, chunks, sentence hashes and sentence analyses.
Written by ``qa.writer``, read through ``Store`` (which ``qa.index.Index`` extends)."""

from __future__ import annotations

import json
import sqlite3
import unicodedata
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from qa.analysis import ANALYSIS_VERSION
from qa.boilerplate import ParagraphCensus
from qa.layout import STORE, corrupt
from qa.models import Article, Chunk, Filters, Sentence

SCHEMA = """
CREATE TABLE articles (
    id TEXT PRIMARY KEY, path TEXT, url TEXT, title TEXT, date TEXT, source TEXT,
    byline TEXT, content_hash TEXT NOT NULL, text TEXT NOT NULL,
    line_starts TEXT NOT NULL, line_numbers TEXT NOT NULL
);
CREATE TABLE chunks (
    row INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, article_id TEXT NOT NULL,
    ordinal INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    sentences TEXT NOT NULL, embed_hash TEXT NOT NULL
);
CREATE INDEX chunks_by_article ON chunks(article_id, ordinal);
CREATE TABLE sentences (row INTEGER PRIMARY KEY, hash TEXT NOT NULL);
CREATE TABLE analysis (article_id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE paragraphs (article_id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE signatures (article_id TEXT PRIMARY KEY, data BLOB NOT NULL);
"""
# Filters read these instead of the articles' rows (which hold the whole text).
FILTER_INDEXES = """
CREATE INDEX articles_by_date ON articles(date, id);
CREATE INDEX articles_by_source ON articles(source, id);
CREATE INDEX articles_by_url ON articles(url, id);
"""


def create_store(path: Path) -> sqlite3.Connection:
    """A new, empty store at ``path``."""
    store = sqlite3.connect(path)
    store.executescript(SCHEMA)
    return store


def finish_store(store: sqlite3.Connection) -> None:
    """Index the filter columns (once, after the rows are in: cheaper than on every insert),
    sample their statistics for the query planner, commit and close."""
    store.executescript(FILTER_INDEXES)
    store.executescript("PRAGMA analysis_limit = 1000; ANALYZE;")
    store.commit()
    store.close()


def insert_article(store: sqlite3.Connection, a: Article) -> None:
    store.execute(
        "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (a.id, a.path, a.url, a.title, a.date, a.source, a.byline, a.content_hash, a.text,
         json.dumps(a.line_starts), json.dumps(a.line_numbers)),
    )


def insert_chunk(
    store: sqlite3.Connection, row: int, c: Chunk, embed_hash: str, sentence_rows: dict[Sentence, int]
) -> None:
    store.execute(
        "INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?)",
        (row, c.id, c.article_id, c.ordinal, c.start, c.end,
         json.dumps([[s.start, s.end, sentence_rows[s]] for s in c.sentences]), embed_hash),
    )


def insert_census(store: sqlite3.Connection, census: ParagraphCensus) -> None:
    store.execute("INSERT INTO paragraphs VALUES (?, ?)", (census.article_id, census.to_json()))


def insert_signature(store: sqlite3.Connection, article_id: str, signature: np.ndarray) -> None:
    """An article's copy-detection signature (``qa.copies.signature``: sorted uint32)."""
    store.execute("INSERT INTO signatures VALUES (?, ?)",
                  (article_id, np.asarray(signature, dtype="<u4").tobytes()))


def fold(text: str | None) -> str:
    """``text`` for caseless matching in any script (SQLite's lower() folds ASCII only)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text or "").casefold())


class Store:
    """Read-only access to a generation's SQLite store."""

    def __init__(self, root: Path, generation: Path, manifest: dict[str, Any]) -> None:
        self.root = root
        self.generation = generation
        self.manifest = manifest
        try:
            self._store = sqlite3.connect(
                f"file:{generation / STORE}?mode=ro", uri=True, check_same_thread=False
            )
            self._store.execute("SELECT count(*) FROM chunks").fetchone()
            self._store.create_function("qa_fold", 1, fold, deterministic=True)
        except sqlite3.Error as exc:
            raise corrupt(root, f"its store is unreadable ({exc})") from exc
        self._articles: dict[str, Article] = {}
        self._newest_date: date | None = None
        self._chunk_owners: list[str] | None = None
        self._article_dates: dict[str, str | None] | None = None

    def close(self) -> None:
        self._store.close()

    @property
    def chunk_count(self) -> int:
        return int(self.manifest["chunks"])

    def article(self, article_id: str) -> Article:
        cached = self._articles.get(article_id)
        if cached is None:
            row = self._store.execute(
                "SELECT * FROM articles WHERE id = ?", (article_id,)
            ).fetchone()
            if row is None:
                raise corrupt(self.root, f"its store has no article {article_id!r} that it refers to")
            cached = self._articles[article_id] = _article_from_row(row)
        return cached

    def all_articles(self, texts: bool = True) -> dict[str, Article]:
        """Every article; without ``texts``, each with an empty text (its metadata, content hash
        and line map only: what an update compares and prunes by)."""
        text = "text" if texts else "''"
        rows = self._store.execute(
            "SELECT id, path, url, title, date, source, byline, content_hash, "
            f"{text}, line_starts, line_numbers FROM articles").fetchall()
        return {row[0]: _article_from_row(row) for row in rows}

    def chunks(self, rows: Sequence[int]) -> list[Chunk]:
        """The chunks stored at these vector rows, in the same order."""
        if not rows:
            return []
        marks = ",".join("?" * len(rows))
        found = {
            r[0]: r
            for r in self._store.execute(
                f'SELECT row, id, article_id, ordinal, start, "end", sentences FROM chunks '
                f"WHERE row IN ({marks})",
                list(map(int, rows)),
            )
        }
        chunks = []
        for row in rows:
            r = found.get(int(row))
            if r is None:
                raise corrupt(self.root, f"its store has no chunk {int(row)} that its vectors refer to")
            chunks.append(_chunk(r[1:], self.article(r[2]).text))
        return chunks

    def article_sentences(self, article_id: str) -> tuple[tuple[Sentence, ...], tuple[str, ...]]:
        """Every sentence of an article in text order, with its vector row, and the id of the
        first chunk that holds each."""
        sentences: list[Sentence] = []
        chunk_ids: list[str] = []
        last_start = -1
        for chunk_id, stored in self._store.execute(
            "SELECT id, sentences FROM chunks WHERE article_id = ? ORDER BY ordinal", (article_id,)
        ):
            for start, end, row in json.loads(stored):
                if start > last_start:  # overlapping chunks share their edge sentences
                    sentences.append(Sentence(start, end, row))
                    chunk_ids.append(chunk_id)
                    last_start = start
        return tuple(sentences), tuple(chunk_ids)

    def holds_text(self, article_id: str, text: str) -> bool:
        """Whether this generation holds the article with exactly this text (so what it stored
        about it, chunks and analysis, is still valid for it)."""
        return self._store.execute("SELECT 1 FROM articles WHERE id = ? AND text = ?",
                                   (article_id, text)).fetchone() is not None

    def article_chunks(self, article_id: str, text: str) -> list[Chunk]:
        """An article's stored chunks in order, as ``qa.chunk.chunk_article`` made them from
        ``text`` (the article's text, which this generation holds: ``holds_text``); their
        sentences carry this generation's vector rows."""
        return [_chunk(r, text) for r in self._store.execute(
            'SELECT id, article_id, ordinal, start, "end", sentences FROM chunks '
            "WHERE article_id = ? ORDER BY ordinal", (article_id,))]

    def sentence_analysis(self, article_id: str) -> str | None:
        """The stored analysis of an article's sentences (``qa/analysis.py``); None when this
        generation was written before it was stored."""
        if self.manifest.get("analysis") != ANALYSIS_VERSION:
            return None
        found = self._store.execute("SELECT data FROM analysis WHERE article_id = ?",
                                    (article_id,)).fetchone()
        return None if found is None else str(found[0])

    @property
    def chunk_owners(self) -> list[str]:
        """The article id of every chunk row (loaded once: ranking by article needs no text)."""
        if self._chunk_owners is None:
            owners = self._store.execute("SELECT row, article_id FROM chunks ORDER BY row").fetchall()
            if len(owners) != self.chunk_count or (owners and owners[-1][0] != len(owners) - 1):
                raise corrupt(self.root, "its chunk store does not match its manifest")
            self._chunk_owners = [a for _, a in owners]
        return self._chunk_owners

    @property
    def article_dates(self) -> dict[str, str | None]:
        """The publication date of every article, by id (loaded once)."""
        if self._article_dates is None:
            self._article_dates = dict(self._store.execute("SELECT id, date FROM articles"))
        return self._article_dates

    def stats(self) -> tuple[int, int, str | None, str | None, list[tuple[str, int]]]:
        articles, first, last = self._store.execute(
            "SELECT count(*), min(date), max(date) FROM articles"
        ).fetchone()
        chunks = self._store.execute("SELECT count(*) FROM chunks").fetchone()[0]
        sources = self._store.execute(
            "SELECT source, count(*) FROM articles WHERE source IS NOT NULL "
            "GROUP BY source ORDER BY count(*) DESC, source"
        ).fetchall()
        return articles, chunks, first, last, [(s, n) for s, n in sources]

    def chunks_of(self, article_ids: set[str] | list[str]) -> int:
        """How many chunks these articles have."""
        return sum(n for (n,) in self._rows_in("SELECT count(*) FROM chunks WHERE article_id IN ({})",
                                                list(article_ids)))

    def _rows_in(self, query: str, values: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        """The rows of ``query`` (its ``IN ({})`` filled with placeholders) for ``values``, asked
        500 at a time (under SQLite's limit on parameters)."""
        for start in range(0, len(values), 500):
            part = list(values[start : start + 500])
            yield from self._store.execute(query.format(",".join("?" * len(part))), part)

    def article_sources(self) -> list[tuple[str, str]]:
        """(article id, source) of every article that names its source."""
        return self._store.execute("SELECT id, source FROM articles WHERE source IS NOT NULL").fetchall()

    def rows_matching(self, filters: Filters) -> np.ndarray:
        """Chunk rows whose article passes the filters (undated articles fail a date filter)."""
        names = []
        if filters.sources:
            wanted = [fold(name) for name in filters.sources]
            names = [
                source for (source,) in self._store.execute(
                    "SELECT DISTINCT source FROM articles WHERE source IS NOT NULL")
                if any(part in fold(source) for part in wanted)
            ]
        rows = self._store.execute(*filter_query(filters, names)).fetchall()
        return np.array([r for (r,) in rows], dtype=np.int64)

    @property
    def newest_date(self) -> date | None:
        """The newest publication date in the archive (relative dates in questions count from it)."""
        if self._newest_date is None:
            newest = self._store.execute("SELECT max(date) FROM articles").fetchone()[0]
            try:
                self._newest_date = date.fromisoformat(newest) if newest else date.min
            except ValueError:
                self._newest_date = date.min
        return None if self._newest_date == date.min else self._newest_date

    def paragraph_census(self) -> Iterator[ParagraphCensus]:
        """The paragraph census of every article, read as it is taken (none for a store written
        before it was kept)."""
        try:
            rows = self._store.execute("SELECT article_id, data FROM paragraphs")
        except sqlite3.OperationalError:  # no such table
            return
        for article_id, data in rows:
            yield ParagraphCensus.from_json(article_id, data)

    def paragraphs_of(self, article_id: str) -> ParagraphCensus | None:
        """One article's paragraph census, None when it was not kept."""
        try:
            found = self._store.execute(
                "SELECT data FROM paragraphs WHERE article_id = ?", (article_id,)).fetchone()
        except sqlite3.OperationalError:
            return None
        return None if found is None else ParagraphCensus.from_json(article_id, found[0])

    def signatures(self) -> dict[str, np.ndarray] | None:
        """Every article's copy-detection signature; None for a store written before they were
        kept."""
        try:
            rows = self._store.execute("SELECT article_id, data FROM signatures").fetchall()
        except sqlite3.OperationalError:  # no such table
            return None
        return {i: np.frombuffer(data, dtype="<u4") for i, data in rows}

    def sentence_hashes(self) -> list[tuple[int, str]]:
        """(sentence row, hash of the chunk text it was read in and its span there)."""
        return self._store.execute("SELECT row, hash FROM sentences").fetchall()

    def chunk_hashes(self) -> list[tuple[int, str]]:
        """(chunk row, hash of the text it embeds), in row order."""
        return self._store.execute("SELECT row, embed_hash FROM chunks ORDER BY row").fetchall()


def filter_query(filters: Filters, source_names: Sequence[str]) -> tuple[str, list[str]]:
    """The query for the chunk rows that pass ``filters``, given the source names that match
    them. Dates and source names are looked up in their indexes, URLs matched on the URL index:
    the articles' rows, which hold their text, are not read."""
    clauses, values = [], []
    if filters.since:
        clauses.append("a.date >= ?")
        values.append(filters.since.isoformat())
    if filters.until:
        clauses.append("a.date <= ?")
        values.append(filters.until.isoformat())
    if filters.sources:
        wanted = [fold(name) for name in filters.sources]
        urls = " OR ".join("instr(qa_fold(url), ?) > 0" for _ in wanted)
        clauses.append(
            f"a.id IN (SELECT id FROM articles WHERE source IN ({','.join('?' * len(source_names))}) "
            f"UNION SELECT id FROM articles WHERE url IS NOT NULL AND ({urls}))"
        )
        values += [*source_names, *wanted]
    where = " AND ".join(clauses) or "1"
    query = (f"SELECT c.row FROM articles a JOIN chunks c ON c.article_id = a.id WHERE {where} "
             "ORDER BY c.row")
    return query, values


def _article_from_row(row: Sequence[Any]) -> Article:
    return Article(
        id=row[0], path=row[1], url=row[2], title=row[3], date=row[4], source=row[5],
        byline=row[6], content_hash=row[7], text=row[8],
        line_starts=tuple(json.loads(row[9])), line_numbers=tuple(json.loads(row[10])),
    )


def _chunk(row: Sequence[Any], text: str) -> Chunk:
    """A chunk from its stored (id, article id, ordinal, start, end, sentences) and its
    article's text."""
    chunk_id, article_id, ordinal, start, end, stored = row
    sentences = tuple(Sentence(a, b, v) for a, b, v in json.loads(stored))
    return Chunk(chunk_id, article_id, ordinal, start, end, text[start:end], sentences)
