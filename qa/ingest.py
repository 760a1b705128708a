"""Load articles from text, markdown, HTML and JSON files or folders of them."""

from __future__ import annotations

import codecs
import errno
import hashlib
import html
import json
import logging
import os
import re
import stat
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from lxml import etree

from qa.boilerplate import (
    CensusTable,
    ParagraphCensus,
    corpus_boilerplate,
    paragraph_census,
    remove_corpus_boilerplate,
    without_boilerplate,
)
from qa.clean import CleanText, clean_text, find_date, iso_date, parse_date, sanitize
from qa.errors import InputError
from qa.models import Article

log = logging.getLogger(__name__)

TEXT_EXTENSIONS = frozenset({".txt", ".md", ".markdown"})
HTML_EXTENSIONS = frozenset({".html", ".htm"})
JSON_EXTENSIONS = frozenset({".json", ".jsonl"})
MAX_ARTICLE_BYTES = 10 * 1024 * 1024  # a text, markdown or HTML file, or one JSON Lines record
MAX_JSON_BYTES = 50 * 1024 * 1024  # a whole .json file (JSON Lines files are streamed instead)
_MB = 1024 * 1024
_SNIFF_BYTES = 8192
_SKIP_BYTES = 1024 * 1024  # read size while skipping the rest of an over-long line
_MATCH_CHARS = 40  # leading characters of an HTML paragraph looked up in the page source
_COMPACT_DATE = re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})(?!\d)")
_TAG = re.compile(r"<[^<>]*>")  # no "<" inside, so a page of many "<" stays linear to scan
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# Terminal escapes and control characters but line breaks: lxml drops a page holding them.
_PAGE_JUNK = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|(?:\x1b\]|\x9d)[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[@-Z\\-_]|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
)


@dataclass(frozen=True)
class Skipped:
    """A file, or a record of one, that was not loaded, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class Trimmed:
    """An article that was loaded without some of its text, and what was left out."""

    path: str
    reason: str


@dataclass(frozen=True)
class FileState:
    """A file as it was when last read (size, modification and change times, inode) and what
    reading it reported: an update does not read an unchanged file again, and reports the same."""

    stamp: tuple[int, ...]
    skipped: tuple[Skipped, ...] = ()
    trimmed: tuple[Trimmed, ...] = ()

    def to_json(self) -> list[Any]:
        return [list(self.stamp), [[p.path, p.reason] for p in self.skipped],
                [[p.path, p.reason] for p in self.trimmed]]

    @classmethod
    def from_json(cls, data: list[Any]) -> FileState:
        stamp, skipped, trimmed = data
        return cls(tuple(stamp), tuple(Skipped(*p) for p in skipped), tuple(Trimmed(*p) for p in trimmed))


@dataclass(frozen=True)
class IngestResult:
    """The articles loaded from some paths and what was skipped or trimmed on the way."""

    articles: tuple[Article, ...]
    skipped: tuple[Skipped, ...]
    census: dict[str, ParagraphCensus] = field(default_factory=dict)  # by article id, before cleaning
    trimmed: tuple[Trimmed, ...] = ()
    files: dict[str, FileState] = field(default_factory=dict)  # by resolved path: to keep
    unchanged: tuple[str, ...] = ()  # resolved paths of files not read again: as ``known_files`` holds them


# Bump when reading or cleaning changes what an article's text is: an index whose manifest
# records another version reads every file again instead of keeping unchanged files' articles.
READING_VERSION = 1
# A file modified this recently before it is read may change again within the same timestamp
# tick without its stamp showing it, so its state is not kept: the next update reads it again.
_SETTLED_NS = 2 * 10**9


def file_stamp(path: Path) -> tuple[int, ...] | None:
    """What shows that a file changed: size, modification and change times, inode; None when
    it cannot be read or its content changed too recently to be told apart from a change to
    come (a copy that keeps an old modification time has a new change time)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode) or time.time_ns() - info.st_mtime_ns < _SETTLED_NS:
        return None
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)


def load_articles(
    paths: Sequence[str | Path],
    known: Iterable[ParagraphCensus] = (),
    known_files: dict[str, FileState] | None = None,
) -> IngestResult:
    """Load the articles under ``paths`` (files or folders), cleaned, without corpus boilerplate
    (counted with ``known``, the paragraph census of the articles already indexed). A file whose
    stamp is the one in ``known_files`` is not read again: it is listed as unchanged, with what
    reading it reported then."""
    found = _Found()
    articles: list[Article] = []
    read: dict[str, tuple[tuple[int, ...], list[Article], list[Skipped | Trimmed]]] = {}
    for file, resolved, explicit, stamp in _files_to_read(paths, known_files or {}, found):
        loaded, problems = _load_file(file, resolved, explicit)
        articles.extend(loaded)
        found.note(problems)
        if stamp is not None:
            read[str(resolved)] = (stamp, loaded, problems)
    kept = remove_corpus_boilerplate(articles, known)
    left = {article.id for article in kept}
    census = {article.id: paragraph_census(article) for article in articles if article.id in left}
    emptied = {article.id: _boilerplate_only(article) for article in articles if article.id not in left}
    found.skipped += emptied.values()
    for path, (stamp, loaded, problems) in read.items():
        found.files[path] = _file_state(stamp, problems + [emptied[a.id] for a in loaded if a.id in emptied])
    for problem in found.skipped:
        log.info("skipped %s: %s", problem.path, problem.reason)
    return IngestResult(articles=tuple(kept), skipped=tuple(found.skipped), census=census,
                        trimmed=tuple(found.trimmed), files=found.files, unchanged=tuple(found.unchanged))


def scan_articles(paths: Sequence[str | Path]) -> ScannedArticles:
    """The articles under ``paths`` for a full build, counted but not held: a first reading
    takes each article's paragraph census, into flat arrays (the corpus boilerplate comes from
    it), and what is skipped; ``ScannedArticles.articles`` reads the files again, one at a time."""
    found = _Found()
    census = CensusTable()
    sources: list[_Source] = []
    for file, resolved, explicit, stamp in _files_to_read(paths, {}, found):
        loaded, problems = _load_file(file, resolved, explicit)
        found.note(problems)
        for article in loaded:
            census.add(paragraph_census(article))
        if loaded:
            sources.append(_Source(str(file), str(resolved), explicit, stamp, _digest(loaded), tuple(problems)))
        elif stamp is not None:
            found.files[str(resolved)] = _file_state(stamp, problems)
    boilerplate = frozenset(corpus_boilerplate(census))
    count = len(census.article_ids) - len(census.emptied_by(boilerplate))
    return ScannedArticles(found.skipped, found.trimmed, found.files, {}, count, sources, boilerplate)


def _digest(articles: Sequence[Article]) -> str:
    """What tells whether a file read again gives the same articles."""
    return hashlib.sha1("\0".join(f"{a.id}\0{a.content_hash}" for a in articles).encode()).hexdigest()


@dataclass(frozen=True)
class _Source:
    """A file that gave articles when first read: what reading it again needs and checks."""

    path: str
    resolved: str
    explicit: bool
    stamp: tuple[int, ...] | None
    digest: str  # of its articles then
    problems: tuple[Skipped | Trimmed, ...]


@dataclass
class ScannedArticles:
    """What ``scan_articles`` found: ``count`` articles are left once boilerplate is removed.
    ``census`` holds the census (before cleaning) of each article ``articles`` has handed out
    until the writer takes it."""

    skipped: list[Skipped]
    trimmed: list[Trimmed]
    files: dict[str, FileState]  # by resolved path: complete once ``articles`` has run
    census: dict[str, ParagraphCensus]
    count: int
    _sources: list[_Source]
    _boilerplate: frozenset[str]

    def articles(self) -> Iterator[Article]:
        """The articles, cleaned and without corpus boilerplate, read again file by file. A file
        that changed since the first reading gives what it holds now, and its state is not kept,
        so the next update reads it again."""
        for source in self._sources:
            path = Path(source.path)
            loaded, problems = _load_file(path, Path(source.resolved), source.explicit)
            same = (file_stamp(path) == source.stamp and tuple(problems) == source.problems
                    and _digest(loaded) == source.digest)
            emptied: list[Skipped] = []
            for article in loaded:
                counted = paragraph_census(article)
                cleaned = without_boilerplate(article, counted, self._boilerplate)
                if cleaned is None:
                    emptied.append(_boilerplate_only(article))
                    continue
                self.census[article.id] = counted
                yield cleaned
            self.skipped.extend(emptied)
            if not same:
                self.skipped.extend(p for p in problems if isinstance(p, Skipped) and p not in source.problems)
                self.trimmed.extend(p for p in problems if isinstance(p, Trimmed) and p not in source.problems)
            elif source.stamp is not None:
                self.files[source.resolved] = _file_state(source.stamp, [*source.problems, *emptied])


@dataclass
class _Found:
    """What walking the given paths reports besides articles."""

    skipped: list[Skipped] = field(default_factory=list)
    trimmed: list[Trimmed] = field(default_factory=list)
    files: dict[str, FileState] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)

    def note(self, problems: Iterable[Skipped | Trimmed]) -> None:
        for problem in problems:
            (self.trimmed if isinstance(problem, Trimmed) else self.skipped).append(problem)


def _files_to_read(
    paths: Sequence[str | Path], known_files: dict[str, FileState], found: _Found
) -> Iterator[tuple[Path, Path, bool, tuple[int, ...] | None]]:
    """``(path, resolved path, named explicitly, stamp)`` of each file under ``paths`` to read,
    once each; a file whose stamp is the one in ``known_files`` goes to ``found`` as unchanged,
    with what reading it reported then, and folders that cannot be walked as skipped."""
    seen: set[Path] = set()
    for given in paths:
        given_path = Path(given)
        try:
            is_dir = stat.S_ISDIR(given_path.stat().st_mode)
        except FileNotFoundError:
            raise InputError(f"no such file or directory: {given}") from None
        except OSError as error:
            raise InputError(f"cannot read {given}: {_unreadable(given_path, error)}") from None
        for file in _walk(given_path, set()) if is_dir else [given_path]:
            if isinstance(file, Skipped):
                found.skipped.append(file)
                continue
            resolved = Path(os.path.realpath(file))  # unlike Path.resolve, never raises on a loop
            if resolved in seen:
                continue
            seen.add(resolved)
            stamp = file_stamp(file)
            before = known_files.get(str(resolved))
            if stamp is not None and before is not None and before.stamp == stamp:
                found.unchanged.append(str(resolved))
                found.files[str(resolved)] = before
                found.note([*before.skipped, *before.trimmed])
                continue
            yield file, resolved, not is_dir, stamp


def _file_state(stamp: tuple[int, ...], problems: Sequence[Skipped | Trimmed]) -> FileState:
    return FileState(stamp, tuple(p for p in problems if isinstance(p, Skipped)),
                     tuple(p for p in problems if isinstance(p, Trimmed)))


def _boilerplate_only(article: Article) -> Skipped:
    """Why an article that corpus boilerplate removal emptied is not indexed."""
    reason = "no text left once paragraphs repeated across the corpus are removed"
    if Path(article.path or "").suffix.lower() in JSON_EXTENSIONS and article.line_numbers:
        reason = f"record on line {article.line_numbers[0]} has {reason}"
    return Skipped(article.path or article.id, reason)


def _walk(folder: Path, visiting: set[Path]) -> Iterator[Path | Skipped]:
    """Non-folder entries under ``folder`` in sorted order, without hidden ones; symbolic link
    loops and folders that cannot be read come back as Skipped."""
    real = Path(os.path.realpath(folder))
    if real in visiting:
        yield Skipped(str(folder), "symbolic link loop")
        return
    visiting.add(real)
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as error:
        yield Skipped(str(folder), f"unreadable folder: {error.strerror or error}")
        entries = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = folder / entry.name
        if _is_dir(entry):
            yield from _walk(path, visiting)
        else:
            yield path  # broken links and special files too: _load_file says why it skips them
    visiting.discard(real)


def _is_dir(entry: os.DirEntry[str]) -> bool:
    """Whether ``entry`` is a folder or a link to one; False when it cannot be followed."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def _load_file(
    path: Path, resolved: Path, explicit: bool
) -> tuple[list[Article], list[Skipped | Trimmed]]:
    """The articles of one file, and why it (or a record of it) was skipped or trimmed."""
    suffix = path.suffix.lower()
    known = suffix in TEXT_EXTENSIONS | HTML_EXTENSIONS | JSON_EXTENSIONS
    if not known and not explicit:
        return [], [Skipped(str(path), "unsupported extension")]
    try:
        return _read_file(path, resolved, suffix)
    except OSError as error:
        return [], [Skipped(str(path), _unreadable(path, error))]


def _unreadable(path: Path, error: OSError) -> str:
    """Why ``path`` could not be read, in a few words."""
    if error.errno == errno.ELOOP:
        return "symbolic link loop"
    if isinstance(error, FileNotFoundError) and path.is_symlink():
        return "broken symbolic link"
    return f"unreadable: {error.strerror or error}"


def _too_large(size: int, limit: int, what: str) -> str:
    """The reason for skipping ``size`` bytes over ``limit``."""
    return f"too large for {what} ({size / _MB:.1f} MB > {limit // _MB} MB)"


def _read_file(path: Path, resolved: Path, suffix: str) -> tuple[list[Article], list[Skipped | Trimmed]]:
    """The articles of one file; its size is checked before anything is read."""
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        return [], [Skipped(str(path), "not a regular file")]
    if suffix == ".jsonl" and not _starts_utf16(path):
        return _load_records(path, resolved, _json_lines(path))
    limit, what = (
        (MAX_JSON_BYTES, "a JSON file; use JSON Lines (.jsonl)")
        if suffix in JSON_EXTENSIONS
        else (MAX_ARTICLE_BYTES, "one article")
    )
    if info.st_size > limit:
        return [], [Skipped(str(path), _too_large(info.st_size, limit, what))]
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)  # bounded even if the file grew since stat()
    if len(data) > limit:
        return [], [Skipped(str(path), _too_large(len(data), limit, what))]
    text, problem = _decode(data)
    if text is None:
        return [], [Skipped(str(path), problem)]
    if not text.strip():
        return [], [Skipped(str(path), "empty")]
    if suffix in JSON_EXTENSIONS:
        return _load_records(path, resolved, _json_records(text))
    if suffix in HTML_EXTENSIONS:
        try:
            cleaned = _clean_html(text)
        except (RecursionError, ValueError, etree.LxmlError) as error:
            log.debug("cannot parse %s: %r", path, error)
            return [], [Skipped(str(path), "unparseable HTML")]
    else:
        cleaned = clean_text(text)
    if not cleaned.text:
        return [], [Skipped(str(path), "no text after cleaning")]
    date = cleaned.date or find_date(str(path)) or _compact_date(str(path))
    notes: list[Skipped | Trimmed] = [Trimmed(str(path), cleaned.cut.reason())] if cleaned.cut else []
    return [_article(file_id(resolved), cleaned, path=str(resolved), date=date)], notes


def file_id(resolved: Path | str) -> str:
    """The id of the file at the resolved path ``resolved``: the id of its article, and the
    prefix of its records' ids."""
    return hashlib.sha1(os.fsencode(resolved)).hexdigest()[:12]


def record_id(article_id: str) -> str | None:
    """The ``id`` a JSON record gave itself, from its article id ``FILEID#ID``; None for an
    article that is a whole file or a record without an id."""
    prefix, mark, given = article_id.partition("#")
    return given if mark and len(prefix) == 12 else None


def _starts_utf16(path: Path) -> bool:
    """Whether the file at ``path`` starts with a UTF-16 byte order mark."""
    with open(path, "rb") as handle:
        return handle.read(2) in _UTF16_BOMS


def _decode(data: bytes) -> tuple[str | None, str]:
    """The text of ``data`` (UTF-8, UTF-8 or UTF-16 with a BOM), or None and the reason.

    A NUL byte anywhere in UTF-8 data makes it a binary file, not text with a stray character.
    """
    if data.startswith(_UTF16_BOMS):
        try:
            return data.decode("utf-16"), ""
        except UnicodeDecodeError:
            return None, "not UTF-16 text"
    if b"\x00" in data:
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
    for name in ("title", "url", "source", "byline"):  # no terminal escapes in metadata either
        values[name] = sanitize(values[name] or "") or None
    if values.get("path"):
        # A file name that is not UTF-8 is kept readable (its bytes shown as U+FFFD); the id,
        # hashed from the raw bytes, still identifies the file.
        raw = os.fsencode(values["path"])
        values["path"] = sanitize(raw.decode("utf-8", errors="replace"))
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
    page = _PAGE_JUNK.sub("", page)
    import trafilatura  # imported here: it costs a fifth of a second that asking never needs
    from trafilatura.settings import Document

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
    column = 0
    for paragraph in paragraphs:
        needle = " ".join(paragraph.split())[:_MATCH_CHARS]
        match = _find(page_lines, needle, line, column)
        found.append(None if match is None else match[0] + 1)
        if match is not None:
            line, column = match[0], match[1] + 1
    known = [number for number in found if number is not None]
    numbers: list[int] = []
    for number in found if known else ():
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
        cut=replace(cleaned.cut, line=numbers[(cleaned.cut.line - 1) // 2] if known else 0)
        if cleaned.cut else None,
    )


def _find(lines: list[str], needle: str, line: int, column: int) -> tuple[int, int] | None:
    """Line and column of the first ``needle`` in ``lines`` from ``line``, ``column`` on."""
    for number in range(line, len(lines)):
        position = lines[number].find(needle, column if number == line else 0)
        if position >= 0:
            return number, position
    return None


# --- JSON --------------------------------------------------------------------------------------


def _load_records(
    path: Path, resolved: Path, records: Iterable[tuple[int, Any, str]]
) -> tuple[list[Article], list[Skipped | Trimmed]]:
    """One article per ``(line, record, problem)`` of a JSON or JSON Lines file."""
    articles: list[Article] = []
    skipped: list[Skipped | Trimmed] = []
    first_lines: dict[str, int] = {}  # record id -> the line that first used it
    for line, record, problem in records:
        if problem:
            skipped.append(Skipped(str(path), problem))
            continue
        body = record.get("text") if isinstance(record, dict) else None
        if not isinstance(body, str) or not body.strip():
            skipped.append(Skipped(str(path), f"record without text on line {line}"))
            continue
        size = len(body.encode("utf-8", "surrogatepass"))
        if size > MAX_ARTICLE_BYTES:
            reason = _too_large(size, MAX_ARTICLE_BYTES, "one article")
            skipped.append(Skipped(str(path), f"{reason} on line {line}"))
            continue
        cleaned = clean_text(body)
        if not cleaned.text:
            skipped.append(Skipped(str(path), f"record with no text after cleaning on line {line}"))
            continue
        given_id = record.get("id")
        given = sanitize(str(given_id)) if given_id not in (None, "") else ""
        if given in first_lines:
            skipped.append(Skipped(
                str(path), f"duplicate id {given!r} on line {line} (first on line {first_lines[given]})"
            ))
            continue
        if given:
            first_lines[given] = line
        # A record's id is namespaced by its file, so that two files may both use "id": "1".
        article_id = f"{file_id(resolved)}#{given}" if given else file_id(f"{resolved}#{line}")
        date = record.get("date")
        url = _field(record, "url")
        # A record's own date first, then a date in its URL (/2022/06/12/), then its text's header.
        when = (parse_date(date) if isinstance(date, str) else None) or (
            find_date(urlsplit(url).path) if url else None
        )
        articles.append(
            _article(
                article_id,
                cleaned,
                path=str(resolved),
                title=_field(record, "title"),
                url=url,
                date=when,
                source=_field(record, "source"),
                byline=_field(record, "byline") or _field(record, "author"),
                line_numbers=(line,) * len(cleaned.line_starts),
            )
        )
        if cleaned.cut:
            skipped.append(Trimmed(str(path), cleaned.cut.reason(f"in the record on line {line}")))
    if not articles and not skipped:
        skipped.append(Skipped(str(path), "empty"))
    return articles, skipped


def _field(record: dict[str, Any], name: str) -> str | None:
    """A non-empty string field of a record, stripped."""
    value = record.get(name)
    return (value.strip() or None) if isinstance(value, str) else None


def _json_records(text: str) -> Iterator[tuple[int, Any, str]]:
    """``(line, record, problem)`` per record of ``text``: a JSON array, an object or JSON lines."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):  # also too deep nesting, too long integers
        document = None
    if isinstance(document, list):
        yield from _array_records(text, document)
        return
    if isinstance(document, dict):
        yield text.count("\n", 0, len(text) - len(text.lstrip())) + 1, document, ""
        return
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            yield _json_line(number, line)


def _json_lines(path: Path) -> Iterator[tuple[int, Any, str]]:
    """``(line, record, problem)`` per line of a UTF-8 JSON Lines file, read one line at a time."""
    with open(path, "rb") as handle:
        if b"\x00" in handle.read(_SNIFF_BYTES):
            yield 1, None, "binary file"
            return
        handle.seek(0)
        for number, data, size in _lines(handle, MAX_ARTICLE_BYTES):
            if size > MAX_ARTICLE_BYTES:
                reason = _too_large(size, MAX_ARTICLE_BYTES, "one article")
                yield number, None, f"{reason} on line {number}"
                continue
            try:
                line = data.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                yield number, None, f"not UTF-8 text on line {number}"
                continue
            if line.strip():
                yield _json_line(number, line)


def _lines(handle: IO[bytes], limit: int) -> Iterator[tuple[int, bytes, int]]:
    """``(number, line, size)`` per line of ``handle``; a line over ``limit`` bytes is not kept:
    it comes back empty, with its size, and memory stays bounded by ``limit``."""
    number = 0
    while data := handle.readline(limit + 1):
        number += 1
        size = len(data)
        if size > limit:
            while data and not data.endswith(b"\n"):
                data = handle.readline(_SKIP_BYTES)
                size += len(data)
            data = b""
        yield number, data, size


def _json_line(number: int, line: str) -> tuple[int, Any, str]:
    """``(number, record, problem)`` for one line of JSON Lines."""
    try:
        return number, json.loads(line), ""
    except (ValueError, RecursionError):
        return number, None, f"invalid JSON on line {number}"


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
