"""Load articles from text, markdown, HTML and JSON files or folders of them."""

from __future__ import annotations

import codecs
import hashlib
import html
import json
import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import trafilatura
from trafilatura.settings import Document

from qa.clean import (
    CleanText,
    clean_text,
    find_date,
    iso_date,
    parse_date,
    remove_corpus_boilerplate,
)
from qa.errors import InputError
from qa.models import Article

log = logging.getLogger(__name__)

TEXT_EXTENSIONS = frozenset({".txt", ".md", ".markdown"})
HTML_EXTENSIONS = frozenset({".html", ".htm"})
JSON_EXTENSIONS = frozenset({".json", ".jsonl"})
_SNIFF_BYTES = 8192
_MATCH_CHARS = 40  # leading characters of an HTML paragraph looked up in the page source
_COMPACT_DATE = re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})(?!\d)")
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class Skipped:
    """A file, or a record of one, that was not loaded, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class IngestResult:
    """The articles loaded from some paths and what was skipped on the way."""

    articles: tuple[Article, ...]
    skipped: tuple[Skipped, ...]


def load_articles(paths: Sequence[str | Path]) -> IngestResult:
    """Load the articles under ``paths`` (files or folders), cleaned, without corpus boilerplate."""
    articles: list[Article] = []
    skipped: list[Skipped] = []
    seen: set[Path] = set()
    for given in paths:
        given_path = Path(given)
        if not given_path.exists():
            raise InputError(f"no such file or directory: {given}")
        files: Iterator[tuple[Path, bool]]
        if given_path.is_dir():
            files = ((file, False) for file in _walk(given_path, set()))
        else:
            files = iter([(given_path, True)])
        for file, explicit in files:
            resolved = file.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            loaded, problems = _load_file(file, resolved, explicit)
            articles.extend(loaded)
            skipped.extend(problems)
    for problem in skipped:
        log.info("skipped %s: %s", problem.path, problem.reason)
    return IngestResult(articles=tuple(remove_corpus_boilerplate(articles)), skipped=tuple(skipped))


def _walk(folder: Path, visiting: set[Path]) -> Iterator[Path]:
    """Files under ``folder`` in sorted order, without hidden entries or symlink loops."""
    real = folder.resolve()
    if real in visiting:
        log.warning("skipped %s: symbolic link loop", folder)
        return
    visiting.add(real)
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as error:
        log.warning("cannot read folder %s: %s", folder, error.strerror)
        entries = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = folder / entry.name
        if entry.is_dir():
            yield from _walk(path, visiting)
        elif entry.is_file():
            yield path
    visiting.discard(real)


def _load_file(path: Path, resolved: Path, explicit: bool) -> tuple[list[Article], list[Skipped]]:
    """The articles of one file, or why it was skipped."""
    suffix = path.suffix.lower()
    known = suffix in TEXT_EXTENSIONS | HTML_EXTENSIONS | JSON_EXTENSIONS
    if not known and not explicit:
        return [], [Skipped(str(path), "unsupported extension")]
    try:
        data = path.read_bytes()
    except OSError as error:
        return [], [Skipped(str(path), f"unreadable: {error.strerror}")]
    text, problem = _decode(data)
    if text is None:
        return [], [Skipped(str(path), problem)]
    if not text.strip():
        return [], [Skipped(str(path), "empty")]
    if suffix in JSON_EXTENSIONS:
        return _load_json(path, resolved, text)
    cleaned = _clean_html(text) if suffix in HTML_EXTENSIONS else clean_text(text)
    if not cleaned.text:
        return [], [Skipped(str(path), "no text after cleaning")]
    date = cleaned.date or find_date(str(path)) or _compact_date(str(path))
    article = _article(
        hashlib.sha1(str(resolved).encode()).hexdigest()[:12], cleaned, path=str(path), date=date
    )
    return [article], []


def _decode(data: bytes) -> tuple[str | None, str]:
    """The text of ``data`` (UTF-8, UTF-8 or UTF-16 with a BOM), or None and the reason."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), ""
        except UnicodeDecodeError:
            return None, "not UTF-16 text"
    if b"\x00" in data[:_SNIFF_BYTES]:
        return None, "binary file"
    try:
        return data.decode("utf-8-sig"), ""
    except UnicodeDecodeError:
        return None, "not UTF-8 text"


def _compact_date(path: str) -> str | None:
    """A date written ``YYYYMMDD`` in a path."""
    for match in _COMPACT_DATE.finditer(path):
        date = iso_date(int(match[1]), int(match[2]), int(match[3]))
        if date:
            return date
    return None


def _host(url: str | None) -> str | None:
    """The host of ``url`` without ``www.``."""
    host = urlsplit(url).hostname if url else None
    return host.removeprefix("www.") if host else None


def _article(article_id: str, cleaned: CleanText, **fields: Any) -> Article:
    """An Article from cleaned text; ``fields`` override what the cleaning found."""
    values: dict[str, Any] = {
        "title": cleaned.title,
        "url": cleaned.url,
        "date": cleaned.date,
        "source": cleaned.source,
        "byline": cleaned.byline,
        "line_starts": cleaned.line_starts,
        "line_numbers": cleaned.line_numbers,
    }
    values.update({name: value for name, value in fields.items() if value is not None})
    values["source"] = values["source"] or _host(values["url"])
    return Article(
        id=article_id,
        text=cleaned.text,
        content_hash=hashlib.sha256(cleaned.text.encode()).hexdigest(),
        **values,
    )


# --- HTML --------------------------------------------------------------------------------------


def _clean_html(page: str) -> CleanText:
    """Main text and metadata of an HTML page; lines point at where each paragraph is in the page.

    Each extracted paragraph is mapped to the first page line (from ``<body>`` or the previous
    match on) whose text, tags removed and entities decoded, holds the paragraph's first
    characters. A paragraph that cannot be found takes the line of the previous one found (or of
    the first one found, at the start); when none is found the article has no line map.
    """
    document = trafilatura.bare_extraction(
        page,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        favor_precision=True,
    )
    if not isinstance(document, Document) or not document.text:
        return clean_text("")
    paragraphs = [line for line in document.text.split("\n") if line.strip()]
    cleaned = clean_text("\n\n".join(paragraphs))
    raw_lines = page.split("\n")
    page_lines = [" ".join(html.unescape(_TAG.sub(" ", line)).split()) for line in raw_lines]
    found: list[int | None] = []
    line = next((n for n, raw in enumerate(raw_lines) if "<body" in raw.lower()), 0)
    for paragraph in paragraphs:
        needle = " ".join(paragraph.split())[:_MATCH_CHARS]
        match = next((n for n in range(line, len(page_lines)) if needle in page_lines[n]), None)
        found.append(None if match is None else match + 1)
        line = match if match is not None else line
    known = [number for number in found if number is not None]
    numbers: list[int] = []
    for number in found:
        numbers.append(number or (numbers[-1] if numbers else known[0]))
    return CleanText(
        text=cleaned.text,
        line_starts=cleaned.line_starts if known else (),
        # clean_text saw paragraph i on line 2*i+1 of the joined text
        line_numbers=tuple(numbers[(n - 1) // 2] for n in cleaned.line_numbers) if known else (),
        title=document.title or cleaned.title,
        date=parse_date(document.date) if document.date else cleaned.date,
        url=document.url or cleaned.url,
        source=document.sitename or cleaned.source or _host(document.url),
        byline=document.author or cleaned.byline,
    )


# --- JSON --------------------------------------------------------------------------------------


def _load_json(path: Path, resolved: Path, text: str) -> tuple[list[Article], list[Skipped]]:
    """One article per record of a JSON array, a JSON object or JSON lines."""
    articles: list[Article] = []
    skipped: list[Skipped] = []
    for line, record, problem in _json_records(text):
        if problem:
            skipped.append(Skipped(str(path), problem))
            continue
        body = record.get("text") if isinstance(record, dict) else None
        if not isinstance(body, str) or not body.strip():
            skipped.append(Skipped(str(path), f"record without text on line {line}"))
            continue
        cleaned = clean_text(body)
        if not cleaned.text:
            skipped.append(Skipped(str(path), f"record with no text after cleaning on line {line}"))
            continue
        record_id = record.get("id")
        if record_id in (None, ""):
            record_id = hashlib.sha1(f"{resolved}#{line}".encode()).hexdigest()[:12]
        date = record.get("date")
        url = _field(record, "url")
        # A record's own date first, then a date in its URL (/2022/06/12/), then its text's header.
        when = (parse_date(date) if isinstance(date, str) else None) or (
            find_date(urlsplit(url).path) if url else None
        )
        articles.append(
            _article(
                str(record_id),
                cleaned,
                path=str(path),
                title=_field(record, "title"),
                url=url,
                date=when,
                source=_field(record, "source"),
                byline=_field(record, "byline") or _field(record, "author"),
                line_numbers=(line,) * len(cleaned.line_starts),
            )
        )
    return articles, skipped


def _field(record: dict[str, Any], name: str) -> str | None:
    """A non-empty string field of a record, stripped."""
    value = record.get(name)
    return (value.strip() or None) if isinstance(value, str) else None


def _json_records(text: str) -> Iterator[tuple[int, Any, str]]:
    """``(line, record, problem)`` per record of ``text``: a JSON array, an object or JSON lines."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        document = None
    if isinstance(document, list):
        yield from _array_records(text, document)
        return
    if isinstance(document, dict):
        yield text.count("\n", 0, len(text) - len(text.lstrip())) + 1, document, ""
        return
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line), ""
        except json.JSONDecodeError:
            yield number, None, f"invalid JSON on line {number}"


def _array_records(text: str, records: list[Any]) -> Iterator[tuple[int, Any, str]]:
    """The records of a JSON array with the line each starts on."""
    decoder = json.JSONDecoder()
    position = _skip_gap(text, text.index("[") + 1)
    line, counted = 1, 0
    for record in records:
        line += text.count("\n", counted, position)
        counted = position
        yield line, record, ""
        _, end = decoder.raw_decode(text, position)
        position = _skip_gap(text, end)


def _skip_gap(text: str, position: int) -> int:
    """The position of the next JSON array element at or after ``position``."""
    while position < len(text) and (text[position].isspace() or text[position] == ","):
        position += 1
    return position
